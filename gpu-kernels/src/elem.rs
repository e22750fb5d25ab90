//! Storage element types of the packet kernels (maps, rows): `f32` (four per 16-byte packet),
//! `f16` and `bf16` (eight), all computed in f32. The generic kernels (`fn relu<T: Elem>`) take
//! their per-type math and packet counts from here, so one source serves every instance.
use gpukit_device::{
    self as gpu, Bf16, Bf16x2, HalfFloat, OutSlice, PacketMut, Packets, StridedPackets,
};

/// A storage type: `f32` (four per packet) or a 16-bit float (eight), with f32 math.
pub trait Elem: gpu::Element + Default {
    /// Elements per 16-byte packet.
    const PER: usize;
    fn to_f32(self) -> f32;
    fn from_f32(x: f32) -> Self;
    /// The packet's elements (the first `PER` of the array).
    fn unpack(w: [u32; 4]) -> [f32; 8];
    /// The first `PER` values rounded to this type.
    fn pack(v: [f32; 8]) -> [u32; 4];
    /// The largest value in the packet `w` (its first `PER`), NaN if any is NaN.
    #[inline(always)]
    fn max_nan_of(w: [u32; 4]) -> f32 {
        let mut m = f32::NEG_INFINITY;
        for v in Self::unpack(w).iter().take(Self::PER) {
            m = gpu::math::max_nan(m, *v);
        }
        m
    }
    /// `e^x` as accurate as this storage type needs.
    fn exp(x: f32) -> f32;
    /// `tanh x` as accurate as this storage type needs.
    fn tanh(x: f32) -> f32;
    /// `1 / (1 + e^-x)` as accurate as this storage type needs.
    fn sigmoid(x: f32) -> f32;
    /// GELU (tanh form) as accurate as this storage type needs.
    fn gelu(x: f32) -> f32;
}

/// The per-type math of the 16-bit types (f32 math, results within 1 ulp of
/// the format: `math::for_half`).
macro_rules! half_math {
    () => {
        #[inline(always)]
        fn exp(x: f32) -> f32 {
            gpu::math::for_half::exp(x)
        }
        #[inline(always)]
        fn tanh(x: f32) -> f32 {
            gpu::math::for_half::tanh(x)
        }
        #[inline(always)]
        fn sigmoid(x: f32) -> f32 {
            gpu::math::for_half::sigmoid(x)
        }
        #[inline(always)]
        fn gelu(x: f32) -> f32 {
            gpu::math::for_half::gelu(x)
        }
    };
}

impl Elem for f32 {
    const PER: usize = 4;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn unpack(w: [u32; 4]) -> [f32; 8] {
        let mut v = [0.0; 8];
        for k in 0..4 {
            v[k] = f32::from_bits(w[k]);
        }
        v
    }
    #[inline(always)]
    fn pack(v: [f32; 8]) -> [u32; 4] {
        [
            v[0].to_bits(),
            v[1].to_bits(),
            v[2].to_bits(),
            v[3].to_bits(),
        ]
    }
    #[inline(always)]
    fn exp(x: f32) -> f32 {
        gpu::math::exp(x)
    }
    #[inline(always)]
    fn tanh(x: f32) -> f32 {
        gpu::math::tanh(x)
    }
    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        gpu::math::sigmoid(x)
    }
    #[inline(always)]
    fn gelu(x: f32) -> f32 {
        gpu::math::gelu(x)
    }
}

