//! Observations and events as polars DataFrames and Parquet files.
//!
//! Schema version 6 (every table has a `schema_version` column and the
//! `proctor.schema_version` file metadata key; version 2 added the frames
//! table's audio and lip columns, version 3 `candidate_face` and
//! `candidate_distance`, version 4 `voice_similarity`, version 5 the
//! detections table's `mouth_open` and `keypoints` and the evidence table,
//! version 6 the frames table's `objects_detected`, `faces_detected` and
//! `cluster_distance` and the evidence table's `other_face` pictures; the
//! readers read versions 1 to 6):
//!
//! * frames: one row per analysed frame: `recording`, `frame`, `t_s`,
//!   `pts_s`, `width`, `height`, `mean_luma`, `audio_db`, `audio_peak_dbfs`
//!   (the loudest 32 ms of the same half second; files written before it
//!   was kept read it as null), `face_count`, the
//!   primary (largest) face flattened: `face_score`, `face_x0..face_y1`,
//!   `yaw`, `pitch`, `roll`, `ear_left`, `ear_right`, `gaze_x`, `gaze_y`,
//!   `mouth_open` (lip opening), `objects_sampled` (whether the frame has
//!   objects: the object detector ran on it, or, with `analysis.schedule =
//!   "changes"`, it is a frame of the object rate whose picture had not
//!   changed, carrying the objects of the detector's last run),
//!   `objects_detected` (whether the object detector ran on the frame; schema
//!   6), `faces_detected` (whether the face detector ran on the frame;
//!   elsewhere faces were tracked; schema 6, false in older files), and the audio columns `speech` (speech
//!   probability), `mouth_motion` (how much the lone face's lips moved within
//!   0.5 s), `voice_similarity` (cosine similarity of the voice of the
//!   speech segment around the frame to the candidate's voice enrolled from
//!   the session; null without a segment or an enrolment) and `other_voice`
//!   (speech the picture or the voice says is not the candidate's, weighted
//!   by how many of the two say so), `identity_distance` and `reference_distance` (face
//!   descriptor distance of the lone face to the candidate enrolled from the
//!   session, or to the reference photo, on the frames sampled for
//!   identity), null where not measured; `candidate_face` (which face,
//!   an index among the frame's faces largest first as in the detections
//!   table, is the candidate's: the one closest to the reference or the
//!   enrolled candidate, under the identity threshold; null where none
//!   matched or identity was not sampled), `candidate_distance` (its
//!   distance) and `cluster_distance` (clustering, the second identity
//!   signal: how far the identity the lone face's descriptor belongs to lies
//!   from the first identity seen, 0 for the first identity's own samples;
//!   null where not measured).
//! * detections: one row per face or object: `recording`, `frame`, `t_s`,
//!   `type` (face/object), `class`, `category`, `score`, `x0..y1`, and for
//!   faces the pose, eye and gaze columns, `mouth_open` and `keypoints`
//!   (the detector's five points, x and y interleaved, a list column).
//! * events: one row per event: `recording`, `kind`, `start_s`, `end_s`,
//!   `duration_s`, `confidence`, `detail`, `evidence_t`.
//! * evidence: one row per picture the views show: `recording`, `subject`
//!   (`event`: an event's evidence frame, boxes drawn; `reference_face`,
//!   `enrolled_face`: the candidate's face; `other_face`: the face seen at
//!   an `identity` or `candidate_changed` event's evidence frame), `t_s`, `kinds` (the kinds of
//!   event whose evidence it is, comma-separated), `width`, `height`, `jpeg`
//!   (the JPEG bytes, a binary column).

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::kinds::EventKind;
use crate::output::write_atomic;
use crate::records::{Event, EvidencePicture, FaceObs, ObjectObs, Observation, Subject};
pub use crate::records::{OLDEST_READABLE, SCHEMA_VERSION};

fn col<T, V>(name: &str, v: V) -> Column
where
    Series: NamedFrom<V, T>,
    T: ?Sized,
{
    Column::new(name.into(), v)
}

fn frame_of(cols: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(cols).expect("columns have equal length")
}

