//! The layers and CPU kernels every network here is built from: the 1x1
//! convolution ([`Pointwise`], a batched matmul with its bias and activation
//! added in one pass), the 3x3 depthwise convolution ([`Depthwise`], bias and
//! activation fused), the dense 3x3 convolution ([`Conv3x3`], im2col +
//! matmul), the fused "bias + shortcut + PReLU" step that ends the MediaPipe
//! landmark networks' residual blocks ([`BiasPRelu`]), and the pooling and
//! space-to-depth steps. One set, shared by YuNet, YOLOX-nano, the face mesh,
//! the iris network and the dlib descriptor.
//!
//! Why: candle runs grouped convolutions one group at a time, and a chain of
//! small tensor ops (pad, narrow, multiply, add, relu, minimum...) is one full
//! pass over memory per op. These kernels do each layer in one pass over its
//! input, as candle custom ops, so the networks stay candle modules. On other
//! devices (CUDA) or dtypes the same layers fall back to plain tensor ops; the
//! tests check that both paths agree.
//!
//! Layout is NCHW throughout, as the networks were converted. Depthwise planes
//! are contiguous per channel, which suits a direct loop; the 1x1 convolutions
//! around them are batched matmuls (gemm), where NCHW costs nothing.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, InplaceOp1, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;

/// How a 3x3 layer pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// One zero row/column on every side, at any stride (PyTorch `padding=1`).
    Symmetric,
    /// TensorFlow `SAME`: output `ceil(size / stride)`; at stride 2 on an even
    /// size the single padding row/column goes after (bottom/right) only.
    Same,
    /// No padding: output `(size - 3) / stride + 1` ([`Conv3x3`] only).
    Valid,
}

impl Padding {
    /// Zero rows (or columns) before the input along an axis of `size`.
    fn before(self, size: usize, stride: usize) -> usize {
        match self {
            Padding::Valid => 0,
            Padding::Symmetric => 1,
            Padding::Same => {
                let out = size.div_ceil(stride);
                ((out - 1) * stride + 3).saturating_sub(size) / 2
            }
        }
    }
}

/// The f32 values of a custom op's input, which must be contiguous.
fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<f32>()?[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

impl Padding {
    /// Output length of a 3x3 layer along an axis of `size`.
    fn out_len(self, size: usize, stride: usize) -> usize {
        match self {
            Padding::Valid => size.saturating_sub(3) / stride + 1,
            Padding::Symmetric | Padding::Same => size.div_ceil(stride),
        }
    }
}

/// Activation fused into [`Depthwise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    None,
    Relu,
    Silu,
}

/// 3x3 depthwise convolution with bias, stride 1 or 2, [`Padding`] as loaded,
/// optionally followed by SiLU (`load_silu`, for YOLOX).
#[derive(Debug, Clone)]
pub struct Depthwise {
    taps: Vec<Tensor>, // 9 x [1, C, 1, 1], row-major over (ky, kx)
    bias: Tensor,      // [1, C, 1, 1]
    /// Per-channel bias of the layer before, added to the input as it is read.
    in_bias: Option<Tensor>, // [1, C, 1, 1]
    cpu: DepthwiseCpu,
}

impl Depthwise {
    /// Symmetric padding 1 (YuNet).
    pub fn load(vb: VarBuilder, channels: usize, stride: usize) -> Result<Self> {
        Self::load_with(vb, channels, stride, Padding::Symmetric, Act::None)
    }

    /// Symmetric padding 1, followed by SiLU (`x * sigmoid(x)`) in the same pass.
    pub fn load_silu(vb: VarBuilder, channels: usize, stride: usize) -> Result<Self> {
        Self::load_with(vb, channels, stride, Padding::Symmetric, Act::Silu)
    }

    /// TensorFlow `SAME` padding (the TF Lite landmark networks).
    pub fn load_same(vb: VarBuilder, channels: usize, stride: usize) -> Result<Self> {
        Self::load_with(vb, channels, stride, Padding::Same, Act::None)
    }

    /// Symmetric padding 1, stride 1, ReLU after, and `in_bias` (one value per
    /// channel: the bias of the 1x1 convolution before it) added to each input
    /// value as it is read, zero padding excepted: `relu(dw(x + in_bias))` in
    /// one pass, which is exactly `relu(dw(conv1x1(x)))` (YuNet's unit) when
    /// `x` is the convolution's output before its bias.
    pub fn load_biased_relu(vb: VarBuilder, channels: usize, in_bias: &Tensor) -> Result<Self> {
        let mut dw = Self::load_with(vb, channels, 1, Padding::Symmetric, Act::Relu)?;
        if in_bias.elem_count() != channels {
            candle_core::bail!("depthwise3x3: {} input biases for {channels} channels", in_bias.elem_count());
        }
        dw.cpu.in_bias = Some(in_bias.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?);
        dw.in_bias = Some(in_bias.reshape((1, channels, 1, 1))?);
        Ok(dw)
    }

    fn load_with(vb: VarBuilder, channels: usize, stride: usize, padding: Padding, act: Act) -> Result<Self> {
        if !(stride == 1 || stride == 2) {
            candle_core::bail!("depthwise3x3: unsupported stride {stride}");
        }
        let w = vb.get((channels, 1, 3, 3), "weight")?.reshape((channels, 9))?;
        let taps = (0..9).map(|k| w.narrow(1, k, 1)?.reshape((1, channels, 1, 1))).collect::<Result<Vec<_>>>()?;
        let bias = vb.get(channels, "bias")?;
        let cpu = DepthwiseCpu {
            weight: w.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?,
            bias: bias.to_dtype(DType::F32)?.to_vec1()?,
            stride,
            padding,
            act,
            in_bias: None,
        };
        Ok(Self { taps, bias: bias.reshape((1, channels, 1, 1))?, in_bias: None, cpu })
    }
}

