//! Whose voice: Resemblyzer's speaker embedding (GE2E, 256-d) of each speech segment, in
//! candle, and the streaming segmenter that cuts the recording's speech into segments as
//! the VAD's probabilities arrive.
//!
//! Why: the picture alone (no face in view, or the candidate's lips still) cannot tell a
//! second voice heard while the candidate also talks, and it flags a candidate whose lips
//! barely move. A voice embedding compared with the candidate's own voice (enrolled from
//! the session's speech that coincides with their lips moving, in
//! [`crate::observation::voice_similarity`]) is the second signal.
//!
//! Weights: `models/resemblyzer.safetensors`, made by `models/convert_resemblyzer.py` from
//! `resemblyzer/pretrained.pt` of the PyPI wheel `Resemblyzer==0.1.4` (Apache-2.0): the
//! LSTM and Linear weights, and librosa's Slaney mel filterbank that the package uses.
//!
//! Network, as the package runs it (`VoiceEncoder.embed_utterance`):
//! - features: power mel spectrogram (not log) of 16 kHz audio: frames every 160 samples
//!   (10 ms), each the 400 samples (25 ms) centred on it (zeros beyond the audio) under a
//!   periodic Hann window, |rFFT|² (201 bins), times the [40, 201] mel filterbank;
//! - partial utterances of 160 frames (1.6 s) starting every 77 frames
//!   (round(16000 / 1.3 / 160): the package's rate of 1.3 partials a second); the last one is
//!   dropped when less than 75% of it holds audio, unless it is the only one; audio is
//!   zero-padded to the last partial's end;
//! - per partial: `LSTM(40, 256, 3 layers)` (PyTorch gate order i, f, g, o), the last
//!   layer's final hidden state, `Linear(256, 256)`, ReLU, L2 normalisation;
//! - the utterance: the L2-normalised mean of its partials.
//!
//! Before embedding, a segment's volume is raised to -30 dBFS RMS when quieter (the
//! package's `normalize_volume(wav, -30, increase_only=True)`); the package's webrtcvad
//! silence trimming is not used: the segments are already Silero VAD speech.
//!
//! Checked against the package itself (torch) on `fixtures/speech.wav`
//! (`tests/audio_speaker.rs`, `fixtures/reference/resemblyzer.json`).
//!
//! Cost: 1.35 M multiply-adds a frame through the three layers, 160 frames a partial,
//! 1.3 partials a second of speech. The input projections of all frames of all partials
//! of a segment are one matmul per layer; only the recurrence `W_hh·h` runs frame by
//! frame, batched over the segment's partials.

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::audio::vad::{SAMPLE_RATE, WINDOW};

/// Mel bands.
pub const N_MELS: usize = 40;
/// Frames of one partial utterance (1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
/// Frames between the starts of two partials: round(16000 / 1.3 / 160).
pub const FRAME_STEP: usize = 77;
/// Samples per frame (10 ms).
pub const HOP: usize = 160;
/// Embedding size.
pub const EMBED: usize = 256;

const N_FFT: usize = 400;
const BINS: usize = N_FFT / 2 + 1; // 201
const HIDDEN: usize = 256;
const GATES: usize = 4 * HIDDEN;
const LAYERS: usize = 3;
const MIN_COVERAGE: f64 = 0.75;
const TARGET_DBFS: f64 = -30.0;

/// One LSTM layer: input projection (transposed) with both biases, recurrence (transposed).
#[derive(Debug, Clone)]
struct Layer {
    /// `weight_ih` transposed, [in, 1024].
    w_ih_t: Tensor,
    /// `bias_ih + bias_hh`, [1, 1024].
    bias: Tensor,
    /// `weight_hh` transposed, [256, 1024].
    w_hh_t: Tensor,
}

/// Resemblyzer's voice encoder. Stateless: cheap to share between threads.
#[derive(Debug, Clone)]
pub struct SpeakerEncoder {
    /// Windowed DFT basis, [400, 402]: columns 0..201 cosine, 201..402 sine.
    basis: Tensor,
    /// Mel filterbank transposed, [201, 40].
    mel_t: Tensor,
    layers: Vec<Layer>,
    /// `linear.weight` transposed, [256, 256], and its bias [1, 256].
    lin_w_t: Tensor,
    lin_b: Tensor,
    device: Device,
}

/// The embedding of one utterance and of its partials.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// L2-normalised mean of the partials.
    pub embedding: Vec<f32>,
    /// Each partial's first sample (relative to the utterance) and embedding.
    pub partials: Vec<(usize, Vec<f32>)>,
}

