//! Observations and events as polars DataFrames and Parquet files.
//!
//! Schema version 4 (every table has a `schema_version` column and the
//! `proctor.schema_version` file metadata key; version 2 added the frames
//! table's audio and lip columns, version 3 `candidate_face` and
//! `candidate_distance`, version 4 `voice_similarity`; `read_events` reads
//! versions 1 to 4):
//!
//! * frames: one row per analysed frame: `recording`, `frame`, `t_s`,
//!   `pts_s`, `width`, `height`, `mean_luma`, `audio_db`, `face_count`, the
//!   primary (largest) face flattened: `face_score`, `face_x0..face_y1`,
//!   `yaw`, `pitch`, `roll`, `ear_left`, `ear_right`, `gaze_x`, `gaze_y`,
//!   `mouth_open` (lip opening), `objects_sampled` (whether the object
//!   detector ran on the frame), and the audio columns `speech` (speech
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
//!   matched or identity was not sampled) and `candidate_distance` (its
//!   distance).
//! * detections: one row per face or object: `recording`, `frame`, `t_s`,
//!   `type` (face/object), `class`, `category`, `score`, `x0..y1`, and for
//!   faces the pose, eye and gaze columns.
//! * events: one row per event: `recording`, `kind`, `start_s`, `end_s`,
//!   `duration_s`, `confidence`, `detail`, `evidence_t`.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventKind};
use crate::observation::{FaceObs, Observation};
use crate::output::write_atomic;

pub const SCHEMA_VERSION: u32 = 4;
/// Oldest schema version `read_events` still reads.
pub const OLDEST_READABLE: u32 = 1;

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
        col("speech", obs.iter().map(|o| o.speech).collect::<Vec<_>>()),
        col("mouth_motion", obs.iter().map(|o| o.mouth_motion).collect::<Vec<_>>()),
        col("voice_similarity", obs.iter().map(|o| o.voice_similarity).collect::<Vec<_>>()),
        col("other_voice", obs.iter().map(|o| o.other_voice).collect::<Vec<_>>()),
        col("identity_distance", obs.iter().map(|o| o.identity_distance).collect::<Vec<_>>()),
        col("reference_distance", obs.iter().map(|o| o.reference_distance).collect::<Vec<_>>()),
        col("candidate_face", obs.iter().map(|o| o.candidate_face).collect::<Vec<_>>()),
        col("candidate_distance", obs.iter().map(|o| o.candidate_distance).collect::<Vec<_>>()),
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
        face: [Vec<Option<f32>>; 7],
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
            for (i, v) in [f.yaw, f.pitch, f.roll, f.ear_left, f.ear_right, f.gaze_x, f.gaze_y].into_iter().enumerate() {
                c.face[i].push(v);
            }
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
        }
    }
    let n = c.frame.len();
    let [x0, y0, x1, y1] = c.bbox;
    let [yaw, pitch, roll, el, er, gx, gy] = c.face;
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
    ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::new(path, ErrorKind::Config(format!("not a readable Parquet file: {e}"))))
}

/// Read an events file back (for `proctor report`). Returns the recording id
/// (empty for an empty file) and the events.
pub fn read_events(path: &Path) -> Result<(String, Vec<Event>)> {
    let df = read_parquet(path)?;
    let bad = |why: String| Error::new(path, ErrorKind::Config(format!("not a proctor events file: {why}")));
    let get = |name: &str| df.column(name).map_err(|e| bad(e.to_string()));
    let version = get("schema_version")?.u32().map_err(|e| bad(e.to_string()))?;
    if let Some(v) = version.iter().flatten().find(|v| !(OLDEST_READABLE..=SCHEMA_VERSION).contains(v)) {
        return Err(bad(format!("schema version {v}, this proctor reads {OLDEST_READABLE} to {SCHEMA_VERSION}")));
    }
    let s = |name: &str| -> Result<Vec<String>> {
        Ok(get(name)?.str().map_err(|e| bad(e.to_string()))?.iter().map(|v| v.unwrap_or("").to_string()).collect())
    };
    let f64s = |name: &str| -> Result<Vec<f64>> {
        Ok(get(name)?.f64().map_err(|e| bad(e.to_string()))?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    };
    let recording = s("recording")?;
    let kinds = s("kind")?;
    let (start, end, evidence) = (f64s("start_s")?, f64s("end_s")?, f64s("evidence_t")?);
    let conf: Vec<f32> =
        get("confidence")?.f32().map_err(|e| bad(e.to_string()))?.iter().map(|v| v.unwrap_or(0.0)).collect();
    let detail = s("detail")?;
    let mut events = Vec::with_capacity(kinds.len());
    for i in 0..kinds.len() {
        events.push(Event {
            kind: kinds[i].parse::<EventKind>().map_err(bad)?,
            start_s: start[i],
            end_s: end[i],
            confidence: conf[i],
            detail: detail[i].clone(),
            evidence_t: evidence[i],
        });
    }
    Ok((recording.into_iter().next().unwrap_or_default(), events))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let events = vec![
            Event { kind: EventKind::Phone, start_s: 1.0, end_s: 4.5, confidence: 0.7, detail: "cell phone".into(), evidence_t: 2.0 },
            Event { kind: EventKind::NoFace, start_s: 10.0, end_s: 21.0, confidence: 1.0, detail: "Ünïcødé 顔".into(), evidence_t: 12.0 },
        ];
        write_parquet(&p, &mut events_frame("rec", &events)).unwrap();
        let (rec, back) = read_events(&p).unwrap();
        assert_eq!(rec, "rec");
        assert_eq!(back, events);
        // files of older schema versions are still read
        let mut old = events_frame("rec", &events);
        old.with_column(Column::new("schema_version".into(), vec![2u32; events.len()])).unwrap();
        write_parquet(&p, &mut old).unwrap();
        assert_eq!(read_events(&p).unwrap().1, events);
        old.with_column(Column::new("schema_version".into(), vec![SCHEMA_VERSION + 1; events.len()])).unwrap();
        write_parquet(&p, &mut old).unwrap();
        assert!(read_events(&p).unwrap_err().to_string().contains(&format!("schema version {}", SCHEMA_VERSION + 1)));
        // an empty timeline is a valid file too
        write_parquet(&p, &mut events_frame("rec", &[])).unwrap();
        assert!(read_events(&p).unwrap().1.is_empty());
    }
}
