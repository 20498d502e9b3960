//! Tests of `audio/track.rs`.

use super::*;

fn tone(n: usize, amp: f32) -> Vec<f32> {
    (0..n).map(|i| amp * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / RATE as f32).sin()).collect()
}

/// Push `samples` as frames of `frame` samples, each stamped with its own start time
/// `t0 + offset / 16000`.
fn push_frames(acc: &mut AudioAccumulator, t0: f64, samples: &[f32], frame: usize) {
    for (k, c) in samples.chunks(frame).enumerate() {
        acc.push(t0 + (k * frame) as f64 / RATE, c);
    }
}

#[test]
fn rms_of_full_scale_sine_is_minus_3_db() {
    let mut acc = AudioAccumulator::new(None, 100.0);
    push_frames(&mut acc, 0.0, &tone(16_000, 1.0), 320);
    let a = acc.finish(AudioFormat::default());
    let db = a.rms_db(0.0, 1.0).unwrap();
    assert!((db + 3.01).abs() < 0.05, "{db}");
    assert!(a.rms_db(2.0, 3.0).is_none());
    assert_eq!(a.duration_s(), 1.0);
    assert!(a.speech(0.0, 1.0).is_none() && !a.speech_checked());
}

/// 1 s of a loud tone, then nothing for 2 s (the next frame's timestamp is 2 s later),
/// then 1 s of a quiet tone with a loud burst at 3.50-3.70 s: the gap's windows have no
/// audio and everything after it sits at its own time, not 2 s early.
#[test]
fn a_gap_is_no_audio_and_does_not_shift_later_audio() {
    let mut acc = AudioAccumulator::new(None, 100.0);
    push_frames(&mut acc, 0.25, &tone(16_000, 0.5), 320);
    let mut after = tone(16_000, 0.01);
    for x in &mut after[8_000..11_200] {
        *x *= 80.0;
    }
    push_frames(&mut acc, 3.25, &after, 320);
    let a = acc.finish(AudioFormat { rate: 48_000, channels: 1 });
    assert_eq!(a.stats.gaps, 1);
    assert!((a.stats.gap_s - 2.0).abs() < 1e-6, "{:?}", a.stats);
    // before: -9 dBFS; the gap: no audio; after: -43 dBFS, with the burst at its place
    assert!((a.rms_db(0.35, 1.15).unwrap() + 9.03).abs() < 0.1);
    assert!(a.rms_db(1.35, 3.15).is_none(), "{:?}", a.rms_db(1.35, 3.15));
    assert!((a.rms_db(3.30, 3.70).unwrap() + 43.0).abs() < 0.2);
    assert!(a.rms_db(3.78, 3.94).unwrap() > -10.0, "the burst is at 3.75-3.95 s");
    assert!(a.rms_db(4.00, 4.20).unwrap() < -40.0);
    let (c0, c1) = a.covered_s().unwrap();
    assert!((c0 - 0.25).abs() < 1e-9 && (c1 - 4.25).abs() < 1e-9, "{c0} {c1}");
    let notes = a.notes(5.0);
    assert!(notes.iter().any(|n| n.contains("a gap at 1.2–3.2 s")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("audio covers") && n.contains("s of 5.0 s of video")), "{notes:?}");
}

/// A frame that starts before the previous one ended loses the overlapping part; a frame
/// within the tolerance just follows; frames past the limit are ignored.
#[test]
fn overlap_is_dropped_and_late_audio_ignored() {
    let mut acc = AudioAccumulator::new(None, 2.0);
    acc.push(0.0, &vec![0.5; 8_000]); // 0.0-0.5 s
    acc.push(0.4, &vec![0.1; 3_200]); // 0.4-0.6 s: the first 0.1 s overlaps
    acc.push(0.6 + 30.0 / RATE, &vec![0.1; 1_600]); // 30 samples late: follows on
    acc.push(5.0, &vec![0.9; 1_600]); // after the video
    acc.push(-1e9, &vec![0.9; 1_600]); // a wild timestamp long before it
    acc.push(1.9, &vec![0.1; 3_200]); // runs past the limit at 2.0 s
    let a = acc.finish(AudioFormat::default());
    assert!((a.stats.overlap_s - 0.1).abs() < 1e-9, "{:?}", a.stats);
    assert_eq!(a.stats.gaps, 1, "{:?}", a.stats); // 0.7 -> 1.9
    assert!((a.stats.after_video_s - 0.2).abs() < 1e-9, "{:?}", a.stats);
    assert!((a.stats.before_video_s - 0.1).abs() < 1e-9, "{:?}", a.stats);
    assert!(a.windows.len() <= 63, "{}", a.windows.len());
    assert!((a.rms_db(0.0, 0.48).unwrap() - 20.0 * 0.5f32.log10()).abs() < 0.01);
    assert!((a.rms_db(0.52, 0.69).unwrap() - 20.0 * 0.1f32.log10()).abs() < 0.01);
    assert!(a.rms_db(0.8, 1.85).is_none());
    assert_eq!(a.stats.samples, 8_000 + 1_600 + 1_600 + 1_600);
}

#[test]
fn silent_and_clipped_tracks_are_noted() {
    let mut acc = AudioAccumulator::new(None, 10.0);
    push_frames(&mut acc, 0.0, &vec![0.0; 16_000], 960);
    let notes = acc.finish(AudioFormat { rate: 8_000, channels: 6 }).notes(1.0);
    assert!(notes.iter().any(|n| n.contains("silent")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("8 kHz")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("6 channels")), "{notes:?}");
    assert!(!notes.iter().any(|n| n.contains("covers")), "{notes:?}");

    let mut acc = AudioAccumulator::new(None, 10.0);
    let clipped: Vec<f32> = tone(16_000, 4.0).into_iter().map(|x| x.clamp(-1.0, 1.0)).collect();
    push_frames(&mut acc, 0.0, &clipped, 960);
    let notes = acc.finish(AudioFormat { rate: 48_000, channels: 2 }).notes(1.0);
    assert!(notes.iter().any(|n| n.contains("clipped")), "{notes:?}");
    assert_eq!(notes.len(), 1, "{notes:?}");
}