impl Module for Depthwise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            return x.contiguous()?.apply_op1_no_bwd(&self.cpu);
        }
        self.forward_generic(x)
    }
}

impl Depthwise {
    /// Device-independent version (tensor ops only): nine shifted
    /// multiply-adds over the zero-padded input split into stride phases.
    pub fn forward_generic(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let s = self.cpu.stride;
        let (ho, wo) = (self.cpu.padding.out_len(h, s), self.cpu.padding.out_len(w, s));
        let (t, l) = (self.cpu.padding.before(h, s), self.cpu.padding.before(w, s));
        let x = match &self.in_bias {
            Some(b) => x.broadcast_add(b)?,
            None => x.clone(),
        };
        // Pad to exactly (ho + 2/s) * s rows so that every tap is a window of one phase.
        let (ph, pw) = ((ho - 1) * s + 3 + (s - 1), (wo - 1) * s + 3 + (s - 1));
        let (ph, pw) = (ph.div_ceil(s) * s, pw.div_ceil(s) * s);
        let xp = x.pad_with_zeros(2, t, ph - h - t)?.pad_with_zeros(3, l, pw - w - l)?;
        let xp = xp.reshape((b, c, ph / s, s, pw / s, s))?;
        let mut acc = self.bias.broadcast_as((b, c, ho, wo))?.contiguous()?;
        for ky in 0..3 {
            for kx in 0..3 {
                let view = xp
                    .narrow(3, ky % s, 1)?
                    .narrow(5, kx % s, 1)?
                    .narrow(2, ky / s, ho)?
                    .narrow(4, kx / s, wo)?
                    .squeeze(5)?
                    .squeeze(3)?;
                acc = (acc + view.broadcast_mul(&self.taps[ky * 3 + kx])?)?;
            }
        }
        match self.cpu.act {
            Act::Silu => acc.silu(),
            Act::Relu => acc.relu(),
            Act::None => Ok(acc),
        }
    }
}

/// Adds a per-channel bias to a contiguous `[B, C, N]` f32 tensor in place, then SiLU if asked
/// (the CPU pass after a [`Pointwise`] matmul).
#[derive(Debug, Clone)]
pub(super) struct BiasAct {
    bias: Vec<f32>,
    silu: bool,
}

impl BiasAct {
    /// `bias`: one value per channel.
    pub(super) fn new(bias: &Tensor, silu: bool) -> Result<Self> {
        Ok(Self { bias: bias.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?, silu })
    }

    /// `y` (`[B, C, N]`, fresh and contiguous) + `bias` (`[1, C, 1]`, the same values), then
    /// SiLU if asked: in place on the CPU, as tensor ops elsewhere.
    pub(super) fn apply(&self, y: Tensor, bias: &Tensor) -> Result<Tensor> {
        if y.device().is_cpu() && y.dtype() == DType::F32 && y.is_contiguous() {
            y.inplace_op1(self)?;
            return Ok(y);
        }
        let y = y.broadcast_add(bias)?;
        if self.silu {
            y.silu()
        } else {
            Ok(y)
        }
    }
}

impl InplaceOp1 for BiasAct {
    fn name(&self) -> &'static str {
        "bias_silu"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let (_, c, n) = layout.shape().dims3()?;
        let (start, end) = match layout.contiguous_offsets() {
            Some(o) => o,
            None => candle_core::bail!("bias_silu: input must be contiguous"),
        };
        if c != self.bias.len() {
            candle_core::bail!("bias_silu: {c} channels, {} biases", self.bias.len());
        }
        let data = match storage {
            CpuStorage::F32(v) => &mut v[start..end],
            _ => candle_core::bail!("bias_silu: f32 only"),
        };
        for (i, row) in data.chunks_exact_mut(n).enumerate() {
            let b = self.bias[i % c];
            if self.silu {
                super::simd::bias_silu(row, b);
            } else {
                row.iter_mut().for_each(|v| *v += b);
            }
        }
        Ok(())
    }
}

/// 1x1 convolution as a batched matmul (no im2col copy), with its bias and, optionally,
/// SiLU after it (YOLOX's BaseConv). Every network's 1x1 layers are this one: YOLOX runs
/// [`Pointwise::forward`]; YuNet and the landmark networks run
/// [`Pointwise::forward_unbiased`] and add [`Pointwise::bias`] in the activation pass that
/// follows ([`Depthwise::load_biased_relu`], [`BiasPRelu`]).
#[derive(Debug, Clone)]
pub struct Pointwise {
    weight: Tensor, // [O, I]
    bias: Tensor,   // [1, O, 1]
    act: BiasAct,
}

impl Pointwise {
    fn parts(vb: &VarBuilder, c_in: usize, c_out: usize) -> Result<(Tensor, Tensor)> {
        let w = vb.get((c_out, c_in, 1, 1), "weight")?.reshape((c_out, c_in))?;
        Ok((w, vb.get(c_out, "bias")?))
    }

    fn new(weight: Tensor, bias: Tensor, silu: bool) -> Result<Self> {
        let act = BiasAct::new(&bias, silu)?;
        let c = bias.dim(0)?;
        Ok(Self { weight, bias: bias.reshape((1, c, 1))?, act })
    }

    /// `weight` `[c_out, c_in, 1, 1]` and `bias` `[c_out]` from `vb`; `silu`: SiLU after the
    /// bias in [`Pointwise::forward`] (false: the bias only).
    pub fn load(vb: VarBuilder, c_in: usize, c_out: usize, silu: bool) -> Result<Self> {
        let (w, b) = Self::parts(&vb, c_in, c_out)?;
        Self::new(w, b, silu)
    }