/// The frames table.
pub fn frames_frame(recording: &str, obs: &[Observation]) -> DataFrame {
    let n = obs.len();
    // the candidate's face where it is known, else the largest
    fn shown(o: &Observation) -> Option<&FaceObs> {
        o.candidate_face.and_then(|i| o.faces.as_ref()?.get(i as usize)).or_else(|| o.primary_face())
    }
    let face = |f: &dyn Fn(&FaceObs) -> Option<f32>| -> Vec<Option<f32>> { obs.iter().map(|o| shown(o).and_then(f)).collect() };
    frame_of(vec![
        col("schema_version", vec![SCHEMA_VERSION; n]),
        col("recording", vec![recording; n]),
        col("frame", obs.iter().map(|o| o.index as u32).collect::<Vec<_>>()),
        col("t_s", obs.iter().map(|o| o.t).collect::<Vec<_>>()),
        col("pts_s", obs.iter().map(|o| o.pts).collect::<Vec<_>>()),
        col("width", obs.iter().map(|o| o.width).collect::<Vec<_>>()),
        col("height", obs.iter().map(|o| o.height).collect::<Vec<_>>()),
        col("mean_luma", obs.iter().map(|o| o.mean_luma).collect::<Vec<_>>()),
        col("audio_db", obs.iter().map(|o| o.audio_db).collect::<Vec<_>>()),
        col("audio_peak_dbfs", obs.iter().map(|o| o.audio_peak_db).collect::<Vec<_>>()),
        col("face_count", obs.iter().map(|o| o.face_count().map(|c| c as u32)).collect::<Vec<_>>()),
        col("face_score", face(&|f| Some(f.score))),
        col("face_x0", face(&|f| Some(f.bbox[0]))),
        col("face_y0", face(&|f| Some(f.bbox[1]))),
        col("face_x1", face(&|f| Some(f.bbox[2]))),
        col("face_y1", face(&|f| Some(f.bbox[3]))),
        col("yaw", face(&|f| f.yaw)),
        col("pitch", face(&|f| f.pitch)),
        col("roll", face(&|f| f.roll)),
        col("ear_left", face(&|f| f.ear_left)),
        col("ear_right", face(&|f| f.ear_right)),
        col("gaze_x", face(&|f| f.gaze_x)),
        col("gaze_y", face(&|f| f.gaze_y)),
        col("mouth_open", face(&|f| f.mouth_open)),
        col("objects_sampled", obs.iter().map(|o| o.objects.is_some()).collect::<Vec<_>>()),
        col("objects_detected", obs.iter().map(|o| o.objects_detected).collect::<Vec<_>>()),
        col("faces_detected", obs.iter().map(|o| o.faces_detected).collect::<Vec<_>>()),
        col("speech", obs.iter().map(|o| o.speech).collect::<Vec<_>>()),
        col("mouth_motion", obs.iter().map(|o| o.mouth_motion).collect::<Vec<_>>()),
        col("voice_similarity", obs.iter().map(|o| o.voice_similarity).collect::<Vec<_>>()),
        col("other_voice", obs.iter().map(|o| o.other_voice).collect::<Vec<_>>()),
        col("identity_distance", obs.iter().map(|o| o.identity_distance).collect::<Vec<_>>()),
        col("reference_distance", obs.iter().map(|o| o.reference_distance).collect::<Vec<_>>()),
        col("candidate_face", obs.iter().map(|o| o.candidate_face).collect::<Vec<_>>()),
        col("candidate_distance", obs.iter().map(|o| o.candidate_distance).collect::<Vec<_>>()),
        col("cluster_distance", obs.iter().map(|o| o.cluster_distance).collect::<Vec<_>>()),
    ])
}

/// The embeddings table (`--save-embeddings` only): one row per face
/// described, `frame`, `t_s`, `face` (index among the frame's faces, largest
/// first, as in the detections table), `descriptor` (the 128 floats, a list
/// column) and `distance` (to the reference photo or the enrolled candidate;
/// null when neither was compared with).
pub fn embeddings_frame(recording: &str, obs: &[Observation]) -> DataFrame {
    let rows: Vec<(&Observation, &crate::observation::FaceEmbedding)> = obs.iter().flat_map(|o| o.embeddings.iter().map(move |e| (o, e))).collect();
    let n = rows.len();
    let mut descriptor: ListChunked = rows.iter().map(|(_, e)| Series::new(PlSmallStr::EMPTY, e.descriptor.as_slice())).collect();
    descriptor.rename("descriptor".into());
    frame_of(vec![
        col("schema_version", vec![SCHEMA_VERSION; n]),
        col("recording", vec![recording; n]),
        col("frame", rows.iter().map(|(o, _)| o.index as u32).collect::<Vec<_>>()),
        col("t_s", rows.iter().map(|(o, _)| o.t).collect::<Vec<_>>()),
        col("face", rows.iter().map(|(_, e)| e.face as u32).collect::<Vec<_>>()),
        Column::from(descriptor.into_series()),
        col("distance", rows.iter().map(|(_, e)| e.distance).collect::<Vec<_>>()),
    ])
}

