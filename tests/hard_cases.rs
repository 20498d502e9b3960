//! Issue 22's hard cases on clips that `fixtures/make_hard_fixtures.py` makes from
//! committed fixtures (labels in `fixtures/hard.truth.json`): a candidate replaced
//! wherever the swap falls, short absences, sound against the room.

use std::path::{Path, PathBuf};

use crate::util::*;

/// `dir/NAME.mp4` made by the fixture script; `None` (and a SKIPPED line) without
/// python3 or ffmpeg.
fn hard_clip(dir: &Path, name: &str) -> Option<PathBuf> {
    if !have("ffmpeg") || !have("python3") {
        eprintln!("SKIPPED: {name}: needs ffmpeg and python3 to make the clip");
        return None;
    }
    let st = std::process::Command::new("python3")
        .arg(fixture("make_hard_fixtures.py"))
        .arg(dir)
        .arg(name)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "make_hard_fixtures.py {name}");
    Some(dir.join(format!("{name}.mp4")))
}

fn events(dir: &Path, id: &str) -> Vec<(String, f64, f64, String)> {
    let (_, ev) = proctor::tables::read_events(&dir.join(format!("{id}.events.parquet"))).unwrap();
    ev.into_iter().map(|e| (e.kind.as_str().to_string(), e.start_s, e.end_s, e.detail)).collect()
}

fn summary(dir: &Path, id: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.summary.json"))).unwrap()).unwrap()
}

fn of_kind<'a>(ev: &'a [(String, f64, f64, String)], kind: &str) -> Vec<&'a (String, f64, f64, String)> {
    ev.iter().filter(|e| e.0 == kind).collect()
}

