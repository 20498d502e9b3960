//! Building blocks shared by the MediaPipe landmark networks (face mesh and
//! iris): TFLite-style convolutions with SAME padding, PReLU, depthwise
//! convolution and max pooling, on NCHW tensors.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// Per-channel PReLU: `max(x, 0) + alpha * min(x, 0)`.
#[derive(Debug, Clone)]
pub(super) struct PRelu {
    alpha: Tensor, // [1, C, 1, 1]
}

impl PRelu {
    pub(super) fn load(vb: VarBuilder, c: usize) -> Result<Self> {
        let alpha = vb.get(c, "alpha")?.reshape((1, c, 1, 1))?;
        Ok(Self { alpha })
    }
}

impl Module for PRelu {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.relu()? + x.minimum(0f32)?.broadcast_mul(&self.alpha)?
    }
}

/// Full convolution, `SAME` padding (TFLite semantics) or `VALID`.
#[derive(Debug, Clone)]
pub(super) struct Conv {
    w: Tensor,
    b: Tensor, // [1, O, 1, 1]
    k: usize,
    stride: usize,
    same: bool,
}

impl Conv {
    pub(super) fn load(vb: VarBuilder, i: usize, o: usize, k: usize, stride: usize, same: bool) -> Result<Self> {
        let w = vb.get((o, i, k, k), "weight")?;
        let b = vb.get(o, "bias")?.reshape((1, o, 1, 1))?;
        Ok(Self { w, b, k, stride, same })
    }
}

/// TFLite `SAME` padding for one spatial axis: (before, after).
pub(super) fn same_pad(size: usize, k: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + k).saturating_sub(size);
    (total / 2, total - total / 2)
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = if self.same {
            let (_, _, h, w) = x.dims4()?;
            let (t, bt) = same_pad(h, self.k, self.stride);
            let (l, r) = same_pad(w, self.k, self.stride);
            x.pad_with_zeros(2, t, bt)?.pad_with_zeros(3, l, r)?
        } else {
            x.clone()
        };
        x.conv2d(&self.w, 0, self.stride, 1, 1)?.broadcast_add(&self.b)
    }
}

/// 1×1 convolution as a batched matmul.
#[derive(Debug, Clone)]
pub(super) struct Pointwise {
    w: Tensor, // [O, I]
    b: Tensor, // [1, O, 1]
}

impl Pointwise {
    pub(super) fn load(vb: VarBuilder, i: usize, o: usize) -> Result<Self> {
        let w = vb.get((o, i, 1, 1), "weight")?.reshape((o, i))?;
        let b = vb.get(o, "bias")?.reshape((1, o, 1))?;
        Ok(Self { w, b })
    }
}

impl Module for Pointwise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (bsz, c, h, w) = x.dims4()?;
        let x = x.reshape((bsz, c, h * w))?;
        let o = self.w.dim(0)?;
        let y = self.w.broadcast_left(bsz)?.matmul(&x)?.broadcast_add(&self.b)?;
        y.reshape((bsz, o, h, w))
    }
}

/// 3×3 depthwise convolution, `SAME` padding, stride 1 or 2, as nine shifted
/// multiply-adds (candle's grouped conv runs one conv per channel, which is slow).
#[derive(Debug, Clone)]
pub(super) struct Depthwise {
    taps: Vec<Tensor>, // 9 × [1, C, 1], row-major (dy, dx)
    b: Tensor,         // [1, C, 1]
    stride: usize,
}

impl Depthwise {
    pub(super) fn load(vb: VarBuilder, c: usize, stride: usize) -> Result<Self> {
        let w = vb.get((c, 1, 3, 3), "weight")?.reshape((c, 9))?;
        let taps = (0..9)
            .map(|t| w.narrow(1, t, 1)?.reshape((1, c, 1)))
            .collect::<Result<Vec<_>>>()?;
        let b = vb.get(c, "bias")?.reshape((1, c, 1))?;
        Ok(Self { taps, b, stride })
    }
}

impl Module for Depthwise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // Each tap multiplies a shifted window of the zero-padded input. Windows are taken
        // on the flattened `rows × pitch` plane so every operand is one long contiguous run
        // per channel (fast vectorised path); the `pitch − width` extra columns per row are
        // dropped at the end.
        let (bsz, c, h, w) = x.dims4()?;
        let (ho, wo) = (h.div_ceil(self.stride), w.div_ceil(self.stride));
        // planes[py][px]: [B, C, rows·pitch] flattened, pitch = row length.
        let (planes, pitch) = if self.stride == 1 {
            let p = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
            (vec![vec![p.flatten_from(2)?]], w + 2)
        } else {
            // SAME, stride 2: pad 0 before / 1 after on even sizes (TFLite), plus zeros up
            // to an even size, then split into the 4 (row, column) parity phases.
            let (ph, pw) = (2 * ho + 2, 2 * wo + 2);
            let (t, _) = same_pad(h, 3, 2);
            let (l, _) = same_pad(w, 3, 2);
            let p = x
                .pad_with_zeros(2, t, ph - h - t)?
                .pad_with_zeros(3, l, pw - w - l)?
                .reshape((bsz, c, ph / 2, 2, pw / 2, 2))?;
            let phases = (0..2)
                .map(|py| {
                    (0..2)
                        .map(|px| {
                            p.narrow(3, py, 1)?.narrow(5, px, 1)?.contiguous()?.reshape((bsz, c, (ph / 2) * (pw / 2)))
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            (phases, wo + 1)
        };
        let s = self.stride;
        let n = (ho - 1) * pitch + wo;
        let mut acc: Option<Tensor> = None;
        for dy in 0..3 {
            for dx in 0..3 {
                let plane = &planes[dy % s][dx % s];
                let off = (dy / s) * pitch + dx / s;
                let t = plane.narrow(2, off, n)?.broadcast_mul(&self.taps[dy * 3 + dx])?;
                acc = Some(match acc {
                    None => t,
                    Some(a) => (a + t)?,
                });
            }
        }
        let acc = acc.expect("nine taps").broadcast_add(&self.b)?;
        acc.pad_with_zeros(2, 0, ho * pitch - n)?
            .reshape((bsz, c, ho, pitch))?
            .narrow(3, 0, wo)?
            .contiguous()
    }
}