    /// Several 1x1 layers over the same input as one matmul (outputs stacked on channels).
    pub fn stacked(vbs: &[(VarBuilder, usize)], c_in: usize, silu: bool) -> Result<Self> {
        let (ws, bs): (Vec<_>, Vec<_>) = vbs
            .iter()
            .map(|(vb, c_out)| Self::parts(vb, c_in, *c_out))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        Self::new(Tensor::cat(&ws, 0)?, Tensor::cat(&bs, 0)?, silu)
    }

    /// The per-channel bias, `[O]` (for a next layer that adds it as it reads).
    pub fn bias(&self) -> Result<Tensor> {
        self.bias.flatten_all()
    }

    /// `[B, I, H, W]` -> `[B, O, H*W]`, the matmul alone.
    fn matmul(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let x = x.contiguous()?.reshape((b, c, h * w))?;
        self.weight.broadcast_matmul(&x)
    }

    /// The convolution without its bias, `[B, O, H, W]`.
    pub fn forward_unbiased(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, h, w) = x.dims4()?;
        self.matmul(x)?.reshape((b, (), h, w))
    }
}

impl Module for Pointwise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, h, w) = x.dims4()?;
        self.act.apply(self.matmul(x)?, &self.bias)?.reshape((b, (), h, w))
    }
}

/// CPU kernel of [`Depthwise`]: f32, NCHW, 3x3, stride 1 or 2, bias and
/// activation fused; one pass over each input plane per output row.
#[derive(Debug, Clone)]
struct DepthwiseCpu {
    weight: Vec<f32>, // [C * 9]
    bias: Vec<f32>,   // [C]
    stride: usize,
    padding: Padding,
    act: Act,
    in_bias: Option<Vec<f32>>, // [C]
}

impl CustomOp1 for DepthwiseCpu {
    fn name(&self) -> &'static str {
        "depthwise3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let s = self.stride;
        if c * 9 != self.weight.len() {
            candle_core::bail!("depthwise3x3: {c} channels, {} weights", self.weight.len());
        }
        let input = contiguous_f32(storage, layout, "depthwise3x3")?;
        let (ho, wo) = (self.padding.out_len(h, s), self.padding.out_len(w, s));
        let (top, left) = (self.padding.before(h, s), self.padding.before(w, s));
        // Each plane is copied once into a zero-padded scratch plane (the input
        // bias added to the real pixels only: the padding is the biased input's),
        // then every output row takes its nine taps in one pass, with no bounds
        // checks inside; at stride 1 that loop vectorises.
        let mut out = vec![0f32; b * c * ho * wo];
        if ho * wo == 0 {
            return Ok((CpuStorage::F32(out), Shape::from((b, c, ho, wo))));
        }
        let geo = PlaneGeometry { w, ho, wo, top, left, stride: s, pw: (wo - 1) * s + 3 };
        let mut padded = vec![0f32; ((ho - 1) * s + 3) * geo.pw];
        for (plane, dst) in out.chunks_exact_mut(ho * wo).enumerate() {
            let ch = plane % c;
            let src = &input[plane * h * w..(plane + 1) * h * w];
            let k: &[f32; 9] = self.weight[ch * 9..ch * 9 + 9].try_into().expect("nine taps");
            let in_bias = self.in_bias.as_ref().map_or(0.0, |b| b[ch]);
            depthwise_plane(src, k, (in_bias, self.bias[ch]), self.act, geo, &mut padded, dst);
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c, ho, wo))))
    }
}

/// Where one depthwise plane's pixels go: the input width, the output size,
/// the zero rows/columns before, the stride, and the padded plane's width.
#[derive(Debug, Clone, Copy)]
struct PlaneGeometry {
    w: usize,
    ho: usize,
    wo: usize,
    top: usize,
    left: usize,
    stride: usize,
    pw: usize,
}

super::simd::wide_fn! {
    /// One plane of [`DepthwiseCpu`]: `src` (the input plane, `biases.0` added)
    /// copied into `padded`, then nine taps, `biases.1` and `act` per output.
    fn depthwise_plane(src: &[f32], k: &[f32; 9], biases: (f32, f32), act: Act, g: PlaneGeometry, padded: &mut [f32], dst: &mut [f32]) {
        let (s, pw, wo) = (g.stride, g.pw, g.wo);
        let (bi, bias) = biases;
        let ph = padded.len() / pw;
        for (iy, line) in src.chunks_exact(g.w).enumerate().take(ph.saturating_sub(g.top)) {
            let row = &mut padded[(iy + g.top) * pw + g.left..(iy + g.top + 1) * pw];
            row.iter_mut().zip(line).for_each(|(p, &v)| *p = v + bi);
        }
        for (oy, row) in dst.chunks_exact_mut(wo).enumerate().take(g.ho) {
            let rows = [0, 1, 2].map(|ky| &padded[(oy * s + ky) * pw..(oy * s + ky + 1) * pw]);
            if s == 1 {
                let t = rows.map(|r| [&r[..wo], &r[1..wo + 1], &r[2..wo + 2]]);
                for (x, o) in row.iter_mut().enumerate() {
                    *o = bias
                        + k[0] * t[0][0][x] + k[1] * t[0][1][x] + k[2] * t[0][2][x]
                        + k[3] * t[1][0][x] + k[4] * t[1][1][x] + k[5] * t[1][2][x]
                        + k[6] * t[2][0][x] + k[7] * t[2][1][x] + k[8] * t[2][2][x];
                }
            } else {
                for (x, o) in row.iter_mut().enumerate() {
                    let q = x * s;
                    *o = bias
                        + k[0] * rows[0][q] + k[1] * rows[0][q + 1] + k[2] * rows[0][q + 2]
                        + k[3] * rows[1][q] + k[4] * rows[1][q + 1] + k[5] * rows[1][q + 2]
                        + k[6] * rows[2][q] + k[7] * rows[2][q + 1] + k[8] * rows[2][q + 2];
                }
            }
        }
        match act {
            Act::Silu => super::simd::bias_silu_inline(dst, 0.0),
            Act::Relu => dst.iter_mut().for_each(|v| *v = v.max(0.0)),
            Act::None => {}
        }
    }
}

