//! Warp-level primitives over the full warp (mask `0xffff_ffff`): every lane of the warp must
//! call them together (convergent). They are LLVM NVVM intrinsics, which rustc marks convergent,
//! rather than inline asm, which it would not.

crate::arch::nvvm_intrinsics! {
#[link_name = "llvm.nvvm.shfl.sync.down.f32"]
fn shfl_down_f32_(mask: u32, v: f32, delta: u32, clamp: u32) -> f32;
#[link_name = "llvm.nvvm.shfl.sync.up.f32"]
fn shfl_up_f32_(mask: u32, v: f32, delta: u32, clamp: u32) -> f32;
#[link_name = "llvm.nvvm.shfl.sync.bfly.f32"]
fn shfl_xor_f32_(mask: u32, v: f32, lane_mask: u32, clamp: u32) -> f32;
#[link_name = "llvm.nvvm.shfl.sync.idx.f32"]
fn shfl_idx_f32_(mask: u32, v: f32, lane: u32, clamp: u32) -> f32;
#[link_name = "llvm.nvvm.shfl.sync.down.i32"]
fn shfl_down_i32_(mask: u32, v: i32, delta: u32, clamp: u32) -> i32;
#[link_name = "llvm.nvvm.shfl.sync.up.i32"]
fn shfl_up_i32_(mask: u32, v: i32, delta: u32, clamp: u32) -> i32;
#[link_name = "llvm.nvvm.shfl.sync.bfly.i32"]
fn shfl_xor_i32_(mask: u32, v: i32, lane_mask: u32, clamp: u32) -> i32;
#[link_name = "llvm.nvvm.shfl.sync.idx.i32"]
fn shfl_idx_i32_(mask: u32, v: i32, lane: u32, clamp: u32) -> i32;
#[link_name = "llvm.nvvm.read.ptx.sreg.laneid"]
fn laneid_() -> i32;}

/// All 32 lanes.
pub const FULL_MASK: u32 = 0xffff_ffff;
/// `c` operand of `shfl.sync` for down/xor/idx over a whole warp (clamp lane 31).
const CLAMP: u32 = 0x1f;

/// This thread's lane in its warp, 0..32.
#[inline(always)]
pub fn lane_id() -> u32 {
    // SAFETY: reads a special register.
    unsafe { laneid_() as u32 }
}

/// Warp index of this thread inside its (1D) block.
#[inline(always)]
pub fn warp_id() -> u32 {
    crate::thread_idx().x / 32
}

macro_rules! shuffles {
    ($t:ty, $down:ident, $up:ident, $xor:ident, $idx:ident, $d:ident, $u:ident, $x:ident, $i:ident) => {
        /// Value of lane `lane_id + delta` (own value where that is past lane 31).
        #[inline(always)]
        pub fn $down(v: $t, delta: u32) -> $t {
            // SAFETY: full-warp shuffle; all lanes participate by contract of this module.
            unsafe { $d(FULL_MASK, v, delta, CLAMP) }
        }
        /// Value of lane `lane_id - delta` (own value for lanes below `delta`).
        #[inline(always)]
        pub fn $up(v: $t, delta: u32) -> $t {
            // SAFETY: as above.
            unsafe { $u(FULL_MASK, v, delta, 0) }
        }
        /// Value of lane `lane_id ^ mask` (butterfly).
        #[inline(always)]
        pub fn $xor(v: $t, mask: u32) -> $t {
            // SAFETY: as above.
            unsafe { $x(FULL_MASK, v, mask, CLAMP) }
        }
        /// Value of lane `src` (broadcast).
        #[inline(always)]
        pub fn $idx(v: $t, src: u32) -> $t {
            // SAFETY: as above.
            unsafe { $i(FULL_MASK, v, src, CLAMP) }
        }
    };
}

shuffles!(
    f32,
    shfl_down_f32,
    shfl_up_f32,
    shfl_xor_f32,
    shfl_idx_f32,
    shfl_down_f32_,
    shfl_up_f32_,
    shfl_xor_f32_,
    shfl_idx_f32_
);
shuffles!(
    i32,
    shfl_down_i32,
    shfl_up_i32,
    shfl_xor_i32,
    shfl_idx_i32,
    shfl_down_i32_,
    shfl_up_i32_,
    shfl_xor_i32_,
    shfl_idx_i32_
);

