//! Speech and whose it is, on the labelled speech fixtures (fixtures/speech.truth.json):
//! speech with nobody in view, or while the candidate's lips are still, or in a voice unlike
//! the candidate's (enrolled from their speech while their lips move), is another voice.

use std::path::Path;

use crate::util::*;

fn events_of(dir: &Path, id: &str) -> Vec<(String, f64, f64)> {
    let (_, ev) = proctor::tables::read_events(&dir.join(format!("{id}.events.parquet"))).unwrap();
    ev.into_iter().map(|e| (e.kind.to_string(), e.start_s, e.end_s)).collect()
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0.0)
}

/// Every labelled speech clip analysed once, at the defaults (objects off: they play no part).
#[test]
fn another_voice_is_flagged_its_signal_named_and_f1_is_met() {
    let d = tempfile::tempdir().unwrap();
    let ids = ["speech_noface", "speech_two_voices", "speech_alone", "speech_loud", "speech_overlap"];
    let files: Vec<_> = ids.iter().map(|id| fixture(&format!("{id}.webm"))).collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let r = analyze(&refs, d.path(), &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());

    // nobody in view: both spans of voice B (2.00-4.58, 6.00-9.06) are one voices event
    let ev = events_of(d.path(), "speech_noface");
    let voices: Vec<_> = ev.iter().filter(|e| e.0 == "voices").collect();
    assert_eq!(voices.len(), 1, "{ev:?}");
    assert!(overlap((voices[0].1, voices[0].2), (2.0, 9.06)) > 6.0, "{ev:?}");
    let (_, full) = proctor::tables::read_events(&d.path().join("speech_noface.events.parquet")).unwrap();
    let v = full.iter().find(|e| e.kind.as_str() == "voices").unwrap();
    assert!(v.detail.contains("no face was in view"), "{}", v.detail);

    // the candidate's face in view, lips still while voice B speaks (5.50-7.46)
    let ev = events_of(d.path(), "speech_two_voices");
    let voices: Vec<_> = ev.iter().filter(|e| e.0 == "voices").collect();
    assert_eq!(voices.len(), 1, "{ev:?}");
    assert!(overlap((voices[0].1, voices[0].2), (5.5, 7.46)) > 1.5, "{ev:?}");
    // normal speech near the microphone is not loud_audio
    assert!(ev.iter().all(|e| e.0 != "loud_audio"), "{ev:?}");

    // the per-frame signals are in the frames table and voices counts as checked
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path().join("speech_two_voices.summary.json")).unwrap()).unwrap();
    assert_eq!(s["counts"]["voices"]["count"].as_u64(), Some(1));
    let frames = proctor::tables::read_parquet(&d.path().join("speech_two_voices.frames.parquet")).unwrap();
    let speech = frames.column("speech").unwrap().f32().unwrap();
    let t = frames.column("t_s").unwrap().f64().unwrap();
    for i in 0..frames.height() {
        let (ti, p) = (t.get(i).unwrap(), speech.get(i).unwrap());
        // silence between the utterances (4.0-5.0 s) and speech inside them (6.0-7.0 s)
        if (4.1..4.9).contains(&ti) {
            assert!(p < 0.5, "t {ti}: {p}");
        }
        if (6.0..7.0).contains(&ti) {
            assert!(p > 0.5, "t {ti}: {p}");
        }
    }

    // The voice: enrolled from the candidate's speech while their lips move, voice B (5.50-7.46)
    // is less like it than any of the candidate's own speech (1.00-3.24, 9.50-12.13)
    let sim = frames.column("voice_similarity").unwrap().f32().unwrap();
    let at = |a: f64, b: f64| -> Vec<f32> { (0..frames.height()).filter(|&i| (a..b).contains(&t.get(i).unwrap())).filter_map(|i| sim.get(i)).collect() };
    let (own, other) = ([at(1.0, 3.24), at(9.5, 12.13)].concat(), at(5.5, 7.46));
    assert!(own.len() >= 8 && other.len() >= 6, "{own:?} {other:?}");
    let lowest_own = own.iter().copied().fold(f32::INFINITY, f32::min);
    let highest_other = other.iter().copied().fold(0.0, f32::max);
    assert!(highest_other < lowest_own, "B {other:?} against the candidate's own {own:?}");
    assert!(highest_other < 0.7 && lowest_own >= 0.8, "B {other:?} against the candidate's own {own:?}");
    let (_, full) = proctor::tables::read_events(&d.path().join("speech_two_voices.events.parquet")).unwrap();
    let v = full.iter().find(|e| e.kind.as_str() == "voices").unwrap();
    assert!(v.detail.contains("in a voice unlike the candidate's") && v.detail.contains("lips were still"), "{}", v.detail);
    // the summary says what the voice was enrolled from: the candidate's speech, not B's
    let spans = s["audio"]["voice_enrolment"]["spans"].as_array().expect("enrolled");
    assert!(!spans.is_empty());
    for sp in spans {
        let (a, b) = (sp[0].as_f64().unwrap(), sp[1].as_f64().unwrap());
        assert!(overlap((a, b), (5.5, 7.46)) == 0.0 && overlap((a, b), (1.0, 12.13)) > 0.0, "{spans:?}");
    }
    assert!(s["audio"]["voice_segments"].as_u64().unwrap() >= 3);
    let noface: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path().join("speech_noface.summary.json")).unwrap()).unwrap();
    assert!(noface["audio"]["voice_enrolment"].is_null(), "{}", noface["audio"]);

    // voice B while the candidate's lips move (13.50-15.46): the picture cannot tell, the voice does
    let ev = events_of(d.path(), "speech_overlap");
    let voices: Vec<_> = ev.iter().filter(|e| e.0 == "voices").collect();
    assert_eq!(voices.len(), 1, "{ev:?}");
    assert!(overlap((voices[0].1, voices[0].2), (13.5, 15.46)) > 1.5, "{ev:?}");
    let (_, full) = proctor::tables::read_events(&d.path().join("speech_overlap.events.parquet")).unwrap();
    let v = full.iter().find(|e| e.kind.as_str() == "voices").unwrap();
    assert!(v.detail.contains("in a voice unlike the candidate's") && v.detail.contains("the voice alone raised"), "{}", v.detail);

    // The candidate alone, talking normally (alone) or loudly close to the microphone
    // (loud), with their lips moving while they talk: no voices, no loud_audio.
    for id in ["speech_alone", "speech_loud"] {
        let ev = events_of(d.path(), id);
        assert!(ev.iter().all(|e| e.0 != "voices" && e.0 != "loud_audio"), "{id}: {ev:?}");
        // their voice was enrolled, and all their speech is like it
        let frames = proctor::tables::read_parquet(&d.path().join(format!("{id}.frames.parquet"))).unwrap();
        let sims: Vec<f32> = frames.column("voice_similarity").unwrap().f32().unwrap().iter().flatten().collect();
        assert!(!sims.is_empty() && sims.iter().all(|&s| s >= 0.8), "{id}: {sims:?}");
    }

    // voices event F1 over the labelled clips (speech.truth.json `events`; the eval's matching)
    let truth = proctor::eval::load_truth(&fixture("speech.truth.json")).unwrap();
    let mut total = proctor::eval::Counts::default();
    for id in ids {
        let want: Vec<(f64, f64)> =
            truth.clips[id].events.iter().filter(|e| e.kind == "voices").map(|e| (e.start, e.end)).collect();
        let got: Vec<(f64, f64)> = events_of(d.path(), id).into_iter().filter(|e| e.0 == "voices").map(|e| (e.1, e.2)).collect();
        total.add(proctor::eval::match_events(&got, &want, 0.5));
    }
    assert!(total.tp >= 3, "{total:?}");
    assert!(total.f1().unwrap() >= 0.9, "voices F1 {:?}: {total:?}", total.f1());
}
