//! Warp-level primitives over the full warp (mask `0xffff_ffff`): every lane of the warp must
//! call them together (convergent). They are LLVM NVVM intrinsics, which rustc marks convergent,
//! rather than inline asm, which it would not.

#[allow(improper_ctypes)]
unsafe extern "C" {
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
    fn laneid_() -> i32;
}

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
#[inline(always)]
pub fn shfl_down_u32(v: u32, delta: u32) -> u32 {
    shfl_down_i32(v as i32, delta) as u32
}
#[inline(always)]
pub fn shfl_up_u32(v: u32, delta: u32) -> u32 {
    shfl_up_i32(v as i32, delta) as u32
}
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
