//! The CPU's vector width for the hand-written kernels ([`super::ops`], YOLOX's
//! bias + SiLU), chosen at run time.
//!
//! Why: the crate is built for baseline x86-64 (SSE2: four floats a step), so
//! that one binary runs on any machine. The matmuls (the `gemm` crate) already
//! pick AVX2/FMA at run time; our own loops did not, and ran at half the width
//! the CPU has. [`wide_fn!`] compiles a kernel a second time with AVX2 and FMA
//! enabled and runs that build when the CPU has them (eight floats a step),
//! the plain one otherwise. The arithmetic is the same either way: Rust never fuses `a * b +
//! c` into an FMA on its own, so both builds give bit-identical results.
//!
//! [`exp`] is the other half: `f32::exp` is a libm call per element that no
//! loop vectorises (it was 3.5% of an analysis, under YOLOX's SiLU); a
//! polynomial on the reduced argument does, at about 1 ulp.

/// Whether this CPU runs the AVX2 + FMA builds of the kernels.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `wide_fn! { fn name(args) { body } }` defines `name` with its body compiled
/// twice, for baseline x86-64 and with AVX2 + FMA enabled, and runs the second
/// when [`has_avx2`]. Whatever the body calls must be `#[inline(always)]` (or
/// a generic the compiler inlines) to be compiled wide too.
macro_rules! wide_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $body
                if $crate::detect::simd::has_avx2() {
                    // SAFETY: the features `avx2` was compiled for were just detected.
                    return unsafe { avx2($($arg),*) };
                }
            }
            fn plain($($arg: $ty),*) $body
            plain($($arg),*)
        }
    };
}
pub(crate) use wide_fn;

/// e^x for f32, branch-free so that a loop over it vectorises: x = k ln2 + r
/// with |r| <= ln2 / 2, e^r by a degree-6 polynomial, 2^k put straight into
/// the exponent bits. Relative error about 2e-7 over the whole range; inputs
/// are clamped to [-87, 88], so it never returns inf or a denormal (e^-87 is
/// 1.6e-38, which is zero for every use here).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding it rounds to the nearest integer in the low mantissa bits
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let kf = t - ROUND;
    let r = x - kf * LN2_HI - kf * LN2_LO;
    let p = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    // k sits in t's low mantissa bits (k >= -126 after the clamp, so k + 127 > 0)
    let scale = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23);
    p * scale
}

/// `v = silu(v + bias)` in place: x / (1 + e^-x). Inlined into a caller's
/// wide kernel; [`bias_silu`] is the same on its own.
#[inline(always)]
pub fn bias_silu_inline(v: &mut [f32], bias: f32) {
    for x in v {
        let y = *x + bias;
        *x = y / (1.0 + exp(-y));
    }
}

wide_fn! {
    /// `v = silu(v + bias)` in place, at the CPU's width.
    pub fn bias_silu(v: &mut [f32], bias: f32) {
        bias_silu_inline(v, bias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 1e-6, "largest relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) >= 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn silu_matches_its_definition_and_the_dispatched_build_agrees() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.37).collect();
        let mut plain = xs.clone();
        bias_silu_inline(&mut plain, 0.25);
        let mut dispatched = xs.clone();
        bias_silu(&mut dispatched, 0.25);
        assert_eq!(plain, dispatched);
        for (&x, &y) in xs.iter().zip(&plain) {
            let x = x + 0.25;
            let want = x / (1.0 + (-x).exp());
            assert!((y - want).abs() <= 1e-6 * want.abs().max(1.0), "silu({x}) = {y}, want {want}");
        }
    }
}