impl SpeakerEncoder {
    /// Load from the bytes of `resemblyzer.safetensors`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(bytes.to_vec(), DType::F32, device)?;
        Self::load(vb, device).context("loading Resemblyzer voice encoder weights")
    }

    fn load(vb: VarBuilder, device: &Device) -> Result<Self> {
        let mut layers = Vec::with_capacity(LAYERS);
        let lstm = vb.pp("lstm");
        for l in 0..LAYERS {
            let input = if l == 0 { N_MELS } else { HIDDEN };
            let w_ih_t = lstm.get((GATES, input), &format!("weight_ih_l{l}"))?.t()?.contiguous()?;
            let w_hh_t = lstm.get((GATES, HIDDEN), &format!("weight_hh_l{l}"))?.t()?.contiguous()?;
            let bias = (lstm.get(GATES, &format!("bias_ih_l{l}"))? + lstm.get(GATES, &format!("bias_hh_l{l}"))?)?.unsqueeze(0)?;
            layers.push(Layer { w_ih_t, bias, w_hh_t });
        }
        let lin_w_t = vb.get((EMBED, HIDDEN), "linear.weight")?.t()?.contiguous()?;
        let lin_b = vb.get(EMBED, "linear.bias")?.unsqueeze(0)?;
        let mel_t = vb.get((N_MELS, BINS), "mel_filters")?.t()?.contiguous()?;
        Ok(Self { basis: dft_basis(device)?, mel_t, layers, lin_w_t, lin_b, device: device.clone() })
    }

    /// Mel frames `0..n` of `wav` (samples beyond it are zeros), [n, 40].
    pub fn mel_frames(&self, wav: &[f32], n: usize) -> Result<Tensor> {
        let mut frames = vec![0f32; n * N_FFT];
        for (t, row) in frames.chunks_exact_mut(N_FFT).enumerate() {
            // frame t is centred on sample 160 t: samples [160 t - 200, 160 t + 200)
            let first = (t * HOP) as isize - (N_FFT / 2) as isize;
            let a = (-first).max(0) as usize;
            let b = (wav.len() as isize - first).clamp(0, N_FFT as isize) as usize;
            if a < b {
                let s = (first + a as isize) as usize;
                row[a..b].copy_from_slice(&wav[s..s + (b - a)]);
            }
        }
        let x = Tensor::from_vec(frames, (n, N_FFT), &self.device)?;
        let spec = x.matmul(&self.basis)?; // [n, 402]
        let power = (spec.narrow(1, 0, BINS)?.sqr()? + spec.narrow(1, BINS, BINS)?.sqr()?)?;
        Ok(power.matmul(&self.mel_t)?)
    }

    /// Embeddings of partial utterances, `mels` [batch, 160, 40]: [batch][256], each of unit
    /// length (all zeros when the ReLU leaves nothing).
    pub fn embed_partials(&self, mels: &Tensor) -> Result<Vec<Vec<f32>>> {
        let (b, t, c) = mels.dims3()?;
        ensure!(c == N_MELS, "mel features must have {N_MELS} bands, got {c}");
        let mut input = mels.reshape((b * t, c))?;
        let mut h = vec![0f32; b * HIDDEN];
        for (l, layer) in self.layers.iter().enumerate() {
            let pre = input.matmul(&layer.w_ih_t)?.broadcast_add(&layer.bias)?.flatten_all()?.to_vec1::<f32>()?;
            let last = l + 1 == LAYERS;
            h = vec![0f32; b * HIDDEN];
            let mut c = vec![0f32; b * HIDDEN];
            let mut out = if last { Vec::new() } else { vec![0f32; b * t * HIDDEN] };
            for step in 0..t {
                let rec = if step == 0 {
                    vec![0f32; b * GATES]
                } else {
                    Tensor::from_slice(&h, (b, HIDDEN), &self.device)?.matmul(&layer.w_hh_t)?.flatten_all()?.to_vec1::<f32>()?
                };
                for bi in 0..b {
                    let p = &pre[(bi * t + step) * GATES..][..GATES];
                    let r = &rec[bi * GATES..][..GATES];
                    let (hb, cb) = (&mut h[bi * HIDDEN..][..HIDDEN], &mut c[bi * HIDDEN..][..HIDDEN]);
                    lstm_cell(p, r, hb, cb);
                    if !last {
                        out[(bi * t + step) * HIDDEN..][..HIDDEN].copy_from_slice(hb);
                    }
                }
            }
            if !last {
                input = Tensor::from_vec(out, (b * t, HIDDEN), &self.device)?;
            }
        }
        let h = Tensor::from_vec(h, (b, HIDDEN), &self.device)?;
        let e = h.matmul(&self.lin_w_t)?.broadcast_add(&self.lin_b)?.relu()?;
        Ok(e.to_vec2::<f32>()?.into_iter().map(normalised).collect())
    }

    /// The package's `embed_utterance(wav)`: partials, their embeddings and the utterance's.
    pub fn embed_utterance(&self, wav: &[f32]) -> Result<Utterance> {
        let starts = partial_starts(wav.len());
        let n = starts.last().map_or(0, |s| s + PARTIAL_FRAMES);
        let mel = self.mel_frames(wav, n)?;
        let parts: Vec<Tensor> = starts.iter().map(|&s| mel.narrow(0, s, PARTIAL_FRAMES)).collect::<candle_core::Result<_>>()?;
        let batch = Tensor::stack(&parts, 0)?;
        let embs = self.embed_partials(&batch)?;
        let mut mean = vec![0f32; EMBED];
        for e in &embs {
            for (m, x) in mean.iter_mut().zip(e) {
                *m += x / embs.len() as f32;
            }
        }
        Ok(Utterance { embedding: normalised(mean), partials: starts.iter().map(|s| s * HOP).zip(embs).collect() })
    }

    /// A speech segment's embedding: its volume raised to -30 dBFS when quieter, then
    /// [`Self::embed_utterance`].
    pub fn embed_segment(&self, wav: &[f32]) -> Result<Utterance> {
        self.embed_utterance(&normalize_volume(wav))
    }
}

