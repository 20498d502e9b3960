//! The speaker embedding (Resemblyzer's voice encoder in candle) against the package
//! itself, and the streamed segments' voices on the speech fixtures.
//!
//! Fixtures: `fixtures/speech.wav` (voice A, a beep, voice B, voice A; spans in
//! `fixtures/speech.truth.json`) and `fixtures/reference/resemblyzer.json`: Resemblyzer
//! 0.1.4's `embed_utterance` (torch CPU) on the three utterances, each widened by 30 ms and
//! volume-normalised as the package does (`models/convert_resemblyzer.py`).

use anyhow::{ensure, Context, Result};
use candle_core::Device;
use proctor::audio::{cosine, load_speaker, load_vad, AudioAccumulator, SpeakerEncoder};
use serde_json::Value;

use crate::model_vad::read_wav;
use crate::util::{fixture, root};

/// Tolerance on each element of a (unit-length, 256-d) embedding, partial or whole.
const EMBED_TOL: f32 = 1e-3;

fn speaker() -> SpeakerEncoder {
    load_speaker(None, &Device::Cpu).expect("embedded speaker weights load")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Every partial's embedding and every utterance's within 1e-3 of torch, same partials.
#[test]
fn audio_speaker_embeddings_match_resemblyzer() -> Result<()> {
    let p = root().join("fixtures/reference/resemblyzer.json");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&p).with_context(|| p.display().to_string())?)?;
    let wav = read_wav(&fixture("speech.wav"))?;
    let enc = speaker();
    let mut worst = 0f32;
    for u in r["utterances"].as_array().unwrap() {
        let (a, b) = (u["start_sample"].as_u64().unwrap() as usize, u["end_sample"].as_u64().unwrap() as usize);
        let got = enc.embed_segment(&wav[a..b])?;
        let starts: Vec<usize> = u["partial_starts"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
        let got_starts: Vec<usize> = got.partials.iter().map(|p| p.0).collect();
        ensure!(got_starts == starts, "partials at {got_starts:?}, reference {starts:?}");
        for (k, (g, w)) in got.partials.iter().zip(u["partials"].as_array().unwrap()).enumerate() {
            let d = max_abs(&g.1, &floats(w));
            ensure!(d <= EMBED_TOL, "utterance at {a}, partial {k}: max difference {d}");
            worst = worst.max(d);
        }
        let d = max_abs(&got.embedding, &floats(&u["embedding"]));
        ensure!(d <= EMBED_TOL, "utterance at {a}: max difference {d}");
        worst = worst.max(d);
    }
    println!("largest difference from Resemblyzer/torch: {worst:.2e}");
    Ok(())
}

/// speech.wav streamed as `analyze` streams a recording: the VAD's segments each get a
/// voice; A's two utterances sound alike (cosine > 0.8), B is unlike both (< 0.7), and no
/// segment straddles two utterances.
#[test]
fn audio_speaker_streamed_segments_tell_the_voices_apart() -> Result<()> {
    let wav = read_wav(&fixture("speech.wav"))?;
    let (vad, enc) = (load_vad(None, &Device::Cpu)?, speaker());
    let mut acc = AudioAccumulator::new(Some(&vad), 100.0).with_speaker(Some(&enc));
    for (k, c) in wav.chunks(960).enumerate() {
        acc.push(k as f64 * 0.06, c);
    }
    let track = acc.finish(Default::default());
    ensure!(track.voices_checked(), "voices not checked: {:?}", track.speaker_error());
    let segs = track.voice_segments();
    let spans = [("A", 0.4, 3.7119), ("B", 4.8, 6.758), ("A", 7.25, 8.7645)];
    let voice_of = |s: &proctor::audio::VoiceSegment| {
        let ov: Vec<f64> = spans.iter().map(|(_, a, b)| (s.end_s.min(*b) - s.start_s.max(*a)).max(0.0)).collect();
        ensure!(ov.iter().filter(|&&o| o > 0.05).count() == 1, "segment {:.2}-{:.2} s straddles utterances", s.start_s, s.end_s);
        Ok(ov.iter().position(|&o| o > 0.05).unwrap())
    };
    let mut by: [Vec<&[f32]>; 3] = Default::default();
    for s in segs {
        by[voice_of(s)?].push(&s.embedding);
        ensure!(!s.partials.is_empty() && s.partials.iter().all(|p| p.start_s >= s.start_s && p.end_s <= s.end_s + 1e-9));
    }
    ensure!(by.iter().all(|v| !v.is_empty()), "every utterance gets a segment: {:?}", segs.iter().map(|s| (s.start_s, s.end_s)).collect::<Vec<_>>());
    let m = |v: &[&[f32]]| proctor::audio::speaker::mean_embedding(v.iter().copied()).unwrap();
    let (a1, b, a2) = (m(&by[0]), m(&by[1]), m(&by[2]));
    let (aa, ab1, ab2) = (cosine(&a1, &a2), cosine(&a1, &b), cosine(&a2, &b));
    println!("A/A {aa:.3}, A1/B {ab1:.3}, A2/B {ab2:.3}");
    ensure!(aa > 0.8 && ab1 < 0.7 && ab2 < 0.7, "A/A {aa}, A1/B {ab1}, A2/B {ab2}");
    Ok(())
}
