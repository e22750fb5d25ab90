//! Half precision: `f16` (Rust's native type, hardware arithmetic on sm_53+) and [`Bf16`]
//! (bfloat16, stored as its `u16` bits since Rust has no bf16 type), with round-to-nearest-even
//! conversions, arithmetic and packed pairs (`F16x2`, [`Bf16x2`]).
//!
//! Conversions are bit-exact with the host `half` crate for every non-NaN value (checked over
//! all 65536 bit patterns and random `f32`s by `crates/device-tests/tests/gpu_device_halfs.rs`).
//! NaNs stay NaN; the hardware returns the canonical NaN (`0x7fff`) where `half` keeps a payload.
use core::ops::{Add, Div, Mul, Neg, Sub};

/// bfloat16: 1 sign, 8 exponent, 7 mantissa bits (the upper half of an `f32`). On the host the
/// launchers map it to `half::bf16` (same bits).
#[repr(transparent)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Bf16(u16);

impl Bf16 {
    /// +0.
    pub const ZERO: Bf16 = Bf16(0);
    /// 1.
    pub const ONE: Bf16 = Bf16(0x3f80);
    /// The canonical quiet NaN.
    pub const NAN: Bf16 = Bf16(0x7fc0);
    /// +∞.
    pub const INFINITY: Bf16 = Bf16(0x7f80);
    /// -∞.
    pub const NEG_INFINITY: Bf16 = Bf16(0xff80);

    /// The value with these bits.
    #[inline(always)]
    pub const fn from_bits(b: u16) -> Bf16 {
        Bf16(b)
    }

    /// The bits of the value.
    #[inline(always)]
    pub const fn to_bits(self) -> u16 {
        self.0
    }

    /// Round to nearest even (`cvt.rn.bf16.f32`); overflow gives ±inf, NaN a NaN.
    #[inline(always)]
    pub fn from_f32(x: f32) -> Bf16 {
        let r: u16;
        // SAFETY: a register-only conversion (sm_80+).
        unsafe {
            crate::__device_asm!("cvt.rn.bf16.f32 {r}, {x};", r = out(reg16) r, x = in(reg32) x,
                options(pure, nomem, nostack, preserves_flags))
        };
        Bf16(r)
    }

    /// Exact widening: the bits become the upper half of the `f32`.
    #[inline(always)]
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }

    /// Round to nearest even from `f64`: the `f64` is first rounded to odd in `f32`, which makes
    /// the second rounding (to bf16) exact-as-if-once.
    #[inline(always)]
    pub fn from_f64(x: f64) -> Bf16 {
        Bf16::from_f32(f64_to_f32_round_odd(x))
    }

    /// Exact widening to `f64`.
    #[inline(always)]
    pub fn to_f64(self) -> f64 {
        self.to_f32() as f64
    }

    #[cfg(gpukit_unstable)]
    /// Exact `f16 -> bf16` is not always possible (bf16 has fewer mantissa bits): rounds.
    #[inline(always)]
    pub fn from_f16(x: f16) -> Bf16 {
        Bf16::from_f32(x as f32)
    }

    /// Rounds to the nearest `f16` (bf16 has the wider exponent range).
    #[cfg(gpukit_unstable)]
    #[inline(always)]
    pub fn to_f16(self) -> f16 {
        self.to_f32() as f16
    }

    /// True for NaN.
    #[inline(always)]
    pub fn is_nan(self) -> bool {
        self.0 & 0x7fff > 0x7f80
    }

    /// `self * a + b` with one rounding (`fma.rn.bf16`, sm_80+).
    #[inline(always)]
    pub fn mul_add(self, a: Bf16, b: Bf16) -> Bf16 {
        let r: u16;
        // SAFETY: register-only arithmetic.
        unsafe {
            crate::__device_asm!("fma.rn.bf16 {r}, {x}, {a}, {b};", r = out(reg16) r,
                x = in(reg16) self.0, a = in(reg16) a.0, b = in(reg16) b.0,
                options(pure, nomem, nostack, preserves_flags))
        };
        Bf16(r)
    }
}

/// `f64 -> f32` rounding to odd, so a second rounding to a narrower format is correct.
#[inline(always)]
fn f64_to_f32_round_odd(x: f64) -> f32 {
    let r: f32;
    // SAFETY: register-only conversion. `cvt.rz` then set the sticky bit when inexact.
    unsafe {
        crate::__device_asm!("cvt.rz.f32.f64 {r}, {x};", r = out(reg32) r, x = in(reg64) x,
            options(pure, nomem, nostack, preserves_flags))
    };
    if (r as f64) != x && !x.is_nan() && r.is_finite() {
        f32::from_bits(r.to_bits() | 1)
    } else {
        r
    }
}

