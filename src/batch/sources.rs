//! Where a batch takes each recording's candidate name and reference photo from: a regex over the path, a CSV, a folder of photos.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};


use super::*;

/// Where the candidate's name comes from in a batch.
#[derive(Debug, Clone)]
pub enum CandidateSource {
    None,
    /// The first capture group (or the whole match) of a regex over the relative path.
    Regex(regex::Regex),
    /// A CSV of `path,candidate` (relative path or file name in the first column).
    Csv(BTreeMap<String, String>),
}

impl CandidateSource {
    pub fn parse(spec: &str) -> std::result::Result<CandidateSource, String> {
        if spec.ends_with(".csv") && Path::new(spec).is_file() {
            Self::read_csv(Path::new(spec)).map(CandidateSource::Csv)
        } else {
            regex::Regex::new(spec).map(CandidateSource::Regex).map_err(|e| format!("--candidate-from: {e}"))
        }
    }

    /// A CSV of `path,candidate` (RFC 4180 quoting). A first row whose first
    /// column is `path`, `file`, `recording` or `id` is a header, not data.
    fn read_csv(path: &Path) -> std::result::Result<BTreeMap<String, String>, String> {
        let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_path(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut map = BTreeMap::new();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
            let (Some(p), Some(name)) = (rec.get(0), rec.get(1)) else {
                if rec.iter().all(str::is_empty) {
                    continue;
                }
                return Err(format!("{}: line {}: expected two columns, path and candidate", path.display(), i + 1));
            };
            if i == 0 && ["path", "file", "recording", "id"].contains(&p.to_ascii_lowercase().as_str()) {
                continue;
            }
            map.insert(p.trim_start_matches("./").to_string(), name.to_string());
        }
        Ok(map)
    }

    pub fn candidate(&self, item: &Item) -> Option<String> {
        match self {
            CandidateSource::None => None,
            CandidateSource::Regex(re) => {
                let c = re.captures(&item.rel)?;
                Some(c.get(1).or_else(|| c.get(0))?.as_str().to_string())
            }
            CandidateSource::Csv(map) => {
                let name = item.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                map.get(&item.rel).or_else(|| map.get(&name)).cloned()
            }
        }
    }
}

/// Where each recording's reference photo comes from in a batch.
#[derive(Debug, Clone)]
pub enum ReferenceSource {
    None,
    /// A directory of photos named by recording id: `<id>.jpg`, `.jpeg` or `.png`.
    Dir(PathBuf),
    /// A CSV of `recording,photo`: the recording as its relative path, file
    /// name or id; the photo path, relative to the CSV's directory unless absolute.
    Csv(BTreeMap<String, PathBuf>),
}

/// File name endings of reference photos in a `--reference-from` directory.
pub const PHOTO_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

impl ReferenceSource {
    pub fn parse(spec: &Path) -> std::result::Result<ReferenceSource, String> {
        if spec.is_dir() {
            Ok(ReferenceSource::Dir(spec.to_path_buf()))
        } else if spec.is_file() {
            Self::read_csv(spec).map(ReferenceSource::Csv)
        } else {
            Err(format!("--reference-from: {}: no such directory or CSV file", spec.display()))
        }
    }

    /// A CSV of `recording,photo` (RFC 4180 quoting), read as `--candidate-from`
    /// reads its CSV. A first row whose first column is `path`, `file`,
    /// `recording` or `id` is a header.
    fn read_csv(path: &Path) -> std::result::Result<BTreeMap<String, PathBuf>, String> {
        let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_path(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut map = BTreeMap::new();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
            let (Some(r), Some(photo)) = (rec.get(0), rec.get(1)) else {
                if rec.iter().all(str::is_empty) {
                    continue;
                }
                return Err(format!("{}: line {}: expected two columns, recording and photo", path.display(), i + 1));
            };
            if i == 0 && ["path", "file", "recording", "id"].contains(&r.to_ascii_lowercase().as_str()) {
                continue;
            }
            if photo.is_empty() {
                return Err(format!("{}: line {}: no photo for '{r}'", path.display(), i + 1));
            }
            map.insert(r.trim_start_matches("./").to_string(), base.join(photo));
        }
        Ok(map)
    }

    /// The reference photo of a recording, if the source names one.
    pub fn photo(&self, item: &Item) -> Option<PathBuf> {
        match self {
            ReferenceSource::None => None,
            ReferenceSource::Dir(dir) => {
                PHOTO_EXTENSIONS.iter().map(|e| dir.join(format!("{}.{e}", item.id))).find(|p| p.is_file())
            }
            ReferenceSource::Csv(map) => {
                let name = item.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                map.get(&item.rel).or_else(|| map.get(&name)).or_else(|| map.get(&item.id)).cloned()
            }
        }
    }

    /// What the warning of a recording without a photo names.
    pub(super) fn describe(&self) -> String {
        match self {
            ReferenceSource::None => String::new(),
            ReferenceSource::Dir(d) => format!("no reference photo for it in {} (<id>.jpg, .jpeg or .png)", d.display()),
            ReferenceSource::Csv(_) => "no reference photo for it in the --reference-from CSV".into(),
        }
    }
}
