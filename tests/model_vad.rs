//! Silero VAD v6 checks against onnxruntime and against the labelled speech fixtures.
//!
//! Fixtures:
//! - `fixtures/speech.wav` (16 kHz mono s16, 9 s) and the speech `.webm` clips, with their
//!   spans in `fixtures/speech.truth.json`: made by `fixtures/make_speech_fixtures.sh`;
//! - `fixtures/reference/silero_vad.json`: onnxruntime's per-window probabilities and final
//!   LSTM state on speech.wav, and silero-vad's own `get_speech_timestamps_from_probs` on
//!   them (`models/convert_vad.py`, `reference`).
//! Weights: the embedded `models/silero_vad_16k.safetensors`.
use std::path::Path;

use anyhow::{ensure, Context, Result};
use candle_core::Device;
use proctor::audio::vad::{self, SAMPLE_RATE, WINDOW};
use proctor::audio::{load_vad, speech_segments, SileroVad, SpeechParams, SpeechSegment};
use serde_json::Value;

use crate::util::{fixture, root};

/// Tolerance on each window's probability (issue 12).
const PROB_TOL: f32 = 1e-3;

fn reference() -> Result<Value> {
    let p = root().join("fixtures/reference/silero_vad.json");
    let text = std::fs::read_to_string(&p)
        .with_context(|| format!("{} (run models/convert_vad.py)", p.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Samples of a canonical 16 kHz mono s16 WAV, scaled by 1/32768 (as the reference was fed).
pub fn read_wav(path: &Path) -> Result<Vec<f32>> {
    let b = std::fs::read(path)?;
    ensure!(
        b.len() > 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "not a WAV file"
    );
    let mut i = 12;
    let mut fmt_ok = false;
    while i + 8 <= b.len() {
        let id = &b[i..i + 4];
        let len = u32::from_le_bytes(b[i + 4..i + 8].try_into()?) as usize;
        let body = &b[i + 8..(i + 8 + len).min(b.len())];
        if id == b"fmt " {
            let tag = u16::from_le_bytes(body[0..2].try_into()?);
            let ch = u16::from_le_bytes(body[2..4].try_into()?);
            let rate = u32::from_le_bytes(body[4..8].try_into()?);
            let bits = u16::from_le_bytes(body[14..16].try_into()?);
            ensure!(
                (tag, ch, rate, bits) == (1, 1, SAMPLE_RATE as u32, 16),
                "want 16 kHz mono s16 PCM"
            );
            fmt_ok = true;
        } else if id == b"data" {
            ensure!(fmt_ok, "data before fmt");
            return Ok(body
                .chunks_exact(2)
                .map(|s| i16::from_le_bytes([s[0], s[1]]) as f32 / 32768.0)
                .collect());
        }
        i += 8 + len + (len & 1);
    }
    anyhow::bail!("no data chunk")
}

fn vad() -> SileroVad {
    load_vad(None, &Device::Cpu).expect("embedded VAD weights load")
}

fn segments_of(v: &Value) -> Vec<(usize, usize)> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| {
            (
                s[0].as_u64().unwrap() as usize,
                s[1].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

fn pairs(s: &[SpeechSegment]) -> Vec<(usize, usize)> {
    s.iter().map(|s| (s.start, s.end)).collect()
}

/// Every window's probability within 1e-3 of onnxruntime, and the final (h, c) too, on the
/// same samples (checked by count and sum before comparing).
#[test]
fn vad_probabilities_match_onnxruntime() -> Result<()> {
    let r = reference()?;
    let samples = read_wav(&fixture("speech.wav"))?;
    ensure!(
        samples.len() as u64 == r["input"]["samples"].as_u64().unwrap(),
        "sample count"
    );
    let sum: f64 = samples.iter().map(|&x| x as f64).sum();
    ensure!(
        (sum - r["input"]["sum"].as_f64().unwrap()).abs() < 1e-6,
        "samples differ from the reference input"
    );

    let want = floats(&r["probs"]);
    let v = vad();
    let mut stream = v.stream();
    let mut got = stream.push(&samples)?;
    let state = stream.state().clone();
    got.extend(stream.finish()?);
    ensure!(
        got.len() == want.len(),
        "{} windows, reference {}",
        got.len(),
        want.len()
    );
    ensure!(
        samples.len() % WINDOW != 0,
        "the fixture should end in a partial window"
    );
    let mut worst = (0f32, 0usize);
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        ensure!(
            g.start_sample == k * WINDOW,
            "window {k} starts at {}",
            g.start_sample
        );
        let e = (g.probability - w).abs();
        if e > worst.0 {
            worst = (e, k);
        }
    }
    eprintln!(
        "VAD vs onnxruntime: {} windows, worst |dp| {:.2e} at window {}",
        got.len(),
        worst.0,
        worst.1
    );
    ensure!(
        worst.0 <= PROB_TOL,
        "window {}: |dp| {} > {PROB_TOL}",
        worst.1,
        worst.0
    );
    // The probabilities span the whole range, so this is not a check of saturated outputs only.
    ensure!(
        want.iter().filter(|&&p| p > 0.05 && p < 0.95).count() >= 20,
        "reference too saturated"
    );

    // The state after the last window: the reference's comes after the zero-padded partial
    // window, i.e. after pushing the samples padded to whole windows.
    let (h, c) = (
        floats(&r["final_state"]["h"]),
        floats(&r["final_state"]["c"]),
    );
    let mut s3 = v.stream();
    let mut padded = samples.clone();
    padded.resize(want.len() * WINDOW, 0.0);
    s3.push(&padded)?;
    let st = s3.state();
    let dh =
        st.h.iter()
            .zip(&h)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
    let dc =
        st.c.iter()
            .zip(&c)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
    eprintln!("final state vs onnxruntime: |dh| {dh:.2e}, |dc| {dc:.2e}");
    ensure!(
        dh <= PROB_TOL && dc <= PROB_TOL,
        "final state: |dh| {dh}, |dc| {dc}"
    );
    ensure!(
        state.h != st.h,
        "the last (padded) window must change the state"
    );
    Ok(())
}

/// Pushing the same audio in chunks of awkward sizes gives the same windows as one push.
#[test]
fn vad_stream_is_chunking_invariant() -> Result<()> {
    let samples = read_wav(&fixture("speech.wav"))?;
    let v = vad();
    let whole = v.probabilities(&samples)?;
    let mut s = v.stream();
    let mut got = Vec::new();
    let sizes = [1usize, 7, 511, 512, 513, 64, 3000, 100, 20_000];
    let (mut i, mut k) = (0, 0);
    while i < samples.len() {
        let n = sizes[k % sizes.len()].min(samples.len() - i);
        got.extend(s.push(&samples[i..i + n])?);
        ensure!(s.samples_seen() == i + n);
        i += n;
        k += 1;
    }
    got.extend(s.finish()?);
    ensure!(got.len() == whole.len());
    for (j, (g, w)) in got.iter().zip(&whole).enumerate() {
        ensure!(g.start_sample == j * WINDOW);
        ensure!(
            (g.probability - w).abs() <= 1e-5,
            "window {j}: {} vs {}",
            g.probability,
            w
        );
    }
    Ok(())
}

/// The segment rule on onnxruntime's probabilities reproduces silero-vad's own function
/// exactly, and the port's probabilities give the same segments.
#[test]
fn vad_segments_match_silero() -> Result<()> {
    let r = reference()?;
    let total = r["input"]["samples"].as_u64().unwrap() as usize;
    let want = segments_of(&r["segments"]["samples"]);
    ensure!(want.len() >= 3, "reference has {} segments", want.len());
    let params = SpeechParams::default();
    let from_ref = speech_segments(&floats(&r["probs"]), total, &params);
    ensure!(
        pairs(&from_ref) == want,
        "{:?} vs {want:?}",
        pairs(&from_ref)
    );
    let ours = vad().probabilities(&read_wav(&fixture("speech.wav"))?)?;
    let from_ours = speech_segments(&ours, total, &params);
    ensure!(
        pairs(&from_ours) == want,
        "{:?} vs {want:?}",
        pairs(&from_ours)
    );
    Ok(())
}

#[derive(Debug)]
struct Span {
    start: f64,
    end: f64,
}

fn overlap(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// Speech found in each labelled clip, decoded the way `analyze` decodes (ffmpeg, 16 kHz mono):
/// every spoken span is >= 85% covered by segments (pauses at commas may split it), every
/// segment lies on spoken spans except for at most 0.25 s (padding, onset), and the
/// non-speech beep is not speech.
#[test]
fn vad_finds_labelled_speech() -> Result<()> {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("speech.truth.json"))?)?;
    let v = vad();
    let clips = truth["clips"].as_object().expect("clips");
    ensure!(clips.len() >= 5);
    for (name, clip) in clips {
        let file = clip["file"].as_str().unwrap();
        // proctor's probe wants a video stream; speech.wav (audio only) is read directly.
        let (start_s, samples) = if file.ends_with(".wav") {
            (0.0, read_wav(&fixture(file))?)
        } else {
            let info = proctor::decode::probe(&fixture(file))?;
            let audio = proctor::decode::decode_audio(&info)?.context("no audio")?;
            (audio.start_s, audio.samples)
        };
        let probs = v.probabilities(&samples)?;
        let segs: Vec<Span> = speech_segments(&probs, samples.len(), &SpeechParams::default())
            .iter()
            .map(|s| Span {
                start: start_s + s.start_s(),
                end: start_s + s.end_s(),
            })
            .collect();
        let spans: Vec<Span> = clip["speech"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Span {
                start: s["start"].as_f64().unwrap(),
                end: s["end"].as_f64().unwrap(),
            })
            .collect();
        eprintln!(
            "{name}: segments {:?}",
            segs.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>()
        );
        for t in &spans {
            let covered: f64 = segs
                .iter()
                .map(|s| overlap(s.start, s.end, t.start, t.end))
                .sum();
            let frac = covered / (t.end - t.start);
            ensure!(
                frac >= 0.85,
                "{name}: span {t:?} only {:.0}% covered",
                100.0 * frac
            );
        }
        for s in &segs {
            let inside: f64 = spans
                .iter()
                .map(|t| overlap(s.start, s.end, t.start, t.end))
                .sum();
            let outside = (s.end - s.start) - inside;
            ensure!(
                outside <= 0.25,
                "{name}: segment {s:?} has {outside:.2} s outside the spoken spans"
            );
        }
        for ns in clip["non_speech"].as_array().into_iter().flatten() {
            let (a, b) = (ns["start"].as_f64().unwrap(), ns["end"].as_f64().unwrap());
            let hit: f64 = segs.iter().map(|s| overlap(s.start, s.end, a, b)).sum();
            ensure!(
                hit < 0.1 * (b - a),
                "{name}: {hit:.2} s of speech found in the non-speech {a}-{b}"
            );
        }
    }
    Ok(())
}

/// The weights directory path works like the embedded copy.
#[test]
fn vad_loads_from_models_dir() -> Result<()> {
    let from_dir = load_vad(Some(&root().join("models")), &Device::Cpu)?;
    let x: Vec<f32> = (0..3 * WINDOW)
        .map(|i| (i as f32 * 0.05).sin() * 0.3)
        .collect();
    ensure!(from_dir.probabilities(&x)? == vad().probabilities(&x)?);
    ensure!(load_vad(Some(&root().join("fixtures")), &Device::Cpu).is_err());
    ensure!(vad::CONTEXT == 64 && WINDOW == 512);
    Ok(())
}

/// sample.webm's audio is noise with a loud 660+990 Hz burst (its `loud_audio` event): loud,
/// but not speech. (Maximum of the float64 numpy forward in models/convert_vad.py on it,
/// decoded by the ffmpeg CLI: 0.125.)
#[test]
fn vad_finds_no_speech_in_noise_and_tones() -> Result<()> {
    let info = proctor::decode::probe(&fixture("sample.webm"))?;
    let audio = proctor::decode::decode_audio(&info)?.context("no audio")?;
    let probs = vad().probabilities(&audio.samples)?;
    let max = probs.iter().copied().fold(0f32, f32::max);
    let segs = speech_segments(&probs, audio.samples.len(), &SpeechParams::default());
    ensure!(probs.len() > 600, "{} windows", probs.len());
    ensure!(
        max < 0.3 && segs.is_empty(),
        "max p {max}, segments {segs:?}"
    );
    Ok(())
}

/// The streamed analysis (`AudioAccumulator`: frames placed by their timestamps, the VAD fed
/// in blocks with its state carried) gives the batch probabilities window for window on
/// speech.wav cut into frames of odd sizes, stamped with their own start times from an
/// origin that is not 0; its levels are those of the samples.
#[test]
fn streamed_vad_matches_batch() -> Result<()> {
    let samples = read_wav(&fixture("speech.wav"))?;
    let v = vad();
    let batch = v.probabilities(&samples)?;
    let mut acc = proctor::audio::AudioAccumulator::new(Some(&v), 100.0);
    let sizes = [317usize, 960, 1, 511, 4_096, 777, 20_000, 64];
    let origin = 0.4065;
    let (mut i, mut k) = (0, 0);
    while i < samples.len() {
        let n = sizes[k % sizes.len()].min(samples.len() - i);
        acc.push(origin + i as f64 / SAMPLE_RATE as f64, &samples[i..i + n]);
        i += n;
        k += 1;
    }
    let track = acc.finish(Default::default());
    ensure!(track.speech_checked() && track.stats.gaps == 0 && track.stats.overlap_s == 0.0);
    let streamed = track.probabilities();
    ensure!(streamed.len() == batch.len(), "{} vs {}", streamed.len(), batch.len());
    for (j, (s, b)) in streamed.iter().zip(&batch).enumerate() {
        let s = s.with_context(|| format!("window {j} has no probability"))?;
        ensure!((s - b).abs() <= 1e-5, "window {j}: {s} vs {b}");
    }
    // levels: the RMS of 0.5 s of samples from the window grid
    let (a, b) = (10 * WINDOW, 26 * WINDOW);
    let ms = samples[a..b].iter().map(|&x| x as f64 * x as f64).sum::<f64>() / (b - a) as f64;
    let t = |s: usize| origin + s as f64 / SAMPLE_RATE as f64;
    let db = track.rms_db(t(a) + 1e-6, t(b) - 1e-6).context("no level")?;
    ensure!((db as f64 - 10.0 * ms.log10()).abs() < 1e-3, "{db} vs {}", 10.0 * ms.log10());
    Ok(())
}
