//! Arithmetic peaks from the device's SM count, clock and architecture.
//!
//! ```text
//! peak FLOP/s = SMs × (FMA per clock per SM) × 2 FLOP per FMA × clock
//! ```
//!
//! `clock` is the device's reported maximum SM clock (`CU_DEVICE_ATTRIBUTE_CLOCK_RATE`: the
//! boost clock, e.g. 1980 MHz on H100/H200), so these are upper bounds; under sustained
//! tensor-core load the clock is often lower (NVIDIA quotes H100/H200 tensor peaks at 1830 MHz).
//!
//! FMA per clock per SM, from NVIDIA's architecture whitepapers:
//!
//! | arch | FP32 (CUDA cores) | dense f16/bf16 tensor, f32 accumulate |
//! |---|---|---|
//! | sm_70 (V100) | 64 | 512 (f16 only) |
//! | sm_75 (T4, Turing) | 64 | 512 (f16 only) |
//! | sm_80 (A100) | 64 | 1024 |
//! | sm_86, sm_87 (GA10x, Orin) | 128 | 512 |
//! | sm_89 (Ada) | 128 | 512 |
//! | sm_90 (H100, H200) | 128 | 2048 |
//! | sm_100 (B200) | 128 | 4096 |
//! | sm_120 (consumer Blackwell) | 128 | 512 |
//!
//! sm_90 check: H100 SXM, 132 SMs × 2048 × 2 × 1.83 GHz = 989 TFLOP/s, NVIDIA's dense f16
//! figure (A100: 108 × 1024 × 2 × 1.41 GHz = 312 TFLOP/s). Consumer parts (sm_86/89/120) get
//! their full f16 rate only with f16 accumulation; 512 is the f32-accumulate rate of GeForce
//! cards (workstation parts have twice that).
use super::case::Peak;

/// FP32 FMA lanes per SM.
pub fn fp32_fma_per_clock_per_sm(major: u32, minor: u32) -> u32 {
    match (major, minor) {
        (7, _) => 64,
        (8, 0) => 64,
        (8, _) => 128,
        (9, _) | (10, _) | (11, _) | (12, _) => 128,
        _ => 64,
    }
}

/// Dense f16/bf16 tensor-core FMA per clock per SM with f32 accumulation, where known.
pub fn tensor_fma_per_clock_per_sm(major: u32, minor: u32, bf16: bool) -> Option<u32> {
    match (major, minor) {
        (7, _) if !bf16 => Some(512),
        (8, 0) => Some(1024),
        (8, 6) | (8, 7) | (8, 9) => Some(512),
        (9, 0) => Some(2048),
        (10, 0) => Some(4096),
        (12, _) => Some(512),
        _ => None,
    }
}

/// Peak FLOP/s of `peak` for a device of compute capability `major.minor` with `sm_count` SMs
/// at `clock_khz`; `None` for an architecture the table does not know.
pub fn peak_flops(
    peak: Peak,
    major: u32,
    minor: u32,
    sm_count: u32,
    clock_khz: u32,
) -> Option<f64> {
    let per_sm = match peak {
        Peak::Fp32 => Some(fp32_fma_per_clock_per_sm(major, minor)),
        Peak::TensorF16 => tensor_fma_per_clock_per_sm(major, minor, false),
        Peak::TensorBf16 => tensor_fma_per_clock_per_sm(major, minor, true),
        Peak::TensorTf32 => tensor_fma_per_clock_per_sm(major, minor, true).map(|v| v / 2),
        Peak::TensorFp8 => match (major, minor) {
            (8, 9) | (9, 0) | (10, 0) | (12, _) => {
                tensor_fma_per_clock_per_sm(major, minor, true).map(|v| v * 2)
            }
            _ => None,
        },
    }?;
    Some(sm_count as f64 * per_sm as f64 * 2.0 * clock_khz as f64 * 1e3)
}

/// Short name of a peak for tables (`FP32`, `TC f16`, `TC bf16`).
pub fn peak_name(peak: Peak) -> &'static str {
    match peak {
        Peak::Fp32 => "FP32 peak",
        Peak::TensorF16 => "f16 tensor peak",
        Peak::TensorBf16 => "bf16 tensor peak",
        Peak::TensorTf32 => "tf32 tensor peak",
        Peak::TensorFp8 => "fp8 tensor peak",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h100_and_h200_peaks() {
        // H100 SXM / H200: 132 SMs, 1980 MHz boost.
        let fp32 = peak_flops(Peak::Fp32, 9, 0, 132, 1_980_000).unwrap();
        assert!((fp32 / 1e12 - 66.9).abs() < 0.1, "{fp32}");
        let tc = peak_flops(Peak::TensorF16, 9, 0, 132, 1_830_000).unwrap();
        assert!((tc / 1e12 - 989.4).abs() < 0.5, "{tc}");
        assert_eq!(peak_flops(Peak::TensorBf16, 9, 0, 132, 1_830_000), Some(tc));
        // A100: 108 SMs, 1410 MHz: 19.5 FP32, 312 f16 TFLOP/s.
        let a100 = peak_flops(Peak::Fp32, 8, 0, 108, 1_410_000).unwrap();
        assert!((a100 / 1e12 - 19.5).abs() < 0.1);
        let a100tc = peak_flops(Peak::TensorF16, 8, 0, 108, 1_410_000).unwrap();
        assert!((a100tc / 1e12 - 311.9).abs() < 0.5);
        assert_eq!(peak_flops(Peak::TensorBf16, 7, 0, 80, 1_530_000), None);
        assert_eq!(peak_flops(Peak::TensorF16, 5, 2, 24, 1_000_000), None);
    }
}