/// One LSTM step for one sequence: gates = `pre + rec` (i, f, g, o), state updated in place.
fn lstm_cell(pre: &[f32], rec: &[f32], h: &mut [f32], c: &mut [f32]) {
    for j in 0..HIDDEN {
        let g = |k: usize| pre[k * HIDDEN + j] + rec[k * HIDDEN + j];
        let i = sigmoid(g(0));
        let f = sigmoid(g(1));
        let cell = g(2).tanh();
        let o = sigmoid(g(3));
        c[j] = f * c[j] + i * cell;
        h[j] = o * c[j].tanh();
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `v / |v|` (unchanged when zero).
fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// Cosine similarity of two embeddings (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa > 0.0 && bb > 0.0 {
        ab / (aa.sqrt() * bb.sqrt())
    } else {
        0.0
    }
}

/// The L2-normalised mean of `embeddings`; `None` when there are none.
pub fn mean_embedding<'a>(embeddings: impl IntoIterator<Item = &'a [f32]>) -> Option<Vec<f32>> {
    let mut sum = vec![0f32; EMBED];
    let mut n = 0;
    for e in embeddings {
        sum.iter_mut().zip(e).for_each(|(s, x)| *s += x);
        n += 1;
    }
    (n > 0).then(|| normalised(sum))
}

/// The periodic Hann-windowed real DFT of 400 samples as a [400, 402] matrix.
fn dft_basis(device: &Device) -> Result<Tensor> {
    let mut m = vec![0f32; N_FFT * 2 * BINS];
    for n in 0..N_FFT {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos();
        for k in 0..BINS {
            let a = 2.0 * std::f64::consts::PI * ((n * k) % N_FFT) as f64 / N_FFT as f64;
            m[n * 2 * BINS + k] = (w * a.cos()) as f32;
            m[n * 2 * BINS + BINS + k] = (w * a.sin()) as f32;
        }
    }
    Ok(Tensor::from_vec(m, (N_FFT, 2 * BINS), device)?)
}

/// First frames of the partial utterances of `n_samples` of audio (the package's
/// `compute_partial_slices` at rate 1.3, min_coverage 0.75). Never empty.
pub fn partial_starts(n_samples: usize) -> Vec<usize> {
    let n_frames = (n_samples + 1).div_ceil(HOP);
    let steps = (n_frames + FRAME_STEP + 1).saturating_sub(PARTIAL_FRAMES).max(1);
    let mut starts: Vec<usize> = (0..steps).step_by(FRAME_STEP).collect();
    let last = *starts.last().unwrap_or(&0);
    let coverage = (n_samples as f64 - (last * HOP) as f64) / (PARTIAL_FRAMES * HOP) as f64;
    if coverage < MIN_COVERAGE && starts.len() > 1 {
        starts.pop();
    }
    starts
}