// Arithmetic through f32: both operands widen exactly, the f32 result is then rounded once more
// to bf16; with 24 >= 2*8+2 significand bits that double rounding equals a single correctly
// rounded bf16 operation for +, -, * and /.
macro_rules! bf16_op {
    ($tr:ident, $f:ident, $op:tt) => {
        impl $tr for Bf16 {
            type Output = Bf16;
            #[inline(always)]
            fn $f(self, o: Bf16) -> Bf16 {
                Bf16::from_f32(self.to_f32() $op o.to_f32())
            }
        }
    };
}
bf16_op!(Add, add, +);
bf16_op!(Sub, sub, -);
bf16_op!(Mul, mul, *);
bf16_op!(Div, div, /);

impl Neg for Bf16 {
    type Output = Bf16;
    #[inline(always)]
    fn neg(self) -> Bf16 {
        Bf16(self.0 ^ 0x8000)
    }
}

impl PartialEq for Bf16 {
    /// IEEE equality (NaN != NaN, -0 == +0).
    #[inline(always)]
    fn eq(&self, o: &Bf16) -> bool {
        self.to_f32() == o.to_f32()
    }
}

impl PartialOrd for Bf16 {
    #[inline(always)]
    fn partial_cmp(&self, o: &Bf16) -> Option<core::cmp::Ordering> {
        self.to_f32().partial_cmp(&o.to_f32())
    }
}

impl From<Bf16> for f32 {
    #[inline(always)]
    fn from(x: Bf16) -> f32 {
        x.to_f32()
    }
}

#[cfg(gpukit_unstable)]
/// `f32 -> f16`, round to nearest even (`cvt.rn.f16.f32`). Same as `x as f16`.
#[inline(always)]
pub fn f16_from_f32(x: f32) -> f16 {
    x as f16
}

#[cfg(gpukit_unstable)]
/// `f16 -> f32`, exact (`cvt.f32.f16`). Same as `x as f32`.
#[inline(always)]
pub fn f16_to_f32(x: f16) -> f32 {
    x as f32
}

macro_rules! packed2 {
    ($name:ident, $elem:ty, $cvt:literal) => {
        impl $name {
            /// The pair with these bits (`lo` in bits 0..16).
            #[inline(always)]
            pub const fn from_bits(b: u32) -> $name {
                $name(b)
            }
            /// The pair's bits (`lo` in bits 0..16).
            #[inline(always)]
            pub const fn to_bits(self) -> u32 {
                self.0
            }
            /// Both halves rounded to nearest even in one instruction.
            #[inline(always)]
            pub fn from_f32s(lo: f32, hi: f32) -> $name {
                let r: u32;
                // SAFETY: register-only conversion (sm_80+). PTX puts the first source in the
                // upper half.
                unsafe {
                    crate::__device_asm!(concat!($cvt, " {r}, {hi}, {lo};"), r = out(reg32) r,
                        hi = in(reg32) hi, lo = in(reg32) lo, options(pure, nomem, nostack, preserves_flags))
                };
                $name(r)
            }
            /// `(lo, hi)` widened to `f32` exactly.
            #[inline(always)]
            pub fn to_f32s(self) -> (f32, f32) {
                (self.lo_f32(), self.hi_f32())
            }
            /// Lanewise `self * a + b`, one rounding per lane.
            #[inline(always)]
            pub fn mul_add(self, a: $name, b: $name) -> $name {
                $name(fma2::<$name>(self.0, a.0, b.0))
            }
        }
        impl Add for $name {
            type Output = $name;
            /// Lanewise `a + b` as `fma(a, 1, b)` (one rounding).
            #[inline(always)]
            fn add(self, o: $name) -> $name {
                self.mul_add($name(<$name>::ONES), o)
            }
        }
        impl Mul for $name {
            type Output = $name;
            /// Lanewise `a * b` as `fma(a, b, -0)` (one rounding, signed zeros kept).
            #[inline(always)]
            fn mul(self, o: $name) -> $name {
                self.mul_add(o, $name(0x8000_8000))
            }
        }
    };
}

/// Two `f16` in one 32-bit register (`lo` in bits 0..16): the `half2` of CUDA.
#[cfg(gpukit_unstable)]
#[repr(transparent)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct F16x2(u32);

/// Two [`Bf16`] in one 32-bit register (`lo` in bits 0..16): CUDA's `nv_bfloat162`.
#[repr(transparent)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Bf16x2(u32);

#[cfg(gpukit_unstable)]
impl F16x2 {
    const ONES: u32 = 0x3c00_3c00;
    /// The pair `(lo, hi)`.
    #[inline(always)]
    pub fn new(lo: f16, hi: f16) -> F16x2 {
        F16x2(lo.to_bits() as u32 | (hi.to_bits() as u32) << 16)
    }
    /// The low half (bits 0..16).
    #[inline(always)]
    pub fn lo(self) -> f16 {
        f16::from_bits(self.0 as u16)
    }
    /// The high half (bits 16..32).
    #[inline(always)]
    pub fn hi(self) -> f16 {
        f16::from_bits((self.0 >> 16) as u16)
    }
    #[inline(always)]
    fn lo_f32(self) -> f32 {
        self.lo() as f32
    }
    #[inline(always)]
    fn hi_f32(self) -> f32 {
        self.hi() as f32
    }
}

