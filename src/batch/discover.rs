//! Finding the recordings of an archive: folders searched, patterns, `@list` files, one bad entry never stopping the search; and the shards that split them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};


use crate::ids::stable_hash;

use super::*;

/// File name endings taken as recordings when a directory is searched.
pub const VIDEO_EXTENSIONS: [&str; 7] = ["webm", "mp4", "mkv", "mov", "m4v", "avi", "ogv"];

/// One recording to process: where it is and its id in the archive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    /// Path relative to the input it was found under (the shard key).
    pub rel: String,
    pub path: PathBuf,
    pub id: String,
    /// Why this entry cannot be a recording, found while the archive was
    /// searched (a symbolic link to one of its own parent folders, a folder
    /// that cannot be read): it becomes an error row, not analysed.
    pub problem: Option<String>,
}

fn is_video(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Expand inputs: a directory (searched recursively for video files), a
/// glob pattern, `@list.txt` (one path per line, `#` comments), or a file.
///
/// One bad entry never stops the search: a FIFO, a device or a symbolic link
/// to nothing (or to itself) with a video file's name is kept, to fail on
/// its own with a message that says what it is; a link to one of its own
/// parent folders (a loop) and a folder that cannot be read are kept as
/// entries with a [`Item::problem`]. Only a list file that cannot be read or
/// a bad pattern end the search (`Err`).
pub fn discover(inputs: &[String]) -> std::result::Result<Vec<Item>, String> {
    let mut items: BTreeMap<String, Item> = BTreeMap::new();
    let mut add = |rel: String, path: PathBuf, problem: Option<String>| {
        let rel = rel.replace('\\', "/");
        items.entry(rel.clone()).or_insert_with(|| Item { id: id_of(&rel), rel, path, problem });
    };
    for input in inputs {
        if let Some(list) = input.strip_prefix('@') {
            let text = std::fs::read_to_string(list).map_err(|e| format!("{list}: cannot be read ({e})"))?;
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                add(line.trim_start_matches("./").to_string(), PathBuf::from(line), None);
            }
        } else if Path::new(input).is_dir() {
            let root = Path::new(input);
            let rel_of = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_string_lossy().into_owned();
            for entry in walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name() {
                match entry {
                    Ok(entry) => {
                        let t = entry.file_type();
                        // regular files, and FIFOs, devices, sockets named like recordings
                        if !t.is_dir() && is_video(entry.path()) {
                            add(rel_of(entry.path()), entry.path().to_path_buf(), None);
                        }
                    }
                    Err(e) => {
                        let Some(path) = e.path().map(Path::to_path_buf) else { continue };
                        if let Some(ancestor) = e.loop_ancestor() {
                            let problem = format!(
                                "is a symbolic link to {}, a folder that contains it (a loop): not followed",
                                ancestor.display()
                            );
                            add(rel_of(&path), path, Some(problem));
                        } else if is_video(&path) {
                            // a link to nothing or to itself: the analysis says which
                            add(rel_of(&path), path, None);
                        } else if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                            // a folder (or file) that cannot be read: recordings may be in it
                            let why = e.io_error().map_or_else(|| e.to_string(), ToString::to_string);
                            add(rel_of(&path), path, Some(format!("cannot be read ({why}): the recordings in it were not searched")));
                        }
                        // a broken link not named like a recording is not one
                    }
                }
            }
        } else if input.contains(['*', '?', '[']) {
            let paths = glob::glob(input).map_err(|e| format!("{input}: bad pattern ({e})"))?;
            for p in paths {
                match p {
                    // everything but folders: a broken link or a FIFO fails on its own
                    Ok(p) if !p.is_dir() => add(p.to_string_lossy().trim_start_matches("./").to_string(), p, None),
                    Ok(_) => {}
                    Err(e) => {
                        let path = e.path().to_path_buf();
                        let problem = format!("cannot be read ({}): the recordings in it were not searched", e.error());
                        add(path.to_string_lossy().trim_start_matches("./").to_string(), path, Some(problem));
                    }
                }
            }
        } else {
            // a plain path: kept even if missing, so that it becomes an error row
            add(input.trim_start_matches("./").to_string(), PathBuf::from(input), None);
        }
    }
    // ids must be unique: two inputs may flatten to one id
    let mut out: Vec<Item> = items.into_values().collect();
    let rels: Vec<String> = out.iter().map(|it| it.rel.clone()).collect();
    for (it, id) in out.iter_mut().zip(crate::ids::unique_ids(&rels)) {
        it.id = id;
    }
    Ok(out)
}

/// A shard `K/N`: recording i belongs to shard `hash(rel) mod N == K - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or("a shard is K/N, e.g. 2/8")?;
        let k: u64 = k.trim().parse().map_err(|_| format!("bad shard number '{k}'"))?;
        let n: u64 = n.trim().parse().map_err(|_| format!("bad shard count '{n}'"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard {k}/{n}: K must be in 1..=N"));
        }
        Ok(Shard { k, n })
    }
}

impl Shard {
    pub fn contains(&self, item: &Item) -> bool {
        let h = stable_hash(&item.rel);
        let v = u64::from_str_radix(&h[..16], 16).expect("hex");
        v % self.n == self.k - 1
    }
}
