//! Building blocks shared by the MediaPipe landmark networks (face mesh and
//! iris): TFLite-style convolutions with SAME padding, PReLU and depthwise
//! convolution, on NCHW tensors. The depthwise and PReLU kernels are the
//! shared CPU kernels of [`super::ops`].

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::ops::BiasPRelu;

/// Per-channel PReLU: `max(x, 0) + alpha * min(x, 0)`, one pass over memory
/// (the shared fused kernel, [`BiasPRelu`]).
#[derive(Debug, Clone)]
pub(super) struct PRelu {
    op: BiasPRelu,
}

impl PRelu {
    pub(super) fn load(vb: VarBuilder, c: usize) -> Result<Self> {
        let alpha = vb.get(c, "alpha")?;
        let zero = alpha.zeros_like()?;
        Ok(Self { op: BiasPRelu::new(&zero, &alpha)? })
    }

    /// `prelu(x + skip)` in one pass; `skip` may have fewer channels than `x`
    /// (TF Lite's zero channel padding of a widening block's shortcut).
    pub(super) fn forward_skip(&self, x: &Tensor, skip: &Tensor) -> Result<Tensor> {
        self.op.forward_skip(x, skip)
    }
}

impl Module for PRelu {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.op.forward(x)
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

/// 3×3 depthwise convolution: the shared kernel, loaded with `SAME` padding
/// ([`Depthwise::load_same`]).
pub(super) use super::ops::Depthwise;
