//! What the desk knows of a directory's recordings, read from their saved
//! outputs and kept until those files change: for each recording id, its
//! summary's facts (where the recording was, its sha256, the configuration)
//! and the events it currently holds, which are what a verdict may judge.
//!
//! A recording is looked up by id (`<id>.summary.json` in the directory or
//! in its `recordings/`), so a verdict or a media request costs one `stat`
//! of two files whatever the number of recordings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::kinds::EventKind;
use crate::review::decisions::{event_set, ms, Decision, Judgeable};

/// One recording's outputs, as far as the desk needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    /// `<id>.summary.json`.
    pub summary: PathBuf,
    /// The recording's path as the summary gives it.
    pub path: String,
    pub sha256: String,
    /// The configuration's fingerprint.
    pub config: String,
    /// The recording's duration (seconds).
    pub duration_s: f64,
    /// (kind, start ms, end ms) of each event in `<id>.events.parquet`.
    pub events: BTreeSet<(EventKind, i64, i64)>,
}

impl Entry {
    /// Whether `d` judges one of this recording's events.
    pub fn has_event(&self, kind: EventKind, start_s: f64, end_s: f64) -> bool {
        self.events.contains(&(kind, ms(start_s), ms(end_s)))
    }
}

/// When a file was last changed, and its length (`None`: it is not there).
pub type Stamp = Option<(SystemTime, u64)>;

pub fn stamp(p: &Path) -> Stamp {
    std::fs::metadata(p).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

/// Whether `id` can name a file in a directory (ids are made by
/// `crate::ids`; anything else is not one of ours).
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\\', '\0']) && id.len() <= 255
}

/// `<id>.summary.json` in `root` or `root/recordings`.
pub fn summary_path(root: &Path, id: &str) -> Option<PathBuf> {
    if !plausible_id(id) {
        return None;
    }
    let name = format!("{id}.summary.json");
    [root.join(&name), root.join("recordings").join(&name)].into_iter().find(|p| p.is_file())
}

/// Read one recording's entry from its outputs (`None` when they are not
/// there or cannot be read).
pub fn read_entry(root: &Path, id: &str) -> Option<Entry> {
    let summary = summary_path(root, id)?;
    let s = crate::load::load_summary(&summary).ok()?;
    if s.recording != id {
        return None;
    }
    let events_file = summary.with_file_name(s.outputs.events.file_name()?);
    let (_, events) = crate::tables::read_events(&events_file).ok()?;
    Some(Entry {
        id: id.to_string(),
        path: s.path.clone(),
        sha256: s.sha256.clone(),
        config: s.config.fingerprint(),
        duration_s: s.duration_s,
        events: event_set(&events),
        summary,
    })
}

/// The entries of a directory, read on demand and kept while the summary
/// and events files keep their modification time and length.
pub struct Catalog {
    root: PathBuf,
    cache: Mutex<BTreeMap<String, (Stamp, Stamp, Option<Arc<Entry>>)>>,
}

impl Catalog {
    pub fn new(root: &Path) -> Catalog {
        Catalog { root: root.to_path_buf(), cache: Mutex::new(BTreeMap::new()) }
    }

    /// The recording `id`'s entry, as its outputs are now.
    pub fn entry(&self, id: &str) -> Option<Arc<Entry>> {
        let summary = summary_path(&self.root, id)?;
        let events = summary.with_file_name(format!("{id}.events.parquet"));
        let (s1, e1) = (stamp(&summary), stamp(&events));
        {
            let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((s0, e0, entry)) = cache.get(id) {
                if *s0 == s1 && *e0 == e1 {
                    return entry.clone();
                }
            }
        }
        let entry = read_entry(&self.root, id).map(Arc::new);
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.insert(id.to_string(), (s1, e1, entry.clone()));
        entry
    }

    /// What the recordings named by `ds` hold now, for [`Judgeable::orphan_why`].
    pub fn judgeable(&self, ds: &[Decision]) -> Judgeable {
        let ids: BTreeSet<&str> = ds.iter().map(|d| d.recording.as_str()).collect();
        let mut j = Judgeable::default();
        for id in ids {
            if let Some(e) = self.entry(id) {
                j.recordings.insert(id.to_string(), (e.sha256.clone(), e.events.clone()));
            }
        }
        j
    }
}

/// For the desk's unit tests: the outputs of a recording `id` in `root`
/// whose file is `media` (its sha256 taken now) and whose events are
/// `events` (kind, start, end), from a quick analysis without models.
#[cfg(test)]
pub(crate) fn save_recording(root: &Path, id: &str, media: &Path, events: &[(EventKind, f64, f64)]) {
    let settings = crate::analyze::Settings { config: Default::default(), models: Default::default(), threads: 1 };
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vp8_noaudio.webm");
    let mut a = crate::analyze::analyze(&f, &settings, &crate::progress::NoProgress).unwrap();
    a.recording = id.into();
    a.info.path = media.to_path_buf();
    a.sha256 = crate::ids::sha256_file(media).unwrap();
    a.events = events
        .iter()
        .map(|&(kind, start_s, end_s)| crate::records::Event { kind, start_s, end_s, confidence: 0.9, detail: String::new(), evidence_t: start_s })
        .collect();
    // the two files the desk reads (the whole set is `crate::save`'s, a layer above)
    let outputs = crate::records::Outputs::for_recording(root, id);
    let summary = crate::records::Summary::of(&a, &outputs);
    std::fs::write(&outputs.summary, serde_json::to_vec(&summary).unwrap()).unwrap();
    crate::tables::write_parquet(&outputs.events, &mut crate::tables::events_frame(id, &a.events)).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_follows_its_outputs() {
        let d = tempfile::tempdir().unwrap();
        let media = d.path().join("rec.webm");
        std::fs::write(&media, b"video").unwrap();
        save_recording(d.path(), "rec", &media, &[(EventKind::Phone, 1.0, 3.5)]);
        let c = Catalog::new(d.path());
        let e = c.entry("rec").unwrap();
        assert!(e.has_event(EventKind::Phone, 1.0000000001, 3.5));
        assert!(!e.has_event(EventKind::Phone, 1.0, 3.6) && !e.has_event(EventKind::Book, 1.0, 3.5));
        assert_eq!(e.sha256, crate::ids::sha256_file(&media).unwrap());
        // analysed again with other events: the entry follows
        std::thread::sleep(std::time::Duration::from_millis(20));
        save_recording(d.path(), "rec", &media, &[(EventKind::Book, 2.0, 4.0)]);
        let e = c.entry("rec").unwrap();
        assert!(e.has_event(EventKind::Book, 2.0, 4.0) && !e.has_event(EventKind::Phone, 1.0, 3.5));
        // deleted: gone
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            if f.file_name().to_string_lossy().starts_with("rec.") && f.path() != media {
                std::fs::remove_file(f.path()).unwrap();
            }
        }
        assert!(c.entry("rec").is_none());
    }

    #[test]
    fn ids_that_could_leave_the_directory_are_not_looked_up() {
        let d = tempfile::tempdir().unwrap();
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "a\0b"] {
            assert_eq!(summary_path(d.path(), bad), None, "{bad:?}");
        }
        std::fs::write(d.path().join("a.summary.json"), b"{}").unwrap();
        assert_eq!(summary_path(d.path(), "a"), Some(d.path().join("a.summary.json")));
        // a summary that is not one is no entry
        assert_eq!(read_entry(d.path(), "a"), None);
    }
}