/// The package's `normalize_volume(wav, -30, increase_only=True)`: quieter audio is
/// raised to -30 dBFS RMS; louder audio (and silence) is left as it is.
pub fn normalize_volume(wav: &[f32]) -> Vec<f32> {
    let ms = wav.iter().map(|&x| x as f64 * x as f64).sum::<f64>() / wav.len().max(1) as f64;
    let db = 10.0 * ms.log10();
    let change = TARGET_DBFS - db;
    if ms <= 0.0 || change <= 0.0 {
        return wav.to_vec();
    }
    let gain = 10f64.powf(change / 20.0) as f32;
    wav.iter().map(|x| x * gain).collect()
}

/// How the streaming segmenter cuts speech (see [`SpeakerStream`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentParams {
    /// A window with speech probability at or above this is speech ...
    pub threshold: f32,
    /// ... and in speech, one below this starts a possible end.
    pub neg_threshold: f32,
    /// Below `threshold` for this long ends a segment (longer than silero's 100 ms, so
    /// the pauses between words do not cut a sentence into scraps too short to embed).
    pub min_silence_ms: u32,
    /// Segments not longer than this are not embedded.
    pub min_speech_ms: u32,
    /// Audio added on both sides of a segment.
    pub pad_ms: u32,
    /// A segment is cut after this long (so that one embedding does not mix two voices
    /// that take turns without a pause).
    pub max_s: f64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self { threshold: 0.5, neg_threshold: 0.35, min_silence_ms: 300, min_speech_ms: 250, pad_ms: 30, max_s: 4.8 }
    }
}

/// A speech segment and its voice, in the stream's samples (`[start, end)`, padding
/// included).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSegment {
    pub start: usize,
    pub end: usize,
    pub voice: Utterance,
}

/// Cuts a stream of 16 kHz samples into speech segments as the VAD's per-window
/// probabilities arrive (silero's hysteresis: speech starts at a window with p >=
/// `threshold`; a window below `neg_threshold` is a possible end, confirmed after
/// `min_silence_ms` without a window at `threshold`), and embeds each segment as it
/// closes. Keeps only the samples of the open segment (plus the padding before it), so
/// memory is bounded by `max_s`, not by the recording.
#[derive(Debug)]
pub struct SpeakerStream<'a> {
    enc: &'a SpeakerEncoder,
    params: SegmentParams,
    /// Samples from `buf_start` (a stream index) on.
    buf: Vec<f32>,
    buf_start: usize,
    start: Option<usize>,
    temp_end: Option<usize>,
}

impl<'a> SpeakerStream<'a> {
    pub fn new(enc: &'a SpeakerEncoder, params: SegmentParams) -> Self {
        Self { enc, params, buf: Vec::new(), buf_start: 0, start: None, temp_end: None }
    }

    fn samples(&self, ms: u32) -> usize {
        SAMPLE_RATE * ms as usize / 1000
    }

    /// Add samples (they must come before the windows that cover them).
    pub fn push_samples(&mut self, s: &[f32]) {
        self.buf.extend_from_slice(s);
    }

    /// End of the samples held: the stream index after the last one.
    fn buf_end(&self) -> usize {
        self.buf_start + self.buf.len()
    }

    /// The VAD's probability `p` of the window starting at stream sample `start`; returns
    /// the segment this window closes, embedded.
    pub fn window(&mut self, start: usize, p: f32) -> Result<Option<StreamSegment>> {
        let sp = self.params;
        let mut closed = None;
        if p >= sp.threshold {
            self.temp_end = None;
            if self.start.is_none() {
                self.start = Some(start);
            }
        } else if let Some(s) = self.start {
            if p < sp.neg_threshold {
                let te = *self.temp_end.get_or_insert(start);
                if start - te >= self.samples(sp.min_silence_ms) {
                    closed = self.close(s, te, true)?;
                }
            }
        }
        if let Some(s) = self.start {
            let end = start + WINDOW;
            if (end - s) as f64 >= sp.max_s * SAMPLE_RATE as f64 {
                closed = self.close(s, end, false)?;
            }
        }
        if self.start.is_none() {
            self.trim(start + WINDOW);
        }
        Ok(closed)
    }

    /// Drop samples no later segment can need (before `next - pad`).
    fn trim(&mut self, next: usize) {
        let keep_from = next.saturating_sub(self.samples(self.params.pad_ms));
        if keep_from > self.buf_start + SAMPLE_RATE {
            let drop = (keep_from - self.buf_start).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop;
        }
    }