/// 2x2 max-pool with stride 2 (odd last rows/columns dropped, as candle's
/// `max_pool2d(2)`) over contiguous NCHW f32: YuNet's down-sampling and the
/// landmark nets' stride-2 shortcuts. candle's pooling is a generic
/// per-element closure that cost 3% of a whole analysis.
#[derive(Debug, Clone, Copy)]
struct MaxPool2x2;

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "max_pool_2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let input = contiguous_f32(storage, layout, "max_pool_2x2")?;
        let (ho, wo) = (h / 2, w / 2);
        let mut out = Vec::with_capacity(b * c * ho * wo);
        if ho * wo > 0 {
            for src in input.chunks_exact(h * w) {
                for oy in 0..ho {
                    let r0 = &src[2 * oy * w..2 * oy * w + 2 * wo];
                    let r1 = &src[(2 * oy + 1) * w..(2 * oy + 1) * w + 2 * wo];
                    out.extend(r0.chunks_exact(2).zip(r1.chunks_exact(2)).map(|(a, b)| a[0].max(a[1]).max(b[0].max(b[1]))));
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c, ho, wo))))
    }
}

/// `x.max_pool2d(2)`, by [`MaxPool2x2`] on the CPU.
pub fn max_pool_2x2(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return x.contiguous()?.apply_op1_no_bwd(&MaxPool2x2);
    }
    x.max_pool2d(2)
}

/// k x k max-pool, stride 1, output the input's size: each output the
/// maximum over the window clipped to the picture (what -inf or edge padding
/// gives). Separable: a row pass then a column pass.
#[derive(Debug, Clone, Copy)]
struct MaxPoolSame(usize);

impl CustomOp1 for MaxPoolSame {
    fn name(&self) -> &'static str {
        "max_pool_same"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = layout.shape().dims4()?;
        let input = contiguous_f32(storage, layout, "max_pool_same")?;
        let r = self.0 / 2;
        let window = |i: usize, n: usize| i.saturating_sub(r)..(i + r + 1).min(n);
        let mut out = Vec::with_capacity(input.len());
        let mut rows = vec![0f32; h * w];
        for src in input.chunks_exact((h * w).max(1)) {
            for (line, dst) in src.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
                for (x, d) in dst.iter_mut().enumerate() {
                    *d = line[window(x, w)].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                }
            }
            for y in 0..h {
                let span = window(y, h);
                let first = &rows[span.start * w..(span.start + 1) * w];
                let start = out.len();
                out.extend_from_slice(first);
                for yy in span.start + 1..span.end {
                    let next = &rows[yy * w..(yy + 1) * w];
                    out[start..].iter_mut().zip(next).for_each(|(o, &v)| *o = o.max(v));
                }
            }
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// `k` x `k` max-pool at stride 1 that keeps the size (padding `k / 2` of
/// -inf, or of edge copies: the same maxima), by [`MaxPoolSame`] on the CPU
/// (YOLOX's SPP; candle's pooling there is a generic per-element closure).
pub fn max_pool_same(x: &Tensor, k: usize) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 && k % 2 == 1 {
        return x.contiguous()?.apply_op1_no_bwd(&MaxPoolSame(k));
    }
    x.pad_with_same(2, k / 2, k / 2)?.pad_with_same(3, k / 2, k / 2)?.max_pool2d_with_stride(k, 1)
}

/// How [`space_to_depth_2x2`] numbers its output channels: the input pixel
/// `(2y + dy, 2x + dx)` of channel `c` (of `C`) lands in channel:
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceToDepth {
    /// `4c + 2dy + dx` (a 2x2 stride-2 convolution's im2col, OIHW order: the
    /// iris net's reductions);
    ChannelMajor,
    /// `(2dx + dy) C + c` (YOLOX's Focus: top-left, bottom-left, top-right,
    /// bottom-right quarters, each all channels).
    QuarterMajor,
}

#[derive(Debug, Clone, Copy)]
struct SpaceToDepthCpu(SpaceToDepth);

impl CustomOp1 for SpaceToDepthCpu {
    fn name(&self) -> &'static str {
        "space_to_depth_2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let input = contiguous_f32(storage, layout, "space_to_depth_2x2")?;
        let (ho, wo) = (h / 2, w / 2);
        let mut out = Vec::with_capacity(b * 4 * c * ho * wo);
        for n in 0..b {
            for oc in 0..4 * c {
                let (ch, dy, dx) = match self.0 {
                    SpaceToDepth::ChannelMajor => (oc / 4, oc % 4 / 2, oc % 2),
                    SpaceToDepth::QuarterMajor => (oc % c, oc / c % 2, oc / c / 2),
                };
                let src = &input[(n * c + ch) * h * w..(n * c + ch + 1) * h * w];
                for y in 0..ho {
                    let line = &src[(2 * y + dy) * w..(2 * y + dy + 1) * w];
                    out.extend(line[dx..].iter().step_by(2).take(wo));
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, 4 * c, ho, wo))))
    }
}