impl Elem for Bf16 {
    const PER: usize = 8;
    /// Pairwise on the packed words (`max.NaN.bf16x2`: half an instruction per value, nothing
    /// widened until the last pair).
    #[inline(always)]
    fn max_nan_of(w: [u32; 4]) -> f32 {
        let mut m = Bf16x2::from_bits(0xff80_ff80);
        for k in w {
            m = m.max_nan(Bf16x2::from_bits(k));
        }
        let (lo, hi) = <Bf16 as HalfFloat>::unpack2(m.to_bits());
        gpu::math::max_nan(lo, hi)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        Bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(x: f32) -> Bf16 {
        Bf16::from_f32(x)
    }
    #[inline(always)]
    fn unpack(w: [u32; 4]) -> [f32; 8] {
        let mut v = [0.0; 8];
        for k in 0..4 {
            (v[2 * k], v[2 * k + 1]) = <Bf16 as HalfFloat>::unpack2(w[k]);
        }
        v
    }
    #[inline(always)]
    fn pack(v: [f32; 8]) -> [u32; 4] {
        let mut w = [0u32; 4];
        for k in 0..4 {
            w[k] = <Bf16 as HalfFloat>::pack2(v[2 * k], v[2 * k + 1]);
        }
        w
    }
    half_math!();
}

impl Elem for f16 {
    const PER: usize = 8;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn from_f32(x: f32) -> f16 {
        x as f16
    }
    #[inline(always)]
    fn unpack(w: [u32; 4]) -> [f32; 8] {
        let mut v = [0.0; 8];
        for k in 0..4 {
            (v[2 * k], v[2 * k + 1]) = <f16 as HalfFloat>::unpack2(w[k]);
        }
        v
    }
    #[inline(always)]
    fn pack(v: [f32; 8]) -> [u32; 4] {
        let mut w = [0u32; 4];
        for k in 0..4 {
            w[k] = <f16 as HalfFloat>::pack2(v[2 * k], v[2 * k + 1]);
        }
        w
    }
    half_math!();
}

/// `[g(0), .., g(7)]` over a packet's first `PER` lanes (0 after), written out so that every
/// index is a constant: a loop over the lanes whose body is large may stay rolled and then index
/// its arrays from local memory (a stack frame).
#[inline(always)]
pub fn lanes<E: Elem>(mut g: impl FnMut(usize) -> f32) -> [f32; 8] {
    let mut one = |k: usize| if k < E::PER { g(k) } else { 0.0 };
    [
        one(0),
        one(1),
        one(2),
        one(3),
        one(4),
        one(5),
        one(6),
        one(7),
    ]
}

/// `out[i] = f(a[i])` over this thread's `K` packets (the output view
/// [`StridedPackets<K>`]: packets `id, id + T, ..`), all `K` loads issued before any
/// math, so each thread has `16 K` bytes in flight and long math hides behind them. Launch at
/// least `packets / K` threads (`bytes_per_thread = 16 K`).
#[inline(always)]
pub fn map_packets<E: Elem, const K: usize>(
    a: &[E],
    out: &mut OutSlice<E, StridedPackets<K>>,
    f: impl Fn(f32) -> f32,
) {
    map_packets_at::<E, K>(a, out, |_, x| f(x));
}

/// As [`map_packets`], with the element's index: `out[i] = f(i, a[i])`.
#[inline(always)]
pub fn map_packets_at<E: Elem, const K: usize>(
    a: &[E],
    out: &mut OutSlice<E, StridedPackets<K>>,
    f: impl Fn(usize, f32) -> f32,
) {
    let pa = Packets::new(a);
    // The loads wait only on the packet indices; each output packet's bounds and alignment
    // checks come when it is stored, so nothing about the output is live across the loads'
    // latency. An input packet that is whole is read even where the output packet turns out
    // partial or misaligned (its words then go unused).
    let mut ps = out.thread_packet_set();
    let qs = *ps.indices();
    let ws: [Option<[u32; 4]>; K] = gpu::unroll::array(|j| match &pa {
        Some(pa) if qs[j] < pa.len() => Some(pa.get(qs[j])),
        _ => None,
    });
    let put = #[inline(always)]
    |p: Option<(usize, PacketMut<'_, E>)>, w: Option<[u32; 4]>| match p {
        None => {}
        Some((i, PacketMut::Full(o))) => {
            let v = match w {
                Some(w) => E::unpack(w),
                None => lanes::<E>(|k| a[i + k].to_f32()),
            };
            o.set(E::pack(lanes::<E>(|k| f(i + k, v[k]))));
        }
        Some((i, PacketMut::Partial(o))) => {
            for (k, ok) in o.iter_mut().enumerate() {
                *ok = E::from_f32(f(i + k, a[i + k].to_f32()));
            }
        }
    };
    // Constant indices after unrolling: the packets stay in registers.
    gpu::unroll::each::<K>(|j| put(ps.take(j), ws[j]));
}
