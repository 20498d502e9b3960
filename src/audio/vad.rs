//! Voice activity detection with Silero VAD v6 (16 kHz): the network, a streaming
//! front end that feeds it the way the reference runtime is fed, and silero's
//! rule for turning per-window probabilities into speech segments.
//!
//! Weights: `models/silero_vad_16k.safetensors`, made by `models/convert_vad.py` from the
//! 16 kHz branch of `silero_vad/data/silero_vad.onnx` in the `silero-vad==6.2.3` wheel (MIT);
//! bit-identical to the package's TorchScript model. Tensor names are those of the package's
//! `tinygrad_model.py`.
//!
//! Input framing (the package's `OnnxWrapper`, which `get_speech_timestamps` drives):
//! - audio is 16 kHz mono f32 in [-1, 1] (e.g. s16 / 32768), cut into windows of 512 samples
//!   (32 ms) from sample 0; a trailing partial window is zero-padded to 512;
//! - each call sees 576 samples: the last 64 samples of the previous call's input (zeros
//!   before the first window), then the window's 512 new samples;
//! - the LSTM state (h, c) is carried from window to window, zeros at the start.
//!
//! Network, per call: reflect-pad 64 samples on the right only (576 -> 640; sample 575 is
//! the mirror axis, so pad[j] = x[574 - j]); `stft_conv` Conv1d 1->258, kernel 256, stride 128,
//! no bias (a fixed windowed DFT: rows 0..129 real, 129..258 imaginary) -> 4 frames; magnitude
//! sqrt(re² + im²) -> [129, 4]; conv1 129->128 (k3, s1, p1), conv2 128->64 (k3, s2, p1),
//! conv3 64->64 (k3, s2, p1), conv4 64->128 (k3, s1, p1), each + bias and ReLU -> [128, 1];
//! `LSTMCell(128, 128)` (PyTorch gate order i, f, g, o); ReLU(h); `final_conv` 1x1 128->1 +
//! bias; sigmoid = the speech probability of the window.
//!
//! The convolutional front end does not depend on the state, so [`VadStream`] runs it on all
//! windows it has at once (one batch, up to [`MAX_BATCH`] windows, including the LSTM input
//! projection W_ih·x + b), and only the recurrence W_hh·h runs window by window, in plain
//! Rust on the CPU.
//!
//! Segments ([`speech_segments`]): `get_speech_timestamps_from_probs` of silero-vad 6.2.3 with
//! `max_speech_duration_s = inf` (its default). Window i covers samples [512 i, 512 i + 512).
//! Speech starts at the first window with p >= `threshold`; once in speech, the first window
//! with p < `neg_threshold` marks a tentative end, cancelled by any later window with
//! p >= `threshold`; if the audio stays unconfirmed (below `threshold`) for `min_silence_ms`
//! measured from the tentative end's window, the segment ends there and is kept when longer
//! than `min_speech_ms`. A segment still open at the end of the audio runs to the last sample
//! (kept when longer than `min_speech_ms`). Then every segment is widened by `speech_pad_ms`
//! on both sides, clamped to the audio; where two segments are closer than twice the pad,
//! the gap is split between them instead (the earlier one gets the smaller half).
//!
//! Checked against onnxruntime on `fixtures/speech.wav` (`tests/model_vad.rs`).

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, VarBuilder};

/// The only sample rate this model takes.
pub const SAMPLE_RATE: usize = 16_000;
/// New samples per call (32 ms).
pub const WINDOW: usize = 512;
/// Samples of the previous call repeated at the start of each call.
pub const CONTEXT: usize = 64;
/// LSTM width.
pub const HIDDEN: usize = 128;
/// Windows per batch of the convolutional front end (about 16 s of audio).
pub const MAX_BATCH: usize = 512;

const INPUT: usize = CONTEXT + WINDOW; // 576
const PADDED: usize = INPUT + CONTEXT; // 640, after the right reflect pad
const N_FFT: usize = 256;
const HOP: usize = 128;
const BINS: usize = N_FFT / 2 + 1; // 129
const GATES: usize = 4 * HIDDEN;