/// Makes the named clips in `dir`, adds the committed `extra` ones and analyses them all
/// with `--no-objects` into `dir/out`, which it returns; `None` when a clip cannot be made.
fn analyse_sound_clips(dir: &Path, names: &[&str], extra: &[PathBuf]) -> Option<PathBuf> {
    let mut clips = Vec::new();
    for name in names {
        clips.push(hard_clip(dir, name)?);
    }
    clips.extend_from_slice(extra);
    let out = dir.join("out");
    let refs: Vec<&Path> = clips.iter().map(PathBuf::as_path).collect();
    let r = analyze(&refs, &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    Some(out)
}

/// The man for 8 s, then the astronaut for 32 s: the one seen at the opening is the
/// candidate, though the stand-in holds 80% of the session (the majority rule enrolled
/// the stand-in and flagged the candidate).
#[test]
fn the_person_of_the_opening_is_the_candidate_when_a_stand_in_holds_the_majority() {
    let d = tempfile::tempdir().unwrap();
    let Some(clip) = hard_clip(d.path(), "id_short") else { return };
    let out = d.path().join("out");
    let r = analyze(&[&clip], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let ev = events(&out, "id_short");
    let changed = of_kind(&ev, "candidate_changed");
    assert_eq!(changed.len(), 1, "{ev:?}");
    assert!(changed[0].1 >= 7.0 && changed[0].1 <= 13.0, "within 5 s of the swap at 8 s: {:?}", changed[0]);
    assert!(changed[0].2 > 38.0, "{:?}", changed[0]);
    let s = summary(&out, "id_short");
    let enrolled = &s["identity"]["enrolled"];
    assert!(enrolled["t"].as_f64().unwrap() < 8.0, "{enrolled}");
    assert!(enrolled["from_s"][1].as_f64().unwrap() < 8.0, "{enrolled}");
    assert!(s["warnings"].as_array().unwrap().iter().all(|w| !w.as_str().unwrap().contains("enrol")), "{}", s["warnings"]);
}

/// A 2-minute recording with the swap at 10%, 50% and 90% (and the other way round at
/// 50%), flagged within 5 s, with and without `--reference`; one person alone for the
/// 2 minutes through light, contrast and framing changes raises nothing. About 4 minutes:
/// `cargo test --test tests hard_cases::swaps -- --ignored --nocapture`.
#[test]
#[ignore]
fn swaps_at_10_50_and_90_percent_are_flagged_within_5_s() {
    let d = tempfile::tempdir().unwrap();
    for (name, swap, reference) in [
        ("id_swap10", 12.0, "ref_man.png"),
        ("id_swap50", 60.0, "ref_man.png"),
        ("id_swap90", 108.0, "ref_man.png"),
        ("id_swap50b", 60.0, "ref_astronaut.png"),
        ("id_alone", f64::NAN, "ref_man.png"),
    ] {
        let Some(clip) = hard_clip(d.path(), name) else { return };
        for with_reference in [false, true] {
            let out = d.path().join(format!("out-{with_reference}"));
            let photo = d.path().join(reference);
            let mut extra = vec!["--no-objects"];
            if with_reference {
                extra.extend(["--reference", photo.to_str().unwrap()]);
            }
            let r = analyze(&[&clip], &out, &extra);
            assert_eq!(r.code(), 0, "{}", r.stderr());
            let ev = events(&out, name);
            let kind = if with_reference { "identity" } else { "candidate_changed" };
            let flagged = of_kind(&ev, kind);
            eprintln!("{name} reference={with_reference}: {:?}", flagged.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>());
            let ids = summary(&out, name)["identity"]["identities"].as_array().cloned().unwrap_or_default();
            if swap.is_nan() {
                assert!(ev.is_empty(), "{name}: one person raises nothing: {ev:?}");
                assert!(with_reference || ids.len() == 1, "{name}: one identity: {ids:?}");
                continue;
            }
            if !with_reference {
                // both signals: enrolment, and clustering's two identities (each 12 s or more)
                assert!(flagged[0].3.starts_with("raised by enrolment and clustering"), "{name}: {}", flagged[0].3);
                assert_eq!(ids.len(), 2, "{name}: {ids:?}");
            }
            assert_eq!(flagged.len(), 1, "{name} reference={with_reference}: {ev:?}");
            assert!(flagged[0].1 >= swap - 1.0 && flagged[0].1 <= swap + 5.0, "{name}: {:?}", flagged[0]);
            assert!(flagged[0].2 >= 118.0, "{name}: {:?}", flagged[0]);
            assert_eq!(ev.len(), 1, "{name}: nothing else: {ev:?}");
        }
    }
}

/// Absences: 3 s and 2 s are not events, 6 s is one `no_face` (5 s and up are).
#[test]
fn absences_from_five_seconds_are_events() {
    let d = tempfile::tempdir().unwrap();
    let Some(clip) = hard_clip(d.path(), "abs_a") else { return };
    let out = d.path().join("out");
    let r = analyze(&[&clip], &out, &["--no-objects"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let ev = events(&out, "abs_a");
    let no_face = of_kind(&ev, "no_face");
    assert_eq!(no_face.len(), 1, "{ev:?}");
    assert!((no_face[0].1 - 15.0).abs() <= 1.0 && (no_face[0].2 - 21.0).abs() <= 1.0, "{:?}", no_face[0]);
    // a 6 s absence costs 6/10 of no_face's 15 points
    let s = summary(&out, "abs_a");
    let line = s["deductions"]["lines"].as_array().unwrap().iter().find(|l| l["kind"] == "no_face").unwrap().clone();
    let cost = line["deduction"].as_f64().unwrap();
    let seen = no_face[0].2 - no_face[0].1;
    assert!((cost - 15.0 * seen / 10.0).abs() < 1e-6, "{line}");
}

/// Sound against the room: noise bursts over near-silence (from -40 dBFS), three
/// slams over room tone and a tune are `background_noise`; the -11 dBFS burst is
/// `loud_audio` alone; noise under the candidate's speech is not background, but over
/// the -12 dBFS ceiling it is `loud_audio` (also a 1 s burst, and one of 0.5 s), and the
/// candidate's speech (also very loud, close to the microphone) raises nothing.
#[test]
fn sound_that_stands_out_of_the_room_is_background_noise() {
    let d = tempfile::tempdir().unwrap();
    let extra = [fixture("speech_alone.webm"), fixture("speech_loud.webm")];
    let names = ["noise_silence", "slam", "music", "noise_speech_b", "lv_speech_t"];
    let Some(out) = analyse_sound_clips(d.path(), &names, &extra) else { return };
    let spans = |id: &str, kind: &str| -> Vec<(f64, f64)> { of_kind(&events(&out, id), kind).iter().map(|e| (e.1, e.2)).collect() };
    let near = |got: &[(f64, f64)], want: &[(f64, f64)]| {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g.0 - w.0).abs() <= 0.75 && (g.1 - w.1).abs() <= 0.75)
    };
    let got = spans("noise_silence", "background_noise");
    assert!(near(&got, &[(4.0, 6.0), (10.0, 12.0), (16.0, 18.0)]), "{got:?}");
    let got = spans("noise_silence", "loud_audio");
    assert!(near(&got, &[(22.0, 24.0)]), "{got:?}");
    let ev = events(&out, "noise_silence");
    let detail = &of_kind(&ev, "background_noise")[0].3;
    assert!(detail.contains("dB above the room's floor"), "{detail}");
    let got = spans("slam", "background_noise");
    assert_eq!(got.len(), 3, "{got:?}");
    for (g, t) in got.iter().zip([5.0, 12.0, 20.0]) {
        assert!((g.0 - t).abs() <= 0.75, "{got:?}");
    }
    // the tune's first notes are flagged from about 6 s (measured 6.0-11.2)
    let got = spans("music", "background_noise");
    assert!(got.len() == 1 && got[0].0 >= 4.5 && got[0].0 <= 6.5 && (got[0].1 - 11.0).abs() <= 0.75, "{got:?}");
    assert!(spans("noise_speech_b", "background_noise").is_empty(), "{:?}", events(&out, "noise_speech_b"));
    // the 1 s burst at -11 dBFS under speech (9.1-10.1 s) is over the ceiling
    let got = spans("noise_speech_b", "loud_audio");
    assert!(near(&got, &[(9.1, 10.1)]), "{got:?}");
    // under speech: bursts at -11, -6, -9 and -4 dBFS of 1, 0.75, 1 and 0.5 s are
    // loud_audio; those at -20 and -30 dBFS (14 and 33.1 s) are nothing
    let ev = events(&out, "lv_speech_t");
    let got = spans("lv_speech_t", "loud_audio");
    assert!(near(&got, &[(2.0, 3.0), (9.1, 9.85), (21.1, 22.1), (26.0, 26.5)]), "{ev:?}");
    assert_eq!(ev.len(), got.len(), "only loud_audio: {ev:?}");
    for id in ["speech_alone", "speech_loud"] {
        let ev = events(&out, id);
        assert!(ev.iter().all(|e| e.0 != "background_noise" && e.0 != "loud_audio"), "{id}: {ev:?}");
    }
}

/// Slams judged by their loudest 32 ms: over a -50 dBFS room the weakest tuning slam
/// (x0.6, its half second 24 dB over the room) is found with the others; over a -46 dBFS
/// room (`lv_knock_b`) four slams of x0.65-1.4 are found, and a 0.5 s burst 24 dB over the
/// room (under the 25 dB a short steady sound needs) is not.
#[test]
fn sound_slams_are_judged_by_their_loudest_32_ms() {
    let d = tempfile::tempdir().unwrap();
    let Some(out) = analyse_sound_clips(d.path(), &["lv_slam_t", "lv_knock_b"], &[]) else { return };
    let starts = |id: &str| -> Vec<f64> { of_kind(&events(&out, id), "background_noise").iter().map(|e| e.1).collect() };
    let near = |got: &[f64], want: &[f64]| got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 0.5);
    let got = starts("lv_slam_t");
    assert!(near(&got, &[4.0, 10.0, 16.0, 22.0, 34.0]), "{:?}", events(&out, "lv_slam_t"));
    let got = starts("lv_knock_b");
    assert!(near(&got, &[4.0, 10.0, 22.0, 28.0, 34.0]), "{:?}", events(&out, "lv_knock_b"));
    let ev = events(&out, "lv_knock_b");
    let slam = of_kind(&ev, "background_noise").into_iter().find(|e| (e.1 - 22.0).abs() <= 0.5).unwrap();
    assert!(slam.3.contains("its loudest 32 ms"), "{}", slam.3);
}

/// Issue 22: none may fire on the candidate's own speech at any level. The candidate's
/// speech (`speech_alone.webm`) scaled so that its loudest half second is at -10 and at
/// -6 dBFS RMS (over the -12 dBFS ceiling; at -6 its peaks clip) raises nothing, while a
/// noise burst at the same level in the pause at 5.5 s is `loud_audio`.
#[test]
fn sound_of_the_candidates_own_speech_never_fires_at_any_level() {
    let d = tempfile::tempdir().unwrap();
    let Some(out) = analyse_sound_clips(d.path(), &["loud_speech_10", "loud_speech_6"], &[]) else { return };
    for id in ["loud_speech_10", "loud_speech_6"] {
        let ev = events(&out, id);
        // the speech is loud: its frames are over the plain ceiling
        let frames = proctor::tables::read_observations(
            &out.join(format!("{id}.frames.parquet")),
            &out.join(format!("{id}.detections.parquet")),
        )
        .unwrap();
        let loud_speech = frames.iter().filter(|o| o.speech.is_some_and(|p| p >= 0.5) && o.audio_db.is_some_and(|l| l > -12.0)).count();
        assert!(loud_speech >= 1, "{id}: {loud_speech} speech frames over -12 dBFS");
        let loud = of_kind(&ev, "loud_audio");
        assert!(loud.len() == 1 && (loud[0].1 - 5.5).abs() <= 0.5 && (loud[0].2 - 6.25).abs() <= 0.5, "{id}: {ev:?}");
        assert_eq!(ev.len(), 1, "{id}: only the burst: {ev:?}");
    }
}

/// The look-alikes of the tuning half raise no object: the astronaut's helmet and
/// suit (`id_swap10`, 2 minutes, her hands in view) scored as a phone in the crop
/// around a hand beside them (up to 0.52), which raised `phone` 79-86 s until only
/// what touches the hand was kept from that crop.
#[test]
fn the_astronauts_helmet_and_suit_raise_no_object() {
    let d = tempfile::tempdir().unwrap();
    let Some(clip) = hard_clip(d.path(), "id_swap10") else { return };
    let out = d.path().join("out");
    let r = analyze(&[&clip], &out, &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let ev = events(&out, "id_swap10");
    for kind in ["phone", "book", "device"] {
        assert!(of_kind(&ev, kind).is_empty(), "{kind}: {ev:?}");
    }
    // the hands were found: some near miss (kept from 0.1) is marked held
    let df = proctor::tables::read_parquet(&out.join("id_swap10.detections.parquet")).unwrap();
    assert!(df.column("in_hand").unwrap().bool().unwrap().iter().flatten().any(|held| held));
}