/// The detections table: every face and object of every frame.
pub fn detections_frame(recording: &str, obs: &[Observation]) -> DataFrame {
    #[derive(Default)]
    struct Cols {
        frame: Vec<u32>,
        t: Vec<f64>,
        typ: Vec<&'static str>,
        class: Vec<String>,
        category: Vec<Option<String>>,
        score: Vec<f32>,
        bbox: [Vec<f32>; 4],
        face: [Vec<Option<f32>>; 8],
        keypoints: Vec<Option<Series>>,
    }
    let mut c = Cols::default();
    for o in obs {
        for f in o.faces.iter().flatten() {
            c.frame.push(o.index as u32);
            c.t.push(o.t);
            c.typ.push("face");
            c.class.push("face".into());
            c.category.push(None);
            c.score.push(f.score);
            for i in 0..4 {
                c.bbox[i].push(f.bbox[i]);
            }
            for (i, v) in [f.yaw, f.pitch, f.roll, f.ear_left, f.ear_right, f.gaze_x, f.gaze_y, f.mouth_open].into_iter().enumerate() {
                c.face[i].push(v);
            }
            let flat: Vec<f32> = f.keypoints.iter().flatten().copied().collect();
            c.keypoints.push(Some(Series::new(PlSmallStr::EMPTY, flat)));
        }
        for d in o.objects.iter().flatten() {
            c.frame.push(o.index as u32);
            c.t.push(o.t);
            c.typ.push("object");
            c.class.push(d.class.clone());
            c.category.push(Some(d.category.clone()));
            c.score.push(d.score);
            for i in 0..4 {
                c.bbox[i].push(d.bbox[i]);
            }
            for v in c.face.iter_mut() {
                v.push(None);
            }
            c.keypoints.push(None);
        }
    }
    let n = c.frame.len();
    let [x0, y0, x1, y1] = c.bbox;
    let [yaw, pitch, roll, el, er, gx, gy, mouth] = c.face;
    let mut keypoints: ListChunked = c.keypoints.into_iter().collect();
    keypoints.rename("keypoints".into());
    frame_of(vec![
        col("schema_version", vec![SCHEMA_VERSION; n]),
        col("recording", vec![recording; n]),
        col("frame", c.frame),
        col("t_s", c.t),
        col("type", c.typ),
        col("class", c.class),
        col("category", c.category),
        col("score", c.score),
        col("x0", x0),
        col("y0", y0),
        col("x1", x1),
        col("y1", y1),
        col("yaw", yaw),
        col("pitch", pitch),
        col("roll", roll),
        col("ear_left", el),
        col("ear_right", er),
        col("gaze_x", gx),
        col("gaze_y", gy),
        col("mouth_open", mouth),
        Column::from(keypoints.into_series()),
    ])
}

/// The events table.
pub fn events_frame(recording: &str, events: &[Event]) -> DataFrame {
    let n = events.len();
    frame_of(vec![
        col("schema_version", vec![SCHEMA_VERSION; n]),
        col("recording", vec![recording; n]),
        col("kind", events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>()),
        col("start_s", events.iter().map(|e| e.start_s).collect::<Vec<_>>()),
        col("end_s", events.iter().map(|e| e.end_s).collect::<Vec<_>>()),
        col("duration_s", events.iter().map(|e| e.duration_s()).collect::<Vec<_>>()),
        col("confidence", events.iter().map(|e| e.confidence).collect::<Vec<_>>()),
        col("detail", events.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>()),
        col("evidence_t", events.iter().map(|e| e.evidence_t).collect::<Vec<_>>()),
    ])
}

/// The evidence table.
pub fn evidence_frame(recording: &str, pictures: &[EvidencePicture]) -> DataFrame {
    let n = pictures.len();
    let kinds: Vec<String> = pictures.iter().map(|p| p.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")).collect();
    let jpeg: Vec<&[u8]> = pictures.iter().map(|p| p.jpeg.as_slice()).collect();
    frame_of(vec![
        col("schema_version", vec![SCHEMA_VERSION; n]),
        col("recording", vec![recording; n]),
        col("subject", pictures.iter().map(|p| p.subject.as_str()).collect::<Vec<_>>()),
        col("t_s", pictures.iter().map(|p| p.t_s).collect::<Vec<_>>()),
        col("kinds", kinds),
        col("width", pictures.iter().map(|p| p.width).collect::<Vec<_>>()),
        col("height", pictures.iter().map(|p| p.height).collect::<Vec<_>>()),
        col("jpeg", jpeg),
    ])
}

/// Write a DataFrame to Parquet atomically, with the schema version in the
/// file metadata.
pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    write_atomic(path, |w| {
        let meta = KeyValueMetadata::from_static(vec![(
            "proctor.schema_version".to_string(),
            SCHEMA_VERSION.to_string(),
        )]);
        ParquetWriter::new(w)
            .with_compression(ParquetCompression::Snappy)
            .with_key_value_metadata(Some(meta))
            .finish(df)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

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

    /// An f32 column older versions lack: all null when absent.
    fn f32s_or_null(&self, name: &str) -> Result<Vec<Option<f32>>> {
        if self.optional(name).is_some() {
            self.f32s(name)
        } else {
            Ok(vec![None; self.len()])
        }
    }

    fn u32s(&self, name: &str) -> Result<Vec<Option<u32>>> {
        let c = self.col(name)?;
        Ok(self.typed(name, c.u32())?.iter().collect())
    }

    fn u32s_or_null(&self, name: &str) -> Result<Vec<Option<u32>>> {
        if self.optional(name).is_some() {
            self.u32s(name)
        } else {
            Ok(vec![None; self.len()])
        }
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

#[cfg(test)]
mod tests;