/// The network. Cheap to share: the recurrent state lives in [`VadStream`].
#[derive(Debug, Clone)]
pub struct SileroVad {
    /// `stft_conv.weight`, [258, 1, 256].
    stft: Tensor,
    convs: [Conv1d; 4],
    /// `lstm_cell.weight_ih` transposed, [128, 512].
    w_ih_t: Tensor,
    /// `bias_ih + bias_hh`, [1, 512].
    bias: Tensor,
    /// `lstm_cell.weight_hh`, row-major [512, 128], on the CPU.
    w_hh: Vec<f32>,
    /// `final_conv` weight [128] and bias.
    w_out: Vec<f32>,
    b_out: f32,
    device: Device,
}

impl SileroVad {
    /// Load from the bytes of `silero_vad_16k.safetensors`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(bytes.to_vec(), DType::F32, device)?;
        Self::load(vb, device).context("loading Silero VAD weights")
    }

    fn load(vb: VarBuilder, device: &Device) -> Result<Self> {
        let stft = vb.get((2 * BINS, 1, N_FFT), "stft_conv.weight")?;
        let conv = |name: &str, c_in: usize, c_out: usize, stride: usize| {
            let cfg = Conv1dConfig {
                padding: 1,
                stride,
                ..Default::default()
            };
            candle_nn::conv1d(c_in, c_out, 3, cfg, vb.pp(name))
        };
        let convs = [
            conv("conv1", BINS, 128, 1)?,
            conv("conv2", 128, 64, 2)?,
            conv("conv3", 64, 64, 2)?,
            conv("conv4", 64, HIDDEN, 1)?,
        ];
        let lstm = vb.pp("lstm_cell");
        let w_ih_t = lstm.get((GATES, HIDDEN), "weight_ih")?.t()?.contiguous()?;
        let bias = (lstm.get(GATES, "bias_ih")? + lstm.get(GATES, "bias_hh")?)?.unsqueeze(0)?;
        let w_hh = lstm
            .get((GATES, HIDDEN), "weight_hh")?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let out = vb.pp("final_conv");
        let w_out = out
            .get((1, HIDDEN, 1), "weight")?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let b_out = out.get(1, "bias")?.to_vec1::<f32>()?[0];
        Ok(Self {
            stft,
            convs,
            w_ih_t,
            bias,
            w_hh,
            w_out,
            b_out,
            device: device.clone(),
        })
    }

    /// A fresh stream: zero state and context, window 0 starts at sample 0.
    pub fn stream(&self) -> VadStream<'_> {
        VadStream {
            vad: self,
            state: VadState::default(),
            context: [0.0; CONTEXT],
            pending: Vec::with_capacity(WINDOW),
            next_start: 0,
        }
    }

    /// Speech probability of every 512-sample window of `samples` (16 kHz mono), the last
    /// partial window zero-padded: `ceil(len / 512)` values.
    pub fn probabilities(&self, samples: &[f32]) -> Result<Vec<f32>> {
        let mut s = self.stream();
        let mut out: Vec<f32> = s
            .push(samples)?
            .into_iter()
            .map(|w| w.probability)
            .collect();
        out.extend(s.finish()?.map(|w| w.probability));
        Ok(out)
    }

    /// Pre-activations of the LSTM input projection, `W_ih·x + b_ih + b_hh`, for `n` calls
    /// whose 640 reflect-padded samples lie one after another in `padded`: [n * 512].
    fn front_end(&self, padded: Vec<f32>, n: usize) -> Result<Vec<f32>> {
        let x = Tensor::from_vec(padded, (n, 1, PADDED), &self.device)?;
        let spec = x.conv1d(&self.stft, 0, HOP, 1, 1)?; // [n, 258, 4]
        let re = spec.narrow(1, 0, BINS)?;
        let im = spec.narrow(1, BINS, BINS)?;
        let mut y = (re.sqr()? + im.sqr()?)?.sqrt()?; // [n, 129, 4]
        for conv in &self.convs {
            y = conv.forward(&y)?.relu()?;
        }
        let y = y.squeeze(2)?; // [n, 128]: the 4 frames are down to 1 after the two stride-2 convs
        let pre = y.matmul(&self.w_ih_t)?.broadcast_add(&self.bias)?;
        Ok(pre.flatten_all()?.to_vec1::<f32>()?)
    }

    /// One LSTM step from the input pre-activations, then the output head.
    fn step(&self, pre: &[f32], state: &mut VadState) -> f32 {
        let mut g = [0f32; GATES];
        for (r, gr) in g.iter_mut().enumerate() {
            *gr = pre[r] + dot(&self.w_hh[r * HIDDEN..(r + 1) * HIDDEN], &state.h);
        }
        let mut logit = self.b_out;
        for j in 0..HIDDEN {
            let i = sigmoid(g[j]);
            let f = sigmoid(g[HIDDEN + j]);
            let c_new = f * state.c[j] + i * g[2 * HIDDEN + j].tanh();
            let o = sigmoid(g[3 * HIDDEN + j]);
            let h = o * c_new.tanh();
            state.c[j] = c_new;
            state.h[j] = h;
            logit += self.w_out[j] * h.max(0.0);
        }
        sigmoid(logit)
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Dot product of two 128-long rows, with 8 independent sums so it vectorises.
fn dot(a: &[f32], b: &[f32; HIDDEN]) -> f32 {
    let mut acc = [0f32; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    acc.iter().sum()
}

/// The LSTM state carried between windows.
#[derive(Debug, Clone, PartialEq)]
pub struct VadState {
    pub h: [f32; HIDDEN],
    pub c: [f32; HIDDEN],
}

impl Default for VadState {
    fn default() -> Self {
        Self {
            h: [0.0; HIDDEN],
            c: [0.0; HIDDEN],
        }
    }
}

/// The speech probability of one 512-sample window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadWindow {
    /// Index, in the stream's samples, of the window's first new sample (a multiple of 512).
    pub start_sample: usize,
    pub probability: f32,
}

impl VadWindow {
    /// Start time in seconds from the stream's first sample.
    pub fn start_s(&self) -> f64 {
        self.start_sample as f64 / SAMPLE_RATE as f64
    }
}

/// Streaming VAD over 16 kHz mono samples pushed in chunks of any size. Windows, state and
/// context are exactly those of one pass over the concatenated samples.
#[derive(Debug)]
pub struct VadStream<'a> {
    vad: &'a SileroVad,
    state: VadState,
    /// Last 64 samples of the previous call's input.
    context: [f32; CONTEXT],
    /// Samples not yet part of a full window (fewer than 512 between calls).
    pending: Vec<f32>,
    /// Stream index of `pending[0]`.
    next_start: usize,
}