/// `[B, C, H, W]` -> `[B, 4C, H/2, W/2]`, each 2x2 block of pixels spread over
/// four channels in `order` (odd last rows/columns dropped). On the CPU one
/// pass; elsewhere (and in the tests) reshape + permute, which on the CPU is a
/// generic strided copy that cost 2.6% of an analysis.
pub fn space_to_depth_2x2(x: &Tensor, order: SpaceToDepth) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return x.contiguous()?.apply_op1_no_bwd(&SpaceToDepthCpu(order));
    }
    space_to_depth_generic(x, order)
}

fn space_to_depth_generic(x: &Tensor, order: SpaceToDepth) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let (ho, wo) = (h / 2, w / 2);
    let blocks = x.narrow(2, 0, 2 * ho)?.narrow(3, 0, 2 * wo)?.reshape((b, c, ho, 2, wo, 2))?;
    // axes: 0 b, 1 c, 2 y, 3 dy, 4 x, 5 dx
    let moved = match order {
        SpaceToDepth::ChannelMajor => blocks.permute((0, 1, 3, 5, 2, 4))?,
        SpaceToDepth::QuarterMajor => blocks.permute((0, 5, 3, 1, 2, 4))?,
    };
    moved.contiguous()?.reshape((b, 4 * c, ho, wo))
}

/// im2col for a 3x3 convolution, stride 1 or 2, [`Padding`] as given:
/// `[B, C, H, W]` -> `[B, C*9, Ho*Wo]`, rows in (c, ky, kx) order like an
/// OIHW kernel, so that the convolution is one matmul with the weights seen as
/// `[O, C*9]` ([`Conv3x3`]). candle's own conv2d does the same in a generic
/// per-element closure that cost more than the matmul after it.
#[derive(Debug, Clone, Copy)]
pub struct Im2Col3x3 {
    pub stride: usize,
    pub padding: Padding,
}

impl CustomOp1 for Im2Col3x3 {
    fn name(&self) -> &'static str {
        "im2col3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let s = self.stride;
        let input = contiguous_f32(storage, layout, "im2col3x3")?;
        let (ho, wo) = (self.padding.out_len(h, s), self.padding.out_len(w, s));
        let (top, left) = (self.padding.before(h, s), self.padding.before(w, s));
        let mut out = vec![0f32; b * c * 9 * ho * wo];
        for (plane, src) in input.chunks_exact(h * w).enumerate() {
            for ky in 0..3 {
                for kx in 0..3 {
                    let row = (plane * 9 + ky * 3 + kx) * ho * wo;
                    let dst = &mut out[row..row + ho * wo];
                    let first = left.saturating_sub(kx).div_ceil(s);
                    let Some(span) = (w - 1 + left).checked_sub(kx) else { continue };
                    let last = (span / s + 1).min(wo);
                    if first >= last {
                        continue;
                    }
                    let base = first * s + kx - left;
                    for (oy, out_row) in dst.chunks_exact_mut(wo).enumerate() {
                        let Some(iy) = (oy * s + ky).checked_sub(top).filter(|&iy| iy < h) else { continue };
                        let line = &src[iy * w + base..(iy + 1) * w];
                        for (o, &v) in out_row[first..last].iter_mut().zip(line.iter().step_by(s)) {
                            *o = v;
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c * 9, ho * wo))))
    }
}

/// A full 3x3 convolution with bias, stride 1 or 2, as [`Im2Col3x3`] and one
/// matmul on the CPU (candle's conv2d elsewhere).
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    weight: Tensor, // [O, C, 3, 3]
    bias: Tensor,   // [1, O, 1]
    im2col: Im2Col3x3,
}

impl Conv3x3 {
    pub fn new(weight: Tensor, bias: &Tensor, stride: usize, padding: Padding) -> Result<Self> {
        let (o, _, kh, kw) = weight.dims4()?;
        if (kh, kw) != (3, 3) || !(stride == 1 || stride == 2) {
            candle_core::bail!("conv3x3: kernel {kh}x{kw}, stride {stride}");
        }
        Ok(Self { weight, bias: bias.reshape((1, o, 1))?, im2col: Im2Col3x3 { stride, padding } })
    }

    /// `[B, C, H, W]` -> `[B, O, Ho*Wo]`, without the bias (for a caller that
    /// adds it fused with its activation). CPU f32 only.
    pub fn forward_unbiased_flat(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c, _, _) = x.dims4()?;
        let cols = x.contiguous()?.apply_op1_no_bwd(&self.im2col)?; // [B, C*9, Ho*Wo]
        let o = self.weight.dim(0)?;
        self.weight.reshape((o, c * 9))?.broadcast_matmul(&cols)
    }

    /// The bias, `[1, O, 1]`.
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// `[B, C, H, W]` -> `[B, O, Ho, Wo]`, without the bias (on any device).
    pub fn forward_unbiased(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, h, w) = x.dims4()?;
        let s = self.im2col.stride;
        let p = self.im2col.padding;
        let (ho, wo) = (p.out_len(h, s), p.out_len(w, s));
        let o = self.weight.dim(0)?;
        if !(x.device().is_cpu() && x.dtype() == DType::F32) {
            let (t, l) = (p.before(h, s), p.before(w, s));
            let (ph, pw) = ((ho - 1) * s + 3, (wo - 1) * s + 3);
            let xp = x.pad_with_zeros(2, t, ph.saturating_sub(h + t))?.pad_with_zeros(3, l, pw.saturating_sub(w + l))?;
            return xp.conv2d(&self.weight, 0, s, 1, 1);
        }
        self.forward_unbiased_flat(x)?.reshape((b, o, ho, wo))
    }

    /// `[B, C, H, W]` -> `[B, O, Ho, Wo]`, bias added.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_unbiased(x)?.broadcast_add(&self.bias.unsqueeze(3)?)
    }
}

