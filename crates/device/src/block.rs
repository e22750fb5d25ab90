//! Block-level helpers built on warp primitives and shared memory. Every thread of the (1D)
//! block must call them, at the same point.
use crate::{shared_array, sync_threads, warp};

/// Sum over the block; every thread gets the result. Works for any block size up to 1024.
#[inline(always)]
pub fn reduce_sum_f32(v: f32) -> f32 {
    let scratch = shared_array!(GPUKIT_BLOCK_SUM_F32: [f32; 33]);
    reduce_with(v, scratch.shared_addr(), warp::reduce_sum_f32, 0.0)
}

/// Maximum over the block (`-inf` for no finite values); every thread gets it.
#[inline(always)]
pub fn reduce_max_f32(v: f32) -> f32 {
    let scratch = shared_array!(GPUKIT_BLOCK_MAX_F32: [f32; 33]);
    reduce_with(
        v,
        scratch.shared_addr(),
        warp::reduce_max_f32,
        f32::NEG_INFINITY,
    )
}

/// Minimum over the block; every thread gets it.
#[inline(always)]
pub fn reduce_min_f32(v: f32) -> f32 {
    let scratch = shared_array!(GPUKIT_BLOCK_MIN_F32: [f32; 33]);
    reduce_with(
        v,
        scratch.shared_addr(),
        warp::reduce_min_f32,
        f32::INFINITY,
    )
}

#[inline(always)]
fn reduce_with<T: crate::shared::SharedElem>(
    v: T,
    scratch: u32,
    warp_op: fn(T) -> T,
    identity: T,
) -> T {
    let lane = warp::lane_id();
    let wid = warp::warp_id();
    let nwarps = crate::block_dim().x.div_ceil(32);
    let w = warp_op(v);
    // SAFETY (all shared accesses below): `scratch` is a 33-element shared array of 4-byte
    // `T`; indices < 33.
    debug_assert!(core::mem::size_of::<T>() == 4);
    if lane == 0 {
        unsafe { T::st_shared(scratch + wid * 4, w) };
    }
    sync_threads();
    let mut total = identity;
    if wid == 0 {
        let x = if lane < nwarps {
            unsafe { T::ld_shared(scratch + lane * 4) }
        } else {
            identity
        };
        total = warp_op(x);
        if lane == 0 {
            unsafe { T::st_shared(scratch + 32 * 4, total) };
        }
    }
    sync_threads();
    let r = unsafe { T::ld_shared(scratch + 32 * 4) };
    // The scratch may be reused by the next call: nobody writes it before everyone has read.
    sync_threads();
    let _ = total;
    r
}

/// Broadcast thread 0's `v` to every thread of the block.
#[inline(always)]
pub fn broadcast_f32(v: f32) -> f32 {
    let slot = shared_array!(GPUKIT_BLOCK_BCAST_F32: [f32; 1]);
    if crate::thread_idx().x == 0 {
        slot.set(0, v);
    }
    sync_threads();
    let r = slot.get(0);
    sync_threads();
    r
}

macro_rules! block_int {
    ($name:ident, $t:ty, $sym:ident, $warp:path, $id:expr, $doc:literal) => {
        #[doc = $doc]
        #[inline(always)]
        pub fn $name(v: $t) -> $t {
            let scratch = shared_array!($sym: [$t; 33]);
            reduce_with(v, scratch.shared_addr(), $warp, $id)
        }
    };
}
block_int!(
    reduce_sum_i32,
    i32,
    GPUKIT_BLOCK_SUM_I32,
    warp::reduce_sum_i32,
    0,
    "Sum over the block of `i32` (wrapping); every thread gets it."
);
block_int!(
    reduce_sum_u32,
    u32,
    GPUKIT_BLOCK_SUM_U32,
    warp::reduce_sum_u32,
    0,
    "Sum over the block of `u32` (wrapping); every thread gets it."
);
block_int!(
    reduce_min_i32,
    i32,
    GPUKIT_BLOCK_MIN_I32,
    warp::reduce_min_i32,
    i32::MAX,
    "Minimum over the block of `i32`; every thread gets it."
);
block_int!(
    reduce_max_i32,
    i32,
    GPUKIT_BLOCK_MAX_I32,
    warp::reduce_max_i32,
    i32::MIN,
    "Maximum over the block of `i32`; every thread gets it."
);
block_int!(
    reduce_min_u32,
    u32,
    GPUKIT_BLOCK_MIN_U32,
    warp::reduce_min_u32,
    u32::MAX,
    "Minimum over the block of `u32`; every thread gets it."
);
block_int!(
    reduce_max_u32,
    u32,
    GPUKIT_BLOCK_MAX_U32,
    warp::reduce_max_u32,
    0,
    "Maximum over the block of `u32`; every thread gets it."
);

/// Broadcast thread 0's `v` to every thread of the block (`u32`; other 4-byte types through
/// `to_bits`).
#[inline(always)]
pub fn broadcast_u32(v: u32) -> u32 {
    let slot = shared_array!(GPUKIT_BLOCK_BCAST_U32: [u32; 1]);
    if crate::thread_idx().x == 0 {
        slot.set(0, v);
    }
    sync_threads();
    let r = slot.get(0);
    sync_threads();
    r
}

/// Combines a `K`-word value (a small statistic such as (max, sum) or (count, mean, M2)) over
/// the block: a butterfly inside each warp, then every thread folds the warps' results in warp
/// order, so all threads get bit-identical results when `f` is commutative bit for bit (write it
/// symmetric: `a*x + b*y`, not `fma(a, x, b*y)`). Every thread of the (1D) block must call it;
/// `K` is at most 8 words and the block at most 1024 threads.
#[inline(always)]
pub fn fold<const K: usize>(v: [u32; K], f: impl Fn([u32; K], [u32; K]) -> [u32; K]) -> [u32; K] {
    assert!(K <= 8, "block::fold carries at most 8 words");
    let scratch = shared_array!(GPUKIT_BLOCK_FOLD: [u32; 32 * 8]);
    let mut v = v;
    let mut m = 16;
    while m > 0 {
        let mut other = [0u32; K];
        for (o, w) in other.iter_mut().zip(v.iter()) {
            *o = warp::shfl_xor_u32(*w, m);
        }
        v = f(v, other);
        m >>= 1;
    }
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let nwarps = (crate::block_dim().x as usize).div_ceil(32);
    if lane == 0 {
        for (k, w) in v.iter().enumerate() {
            scratch.set(wid * 8 + k, *w);
        }
    }
    sync_threads();
    let read = |w: usize| {
        let mut r = [0u32; K];
        for (k, rk) in r.iter_mut().enumerate() {
            *rk = scratch.get(w * 8 + k);
        }
        r
    };
    let mut acc = read(0);
    for w in 1..nwarps {
        acc = f(acc, read(w));
    }
    // The scratch may be reused by the next call: nobody writes it before everyone has read.
    sync_threads();
    acc
}