impl VadStream<'_> {
    /// Add samples; returns one [`VadWindow`] per window completed by them, in order.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<VadWindow>> {
        let mut out = Vec::with_capacity((self.pending.len() + samples.len()) / WINDOW);
        let mut rest = samples;
        // Complete a partial window first, then take full windows straight from `samples`.
        if !self.pending.is_empty() {
            let take = (WINDOW - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() < WINDOW {
                return Ok(out);
            }
            let window = std::mem::take(&mut self.pending);
            self.run(&window, &mut out)?;
        }
        let full = rest.len() / WINDOW * WINDOW;
        for batch in rest[..full].chunks(MAX_BATCH * WINDOW) {
            self.run(batch, &mut out)?;
        }
        self.pending.extend_from_slice(&rest[full..]);
        Ok(out)
    }

    /// End of audio: the trailing partial window, zero-padded, if there is one.
    pub fn finish(mut self) -> Result<Option<VadWindow>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let mut window = std::mem::take(&mut self.pending);
        window.resize(WINDOW, 0.0);
        let mut out = Vec::with_capacity(1);
        self.run(&window, &mut out)?;
        Ok(out.pop())
    }

    /// Samples pushed so far.
    pub fn samples_seen(&self) -> usize {
        self.next_start + self.pending.len()
    }

    /// The LSTM state after the last completed window.
    pub fn state(&self) -> &VadState {
        &self.state
    }

    /// Run whole windows (`samples.len()` a multiple of 512).
    fn run(&mut self, samples: &[f32], out: &mut Vec<VadWindow>) -> Result<()> {
        let n = samples.len() / WINDOW;
        ensure!(n * WINDOW == samples.len(), "internal: partial window");
        if n == 0 {
            return Ok(());
        }
        let mut padded = Vec::with_capacity(n * PADDED);
        for (k, win) in samples.chunks_exact(WINDOW).enumerate() {
            let start = padded.len();
            if k == 0 {
                padded.extend_from_slice(&self.context);
            } else {
                padded.extend_from_slice(&samples[k * WINDOW - CONTEXT..k * WINDOW]);
            }
            padded.extend_from_slice(win);
            // reflect: the call's input is padded[start..start + 576]; pad[j] = x[574 - j]
            for j in 0..CONTEXT {
                padded.push(padded[start + INPUT - 2 - j]);
            }
        }
        self.context
            .copy_from_slice(&samples[samples.len() - CONTEXT..]);
        let pre = self.vad.front_end(padded, n)?;
        for k in 0..n {
            let p = self
                .vad
                .step(&pre[k * GATES..(k + 1) * GATES], &mut self.state);
            out.push(VadWindow {
                start_sample: self.next_start,
                probability: p,
            });
            self.next_start += WINDOW;
        }
        Ok(())
    }
}

