//! Tests of `tables.rs`.

use super::*;
use crate::kinds::EventKind;
use crate::observation::ObjectObs;

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

/// An object's hand (schema 9), whether it is held and its runner-up class come back as
/// written; a detections table without the `hand` column (schema 8) reads it as none.
#[test]
fn which_hand_holds_an_object_round_trips_and_older_files_have_none() {
    let dir = tempfile::tempdir().unwrap();
    let (f, d) = (dir.path().join("f.parquet"), dir.path().join("d.parquet"));
    let phone = |hand: Option<&str>| ObjectObs {
        class: "cell phone".into(),
        category: "phone".into(),
        score: 0.5,
        bbox: [10.0, 20.0, 30.0, 60.0],
        in_hand: true,
        hand: hand.map(str::to_string),
        runner_up: Some(("remote".into(), 0.2)),
    };
    let obs = vec![
        Observation { index: 0, t: 0.0, width: 64, height: 48, objects: Some(vec![phone(Some("left"))]), ..Default::default() },
        Observation { index: 4, t: 1.0, width: 64, height: 48, objects: Some(vec![phone(None)]), ..Default::default() },
    ];
    write_parquet(&f, &mut frames_frame("rec", &obs)).unwrap();
    write_parquet(&d, &mut detections_frame("rec", &obs)).unwrap();
    let back = read_observations(&f, &d).unwrap();
    let objects = |o: &[Observation]| o.iter().map(|o| o.objects.clone()).collect::<Vec<_>>();
    assert_eq!(objects(&back), objects(&obs));
    let mut old = detections_frame("rec", &obs);
    old.drop_in_place("hand").unwrap();
    old.with_column(Column::new("schema_version".into(), vec![8u32; old.height()])).unwrap();
    write_parquet(&d, &mut old).unwrap();
    let back = read_observations(&f, &d).unwrap();
    assert!(back.iter().flat_map(|o| o.objects.iter().flatten()).all(|p| p.hand.is_none() && p.in_hand));
}
