//! Observations and events as polars DataFrames and Parquet files.
//!
//! Schema version 9 (every table has a `schema_version` column and the
//! `proctor.schema_version` file metadata key; version 2 added the frames
//! table's audio and lip columns, version 3 `candidate_face` and
//! `candidate_distance`, version 4 `voice_similarity`, version 5 the
//! detections table's `mouth_open` and `keypoints` and the evidence table,
//! version 6 the frames table's `objects_detected`, `faces_detected` and
//! `cluster_distance` and the evidence table's `other_face` pictures,
//! version 7 the frames table's `faces_described`, version 8 the detections
//! table's `in_hand`, `runner_up` and `runner_up_score`, version 9 its
//! `hand`; the readers read versions `OLDEST_READABLE` to 9):
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
//!   elsewhere faces were tracked; schema 6, false in older files),
//!   `faces_described` (whether the frame's faces were described for
//!   identity; schema 7, false in older files), and the audio columns `speech` (speech
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
//!   `type` (face/object), `class`, `category`, `score`, `in_hand` (a phone
//!   or book touching a palm the palm detector found, widened by a quarter of
//!   its side; schema 8, null before and for faces), `hand` (`left` or
//!   `right`: which of the subject's hands, where the hand landmark model was
//!   sure of the hand it touches; schema 9, null otherwise), `runner_up` and
//!   `runner_up_score` (objects: the best other class the detector gave the
//!   same box, from 0.01; schema 8), `x0..y1`, and for faces the pose, eye and
//!   gaze columns, `mouth_open` and `keypoints`
//!   (the detector's five points, x and y interleaved, a list column).
//! * events: one row per event: `recording`, `kind`, `start_s`, `end_s`,
//!   `duration_s`, `confidence`, `detail`, `evidence_t`.
//! * evidence: one row per picture the views show: `recording`, `subject`
//!   (`event`: an event's evidence frame, boxes drawn; `reference_face`,
//!   `enrolled_face`: the candidate's face; `other_face`: the face seen at
//!   an `identity` or `candidate_changed` event's evidence frame), `t_s`, `kinds` (the kinds of
//!   event whose evidence it is, comma-separated), `width`, `height`, `jpeg`
//!   (the JPEG bytes, a binary column).

use std::path::Path;

use polars::prelude::*;

use crate::error::Result;
use crate::output::write_atomic;
use crate::records::{Event, EvidencePicture, FaceObs, Observation};

mod read;

pub use read::*;

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
        col("faces_described", obs.iter().map(|o| o.faces_described).collect::<Vec<_>>()),
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
        in_hand: Vec<Option<bool>>,
        hand: Vec<Option<String>>,
        runner_up: Vec<Option<String>>,
        runner_up_score: Vec<Option<f32>>,
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
            c.in_hand.push(None);
            c.hand.push(None);
            c.runner_up.push(None);
            c.runner_up_score.push(None);
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
            c.in_hand.push(Some(d.in_hand));
            c.hand.push(d.hand.clone());
            c.runner_up.push(d.runner_up.as_ref().map(|r| r.0.clone()));
            c.runner_up_score.push(d.runner_up.as_ref().map(|r| r.1));
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
        col("in_hand", c.in_hand),
        col("hand", c.hand),
        col("runner_up", c.runner_up),
        col("runner_up_score", c.runner_up_score),
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

#[cfg(test)]
mod tests;