/// Per-channel PReLU, `max(x, 0) + alpha * min(x, 0)`, after adding a
/// per-channel bias and, optionally, a shortcut: `prelu(x + bias + skip)`.
/// The shortcut may have fewer channels than `x` (TF Lite pads the channels
/// of a widening block's shortcut with zeros): its missing channels count as 0.
#[derive(Debug, Clone)]
pub struct BiasPRelu {
    bias: Tensor,  // [1, C, 1, 1]
    alpha: Tensor, // [1, C, 1, 1]
    cpu: BiasPReluCpu,
}

impl BiasPRelu {
    /// `bias` and `alpha`: one value per channel.
    pub fn new(bias: &Tensor, alpha: &Tensor) -> Result<Self> {
        let c = alpha.elem_count();
        if bias.elem_count() != c {
            candle_core::bail!("bias has {} values for {c} channels", bias.elem_count());
        }
        let cpu = BiasPReluCpu {
            bias: bias.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?,
            alpha: alpha.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?,
        };
        Ok(Self { bias: bias.reshape((1, c, 1, 1))?, alpha: alpha.reshape((1, c, 1, 1))?, cpu })
    }

    /// `prelu(x + bias)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            return x.contiguous()?.apply_op1_no_bwd(&self.cpu);
        }
        self.generic(&x.broadcast_add(&self.bias)?)
    }

    /// `prelu(x + bias + skip)`; `skip` has the batch and size of `x` and at
    /// most its channels.
    pub fn forward_skip(&self, x: &Tensor, skip: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 && skip.dtype() == DType::F32 {
            return x.contiguous()?.apply_op2_no_bwd(&skip.contiguous()?, &self.cpu);
        }
        let (_, c, _, _) = x.dims4()?;
        let (_, cs, _, _) = skip.dims4()?;
        let skip = if cs < c { skip.pad_with_zeros(1, 0, c - cs)? } else { skip.clone() };
        self.generic(&(x.broadcast_add(&self.bias)? + skip)?)
    }

    fn generic(&self, x: &Tensor) -> Result<Tensor> {
        x.relu()? + x.minimum(0f32)?.broadcast_mul(&self.alpha)?
    }
}

#[derive(Debug, Clone)]
struct BiasPReluCpu {
    bias: Vec<f32>,
    alpha: Vec<f32>,
}

impl BiasPReluCpu {
    fn contiguous<'a>(&self, storage: &'a CpuStorage, layout: &Layout) -> Result<(&'a [f32], usize, usize, usize)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let data = contiguous_f32(storage, layout, "bias_prelu")?;
        Ok((data, b, c, h * w))
    }

    /// `dst = prelu(src + bias[ch] (+ skip))` over one channel plane.
    fn plane(&self, ch: usize, src: &[f32], skip: Option<&[f32]>, dst: &mut [f32]) {
        prelu_plane((self.bias[ch], self.alpha[ch]), src, skip, dst)
    }
}

super::simd::wide_fn! {
    /// `dst = prelu(src + bias (+ skip))` with `ba` = (bias, slope): both read
    /// once and the select branch-free, so the loop vectorises.
    fn prelu_plane(ba: (f32, f32), src: &[f32], skip: Option<&[f32]>, dst: &mut [f32]) {
        let (b, a) = ba;
        let prelu = |v: f32| v.max(0.0) + a * v.min(0.0);
        match skip {
            Some(sk) => dst.iter_mut().zip(src.iter().zip(sk)).for_each(|(o, (&v, &s))| *o = prelu(v + b + s)),
            None => dst.iter_mut().zip(src).for_each(|(o, &v)| *o = prelu(v + b)),
        }
    }
}

