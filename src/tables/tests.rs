//! Tests of `tables.rs`.

use super::*;
use crate::kinds::EventKind;

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
