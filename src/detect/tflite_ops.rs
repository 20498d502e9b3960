//! Building blocks of the MediaPipe landmark networks (face mesh and iris)
//! beyond the shared layers of [`super::ops`] (1×1 and depthwise
//! convolutions): TFLite-style full convolutions with SAME padding and PReLU,
//! on NCHW tensors. The PReLU is the shared fused kernel ([`BiasPRelu`]).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::ops::{space_to_depth_2x2, BiasPRelu, Conv3x3, Padding, SpaceToDepth};

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

    /// `prelu(x + bias)`: the bias of the convolution before it, added in the
    /// same pass (that convolution then runs `forward_unbiased`).
    pub(super) fn load_with_bias(vb: VarBuilder, c: usize, bias: &Tensor) -> Result<Self> {
        Ok(Self { op: BiasPRelu::new(bias, &vb.get(c, "alpha")?)? })
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

/// The two full convolutions the landmark networks use, each as one matmul:
/// a 3×3 with TFLite `SAME` padding (stems; [`Conv3x3`], im2col + matmul),
/// and a 2×2 stride-2 `VALID` convolution (the iris net's down-sampling
/// reductions), which is space-to-depth then a 1×1 convolution.
#[derive(Debug, Clone)]
pub(super) enum Conv {
    Same3x3(Conv3x3),
    Valid2x2s2 { w: Tensor, b: Tensor }, // [O, I*4] in (i, ky, kx) order; [1, O, 1]
}

impl Conv {
    pub(super) fn load(vb: VarBuilder, i: usize, o: usize, k: usize, stride: usize, same: bool) -> Result<Self> {
        let w = vb.get((o, i, k, k), "weight")?;
        let b = vb.get(o, "bias")?;
        match (k, stride, same) {
            (3, _, true) => Ok(Conv::Same3x3(Conv3x3::new(w, &b, stride, Padding::Same)?)),
            (2, 2, false) => Ok(Conv::Valid2x2s2 { w: w.reshape((o, i * 4))?, b: b.reshape((1, o, 1))? }),
            _ => candle_core::bail!("unsupported convolution: {k}x{k}, stride {stride}, same {same}"),
        }
    }
}

impl Conv {
    /// The bias, `[O]`, for an activation that adds it ([`PRelu::load_with_bias`]).
    pub(super) fn bias(&self) -> Result<Tensor> {
        match self {
            Conv::Same3x3(c) => c.bias().flatten_all(),
            Conv::Valid2x2s2 { b, .. } => b.flatten_all(),
        }
    }

    /// The convolution without its bias.
    pub(super) fn forward_unbiased(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Conv::Same3x3(c) => c.forward_unbiased(x),
            Conv::Valid2x2s2 { w, .. } => {
                // x[n, c, 2y + ky, 2x + kx] -> cols[n, c*4 + ky*2 + kx, y*wo + x]
                let cols = space_to_depth_2x2(x, SpaceToDepth::ChannelMajor)?;
                let (bsz, c4, ho, wo) = cols.dims4()?;
                w.broadcast_matmul(&cols.reshape((bsz, c4, ho * wo))?)?.reshape((bsz, (), ho, wo))
            }
        }
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Conv::Same3x3(c) => c.forward(x),
            Conv::Valid2x2s2 { b, .. } => self.forward_unbiased(x)?.broadcast_add(&b.unsqueeze(3)?),
        }
    }
}