    /// Close the open segment `[s, e)`, padded (the end only when `pad_end`), and embed it
    /// when long enough.
    fn close(&mut self, s: usize, e: usize, pad_end: bool) -> Result<Option<StreamSegment>> {
        self.start = None;
        self.temp_end = None;
        if e - s <= self.samples(self.params.min_speech_ms) {
            return Ok(None);
        }
        let pad = self.samples(self.params.pad_ms);
        let a = s.saturating_sub(pad).max(self.buf_start);
        let b = if pad_end { e + pad } else { e }.min(self.buf_end());
        if b <= a {
            return Ok(None);
        }
        let voice = self.enc.embed_segment(&self.buf[a - self.buf_start..b - self.buf_start])?;
        Ok(Some(StreamSegment { start: a, end: b, voice }))
    }

    /// The stream breaks here (a gap in the audio follows, or its end): the open segment
    /// ends at the last sample held, and nothing held is kept.
    pub fn cut(&mut self) -> Result<Option<StreamSegment>> {
        let end = self.buf_end();
        let out = match self.start {
            Some(s) => self.close(s, end, false)?,
            None => None,
        };
        self.buf.clear();
        self.buf_start = end;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_slices_follow_the_package() {
        // values of VoiceEncoder.compute_partial_slices(n, 1.3, 0.75), first frames
        assert_eq!(partial_starts(1000), vec![0]);
        assert_eq!(partial_starts(25_600), vec![0]);
        // 2.3 s: n_frames 231, steps 149 -> 0, 77; coverage of the second (36800 - 12320) / 25600
        assert_eq!(partial_starts(36_800), vec![0, 77]);
        // 2.69 s: the third partial (frame 154) covers 0.72 < 0.75: dropped
        assert_eq!(partial_starts(43_040), vec![0, 77]);
        assert_eq!(partial_starts(44_000), vec![0, 77, 154]);
    }

    #[test]
    fn volume_is_only_raised() {
        let quiet = vec![0.001f32; 100];
        let up = normalize_volume(&quiet);
        let db = 20.0 * (up[0] as f64).log10();
        assert!((db + 30.0).abs() < 1e-3, "{db}");
        let loud = vec![0.5f32; 100];
        assert_eq!(normalize_volume(&loud), loud);
        assert_eq!(normalize_volume(&[0.0; 10]), vec![0.0; 10]);
    }

    /// Segments by the VAD's probabilities: a 160 ms dip does not cut, 480 ms of silence
    /// does (padded 30 ms both sides), a long run is cut after 4.8 s (no end pad), and the
    /// open segment ends where the stream is cut; each gets a unit-length voice.
    #[test]
    fn the_stream_is_cut_into_segments_by_pause_and_length() {
        let enc = SpeakerEncoder::from_bytes(crate::audio::SPEAKER_WEIGHTS, &Device::Cpu).unwrap();
        let mut st = SpeakerStream::new(&enc, SegmentParams::default());
        let probs: Vec<f32> = [(5, 0.0), (20, 0.9), (5, 0.1), (20, 0.9), (15, 0.1), (200, 0.9)]
            .iter()
            .flat_map(|&(n, p)| std::iter::repeat(p).take(n))
            .collect();
        let mut x = 1u32;
        let noise: Vec<f32> = (0..probs.len() * WINDOW)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 8) as f32 / (1u32 << 24) as f32 * 0.2 - 0.1
            })
            .collect();
        st.push_samples(&noise);
        let mut segs = Vec::new();
        for (w, &p) in probs.iter().enumerate() {
            segs.extend(st.window(w * WINDOW, p).unwrap());
        }
        segs.extend(st.cut().unwrap());
        let spans: Vec<(usize, usize)> = segs.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(spans, vec![(2080, 26080), (32800, 110_080), (109_600, 135_680)]);
        for s in &segs {
            let n: f32 = s.voice.embedding.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-4, "{n}");
            assert_eq!(s.voice.partials.len(), partial_starts(s.end - s.start).len());
        }
        assert!(st.buf.is_empty() && st.buf_start == 135_680);
    }

    #[test]
    fn cosine_and_mean() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        let a = vec![1.0; EMBED];
        let m = mean_embedding([a.as_slice(), a.as_slice()]).unwrap();
        assert!((m.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(mean_embedding(std::iter::empty()).is_none());
    }
}
