//! fp8 storage types (`float8_e4m3fn`, `float8_e5m2`) for tensor-core kernels: device copyable,
//! describable by tensor maps, and convertible to and from f32 on the host (round to nearest
//! even, saturating), so inputs can be prepared and results checked without another crate.
use crate::memory::DeviceCopy;
use crate::sys::CUtensorMapDataType;
use crate::tensor_map::TensorElem;

/// An fp8 e4m3 value (`float8_e4m3fn`: bias 7, 3 mantissa bits, no infinities, max 448).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fp8E4M3(pub u8);

/// An fp8 e5m2 value (`float8_e5m2`: bias 15, 2 mantissa bits, IEEE-like, max 57344).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fp8E5M2(pub u8);

// SAFETY: one byte, every bit pattern a valid value, no padding.
unsafe impl DeviceCopy for Fp8E4M3 {}
// SAFETY: as above.
unsafe impl DeviceCopy for Fp8E5M2 {}

impl TensorElem for Fp8E4M3 {
    const DATA_TYPE: CUtensorMapDataType = CUtensorMapDataType::CU_TENSOR_MAP_DATA_TYPE_UINT8;
}
impl TensorElem for Fp8E5M2 {
    const DATA_TYPE: CUtensorMapDataType = CUtensorMapDataType::CU_TENSOR_MAP_DATA_TYPE_UINT8;
}

/// Decodes a sign-less fp8 code with `mant` mantissa bits and exponent `bias`.
fn fp8_decode(code: u8, mant: u32, bias: i32) -> f32 {
    let sign = if code & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = ((code & 0x7f) >> mant) as i32;
    let f = (code & ((1 << mant) - 1)) as f32 / (1u32 << mant) as f32;
    let mag = if e == 0 {
        f * 2f32.powi(1 - bias)
    } else {
        (1.0 + f) * 2f32.powi(e - bias)
    };
    sign * mag
}

/// The nearest code to `v` among the positive codes `0..=max_code` (monotonic in value), ties
/// to the even code, saturating at the largest finite value; NaN maps to `nan`.
fn fp8_encode(v: f32, max_code: u8, nan: u8, decode: fn(u8) -> f32) -> u8 {
    if v.is_nan() {
        return nan;
    }
    let sign = if v.is_sign_negative() { 0x80 } else { 0 };
    let a = v.abs();
    let (mut lo, mut hi) = (0u8, max_code);
    if a >= decode(max_code) {
        return sign | max_code;
    }
    // Invariant: decode(lo) <= a < decode(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if decode(mid) <= a {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (dl, dh) = (a - decode(lo), decode(hi) - a);
    let code = if dl < dh || (dl == dh && lo % 2 == 0) {
        lo
    } else {
        hi
    };
    sign | code
}

impl Fp8E4M3 {
    /// Largest finite value.
    pub const MAX: f32 = 448.0;

    /// The value.
    pub fn to_f32(self) -> f32 {
        if self.0 & 0x7f == 0x7f {
            return f32::NAN;
        }
        fp8_decode(self.0, 3, 7)
    }

    /// Round to nearest even, saturating at ±448.
    pub fn from_f32(v: f32) -> Fp8E4M3 {
        Fp8E4M3(fp8_encode(v, 0x7e, 0x7f, |c| Fp8E4M3(c).to_f32()))
    }
}

impl Fp8E5M2 {
    /// Largest finite value.
    pub const MAX: f32 = 57344.0;

    /// The value.
    pub fn to_f32(self) -> f32 {
        match self.0 & 0x7f {
            0x7c => {
                if self.0 & 0x80 != 0 {
                    f32::NEG_INFINITY
                } else {
                    f32::INFINITY
                }
            }
            0x7d..=0x7f => f32::NAN,
            _ => fp8_decode(self.0, 2, 15),
        }
    }

    /// Round to nearest even, saturating at ±57344.
    pub fn from_f32(v: f32) -> Fp8E5M2 {
        Fp8E5M2(fp8_encode(v, 0x7b, 0x7f, |c| Fp8E5M2(c).to_f32()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp8_round_trips_every_code() {
        for c in 0..=255u8 {
            let e4 = Fp8E4M3(c);
            if !e4.to_f32().is_nan() {
                assert_eq!(
                    Fp8E4M3::from_f32(e4.to_f32()).0 & 0x7f,
                    c & 0x7f,
                    "e4m3 {c:#x}"
                );
            }
            let e5 = Fp8E5M2(c);
            if e5.to_f32().is_finite() {
                assert_eq!(
                    Fp8E5M2::from_f32(e5.to_f32()).0 & 0x7f,
                    c & 0x7f,
                    "e5m2 {c:#x}"
                );
            }
        }
        assert_eq!(Fp8E4M3(0x7e).to_f32(), 448.0);
        assert_eq!(Fp8E4M3(0x01).to_f32(), 2f32.powi(-9));
        assert_eq!(Fp8E4M3(0x38).to_f32(), 1.0);
        assert_eq!(Fp8E5M2(0x7b).to_f32(), 57344.0);
        assert_eq!(Fp8E5M2(0x3c).to_f32(), 1.0);
        assert_eq!(Fp8E4M3::from_f32(1e6).to_f32(), 448.0);
        assert_eq!(Fp8E4M3::from_f32(-0.3).to_f32(), -0.3125);
    }
}