/// Shuffles of `u32` through the `i32` forms (same bits).
#[inline(always)]
pub fn shfl_xor_u32(v: u32, mask: u32) -> u32 {
    shfl_xor_i32(v as i32, mask) as u32
}
/// Value of lane `lane_id + delta` (own value where that is past lane 31).
#[inline(always)]
pub fn shfl_down_u32(v: u32, delta: u32) -> u32 {
    shfl_down_i32(v as i32, delta) as u32
}
/// Value of lane `lane_id - delta` (own value for lanes below `delta`).
#[inline(always)]
pub fn shfl_up_u32(v: u32, delta: u32) -> u32 {
    shfl_up_i32(v as i32, delta) as u32
}
/// Value of lane `src`.
#[inline(always)]
pub fn shfl_idx_u32(v: u32, src: u32) -> u32 {
    shfl_idx_i32(v as i32, src) as u32
}

/// Sum over the warp; every lane gets the result (butterfly reduction, 5 shuffles).
#[inline(always)]
pub fn reduce_sum_f32(mut v: f32) -> f32 {
    let mut m = 16;
    while m > 0 {
        v += shfl_xor_f32(v, m);
        m >>= 1;
    }
    v
}

/// Maximum over the warp; every lane gets it. NaN handling is `f32::max`'s (NaN loses).
#[inline(always)]
pub fn reduce_max_f32(mut v: f32) -> f32 {
    let mut m = 16;
    while m > 0 {
        v = v.max(shfl_xor_f32(v, m));
        m >>= 1;
    }
    v
}

/// Minimum over the warp; every lane gets it. NaN handling is `f32::min`'s (NaN loses).
#[inline(always)]
pub fn reduce_min_f32(mut v: f32) -> f32 {
    let mut m = 16;
    while m > 0 {
        v = v.min(shfl_xor_f32(v, m));
        m >>= 1;
    }
    v
}

/// Sum over the warp of `i32` (wrapping); every lane gets it.
#[inline(always)]
pub fn reduce_sum_i32(mut v: i32) -> i32 {
    let mut m = 16;
    while m > 0 {
        v = v.wrapping_add(shfl_xor_i32(v, m));
        m >>= 1;
    }
    v
}

/// Inclusive prefix sum across the warp (lane `i` gets `v_0 + .. + v_i`).
#[inline(always)]
pub fn inclusive_scan_f32(mut v: f32) -> f32 {
    let lane = lane_id();
    let mut d = 1;
    while d < 32 {
        let up = shfl_up_f32(v, d);
        if lane >= d {
            v += up;
        }
        d <<= 1;
    }
    v
}

/// Inclusive prefix sum across the warp for `i32` (wrapping).
#[inline(always)]
pub fn inclusive_scan_i32(mut v: i32) -> i32 {
    let lane = lane_id();
    let mut d = 1;
    while d < 32 {
        let up = shfl_up_i32(v, d);
        if lane >= d {
            v = v.wrapping_add(up);
        }
        d <<= 1;
    }
    v
}

crate::arch::nvvm_intrinsics! {
#[link_name = "llvm.nvvm.activemask"]
fn activemask_() -> i32;
#[link_name = "llvm.nvvm.vote.any.sync"]
fn vote_any_(mask: i32, pred: bool) -> bool;
#[link_name = "llvm.nvvm.vote.all.sync"]
fn vote_all_(mask: i32, pred: bool) -> bool;
#[link_name = "llvm.nvvm.vote.ballot.sync"]
fn vote_ballot_(mask: i32, pred: bool) -> i32;
#[link_name = "llvm.nvvm.redux.sync.add"]
fn redux_add_(v: i32, mask: i32) -> i32;
#[link_name = "llvm.nvvm.redux.sync.min"]
fn redux_min_(v: i32, mask: i32) -> i32;
#[link_name = "llvm.nvvm.redux.sync.max"]
fn redux_max_(v: i32, mask: i32) -> i32;
#[link_name = "llvm.nvvm.redux.sync.umin"]
fn redux_umin_(v: i32, mask: i32) -> i32;
#[link_name = "llvm.nvvm.redux.sync.umax"]
fn redux_umax_(v: i32, mask: i32) -> i32;}

/// The lanes of this warp executing this instruction together (`__activemask()`, PTX
/// `activemask.b32`). Informational: lanes may diverge again right after.
#[inline(always)]
pub fn active_mask() -> u32 {
    // SAFETY: reads warp state.
    unsafe { activemask_() as u32 }
}

/// Mask of lanes below this one (`%lanemask_lt`): `ballot(p) & lanemask_lt()` counts earlier
/// lanes with `p` (stream compaction).
#[inline(always)]
pub fn lanemask_lt() -> u32 {
    let m: u32;
    // SAFETY: reads a special register.
    unsafe {
        crate::__device_asm!("mov.u32 {m}, %lanemask_lt;", m = out(reg32) m, options(pure, nomem, nostack))
    };
    m
}

/// True if `pred` holds on any lane of the full warp (`__any_sync(0xffffffff, p)`,
/// `vote.sync.any.pred`).
#[inline(always)]
pub fn any(pred: bool) -> bool {
    // SAFETY: full-warp vote; all lanes participate by contract of this module.
    unsafe { vote_any_(FULL_MASK as i32, pred) }
}

