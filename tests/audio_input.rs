//! Bad audio input (issue 12): a silent track, clipped audio, 8 kHz mono, 48 kHz 6-channel,
//! audio shorter than the video, audio starting 3 s late, a 2 s hole in the audio's
//! timestamps. Each is analysed, says what is odd in the summary's warnings, and places the
//! audio of every analysed frame by the audio's timestamps. Fixtures: the "Bad audio input"
//! part of fixtures/make_speech_fixtures.sh (8 s of the candidate's face each).

use std::path::Path;

use crate::util::*;

struct Clip {
    warnings: Vec<String>,
    events: Vec<(String, f64, f64)>,
    /// (t, audio_db, speech) per analysed frame
    frames: Vec<(f64, Option<f32>, Option<f32>)>,
}

fn load(dir: &Path, id: &str) -> Clip {
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.summary.json"))).unwrap()).unwrap();
    let warnings = s["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect();
    // loud_audio and voices were checked (counted, not null) whatever the audio held
    assert!(s["counts"]["loud_audio"]["count"].is_u64(), "{id}: {}", s["counts"]);
    assert!(s["counts"]["voices"]["count"].is_u64(), "{id}: {}", s["counts"]);
    let (_, ev) = proctor::tables::read_events(&dir.join(format!("{id}.events.parquet"))).unwrap();
    let events = ev.into_iter().map(|e| (e.kind.to_string(), e.start_s, e.end_s)).collect();
    let f = proctor::tables::read_parquet(&dir.join(format!("{id}.frames.parquet"))).unwrap();
    let t = f.column("t_s").unwrap().f64().unwrap();
    let db = f.column("audio_db").unwrap().f32().unwrap();
    let sp = f.column("speech").unwrap().f32().unwrap();
    let frames = (0..f.height()).map(|i| (t.get(i).unwrap(), db.get(i), sp.get(i))).collect();
    Clip { warnings, events, frames }
}

impl Clip {
    fn warned(&self, what: &str) -> bool {
        self.warnings.iter().any(|w| w.contains(what))
    }
    fn kinds(&self, kind: &str) -> Vec<(f64, f64)> {
        self.events.iter().filter(|e| e.0 == kind).map(|e| (e.1, e.2)).collect()
    }
    /// Frames with `a <= t <= b`.
    fn between(&self, a: f64, b: f64) -> impl Iterator<Item = &(f64, Option<f32>, Option<f32>)> {
        self.frames.iter().filter(move |f| f.0 >= a - 1e-9 && f.0 <= b + 1e-9)
    }
}

#[test]
fn odd_audio_is_analysed_noted_and_placed_by_timestamps() {
    let d = tempfile::tempdir().unwrap();
    let names = [
        "audio_silent.webm",
        "audio_clipped.webm",
        "audio_8k_mono.mkv",
        "audio_48k_6ch.mp4",
        "audio_short.webm",
        "audio_late.webm",
        "audio_gap.webm",
    ];
    let files: Vec<_> = names.iter().map(|n| fixture(n)).collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let r = analyze(&refs, d.path(), &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let odd = ["silent", "clipped", "kHz", "channels", "covers", "gap"];

    // digital silence: every frame has a level (of silence), no speech, no event
    let c = load(d.path(), "audio_silent");
    assert!(c.warned("the audio track is silent"), "{:?}", c.warnings);
    assert_eq!(c.frames.len(), 32);
    assert!(c.frames.iter().all(|f| f.1.is_some_and(|db| db < -90.0) && f.2.is_some_and(|p| p < 0.5)), "{:?}", c.frames);
    assert!(c.events.is_empty(), "{:?}", c.events);

    // voice A 16x too loud, 1.0-3.6 s: clipped, and said so; its level is over the -12 dBFS
    // ceiling, but it is the candidate's own speech (the only voice), which never raises
    // loud_audio however loud (issue 22; `loud_audio_speech_over_db`)
    let c = load(d.path(), "audio_clipped");
    assert!(c.warned("the audio is clipped"), "{:?}", c.warnings);
    assert!(c.between(1.5, 3.25).all(|f| f.1.is_some_and(|db| db > -12.0) && f.2.is_some_and(|p| p > 0.5)), "{:?}", c.frames);
    assert!(c.kinds("loud_audio").is_empty(), "{:?}", c.events);

    // 8 kHz mono and 48 kHz 5.1, voice A at 1.0-4.3 s: noted, levels everywhere, speech found
    for id in ["audio_8k_mono", "audio_48k_6ch"] {
        let c = load(d.path(), id);
        let note = if id == "audio_8k_mono" { "sampled at 8 kHz" } else { "6 channels: they were mixed down to mono" };
        assert!(c.warned(note), "{id}: {:?}", c.warnings);
        assert!(!c.warned("covers") && !c.warned("gap") && !c.warned("silent") && !c.warned("clipped"), "{id}: {:?}", c.warnings);
        assert!(c.frames.iter().all(|f| f.1.is_some()), "{id}");
        assert!(c.between(1.25, 4.0).all(|f| f.2.is_some_and(|p| p > 0.5)), "{id}: {:?}", c.frames);
        assert!(c.between(5.0, 7.75).all(|f| f.2.is_some_and(|p| p < 0.5) && f.1.is_some_and(|db| db < -40.0)), "{id}: {:?}", c.frames);
        assert!(c.kinds("loud_audio").is_empty(), "{id}: {:?}", c.events);
    }

    // audio for the first 4 s of 8 s: a -23 dBFS tone there, no audio after
    let c = load(d.path(), "audio_short");
    assert!(c.warned("audio covers 0.0–4.0 s of 8.0 s of video"), "{:?}", c.warnings);
    assert!(c.between(0.0, 3.7).all(|f| f.1.is_some_and(|db| (db + 23.0).abs() < 1.5)), "{:?}", c.frames);
    assert!(c.between(4.3, 8.0).all(|f| f.1.is_none() && f.2.is_none()), "{:?}", c.frames);

    // audio from 3 s (its own timestamps), a loud tone 5.0-6.5 s: nothing before 3 s, the
    // tone at its time, loud_audio there and not raised by the quiet part
    let c = load(d.path(), "audio_late");
    assert!(c.warned("audio covers 3.0–8.0 s of 8.0 s of video"), "{:?}", c.warnings);
    assert!(c.between(0.0, 2.7).all(|f| f.1.is_none() && f.2.is_none()), "{:?}", c.frames);
    assert!(c.between(3.3, 4.7).all(|f| f.1.is_some_and(|db| db < -40.0)), "{:?}", c.frames);
    assert!(c.between(5.25, 6.25).all(|f| f.1.is_some_and(|db| db > -8.0)), "{:?}", c.frames);
    let loud = c.kinds("loud_audio");
    assert!(loud.len() == 1 && (loud[0].0 - 5.0).abs() <= 0.3 && (loud[0].1 - 6.6).abs() <= 0.3, "{:?}", c.events);

    // a 2 s hole at 3.0-5.0 s, then the loud tone at 6.0-7.5 s: no audio in the hole, and
    // the tone where its timestamps put it (placed by sample count it would be at 4.0-5.5 s)
    let c = load(d.path(), "audio_gap");
    assert!(c.warned("a gap at 3.0–5.0 s"), "{:?}", c.warnings);
    assert!(c.between(3.3, 4.7).all(|f| f.1.is_none() && f.2.is_none()), "{:?}", c.frames);
    assert!(c.between(0.0, 2.7).all(|f| f.1.is_some_and(|db| (db + 33.5).abs() < 2.0)), "{:?}", c.frames);
    assert!(c.between(5.0, 5.5).all(|f| f.1.is_some_and(|db| db < -40.0)), "{:?}", c.frames);
    assert!(c.between(6.25, 7.25).all(|f| f.1.is_some_and(|db| db > -8.0)), "{:?}", c.frames);
    let loud = c.kinds("loud_audio");
    assert!(loud.len() == 1 && (loud[0].0 - 6.0).abs() <= 0.3 && (loud[0].1 - 7.6).abs() <= 0.3, "{:?}", c.events);

    // the ordinary clips of this set raise no note they should not
    for id in ["audio_silent", "audio_clipped", "audio_short", "audio_late", "audio_gap"] {
        let c = load(d.path(), id);
        let notes: Vec<_> = c.warnings.iter().filter(|w| odd.iter().any(|o| w.contains(o))).collect();
        assert_eq!(notes.len(), 1, "{id}: {:?}", c.warnings);
    }
}