/// Parameters of [`speech_segments`]; the defaults are silero-vad's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechParams {
    /// A window with p >= threshold is speech.
    pub threshold: f64,
    /// In speech, a window with p < neg_threshold starts a possible end.
    pub neg_threshold: f64,
    /// Segments not longer than this (before padding) are dropped.
    pub min_speech_ms: u32,
    /// Silence needed to end a segment.
    pub min_silence_ms: u32,
    /// Padding added on both sides of each segment.
    pub speech_pad_ms: u32,
}

impl Default for SpeechParams {
    fn default() -> Self {
        Self::with_threshold(0.5)
    }
}

impl SpeechParams {
    /// silero's defaults around another `threshold` (neg_threshold = max(threshold - 0.15, 0.01)).
    pub fn with_threshold(threshold: f64) -> Self {
        Self {
            threshold,
            neg_threshold: (threshold - 0.15).max(0.01),
            min_speech_ms: 250,
            min_silence_ms: 100,
            speech_pad_ms: 30,
        }
    }
}

/// A stretch of speech, in samples at 16 kHz: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechSegment {
    pub start: usize,
    pub end: usize,
}

impl SpeechSegment {
    pub fn start_s(&self) -> f64 {
        self.start as f64 / SAMPLE_RATE as f64
    }
    pub fn end_s(&self) -> f64 {
        self.end as f64 / SAMPLE_RATE as f64
    }
    pub fn duration_s(&self) -> f64 {
        self.end_s() - self.start_s()
    }
}

