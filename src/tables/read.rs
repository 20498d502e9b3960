//! Reading the tables back: a Parquet file that does not open, lacks a column or
//! holds a value of the wrong type is that file's error, said once (a reader's
//! panic included), never a panic of proctor.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::EventKind;
use crate::records::{Event, EvidencePicture, FaceObs, ObjectObs, Observation, Subject};

use super::*;

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::new(path, ErrorKind::NotFound),
        _ => Error::new(path, ErrorKind::Unreadable(e)),
    })?;
    // a damaged file can make the Parquet reader panic (an assertion in its
    // decoders, on its own threads): that is this file's error, said once
    let read = quiet_panics(|| ParquetReader::new(file).finish());
    match read {
        Some(r) => r.map_err(|e| Error::new(path, ErrorKind::BadOutput(format!("not a readable Parquet file: {e}")))),
        None => Err(Error::new(path, ErrorKind::BadOutput("not a readable Parquet file (its reader failed on it)".into()))),
    }
}

/// Readers of untrusted files under way (see [`quiet_panics`]).
static QUIET_READERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    static QUIET_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f`, a reader of a file that may be damaged; `None` when it panics.
/// Its panic (on this thread, or on polars' worker threads while it runs)
/// prints nothing: the caller reports the file. Other panics print as ever.
fn quiet_panics<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let polars_thread = std::thread::current().name().is_some_and(|n| n.starts_with("polars"));
            let quiet = QUIET_HERE.with(|q| q.get()) || (polars_thread && QUIET_READERS.load(std::sync::atomic::Ordering::SeqCst) > 0);
            if !quiet {
                default(info);
            }
        }));
    });
    QUIET_READERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let was = QUIET_HERE.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    QUIET_HERE.with(|q| q.set(was));
    QUIET_READERS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    r
}

/// A proctor table read back: its columns by name, typed, with errors that
/// name the file.
struct Table {
    df: DataFrame,
    path: std::path::PathBuf,
}

impl Table {
    /// Read `path`, a table of `what`, checking its schema version.
    fn read(path: &Path, what: &str) -> Result<Table> {
        let t = Table { df: read_parquet(path)?, path: path.to_path_buf() };
        let version = t.df.column("schema_version").map_err(|_| t.bad(format!("not a proctor {what} table (no schema_version column)")))?;
        let version = version.u32().map_err(|e| t.bad(e.to_string()))?;
        if let Some(v) = version.iter().flatten().find(|v| !(OLDEST_READABLE..=SCHEMA_VERSION).contains(v)) {
            return Err(t.bad(format!("schema version {v}, this proctor reads {OLDEST_READABLE} to {SCHEMA_VERSION}")));
        }
        Ok(t)
    }

    fn bad(&self, why: String) -> Error {
        Error::new(&self.path, ErrorKind::BadOutput(why))
    }

    fn len(&self) -> usize {
        self.df.height()
    }

    fn col(&self, name: &str) -> Result<&Column> {
        self.df.column(name).map_err(|_| self.bad(format!("no column {name}")))
    }

    /// A column that older schema versions lack: `None` when absent.
    fn optional(&self, name: &str) -> Option<&Column> {
        self.df.column(name).ok()
    }

    fn typed<T>(&self, name: &str, r: PolarsResult<T>) -> Result<T> {
        r.map_err(|e| self.bad(format!("column {name}: {e}")))
    }

    fn strs(&self, name: &str) -> Result<Vec<Option<String>>> {
        let c = self.col(name)?;
        Ok(self.typed(name, c.str())?.iter().map(|v| v.map(str::to_string)).collect())
    }

    fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let c = self.col(name)?;
        Ok(self.typed(name, c.f64())?.iter().collect())
    }

    fn f32s(&self, name: &str) -> Result<Vec<Option<f32>>> {
        let c = self.col(name)?;
        Ok(self.typed(name, c.f32())?.iter().collect())
    }

    /// A column older versions lack, read by `read`: all null when absent.
    fn or_null<T: Clone>(&self, name: &str, read: fn(&Self, &str) -> Result<Vec<Option<T>>>) -> Result<Vec<Option<T>>> {
        if self.optional(name).is_some() {
            read(self, name)
        } else {
            Ok(vec![None; self.len()])
        }
    }

    /// An f32 column older versions lack: all null when absent.
    fn f32s_or_null(&self, name: &str) -> Result<Vec<Option<f32>>> {
        self.or_null(name, Self::f32s)
    }

    fn u32s(&self, name: &str) -> Result<Vec<Option<u32>>> {
        let c = self.col(name)?;
        Ok(self.typed(name, c.u32())?.iter().collect())
    }

    fn u32s_or_null(&self, name: &str) -> Result<Vec<Option<u32>>> {
        self.or_null(name, Self::u32s)
    }

    fn bools(&self, name: &str) -> Result<Vec<Option<bool>>> {
        let c = self.col(name)?;
        Ok(self.typed(name, c.bool())?.iter().collect())
    }

    /// A value every row must have.
    fn need<T>(&self, name: &str, row: usize, v: Option<T>) -> Result<T> {
        v.ok_or_else(|| self.bad(format!("column {name}: null in row {row}")))
    }

    /// The recording id the table names (empty for an empty table).
    fn recording(&self) -> Result<String> {
        Ok(self.strs("recording")?.into_iter().flatten().next().unwrap_or_default())
    }
}

/// Read an events file back. Returns the recording id (empty for an empty
/// file) and the events.
pub fn read_events(path: &Path) -> Result<(String, Vec<Event>)> {
    let t = Table::read(path, "events")?;
    let (kinds, start, end, evidence) = (t.strs("kind")?, t.f64s("start_s")?, t.f64s("end_s")?, t.f64s("evidence_t")?);
    let (conf, detail) = (t.f32s("confidence")?, t.strs("detail")?);
    let mut events = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let kind = t.need("kind", i, kinds[i].as_deref())?;
        events.push(Event {
            kind: kind.parse::<EventKind>().map_err(|e| t.bad(e))?,
            start_s: t.need("start_s", i, start[i])?,
            end_s: t.need("end_s", i, end[i])?,
            confidence: conf[i].unwrap_or(0.0),
            detail: detail[i].clone().unwrap_or_default(),
            evidence_t: t.need("evidence_t", i, evidence[i])?,
        });
    }
    Ok((t.recording()?, events))
}

/// Read the frames and detections tables back into the observations they
/// were written from (without face descriptors, which these tables do not
/// hold). Tables of schema 4 and older lack the faces' keypoints and (but
/// for the largest face) lip opening: those come back empty.
pub fn read_observations(frames: &Path, detections: &Path) -> Result<Vec<Observation>> {
    let f = Table::read(frames, "frames")?;
    let d = Table::read(detections, "detections")?;
    // the detections, grouped by frame in their order
    let mut faces_of: std::collections::BTreeMap<u32, Vec<FaceObs>> = Default::default();
    let mut objects_of: std::collections::BTreeMap<u32, Vec<ObjectObs>> = Default::default();
    // whether the detections table holds every face's lip opening (schema 5)
    let per_face_mouth;
    {
        let frame = d.u32s("frame")?;
        let typ = d.strs("type")?;
        let class = d.strs("class")?;
        let category = d.strs("category")?;
        let score = d.f32s("score")?;
        let bbox = [d.f32s("x0")?, d.f32s("y0")?, d.f32s("x1")?, d.f32s("y1")?];
        let [yaw, pitch, roll, el, er, gx, gy] =
            ["yaw", "pitch", "roll", "ear_left", "ear_right", "gaze_x", "gaze_y"].map(|n| d.f32s_or_null(n));
        let (yaw, pitch, roll, el, er, gx, gy) = (yaw?, pitch?, roll?, el?, er?, gx?, gy?);
        let mouth = d.f32s_or_null("mouth_open")?;
        // schema 8: whether an object was held in a hand (not looked for before), its runner-up class
        let in_hand = d.or_null("in_hand", Table::bools)?;
        // schema 9: which hand holds it
        let hand = d.or_null("hand", Table::strs)?;
        let runner_up = d.or_null("runner_up", Table::strs)?;
        let runner_up_score = d.f32s_or_null("runner_up_score")?;
        per_face_mouth = d.optional("mouth_open").is_some();
        let keypoints: Vec<Vec<[f32; 2]>> = match d.optional("keypoints") {
            Some(c) => {
                let list = d.typed("keypoints", c.list())?;
                (0..list.len())
                .map(|i| list.get_as_series(i))
                .map(|s| {
                    s.and_then(|s| s.f32().ok().map(|v| v.iter().flatten().collect::<Vec<f32>>()))
                        .map(|v| v.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
                        .unwrap_or_default()
                })
                .collect()
            }
            None => vec![Vec::new(); d.len()],
        };
        for i in 0..d.len() {
            let fr = d.need("frame", i, frame[i])?;
            let b = [0, 1, 2, 3].map(|k| bbox[k][i]);
            let b = [d.need("x0", i, b[0])?, d.need("y0", i, b[1])?, d.need("x1", i, b[2])?, d.need("y1", i, b[3])?];
            let s = d.need("score", i, score[i])?;
            match d.need("type", i, typ[i].as_deref())? {
                "face" => faces_of.entry(fr).or_default().push(FaceObs {
                    bbox: b,
                    score: s,
                    keypoints: keypoints[i].clone(),
                    yaw: yaw[i],
                    pitch: pitch[i],
                    roll: roll[i],
                    ear_left: el[i],
                    ear_right: er[i],
                    gaze_x: gx[i],
                    gaze_y: gy[i],
                    mouth_open: mouth[i],
                }),
                "object" => objects_of.entry(fr).or_default().push(ObjectObs {
                    class: class[i].clone().unwrap_or_default(),
                    category: category[i].clone().unwrap_or_default(),
                    score: s,
                    bbox: b,
                    in_hand: in_hand[i].unwrap_or(false),
                    hand: hand[i].clone(),
                    runner_up: runner_up[i].clone().zip(runner_up_score[i]),
                }),
                other => return Err(d.bad(format!("column type: unknown detection type '{other}'"))),
            }
        }
    }
    let frame = f.u32s("frame")?;
    let (t, pts) = (f.f64s("t_s")?, f.f64s("pts_s")?);
    let (width, height) = (f.u32s("width")?, f.u32s("height")?);
    let (luma, audio_db, count) = (f.f32s("mean_luma")?, f.f32s("audio_db")?, f.u32s("face_count")?);
    let mouth_open = f.f32s_or_null("mouth_open")?;
    let audio_peak = f.f32s_or_null("audio_peak_dbfs")?;
    let sampled = f.bools("objects_sampled")?;
    // schema 5 and older: the object detector ran on every sampled frame, and
    // which frames the face detector ran on was not written
    let objects_detected = match f.optional("objects_detected") {
        Some(_) => f.bools("objects_detected")?,
        None => sampled.clone(),
    };
    let faces_detected = match f.optional("faces_detected") {
        Some(_) => f.bools("faces_detected")?,
        None => vec![Some(false); f.len()],
    };
    let faces_described = match f.optional("faces_described") {
        Some(_) => f.bools("faces_described")?,
        None => vec![Some(false); f.len()],
    };
    let [speech, motion, voice, other, idd, refd, cand_d, clus_d] = [
        "speech",
        "mouth_motion",
        "voice_similarity",
        "other_voice",
        "identity_distance",
        "reference_distance",
        "candidate_distance",
        "cluster_distance",
    ]
    .map(|n| f.f32s_or_null(n));
    let (speech, motion, voice, other, idd, refd, cand_d, clus_d) = (speech?, motion?, voice?, other?, idd?, refd?, cand_d?, clus_d?);
    let cand_face = f.u32s_or_null("candidate_face")?;
    let mut obs = Vec::with_capacity(f.len());
    for i in 0..f.len() {
        let index = f.need("frame", i, frame[i])?;
        let faces = match count[i] {
            None => None,
            Some(n) => {
                let mut faces = faces_of.remove(&index).unwrap_or_default();
                if faces.len() != n as usize {
                    return Err(d.bad(format!("frame {index}: {} faces, where the frames table says {n}", faces.len())));
                }
                // schema 4 and older kept the lip opening of the largest face only, in
                // the frames table (their detections have no mouth_open column)
                if let (false, Some(first), Some(m)) = (per_face_mouth, faces.first_mut(), mouth_open[i]) {
                    first.mouth_open = Some(m);
                }
                Some(faces)
            }
        };
        let objects = f.need("objects_sampled", i, sampled[i])?.then(|| objects_of.remove(&index).unwrap_or_default());
        obs.push(Observation {
            index: index as usize,
            t: f.need("t_s", i, t[i])?,
            pts: f.need("pts_s", i, pts[i])?,
            width: f.need("width", i, width[i])?,
            height: f.need("height", i, height[i])?,
            mean_luma: f.need("mean_luma", i, luma[i])?,
            audio_db: audio_db[i],
            audio_peak_db: audio_peak[i],
            faces,
            objects,
            faces_detected: faces_detected[i].unwrap_or(false),
            faces_described: faces_described[i].unwrap_or(false),
            objects_detected: objects_detected[i].unwrap_or(false),
            speech: speech[i],
            mouth_motion: motion[i],
            voice_similarity: voice[i],
            other_voice: other[i],
            embeddings: Vec::new(),
            identity_distance: idd[i],
            reference_distance: refd[i],
            candidate_face: cand_face[i],
            candidate_distance: cand_d[i],
            cluster_distance: clus_d[i],
        });
    }
    Ok(obs)
}

/// Read the evidence table back.
pub fn read_evidence(path: &Path) -> Result<Vec<EvidencePicture>> {
    let t = Table::read(path, "evidence")?;
    let (subject, ts, kinds) = (t.strs("subject")?, t.f64s("t_s")?, t.strs("kinds")?);
    let (width, height) = (t.u32s("width")?, t.u32s("height")?);
    let jpeg: Vec<Option<Vec<u8>>> = {
        let c = t.col("jpeg")?;
        t.typed("jpeg", c.binary())?.iter().map(|v| v.map(<[u8]>::to_vec)).collect()
    };
    let mut out = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let s = t.need("subject", i, subject[i].as_deref())?;
        let kinds = kinds[i].as_deref().unwrap_or("");
        out.push(EvidencePicture {
            subject: Subject::parse(s).ok_or_else(|| t.bad(format!("column subject: unknown subject '{s}'")))?,
            t_s: t.need("t_s", i, ts[i])?,
            kinds: kinds.split(',').filter(|k| !k.is_empty()).map(|k| k.parse::<EventKind>().map_err(|e| t.bad(e))).collect::<Result<_>>()?,
            width: t.need("width", i, width[i])?,
            height: t.need("height", i, height[i])?,
            jpeg: t.need("jpeg", i, jpeg[i].clone())?,
        });
    }
    Ok(out)
}
