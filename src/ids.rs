//! Recording ids: the name every output of a recording is written under.
//!
//! The rule, shared by `analyze`, `batch` and `report`: the input's path
//! (relative to the directory it was found in, for `batch`; the file name, for
//! `analyze`) without its extension, folders joined by `__`, and every
//! character other than letters, digits, `-`, `_` and `.` replaced by `_`:
//! `alice.smith.webm` → `alice.smith`, `2024/exams/a b.webm` →
//! `2024__exams__a_b`. When two inputs of one run map to the same id, the
//! second and later ones (in path order) get `__` and the first 8 hex digits
//! of the sha256 of their path appended, so no output replaces another.
//!
//! An id longer than [`MAX_ID_BYTES`] (a long file name, or a deep folder
//! path joined by `__`) would make output names longer than file systems
//! allow (255 bytes: the longest output name is the id plus 32 bytes, for
//! `.<id>.embeddings.parquet.tmp-<pid>`). It is shortened at a character
//! boundary and ends in `__` and 16 hex digits of the sha256 of the whole
//! id: deterministic, and distinct for distinct long ids.

use std::collections::BTreeSet;

/// The id of a relative path (see the module doc).
pub fn id_of(rel: &str) -> String {
    let rel = rel.replace('\\', "/");
    let (dir, name) = match rel.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", rel.as_str()),
    };
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() && stem != "." => stem,
        _ => name,
    };
    let id = dir
        .split('/')
        .chain(std::iter::once(stem))
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .map(|s| s.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect::<String>())
        .collect::<Vec<_>>()
        .join("__");
    // an id never starts with a dot (hidden files, temporaries) and is never empty
    let id = id.trim_start_matches('.').to_string();
    if id.is_empty() {
        "recording".into()
    } else {
        fit(id)
    }
}

/// The longest id, in bytes (see the module doc).
pub const MAX_ID_BYTES: usize = 200;

/// `id`, shortened as the module doc says when longer than [`MAX_ID_BYTES`].
pub fn fit(id: String) -> String {
    if id.len() <= MAX_ID_BYTES {
        return id;
    }
    let hash = &stable_hash(&id)[..16];
    let mut cut = MAX_ID_BYTES - 2 - hash.len();
    while !id.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}__{hash}", &id[..cut])
}

/// sha256 of a string, hex.
pub fn stable_hash(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Ids for `rels`, in the same order, made distinct as the module doc says.
/// `rels` must be distinct themselves.
pub fn unique_ids(rels: &[String]) -> Vec<String> {
    assign(rels, rels)
}

/// Ids for files given on the command line: each from its file name alone,
/// made distinct by its full path where two names collide.
pub fn ids_for_files(paths: &[std::path::PathBuf]) -> Vec<String> {
    let names: Vec<String> =
        paths.iter().map(|p| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())).collect();
    let full: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    assign(&names, &full)
}

fn assign(names: &[String], full: &[String]) -> Vec<String> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|a, b| full[*a].cmp(&full[*b]));
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = vec![String::new(); names.len()];
    for i in order {
        let mut id = id_of(&names[i]);
        if seen.contains(&id) {
            id = fit(format!("{id}__{}", &stable_hash(&full[i])[..8]));
        }
        seen.insert(id.clone());
        out[i] = id;
    }
    out
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &std::path::Path) -> crate::error::Result<String> {
    use std::io::Read;
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| crate::error::Error::new(path, crate::error::ErrorKind::Unreadable(e)))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| crate::error::Error::new(path, crate::error::ErrorKind::Unreadable(e)))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_drop_only_the_extension() {
        assert_eq!(id_of("alice.smith.webm"), "alice.smith");
        assert_eq!(id_of("exam.2026-01-05.webm"), "exam.2026-01-05");
        assert_eq!(id_of("2024/exams/a b.webm"), "2024__exams__a_b");
        assert_eq!(id_of("x.mp4"), "x");
        assert_eq!(id_of("../up/x.y.mp4"), "up__x.y");
        assert_eq!(id_of("noext"), "noext");
        assert_eq!(id_of(".hidden.webm"), "hidden");
        assert_eq!(id_of("..."), "recording");
    }

    #[test]
    fn colliding_inputs_get_distinct_ids() {
        let rels = vec!["b/x.webm".to_string(), "x.webm".to_string(), "x.mp4".to_string(), "a b.webm".into(), "a_b.webm".into()];
        let ids = unique_ids(&rels);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), rels.len(), "{ids:?}");
        assert_eq!(ids[0], "b__x");
        // path order decides who keeps the plain id: "x.mp4" < "x.webm"
        assert_eq!(ids[2], "x");
        assert!(ids[1].starts_with("x__") && ids[1].len() == 11, "{}", ids[1]);
        assert_eq!(ids[3], "a_b");
        assert!(ids[4].starts_with("a_b__"));
        let files: Vec<std::path::PathBuf> = ["a/exam.webm", "b/exam.webm", "alice.smith.webm", "alice.jones.webm"].iter().map(Into::into).collect();
        let ids = ids_for_files(&files);
        assert_eq!(ids[0], "exam");
        assert!(ids[1].starts_with("exam__"));
        assert_eq!((ids[2].as_str(), ids[3].as_str()), ("alice.smith", "alice.jones"));
    }

    #[test]
    fn over_long_ids_are_shortened_deterministically_keeping_a_hash() {
        // a 240-byte stem, and a 300-byte one of 2-byte characters
        let long = format!("{}.webm", "a".repeat(240));
        let id = id_of(&long);
        assert!(id.len() <= MAX_ID_BYTES, "{}", id.len());
        assert!(id.starts_with(&"a".repeat(150)), "{id}");
        assert_eq!(id, id_of(&long), "deterministic");
        let tail = id.rsplit_once("__").unwrap().1;
        assert_eq!(tail, &stable_hash(&"a".repeat(240))[..16]);
        // two long ids that share their first 200 bytes stay distinct
        let other = format!("{}b.webm", "a".repeat(240));
        assert_ne!(id_of(&other), id);
        let greek = format!("{}.webm", "Ω".repeat(150));
        let g = id_of(&greek);
        assert!(g.len() <= MAX_ID_BYTES && g.starts_with("ΩΩ"), "{g}");
        // batch ids of deep folders joined with `__`
        let deep: String = (0..40).map(|i| format!("folder{i:02}/")).collect::<String>() + "exam.webm";
        let d = id_of(&deep);
        assert!(d.len() <= MAX_ID_BYTES && d.starts_with("folder00__folder01"), "{d}");
        // the longest output name fits in 255 bytes
        assert!(format!(".{d}.embeddings.parquet.tmp-4194304").len() <= 255);
        // a collision suffix on a long id keeps it within the limit
        let rels = vec![format!("x/{}.webm", "c".repeat(230)), format!("x/{}.mp4", "c".repeat(230))];
        let ids = unique_ids(&rels);
        assert_ne!(ids[0], ids[1]);
        assert!(ids.iter().all(|i| i.len() <= MAX_ID_BYTES), "{ids:?}");
        // short ids are untouched
        assert_eq!(fit("exam".into()), "exam");
        assert_eq!(id_of(&format!("{}.webm", "a".repeat(200))), "a".repeat(200));
    }
}