/// Speech segments from per-window probabilities (window i = samples [512 i, 512 i + 512))
/// of audio `total_samples` long, by silero's hysteresis rule (see the module doc).
pub fn speech_segments(
    probs: &[f32],
    total_samples: usize,
    params: &SpeechParams,
) -> Vec<SpeechSegment> {
    let ms = |v: u32| (SAMPLE_RATE as u64 * v as u64 / 1000) as usize;
    let (min_speech, min_silence, pad) = (
        ms(params.min_speech_ms),
        ms(params.min_silence_ms),
        ms(params.speech_pad_ms),
    );
    let mut raw: Vec<SpeechSegment> = Vec::new();
    let mut start: Option<usize> = None; // in speech since this sample
    let mut temp_end: Option<usize> = None; // possible end of the current segment
    for (i, &p) in probs.iter().enumerate() {
        let (p, cur) = (p as f64, i * WINDOW);
        if p >= params.threshold {
            temp_end = None;
            if start.is_none() {
                start = Some(cur);
                continue;
            }
        }
        let Some(s) = start else { continue };
        if p < params.neg_threshold {
            let te = *temp_end.get_or_insert(cur);
            if cur - te >= min_silence {
                if te - s > min_speech {
                    raw.push(SpeechSegment { start: s, end: te });
                }
                start = None;
                temp_end = None;
            }
        }
    }
    if let Some(s) = start {
        if total_samples.saturating_sub(s) > min_speech {
            raw.push(SpeechSegment {
                start: s,
                end: total_samples,
            });
        }
    }
    // Padding: widen each segment, or split a gap narrower than two pads between neighbours.
    let n = raw.len();
    for i in 0..n {
        if i == 0 {
            raw[0].start = raw[0].start.saturating_sub(pad);
        }
        if i + 1 < n {
            let gap = raw[i + 1].start - raw[i].end;
            if gap < 2 * pad {
                raw[i].end += gap / 2;
                raw[i + 1].start -= gap / 2;
            } else {
                raw[i].end = (raw[i].end + pad).min(total_samples);
                raw[i + 1].start -= pad;
            }
        } else {
            raw[i].end = (raw[i].end + pad).min(total_samples);
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    //! Every expected segment list below was also produced by silero-vad 6.2.3's own
    //! `get_speech_timestamps_from_probs` (defaults, `audio_length_samples` = the total
    //! given here) on the same probabilities.
    use super::*;

    fn segs(probs: &[f32], total: usize) -> Vec<(usize, usize)> {
        speech_segments(probs, total, &SpeechParams::default())
            .iter()
            .map(|s| (s.start, s.end))
            .collect()
    }

    /// Windows: `n` copies of `p`.
    fn run(parts: &[(usize, f32)]) -> Vec<f32> {
        parts
            .iter()
            .flat_map(|&(n, p)| std::iter::repeat(p).take(n))
            .collect()
    }

    #[test]
    fn one_segment_is_padded_and_clamped() {
        // speech in windows 10..30 (samples 5120..15360) of 40 windows
        let p = run(&[(10, 0.1), (20, 0.9), (10, 0.1)]);
        // the end is confirmed after 100 ms (1600 samples = 4 windows) of silence,
        // and placed at the first silent window: 15360; pad 480 both sides
        assert_eq!(segs(&p, 40 * 512), vec![(5120 - 480, 15360 + 480)]);
    }

    #[test]
    fn short_dip_and_middle_values_do_not_split() {
        // 3 silent windows (96 ms < 100 ms) then speech again: one segment;
        // values between neg_threshold and threshold keep the segment going.
        let p = run(&[
            (2, 0.0),
            (10, 0.9),
            (3, 0.1),
            (10, 0.9),
            (10, 0.4),
            (5, 0.9),
            (10, 0.0),
        ]);
        assert_eq!(segs(&p, 50 * 512), vec![(2 * 512 - 480, 40 * 512 + 480)]);
    }

    #[test]
    fn a_middle_value_does_not_cancel_a_possible_end() {
        // silence starts at window 12; 0.4 (neither speech nor silence) does not reset it,
        // so the end is at window 12 once window 16 is reached.
        let p = run(&[(2, 0.0), (10, 0.9), (1, 0.1), (1, 0.4), (10, 0.1)]);
        assert_eq!(segs(&p, 24 * 512), vec![(2 * 512 - 480, 12 * 512 + 480)]);
    }

    #[test]
    fn too_short_speech_is_dropped() {
        // 7 windows = 3584 samples <= 4000 (250 ms); 8 windows = 4096 > 4000
        assert!(segs(&run(&[(5, 0.0), (7, 0.9), (10, 0.0)]), 22 * 512).is_empty());
        assert_eq!(
            segs(&run(&[(5, 0.0), (8, 0.9), (10, 0.0)]), 23 * 512).len(),
            1
        );
    }

    #[test]
    fn close_segments_share_the_gap_and_open_end_runs_to_the_last_sample() {
        // 4 silent windows (96 ms measured from the first) do not end a segment, 5 do:
        // segments at windows 2..12 and 17..31 (open at the end); gap 2560 >= 960
        let p = run(&[(2, 0.0), (10, 0.9), (4, 0.0), (14, 0.9), (5, 0.0)]);
        assert_eq!(segs(&p, 35 * 512), vec![(2 * 512 - 480, 30 * 512 + 480)]);
        let p = run(&[(2, 0.0), (10, 0.9), (5, 0.0), (14, 0.9)]);
        let total = 31 * 512 - 100;
        assert_eq!(
            segs(&p, total),
            vec![(2 * 512 - 480, 12 * 512 + 480), (17 * 512 - 480, total)]
        );
        // a gap narrower than 2 pads (960 samples) is split; needs min_silence 0 to happen
        let params = SpeechParams {
            min_silence_ms: 0,
            ..SpeechParams::default()
        };
        let p = run(&[(1, 0.0), (10, 0.9), (1, 0.0), (10, 0.9), (5, 0.0)]);
        let s = speech_segments(&p, 27 * 512, &params);
        // raw: [512, 11*512) and [12*512, 22*512): gap 512 -> 256 each side
        assert_eq!(
            s.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
            vec![(32, 11 * 512 + 256), (12 * 512 - 256, 22 * 512 + 480)]
        );
    }

    #[test]
    fn default_params_are_silero_defaults() {
        let p = SpeechParams::default();
        assert_eq!((p.threshold, p.neg_threshold), (0.5, 0.35));
        assert_eq!(
            (p.min_speech_ms, p.min_silence_ms, p.speech_pad_ms),
            (250, 100, 30)
        );
    }
}