impl Bf16x2 {
    const ONES: u32 = 0x3f80_3f80;
    /// The pair `(lo, hi)`.
    #[inline(always)]
    pub fn new(lo: Bf16, hi: Bf16) -> Bf16x2 {
        Bf16x2(lo.0 as u32 | (hi.0 as u32) << 16)
    }
    /// The low half (bits 0..16).
    #[inline(always)]
    pub fn lo(self) -> Bf16 {
        Bf16(self.0 as u16)
    }
    /// The high half (bits 16..32).
    #[inline(always)]
    pub fn hi(self) -> Bf16 {
        Bf16((self.0 >> 16) as u16)
    }
    #[inline(always)]
    fn lo_f32(self) -> f32 {
        self.lo().to_f32()
    }
    #[inline(always)]
    fn hi_f32(self) -> f32 {
        self.hi().to_f32()
    }
    /// The larger of each half, NaN where either is NaN (`max.NaN.bf16x2`, sm_80+): one
    /// instruction for two maxima, without widening (a row maximum over bf16 storage).
    #[inline(always)]
    pub fn max_nan(self, other: Bf16x2) -> Bf16x2 {
        let r: u32;
        // SAFETY: register-only arithmetic.
        unsafe {
            crate::__device_asm!("max.NaN.bf16x2 {r}, {a}, {b};", r = out(reg32) r,
                a = in(reg32) self.0, b = in(reg32) other.0,
                options(pure, nomem, nostack, preserves_flags))
        };
        Bf16x2(r)
    }
}

#[cfg(gpukit_unstable)]
packed2!(F16x2, f16, "cvt.rn.f16x2.f32");
packed2!(Bf16x2, Bf16, "cvt.rn.bf16x2.f32");

trait Fma2 {
    fn fma2(a: u32, b: u32, c: u32) -> u32;
}
#[cfg(gpukit_unstable)]
impl Fma2 for F16x2 {
    #[inline(always)]
    fn fma2(a: u32, b: u32, c: u32) -> u32 {
        let r: u32;
        // SAFETY: register-only arithmetic.
        unsafe {
            crate::__device_asm!("fma.rn.f16x2 {r}, {a}, {b}, {c};", r = out(reg32) r, a = in(reg32) a,
                b = in(reg32) b, c = in(reg32) c, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }
}
impl Fma2 for Bf16x2 {
    #[inline(always)]
    fn fma2(a: u32, b: u32, c: u32) -> u32 {
        let r: u32;
        // SAFETY: register-only arithmetic (sm_80+).
        unsafe {
            crate::__device_asm!("fma.rn.bf16x2 {r}, {a}, {b}, {c};", r = out(reg32) r, a = in(reg32) a,
                b = in(reg32) b, c = in(reg32) c, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }
}
#[inline(always)]
fn fma2<T: Fma2>(a: u32, b: u32, c: u32) -> u32 {
    T::fma2(a, b, c)
}

/// The 16-bit float storage types ([`f16`] and [`Bf16`]) as kernels use them: widened exactly
/// to `f32` for the math, rounded back to nearest even, two at a time through one 32-bit word.
pub trait HalfFloat: Copy {
    /// Widened exactly.
    fn to_f32(self) -> f32;
    /// Rounded to nearest even.
    fn from_f32(x: f32) -> Self;
    /// `(lo, hi)` of a packed pair, widened exactly.
    fn unpack2(w: u32) -> (f32, f32);
    /// A pair rounded to nearest even in one instruction (`cvt.rn.{f16,bf16}x2.f32`).
    fn pack2(lo: f32, hi: f32) -> u32;
}

#[cfg(gpukit_unstable)]
impl HalfFloat for f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn from_f32(x: f32) -> f16 {
        x as f16
    }
    #[inline(always)]
    fn unpack2(w: u32) -> (f32, f32) {
        F16x2::from_bits(w).to_f32s()
    }
    #[inline(always)]
    fn pack2(lo: f32, hi: f32) -> u32 {
        F16x2::from_f32s(lo, hi).to_bits()
    }
}

impl HalfFloat for Bf16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        Bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(x: f32) -> Bf16 {
        Bf16::from_f32(x)
    }
    #[inline(always)]
    fn unpack2(w: u32) -> (f32, f32) {
        // Exact widening is a shift: no conversion instruction needed.
        (f32::from_bits(w << 16), f32::from_bits(w & 0xffff_0000))
    }
    #[inline(always)]
    fn pack2(lo: f32, hi: f32) -> u32 {
        Bf16x2::from_f32s(lo, hi).to_bits()
    }
}