/// True if `pred` holds on every lane of the full warp (`vote.sync.all.pred`).
#[inline(always)]
pub fn all(pred: bool) -> bool {
    // SAFETY: as `any`.
    unsafe { vote_all_(FULL_MASK as i32, pred) }
}

/// Bit `i` set where lane `i` has `pred` (`__ballot_sync(0xffffffff, p)`,
/// `vote.sync.ballot.b32`).
#[inline(always)]
pub fn ballot(pred: bool) -> u32 {
    // SAFETY: as `any`.
    unsafe { vote_ballot_(FULL_MASK as i32, pred) as u32 }
}

/// [`any`] over the lanes of `mask` only; every lane in `mask` must call it.
#[inline(always)]
pub fn any_mask(mask: u32, pred: bool) -> bool {
    // SAFETY: the lanes of `mask` participate by the caller's contract.
    unsafe { vote_any_(mask as i32, pred) }
}

/// [`all`] over the lanes of `mask` only; every lane in `mask` must call it.
#[inline(always)]
pub fn all_mask(mask: u32, pred: bool) -> bool {
    // SAFETY: as `any_mask`.
    unsafe { vote_all_(mask as i32, pred) }
}

/// [`ballot`] over the lanes of `mask` only (bits of other lanes are 0).
#[inline(always)]
pub fn ballot_mask(mask: u32, pred: bool) -> u32 {
    // SAFETY: as `any_mask`.
    unsafe { vote_ballot_(mask as i32, pred) as u32 }
}

/// Sum over the warp of `u32` (wrapping); every lane gets it (`redux.sync.add.u32`, sm_80+).
#[inline(always)]
pub fn reduce_sum_u32(v: u32) -> u32 {
    // SAFETY: full-warp reduction.
    unsafe { redux_add_(v as i32, FULL_MASK as i32) as u32 }
}

/// Minimum over the warp of `i32` (`redux.sync.min.s32`).
#[inline(always)]
pub fn reduce_min_i32(v: i32) -> i32 {
    // SAFETY: full-warp reduction.
    unsafe { redux_min_(v, FULL_MASK as i32) }
}

/// Maximum over the warp of `i32` (`redux.sync.max.s32`).
#[inline(always)]
pub fn reduce_max_i32(v: i32) -> i32 {
    // SAFETY: full-warp reduction.
    unsafe { redux_max_(v, FULL_MASK as i32) }
}

/// Minimum over the warp of `u32` (`redux.sync.min.u32`).
#[inline(always)]
pub fn reduce_min_u32(v: u32) -> u32 {
    // SAFETY: full-warp reduction.
    unsafe { redux_umin_(v as i32, FULL_MASK as i32) as u32 }
}

/// Maximum over the warp of `u32` (`redux.sync.max.u32`).
#[inline(always)]
pub fn reduce_max_u32(v: u32) -> u32 {
    // SAFETY: full-warp reduction.
    unsafe { redux_umax_(v as i32, FULL_MASK as i32) as u32 }
}

/// Packed pairs travel through the 32-bit shuffles (same bits).
macro_rules! pair_shuffles {
    ($t:ty, $down:ident, $up:ident, $xor:ident, $idx:ident) => {
        /// [`shfl_down_u32`] of a packed pair.
        #[inline(always)]
        pub fn $down(v: $t, delta: u32) -> $t {
            <$t>::from_bits(shfl_down_u32(v.to_bits(), delta))
        }
        /// [`shfl_up_u32`] of a packed pair.
        #[inline(always)]
        pub fn $up(v: $t, delta: u32) -> $t {
            <$t>::from_bits(shfl_up_u32(v.to_bits(), delta))
        }
        /// [`shfl_xor_u32`] of a packed pair.
        #[inline(always)]
        pub fn $xor(v: $t, mask: u32) -> $t {
            <$t>::from_bits(shfl_xor_u32(v.to_bits(), mask))
        }
        /// [`shfl_idx_u32`] of a packed pair.
        #[inline(always)]
        pub fn $idx(v: $t, src: u32) -> $t {
            <$t>::from_bits(shfl_idx_u32(v.to_bits(), src))
        }
    };
}

#[cfg(gpukit_unstable)]
pair_shuffles!(
    crate::half::F16x2,
    shfl_down_f16x2,
    shfl_up_f16x2,
    shfl_xor_f16x2,
    shfl_idx_f16x2
);
pair_shuffles!(
    crate::half::Bf16x2,
    shfl_down_bf16x2,
    shfl_up_bf16x2,
    shfl_xor_bf16x2,
    shfl_idx_bf16x2
);