impl CustomOp1 for BiasPReluCpu {
    fn name(&self) -> &'static str {
        "bias_prelu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, _, c, hw) = self.contiguous(storage, layout)?;
        if c != self.alpha.len() {
            candle_core::bail!("bias_prelu: {c} channels, {} slopes", self.alpha.len());
        }
        let mut out = vec![0f32; x.len()];
        for (plane, (src, dst)) in x.chunks_exact(hw.max(1)).zip(out.chunks_exact_mut(hw.max(1))).enumerate() {
            self.plane(plane % c, src, None, dst);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

impl CustomOp2 for BiasPReluCpu {
    fn name(&self) -> &'static str {
        "bias_skip_prelu"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, b, c, hw) = self.contiguous(s1, l1)?;
        let (skip, bs, cs, hws) = self.contiguous(s2, l2)?;
        if c != self.alpha.len() || b != bs || hw != hws || cs > c {
            candle_core::bail!("bias_skip_prelu: x {:?}, skip {:?}", l1.dims(), l2.dims());
        }
        let mut out = vec![0f32; x.len()];
        for (plane, (src, dst)) in x.chunks_exact(hw.max(1)).zip(out.chunks_exact_mut(hw.max(1))).enumerate() {
            let (n, ch) = (plane / c, plane % c);
            let sk = (ch < cs).then(|| &skip[(n * cs + ch) * hw..(n * cs + ch + 1) * hw]);
            self.plane(ch, src, sk, dst);
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn vb(c: usize, seed: u32) -> VarBuilder<'static> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let w: Vec<f32> = (0..c * 9).map(|_| next()).collect();
        let b: Vec<f32> = (0..c).map(|_| next()).collect();
        let mut map = std::collections::HashMap::new();
        map.insert("weight".to_string(), Tensor::from_vec(w, (c, 1, 3, 3), &Device::Cpu).unwrap());
        map.insert("bias".to_string(), Tensor::from_vec(b, c, &Device::Cpu).unwrap());
        VarBuilder::from_tensors(map, DType::F32, &Device::Cpu)
    }

    #[test]
    fn max_pool_same_matches_padded_candle_pool() {
        for (h, w) in [(13, 8), (3, 2), (1, 1), (6, 6)] {
            let x = Tensor::randn(0f32, 1.0, (2, 3, h, w), &Device::Cpu).unwrap();
            let fast = max_pool_same(&x, 5).unwrap();
            let want = x.pad_with_same(2, 2, 2).unwrap().pad_with_same(3, 2, 2).unwrap().max_pool2d_with_stride(5, 1).unwrap();
            assert_eq!(fast.dims(), want.dims());
            assert_eq!(max_diff(&fast, &want), 0.0, "{h}x{w}");
        }
    }

    #[test]
    fn space_to_depth_matches_reshape_and_permute() {
        for (h, w) in [(6, 8), (7, 5), (2, 2)] {
            let x = Tensor::arange(0f32, (2 * 3 * h * w) as f32, &Device::Cpu).unwrap().reshape((2, 3, h, w)).unwrap();
            for order in [SpaceToDepth::ChannelMajor, SpaceToDepth::QuarterMajor] {
                let fast = space_to_depth_2x2(&x, order).unwrap();
                let want = space_to_depth_generic(&x, order).unwrap();
                assert_eq!(fast.dims(), want.dims());
                assert_eq!(max_diff(&fast, &want), 0.0, "{h}x{w} {order:?}");
            }
        }
        // channel 4c + 2dy + dx: pixel (1, 0) of channel 1 is channel 6's first value
        let x = Tensor::arange(0f32, 2.0 * 16.0, &Device::Cpu).unwrap().reshape((1, 2, 4, 4)).unwrap();
        let y = space_to_depth_2x2(&x, SpaceToDepth::ChannelMajor).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(y[6 * 4], 16.0 + 4.0);
    }

    /// The 2x2 pool against candle's on even and odd sizes.
    #[test]
    fn max_pool_2x2_matches_candle() {
        for (h, w) in [(8, 8), (7, 9), (3, 2), (2, 2)] {
            let x = Tensor::randn(0f32, 1.0, (2, 3, h, w), &Device::Cpu).unwrap();
            let want = x.max_pool2d(2).unwrap();
            let got = max_pool_2x2(&x).unwrap();
            assert_eq!(got.dims(), want.dims());
            assert_eq!(max_diff(&got, &want), 0.0, "{h}x{w}");
        }
        // a plane smaller than the window pools to nothing (candle refuses it)
        let x = Tensor::zeros((1, 2, 1, 5), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(max_pool_2x2(&x).unwrap().dims(), [1, 2, 0, 2]);
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    /// The kernel against candle's own grouped conv2d, for both paddings,
    /// both strides, odd and even sizes.
    #[test]
    fn depthwise_kernel_matches_candle_conv() {
        let c = 3;
        for (h, w) in [(6, 6), (7, 5), (1, 1), (2, 9)] {
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &Device::Cpu).unwrap();
            for stride in [1, 2] {
                for padding in [Padding::Symmetric, Padding::Same] {
                    let dw = Depthwise::load_with(vb(c, 7), c, stride, padding, Act::None).unwrap();
                    let got = dw.forward(&x).unwrap();
                    // reference: pad as the mode says, then a VALID grouped conv
                    let (t, l) = (padding.before(h, stride), padding.before(w, stride));
                    let (ho, wo) = (padding.out_len(h, stride), padding.out_len(w, stride));
                    let (ph, pw) = ((ho - 1) * stride + 3, (wo - 1) * stride + 3);
                    let xp = x.pad_with_zeros(2, t, ph - h - t).unwrap().pad_with_zeros(3, l, pw - w - l).unwrap();
                    let want = xp
                        .conv2d(&vb(c, 7).get((c, 1, 3, 3), "weight").unwrap(), 0, stride, 1, c)
                        .unwrap()
                        .broadcast_add(&dw.bias)
                        .unwrap();
                    assert_eq!(got.dims(), want.dims(), "{h}x{w} s{stride} {padding:?}");
                    assert!(max_diff(&got, &want) < 1e-5, "{h}x{w} s{stride} {padding:?}");
                    let generic = dw.forward_generic(&x).unwrap();
                    assert!(max_diff(&generic, &want) < 1e-5, "generic {h}x{w} s{stride} {padding:?}");
                }
            }
        }
    }

    /// `relu(dw(x + b))` in one pass equals the unfused layers, borders included.
    #[test]
    fn biased_relu_depthwise_matches_unfused_layers() {
        let c = 4;
        let x = Tensor::randn(0f32, 1.0, (2, c, 5, 7), &Device::Cpu).unwrap();
        let in_bias = Tensor::new(&[0.5f32, -1.0, 2.0, 0.0], &Device::Cpu).unwrap();
        let fused = Depthwise::load_biased_relu(vb(c, 3), c, &in_bias).unwrap();
        let plain = Depthwise::load(vb(c, 3), c, 1).unwrap();
        let want = plain.forward(&x.broadcast_add(&in_bias.reshape((1, c, 1, 1)).unwrap()).unwrap()).unwrap().relu().unwrap();
        assert!(max_diff(&fused.forward(&x).unwrap(), &want) < 1e-5);
        assert!(max_diff(&fused.forward_generic(&x).unwrap(), &want) < 1e-5);
    }

    /// im2col + matmul against candle's conv2d on explicitly padded input.
    #[test]
    fn conv3x3_matches_candle_conv() {
        let (c, o) = (3, 5);
        let weight = Tensor::randn(0f32, 1.0, (o, c, 3, 3), &Device::Cpu).unwrap();
        let bias = Tensor::randn(0f32, 1.0, o, &Device::Cpu).unwrap();
        for (h, w) in [(6, 6), (7, 5), (1, 1), (2, 9)] {
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &Device::Cpu).unwrap();
            for stride in [1, 2] {
                for padding in [Padding::Symmetric, Padding::Same, Padding::Valid] {
                    if padding == Padding::Valid && (h < 3 || w < 3) {
                        continue;
                    }
                    let conv = Conv3x3::new(weight.clone(), &bias, stride, padding).unwrap();
                    let (t, l) = (padding.before(h, stride), padding.before(w, stride));
                    let (ho, wo) = (padding.out_len(h, stride), padding.out_len(w, stride));
                    let (ph, pw) = ((ho - 1) * stride + 3, (wo - 1) * stride + 3);
                    let xp = match padding {
                        Padding::Valid => x.clone(),
                        _ => x.pad_with_zeros(2, t, ph - h - t).unwrap().pad_with_zeros(3, l, pw - w - l).unwrap(),
                    };
                    let want = xp.conv2d(&weight, 0, stride, 1, 1).unwrap().broadcast_add(&bias.reshape((1, o, 1, 1)).unwrap()).unwrap();
                    let got = conv.forward(&x).unwrap();
                    assert_eq!(got.dims(), want.dims(), "{h}x{w} s{stride} {padding:?}");
                    assert!(max_diff(&got, &want) < 1e-4, "{h}x{w} s{stride} {padding:?}");
                }
            }
        }
    }

    /// A VarBuilder over a random 1x1 layer `[o, i, 1, 1]` (+ bias) as the converters write it.
    fn pointwise_vb(i: usize, o: usize) -> (VarBuilder<'static>, Tensor, Tensor) {
        let w = Tensor::randn(0f32, 1.0, (o, i, 1, 1), &Device::Cpu).unwrap();
        let b = Tensor::randn(0f32, 1.0, o, &Device::Cpu).unwrap();
        let map = std::collections::HashMap::from([("weight".to_string(), w.clone()), ("bias".to_string(), b.clone())]);
        (VarBuilder::from_tensors(map, DType::F32, &Device::Cpu), w, b)
    }

    /// The 1x1 layer against candle's conv2d, with and without SiLU, its unbiased
    /// output plus its bias, and two layers stacked against each one alone.
    #[test]
    fn pointwise_matches_candle_conv() {
        let (i, o) = (6, 5);
        let x = Tensor::randn(0f32, 1.0, (2, i, 3, 7), &Device::Cpu).unwrap();
        let (vb, w, b) = pointwise_vb(i, o);
        let want = x.conv2d(&w, 0, 1, 1, 1).unwrap().broadcast_add(&b.reshape((1, o, 1, 1)).unwrap()).unwrap();
        let plain = Pointwise::load(vb.clone(), i, o, false).unwrap();
        assert_eq!(plain.forward(&x).unwrap().dims(), [2, o, 3, 7]);
        assert!(max_diff(&plain.forward(&x).unwrap(), &want) < 1e-5);
        let rebiased = plain.forward_unbiased(&x).unwrap().broadcast_add(&plain.bias().unwrap().reshape((1, o, 1, 1)).unwrap()).unwrap();
        assert!(max_diff(&rebiased, &want) < 1e-5);
        let silu = Pointwise::load(vb.clone(), i, o, true).unwrap();
        assert!(max_diff(&silu.forward(&x).unwrap(), &want.silu().unwrap()) < 1e-5);
        // a non-contiguous input (a channel slice) gives the same as its copy
        let wide = Tensor::randn(0f32, 1.0, (2, i + 2, 3, 7), &Device::Cpu).unwrap();
        let part = wide.narrow(1, 1, i).unwrap();
        assert!(max_diff(&plain.forward(&part).unwrap(), &plain.forward(&part.contiguous().unwrap()).unwrap()) == 0.0);
        let (vb2, _, _) = pointwise_vb(i, 3);
        let stacked = Pointwise::stacked(&[(vb, o), (vb2.clone(), 3)], i, false).unwrap();
        let second = Pointwise::load(vb2, i, 3, false).unwrap();
        let both = stacked.forward(&x).unwrap();
        assert!(max_diff(&both.narrow(1, 0, o).unwrap(), &want) < 1e-5);
        assert!(max_diff(&both.narrow(1, o, 3).unwrap(), &second.forward(&x).unwrap()) < 1e-5);
    }

    #[test]
    fn fused_prelu_matches_tensor_ops() {
        let x = Tensor::randn(0f32, 1.0, (2, 4, 3, 5), &Device::Cpu).unwrap();
        let skip = Tensor::randn(0f32, 1.0, (2, 3, 3, 5), &Device::Cpu).unwrap();
        let bias = Tensor::new(&[0.1f32, -0.2, 0.3, 0.0], &Device::Cpu).unwrap();
        let alpha = Tensor::new(&[0.25f32, 0.5, 0.0, 1.5], &Device::Cpu).unwrap();
        let op = BiasPRelu::new(&bias, &alpha).unwrap();
        let plain = op.generic(&x.broadcast_add(&op.bias).unwrap()).unwrap();
        assert!(max_diff(&op.forward(&x).unwrap(), &plain) < 1e-6);
        let padded = skip.pad_with_zeros(1, 0, 1).unwrap();
        let plain = op.generic(&(x.broadcast_add(&op.bias).unwrap() + padded).unwrap()).unwrap();
        assert!(max_diff(&op.forward_skip(&x, &skip).unwrap(), &plain) < 1e-6);
        // a negative input with slope 0 is 0, a positive one passes unchanged
        let one = Tensor::new(&[[[[-2.0f32]], [[3.0]], [[-1.0]], [[2.0]]]], &Device::Cpu).unwrap();
        let y: Vec<f32> = op.forward(&one).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let want = [(-2.0f32 + 0.1) * 0.25, 3.0 - 0.2, 0.0, 2.0];
        assert!(y.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6), "{y:?}");
    }
}
