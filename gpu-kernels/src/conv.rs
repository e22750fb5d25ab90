//! Convolutional-network kernels over NHWC activations in f16, [`Bf16`] or f32 storage with f32
//! arithmetic: convolution as an implicit GEMM on the tensor cores (batch norm folded into the
//! weights on the host, fused bias + residual + ReLU epilogue, optional split-K), 3×3 max
//! pooling, global average pooling, and the u8 image → normalised input conversion. Together with
//! the convolution run as a 1×1 "linear layer" they are everything ResNet-18 inference needs.
//! Every kernel is one generic source with its instances (element type, and for the
//! convolution the K-slice width and pipeline depth).
//!
//! Convolution as a GEMM: C (M × K_out) = A (M × Kdim) · Bᵀ where M = images × out-height ×
//! out-width (one row per output pixel, which is exactly the NHWC output), Kdim = kernel-height ×
//! kernel-width × in-channels, A is the im2col matrix (never stored: each 16-byte chunk of one
//! tap's channels is copied straight from the input with `cp.async`, or zero-filled in the
//! padding), and B is the weight tensor stored `[out-channel][ky][kx][in-channel]`, i.e. K_out
//! rows of Kdim contiguous elements. In-channels must be a multiple of 8 (so a chunk never
//! straddles two taps). The window may differ per axis: the network's 3-channel input is held in
//! 4 channels a pixel and read as pixel pairs of 8 channels, so that its 7 × 7 / 2 stem runs as
//! a 7 × 4 kernel with strides (2, 1) whose chunks carry 3 zero channels of 8, not 5 (see
//! [`input_u8`]).
//!
//! Design (sm_80+ `mma.sync`, f32 accumulation), shared by three tile shapes:
//! - A block computes BM × BN of C with K slices of `KB` bytes per tile row (64: 32 halves or 16
//!   f32s; 128: 64 halves or 32 f32s) in a `STAGES`-stage ring of cp.async copies; each warp
//!   owns a (16·MI) × (8·NI) tile = MI × NI MMA tiles.
//! - A and B tiles share one shared layout: rows of `KB` bytes (4 or 8 chunks of 16 bytes),
//!   chunk `c` of row `r` stored at chunk `c ^ ((r >> 1) & 3)` (8 chunks a row: `c ^ (r & 7)`),
//!   so each 8-lane phase of an `ldmatrix` (8 consecutive rows, one logical chunk) hits 8
//!   distinct 16-byte bank groups. A fragments come from `ldmatrix.x4` on pixel rows; B
//!   fragments from `ldmatrix.x4` (no transpose) on out-channel rows, which is the `.col` B
//!   operand directly. One MMA step consumes 32 bytes of K per row: 16 halves
//!   (`m16n8k16.f16/bf16`) or 8 f32s, whose `ldmatrix` registers are exactly the fragments of
//!   `m16n8k8.tf32` (see [`gpukit_device::mma::mma_tf32_1688`]).
//! - f32 storage keeps f32 accuracy on the TF32 tensor cores by splitting each operand into a
//!   TF32 "big" part and the TF32-rounded remainder and adding three products (big·big,
//!   big·small, small·big; "3xTF32"): about 2⁻²² relative per product instead of TF32's 2⁻¹¹.
//!   Each 8-deep step is summed from zero and added to the running sum in f32 (see
//!   [`ConvAct::mma_step`] for f32: the tensor cores' own accumulation truncates).
//! - One barrier per K slice: wait for slice t, barrier (slice t visible; every warp is done with
//!   slice t − 1), queue the copies of slice t + STAGES − 1 into slice t − 1's stage, compute t.
//! - Epilogue: `out = relu?(acc + bias[n] + residual[m][n])` rounded to the storage type, pairs
//!   of channels stored with one 32-bit (halves) or 64-bit (f32) store. With split-K (`ws`
//!   non-empty) each z-slice of the grid instead writes its raw f32 partial sums to `ws[z]`, and
//!   [`conv_reduce`] adds the slices and applies the same epilogue (or writes f32 logits).
use gpukit_device::mma::{self, MmaInput};
use gpukit_device::shared_vec::{cp_async_commit, cp_async_wait};
use gpukit_device::{
    self as gpu, Bf16, Float, GridStride, Input, Manual, OutSlice, PerThread, kernel, trap,
};

/// Two pipelines exist. The shallow one: K slices of 64 bytes per tile row (32 halves, 16 f32s)
/// in 4 shared-memory stages.
pub const CONV_KB: usize = 64;
pub const CONV_STAGES: usize = 4;
/// The deep one (the default): K slices of 128 bytes per tile row (64 halves, 32 f32s) in 3
/// stages, half the barriers and address arithmetic per multiply-add (`c64` is held to 128
/// registers so two blocks fit on an SM; `big` needs about 234 and would spill).
pub const CONV_DEEP_KB: usize = 128;
pub const CONV_DEEP_STAGES: usize = 3;

/// Stages of the resident tiles' deep pipeline (see [`conv_c64r`]).
pub const CONV_RESIDENT_DEEP_STAGES: usize = 2;

/// Tile shape `big`: 128 pixels × 128 out-channels, 256 threads (8 warps as 4 × 2).
pub const CONV_BIG_BM: usize = 128;
pub const CONV_BIG_BN: usize = 128;
pub const CONV_BIG_THREADS: usize = 256;
/// Tile shape `c64`: 128 pixels × 64 out-channels, 256 threads (8 warps as 4 × 2), for the
/// 64-channel layers.
pub const CONV_C64_BM: usize = 128;
pub const CONV_C64_BN: usize = 64;
pub const CONV_C64_THREADS: usize = 256;
/// Tile shape `w64`: 128 pixels × 64 out-channels with 128 threads (4 warps as 2 × 2, 64 × 32
/// each: 6 `ldmatrix` per 16 MMAs where `c64`'s 32 × 32 warps need 4 per 8), shallow pipeline
/// only (its A tile would need 8 copies a thread per deep slice), three blocks an SM.
pub const CONV_W64_BM: usize = 128;
pub const CONV_W64_BN: usize = 64;
pub const CONV_W64_THREADS: usize = 128;
/// Tile shape `small`: 64 pixels × 64 out-channels, 128 threads (4 warps as 2 × 2), for small
/// images counts (with split-K).
pub const CONV_SMALL_BM: usize = 64;
pub const CONV_SMALL_BN: usize = 64;
pub const CONV_SMALL_THREADS: usize = 128;

/// Dynamic shared memory (bytes) of each tile shape and pipeline: stages × (BM + BN) rows of
/// `KB` bytes (the same for every element type).
pub const CONV_BIG_SHARED_BYTES: usize = CONV_STAGES * (CONV_BIG_BM + CONV_BIG_BN) * CONV_KB;
pub const CONV_C64_SHARED_BYTES: usize = CONV_STAGES * (CONV_C64_BM + CONV_C64_BN) * CONV_KB;
pub const CONV_SMALL_SHARED_BYTES: usize = CONV_STAGES * (CONV_SMALL_BM + CONV_SMALL_BN) * CONV_KB;
pub const CONV_W64_SHARED_BYTES: usize = CONV_STAGES * (CONV_W64_BM + CONV_W64_BN) * CONV_KB;
pub const CONV_BIG_DEEP_SHARED_BYTES: usize =
    CONV_DEEP_STAGES * (CONV_BIG_BM + CONV_BIG_BN) * CONV_DEEP_KB;
pub const CONV_C64_DEEP_SHARED_BYTES: usize =
    CONV_DEEP_STAGES * (CONV_C64_BM + CONV_C64_BN) * CONV_DEEP_KB;
pub const CONV_SMALL_DEEP_SHARED_BYTES: usize =
    CONV_DEEP_STAGES * (CONV_SMALL_BM + CONV_SMALL_BN) * CONV_DEEP_KB;

/// Storage types of activations and weights: f16 and [`Bf16`] (one `m16n8k16` MMA per step) and
/// f32 (3xTF32: three `m16n8k8.tf32` MMAs per step, see the module docs).
pub trait ConvAct: Float {
    /// `c + a·b` over one 16 × 8 output tile and one 32-byte K step of the fragments that
    /// `ldmatrix_x4` loads from the shared layout (16 halves or 8 f32s per row).
    ///
    /// # Safety
    /// All 32 lanes of the warp execute this call together (convergent, none exited).
    unsafe fn mma_step(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4];

    /// The element's bits, zero-extended (for paired stores).
    fn bits(self) -> u32;
}

impl ConvAct for f16 {
    #[inline(always)]
    unsafe fn mma_step(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
        // SAFETY: the caller's contract.
        unsafe { <f16 as MmaInput>::mma_16816(a, b, c) }
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self.to_bits() as u32
    }
}

impl ConvAct for Bf16 {
    #[inline(always)]
    unsafe fn mma_step(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
        // SAFETY: the caller's contract.
        unsafe { <Bf16 as MmaInput>::mma_16816(a, b, c) }
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self.to_bits() as u32
    }
}

/// `x` (f32 bits) as TF32 (big, small): `big + small` equals `x` to about 2⁻²² relative.
#[inline(always)]
fn split_tf32(x: u32) -> (u32, u32) {
    let big = mma::to_tf32(f32::from_bits(x));
    (big, mma::to_tf32(f32::from_bits(x) - f32::from_bits(big)))
}

impl ConvAct for f32 {
    #[inline(always)]
    unsafe fn mma_step(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
        // The splits are pure, so the compiler computes each fragment's once per K step even
        // though every (mi, ni) tile asks for them.
        let (ab, asm) = (a.map(|v| split_tf32(v).0), a.map(|v| split_tf32(v).1));
        let (bb, bs) = (b.map(|v| split_tf32(v).0), b.map(|v| split_tf32(v).1));
        // The tensor cores add into their accumulator with truncation (biased toward zero), so
        // a running sum kept in the MMA loses up to an ulp of the whole sum per step: 2.9e-5
        // relative over a depth of 4608 on the H200. The step's 8 products are summed from
        // zero instead (small terms first, the big product last) and added to the running sum
        // with a rounded f32 add.
        // SAFETY: the caller's contract.
        let t = unsafe {
            let t = mma::mma_tf32_1688(asm, bb, [0.0; 4]);
            let t = mma::mma_tf32_1688(ab, bs, t);
            mma::mma_tf32_1688(ab, bb, t)
        };
        [c[0] + t[0], c[1] + t[1], c[2] + t[2], c[3] + t[3]]
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self.to_bits()
    }
}

/// Byte offset of logical chunk `c` of row `r` in a tile whose rows hold `kb` bytes (swizzled,
/// see the module docs: with 4 chunks a row, rows r and r + 1 share a 128-byte line and the XOR
/// uses `(r >> 1) & 3`; with 8 chunks a row fills a line and it uses `r & 7`).
#[inline(always)]
const fn tile_off(kb: usize, r: usize, c: usize) -> usize {
    let swz = if kb == 64 { (r >> 1) & 3 } else { r & 7 };
    r * kb + ((c ^ swz) << 4)
}

/// Shape of one convolution (all NHWC). The window may differ between rows and columns: the
/// network's stem runs as a 7 × 4 kernel with strides (2, 1) over pixel pairs (see
/// [`input_u8`]).
#[derive(Clone, Copy)]
struct Geom {
    /// Images, input height, width, channels.
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    /// Output height, width, channels.
    oh: usize,
    ow: usize,
    k: usize,
    /// Kernel size, stride and zero padding along rows (y) and columns (x).
    ksy: usize,
    ksx: usize,
    sy: usize,
    sx: usize,
    py: usize,
    px: usize,
}

impl Geom {
    /// From the kernels' scalar arguments: `dims` = images, height, width, channels, out-height,
    /// out-width, out-channels; `win` = kernel height, width, stride y, x, padding y, x.
    #[inline(always)]
    fn new(dims: [u32; 7], win: [u32; 6]) -> Geom {
        let [n, h, w, c, oh, ow, k] = dims.map(|v| v as usize);
        let [ksy, ksx, sy, sx, py, px] = win.map(|v| v as usize);
        Geom {
            n,
            h,
            w,
            c,
            oh,
            ow,
            k,
            ksy,
            ksx,
            sy,
            sx,
            py,
            px,
        }
    }

    /// GEMM rows (output pixels).
    #[inline(always)]
    fn m(&self) -> usize {
        self.n * self.oh * self.ow
    }

    /// GEMM depth (taps × in-channels).
    #[inline(always)]
    fn kdim(&self) -> usize {
        self.ksy * self.ksx * self.c
    }
}

/// Runs `$body` once per listed value of `$i`, written out: loops over accumulator arrays must be
/// fully unrolled (constant indices) or the array lives in local memory.
macro_rules! unroll {
    ($i:ident in [$($v:literal),* $(,)?] $body:block) => {{
        $({
            let $i: usize = $v;
            $body
        })*
    }};
}

/// Queues this thread's copies of one A slice (the loader of both convolution bodies) into the
/// stage at shared address `$stage` (`KB`-byte rows): for each of its `$a_loads` rows
/// `r0 + i·row_step`, chunk `ch` is the 16 bytes of `x` (`$x` its base pointer) at the row's
/// window corner (element offset, y0, x0) moved by tap (`ty`, `tx`) and channel `ci`; taps in
/// the padding, rows past the end (corner [`OUTSIDE`]) and `!$in_k` (past the depth) zero-fill
/// the chunk instead. `$h32`, `$w32`: the image's height and width.
///
/// A macro rather than an `#[inline(always)]` function: written as one, the same code compiled
/// to different PTX (2 to 44 registers more or fewer per convolution kernel), and these
/// kernels are tuned on the device.
///
/// The caller guarantees what the SAFETY comment below relies on: the stage lies inside the
/// dynamic shared memory checked at entry (16-byte aligned), its chunks `(r0 + i·row_step, ch)`
/// are this thread's alone until the wait + barrier that follow; `x` was checked at entry
/// (aligned, n·h·w·c elements, not written during the launch); the corners are those of
/// `g`'s pixels; `ci` is a multiple of a chunk and `c` of 8.
macro_rules! load_a_slice {
    (
        $stage:ident, $kb:ident, $x:ident, $g:ident;
        $r0:ident, $row_step:ident, $ch:ident, $a_loads:ident;
        $a_off:ident, $a_y0:ident, $a_x0:ident;
        $ty:ident, $tx:ident, $ci:ident;
        $in_k:ident, $h32:ident, $w32:ident
    ) => {
        let tap_off = (($ty as usize * $g.w + $tx as usize) * $g.c + $ci as usize) as isize;
        for i in 0..MAX_LOADS {
            if i < $a_loads {
                let iy = $a_y0[i] + $ty as i32;
                let ix = $a_x0[i] + $tx as i32;
                // Negative coordinates wrap to huge unsigned values: one compare per axis.
                let ok = $in_k && (iy as u32) < $h32 && (ix as u32) < $w32;
                let src = if ok {
                    $x.wrapping_offset($a_off[i] + tap_off)
                } else {
                    $x
                };
                // SAFETY: the destination is this thread's 16-byte chunk of row `r0 + i *
                // row_step` in the stage's A tile (16-byte aligned: dynamic shared memory is,
                // offsets are multiples of 16; inside the size checked at entry), which no other
                // thread writes and no warp reads before the wait + barrier that follow. When
                // `ok`, the chunk is element ((img·h + iy)·w + ix)·c + ci of `x` with img < n,
                // iy < h, ix < w and ci + chunk ≤ c (`ci` is a multiple of a chunk, `c` of 8),
                // so it lies inside the n·h·w·c elements checked at entry, 16-byte aligned
                // (aligned base); otherwise 0 bytes are read. Inputs are not written during a
                // launch.
                unsafe {
                    mma::cp_async_16(
                        $stage + tile_off($kb, $r0 + i * $row_step, $ch) as u32,
                        src as *const u8,
                        if ok { 16 } else { 0 },
                    )
                };
            }
        }
    };
}

/// Moves this thread's place in the K walk (depth `$kk` = tap (`$ty`, `$tx`), channel `$ci`)
/// on by one K slice of `$bk` elements, for a window `$ksx` taps wide over `$c` channels: the
/// slices are walked in order, so the tap advances by additions instead of divisions. A macro
/// for the same reason as [`load_a_slice!`].
macro_rules! next_tap {
    ($kk:ident, $ty:ident, $tx:ident, $ci:ident; $bk:ident, $c:ident, $ksx:ident) => {
        $kk += $bk;
        $ci += $bk;
        while $ci >= $c {
            $ci -= $c;
            $tx += 1;
            if $tx == $ksx {
                $tx = 0;
                $ty += 1;
            }
        }
    };
}

/// The most 16-byte chunks one thread copies per stage for A or B (all shapes here: ≤ 4).
const MAX_LOADS: usize = 4;

/// A window corner row far outside any image (rows past the last output pixel).
const OUTSIDE: i32 = -(1 << 30);

/// The shared body of every convolution kernel. `WM`/`WN`: warps along pixels / out-channels;
/// `MI`/`NI`: 16-row / 8-column MMA tiles per warp.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn conv_body<
    T: ConvAct,
    const WM: usize,
    const WN: usize,
    const MI: usize,
    const NI: usize,
    const KB: usize,
    const STAGES: usize,
>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    g: Geom,
    relu: bool,
    splits: usize,
    mut out: OutSlice<T, Manual>,
    mut ws: OutSlice<f32, Manual>,
) {
    let threads = WM * WN * 32;
    let bm = WM * MI * 16;
    let bn = WN * NI * 8;
    // 16-byte chunks per tile row, elements per chunk and per row (K slice).
    let chunks = KB / 16;
    let lanes = T::LANES;
    let bk = chunks * lanes;
    let a_loads = bm * chunks / threads;
    let b_loads = bn * chunks / threads;
    let a_stage = bm * KB;
    let stage_bytes = (bm + bn) * KB;
    let smem = gpu::dynamic_shared::<u16>();
    if gpu::block_dim().x as usize != threads
        || !(KB == 64 || KB == 128)
        || !(STAGES == 3 || STAGES == 4)
        || smem.len() * 2 < STAGES * stage_bytes
        || a_loads > MAX_LOADS
        || b_loads > MAX_LOADS
        || a_loads * threads != bm * chunks
        || b_loads * threads != bn * chunks
        || g.c % 8 != 0
        || splits == 0
        || (x.as_ptr() as usize) % 16 != 0
        || (wt.as_ptr() as usize) % 16 != 0
        || x.len() < g.n * g.h * g.w * g.c
        || wt.len() < g.k * g.kdim()
        || g.h >= 1 << 29
        || g.w >= 1 << 29
        || g.py >= 1 << 29
        || g.px >= 1 << 29
        || g.kdim() >= 1 << 30
    {
        // A wrong launch or layout (the host API never does this): stop rather than compute
        // something partial.
        trap();
    }
    let smem = smem.shared_addr();
    let tid = gpu::thread_idx().x as usize;
    let blk = gpu::block_idx();
    let m_total = g.m();
    let kdim = g.kdim();
    let m0 = blk.x as usize * bm;
    let n0 = blk.y as usize * bn;
    let z = blk.z as usize;
    let tiles = kdim.div_ceil(bk);
    let per = tiles.div_ceil(splits);
    let t0 = (z * per).min(tiles);
    let t1 = (t0 + per).min(tiles);

    // Copy mapping: thread copies chunk `ch` of tile rows `r0 + i * row_step`. Row steps are
    // multiples of 8, so a thread's rows share one swizzle.
    let ch = tid % chunks;
    let r0 = tid / chunks;
    let row_step = threads / chunks;

    // Per A row: element offset of its window's top-left corner (image, y0, x0, channel 0; may
    // be negative in the padding) and that corner's coordinates. Rows past the end get a corner
    // far outside the image, so that every tap of theirs is zero-filled.
    let mut a_off = [0isize; MAX_LOADS];
    let mut a_y0 = [OUTSIDE; MAX_LOADS];
    let mut a_x0 = [0i32; MAX_LOADS];
    let opix = g.oh * g.ow;
    for i in 0..MAX_LOADS {
        let m = m0 + r0 + i * row_step;
        if i < a_loads && m < m_total {
            let img = m / opix;
            let p = m - img * opix;
            let oy = p / g.ow;
            let ox = p - oy * g.ow;
            let y0 = (oy * g.sy) as isize - g.py as isize;
            let x0 = (ox * g.sx) as isize - g.px as isize;
            a_off[i] = (img * g.h * g.w * g.c) as isize + (y0 * g.w as isize + x0) * g.c as isize;
            a_y0[i] = y0 as i32;
            a_x0[i] = x0 as i32;
        }
    }
    // Per B row: offset of its out-channel's weights, validity.
    let mut b_off = [0usize; MAX_LOADS];
    let mut b_ok = [false; MAX_LOADS];
    for i in 0..MAX_LOADS {
        let n = n0 + r0 + i * row_step;
        if i < b_loads && n < g.k {
            b_off[i] = n * kdim;
            b_ok[i] = true;
        }
    }
    // This thread's chunk of the next K slice to load: depth `kk` = tap (ty, tx), channel `ci`.
    // Slices are loaded in order, so the tap advances by additions instead of divisions; 32-bit
    // counters (depth < 2^30, checked at entry) halve the integer work per slice.
    let mut kk = (t0 * bk + ch * lanes) as u32;
    let (c32, ksx32, kdim32, bk32) = (g.c as u32, g.ksx as u32, kdim as u32, bk as u32);
    let (mut ty, mut tx, mut ci) = {
        let tap = kk / c32;
        (tap / ksx32, tap % ksx32, kk % c32)
    };
    let (h32, w32) = (g.h as u32, g.w as u32);
    let (px, pw) = (x.as_ptr(), wt.as_ptr());
    // Queues the copies of the next slice (t0, t0 + 1, ... in turn) into the stage at `stage`.
    let mut load = |stage: u32| {
        let in_k = kk < kdim32;
        load_a_slice!(stage, KB, px, g; r0, row_step, ch, a_loads; a_off, a_y0, a_x0;
            ty, tx, ci; in_k, h32, w32);
        for i in 0..MAX_LOADS {
            if i < b_loads {
                let row = r0 + i * row_step;
                let ok = b_ok[i] && in_k;
                let src = if ok {
                    pw.wrapping_add(b_off[i] + kk as usize)
                } else {
                    pw
                };
                // SAFETY: as for A: this thread's chunk of the stage's B tile; when `ok` the
                // chunk of weights from n·kdim + kk (n < k, kk + chunk ≤ kdim as both are
                // multiples of a chunk) is inside the k·kdim elements checked at entry, and
                // aligned.
                unsafe {
                    mma::cp_async_16(
                        stage + (a_stage + tile_off(KB, row, ch)) as u32,
                        src as *const u8,
                        if ok { 16 } else { 0 },
                    )
                };
            }
        }
        next_tap!(kk, ty, tx, ci; bk32, c32, ksx32);
    };

    let warp = tid / 32;
    let lane = tid % 32;
    let (wm, wn) = (warp / WN, warp % WN);
    let mut acc = [[[0.0f32; 4]; NI]; MI];
    let nt = t1 - t0;
    for s in 0..STAGES - 1 {
        if s < nt {
            load(smem + (s * stage_bytes) as u32);
        }
        cp_async_commit();
    }
    let mut read = 0usize;
    let mut write = STAGES - 1;
    for t in 0..nt {
        // Slice t has landed (groups are committed one per slice, empty past the end).
        if STAGES == 4 {
            cp_async_wait::<2>();
        } else {
            cp_async_wait::<1>();
        }
        gpu::sync_threads();
        // Every warp has finished slice t - 1, whose stage is `write`.
        let next = t + STAGES - 1;
        if next < nt {
            load(smem + (write * stage_bytes) as u32);
        }
        cp_async_commit();
        let st = smem + (read * stage_bytes) as u32;
        // SAFETY: the stage's A tile (bm rows) at `st` and its B tile (bn rows) right after it
        // lie inside the dynamic shared memory checked at entry, landed (wait + barrier above);
        // the loop bounds are uniform, so the whole warp is converged here.
        unsafe { mma_slice::<T, MI, NI, KB>(st, st + a_stage as u32, wm, wn, lane, &mut acc) };
        read = if read + 1 == STAGES { 0 } else { read + 1 };
        write = if write + 1 == STAGES { 0 } else { write + 1 };
    }
    cp_async_wait::<0>();

    // Epilogue: the fused one ([`store_tile`]), or with split-K the raw f32 partials into this
    // z-slice of the workspace (`conv_reduce` adds them up and applies the epilogue).
    let split = !ws.is_empty();
    let row_w = m0 + wm * MI * 16 + lane / 4;
    let col_w = n0 + wn * NI * 8 + (lane % 4) * 2;
    let ws_base = z * m_total * g.k;
    if !split {
        // SAFETY: this block's tile (rows m0.., columns n0..) belongs to it alone; within it,
        // each lane stores only its own fragment positions.
        unsafe {
            store_tile::<T, MI, NI>(
                &mut out,
                &acc,
                (row_w, col_w),
                (m_total, g.k),
                &Input::new(bias),
                &Input::new(res),
                relu,
            )
        };
        return;
    }
    unroll!(ni in [0, 1, 2, 3, 4, 5, 6, 7] {
        let col = col_w + ni * 8;
        if ni < NI && col < g.k {
            let two = col + 1 < g.k;
            unroll!(mi in [0, 1, 2, 3] {
                unroll!(h in [0, 1] {
                    let row = row_w + mi * 16 + h * 8;
                    if mi < MI && row < m_total {
                        let i = ws_base + row * g.k + col;
                        // SAFETY: (row, col..col + 2) of z-slice `z` belongs to this lane of
                        // this warp of this block alone (blocks own disjoint tiles per z).
                        unsafe {
                            *ws.claim_mut(i) = acc[mi][ni][2 * h];
                            if two {
                                *ws.claim_mut(i + 1) = acc[mi][ni][2 * h + 1];
                            }
                        }
                    }
                });
            });
        }
    });
}

/// The tile's first pixel row and, per copied A row of this thread, its window corner (see
/// [`conv_body`]): element offset, y0, x0; rows past `m_total` get [`OUTSIDE`]. 32-bit
/// arithmetic (the caller checks `m_total < 2^31`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn window_corners(
    g: &Geom,
    m0: u32,
    r0: u32,
    row_step: u32,
    a_loads: usize,
    a_off: &mut [isize; MAX_LOADS],
    a_y0: &mut [i32; MAX_LOADS],
    a_x0: &mut [i32; MAX_LOADS],
) {
    let (ow, opix, m_total) = (g.ow as u32, (g.oh * g.ow) as u32, g.m() as u32);
    for i in 0..MAX_LOADS {
        let m = m0 + r0 + i as u32 * row_step;
        a_off[i] = 0;
        a_y0[i] = OUTSIDE;
        a_x0[i] = 0;
        if i < a_loads && m < m_total {
            let img = m / opix;
            let p = m - img * opix;
            let oy = p / ow;
            let ox = p - oy * ow;
            let y0 = (oy * g.sy as u32) as i32 - g.py as i32;
            let x0 = (ox * g.sx as u32) as i32 - g.px as i32;
            a_off[i] = (img as usize * g.h * g.w * g.c) as isize
                + (y0 as isize * g.w as isize + x0 as isize) * g.c as isize;
            a_y0[i] = y0;
            a_x0[i] = x0;
        }
    }
}

/// The convolution with the weights resident and persistent blocks (shallow pipeline, no
/// split-K): a block copies its out-channels' whole weight slab (`bn` × depth) into shared
/// memory once, then walks pixel tiles `blockIdx.x, + gridDim.x, ..` with one continuous
/// cp.async ring of A slices, so that the copies of the next tile's first slices are in flight
/// during this tile's epilogue and no tile pays a pipeline fill or reloads B. Meant for the
/// short-depth 64-channel layers (the stem, layer 1), whose tiles spend as much time outside
/// the K loop as in it (see `docs/TUNING.md`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn conv_resident_body<
    T: ConvAct,
    const WM: usize,
    const WN: usize,
    const MI: usize,
    const NI: usize,
    const KB: usize,
    const STAGES: usize,
>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    g: Geom,
    relu: bool,
    splits: usize,
    mut out: OutSlice<T, Manual>,
) {
    let threads = WM * WN * 32;
    let bm = WM * MI * 16;
    let bn = WN * NI * 8;
    let chunks = KB / 16;
    let lanes = T::LANES;
    let bk = chunks * lanes;
    let a_loads = bm * chunks / threads;
    let b_rows = bn * chunks / threads;
    let a_stage = bm * KB;
    let kdim = g.kdim();
    let nt = kdim.div_ceil(bk);
    let slab = STAGES * a_stage;
    let b_slice = bn * KB;
    let smem = gpu::dynamic_shared::<u16>();
    if gpu::block_dim().x as usize != threads
        || !(KB == 64 || KB == 128)
        || !(2..=4).contains(&STAGES)
        || smem.len() * 2 < slab + nt * b_slice
        || a_loads > MAX_LOADS
        || b_rows > MAX_LOADS
        || a_loads * threads != bm * chunks
        || b_rows * threads != bn * chunks
        || g.c % 8 != 0
        || splits != 1
        || (x.as_ptr() as usize) % 16 != 0
        || (wt.as_ptr() as usize) % 16 != 0
        || x.len() < g.n * g.h * g.w * g.c
        || wt.len() < g.k * kdim
        || out.len() < g.m() * g.k
        || g.m() >= 1 << 31
        || g.h >= 1 << 29
        || g.w >= 1 << 29
        || g.py >= 1 << 29
        || g.px >= 1 << 29
        || kdim >= 1 << 30
    {
        trap();
    }
    let smem = smem.shared_addr();
    let tid = gpu::thread_idx().x as usize;
    let blk = gpu::block_idx();
    let m_total = g.m();
    let m_tiles = m_total.div_ceil(bm) as u32;
    let (first, step) = (blk.x, gpu::grid_dim().x);
    if first >= m_tiles {
        return;
    }
    let my_tiles = ((m_tiles - first).div_ceil(step)) as usize;
    let n0 = blk.y as usize * bn;
    let ch = tid % chunks;
    let r0 = tid / chunks;
    let row_step = threads / chunks;
    let (px, pw) = (x.as_ptr(), wt.as_ptr());
    let kdim32 = kdim as u32;

    // The weight slab: slice t of out-channel row r at smem + slab + t·b_slice, swizzled like
    // a stage's B tile. Committed with the first A slice's group, so the first wait covers it.
    for i in 0..MAX_LOADS {
        if i < b_rows {
            let row = r0 + i * row_step;
            let n = n0 + row;
            for t in 0..nt {
                let kk = t * bk + ch * lanes;
                let ok = n < g.k && kk < kdim;
                let src = if ok {
                    pw.wrapping_add(n * kdim + kk)
                } else {
                    pw
                };
                // SAFETY: this thread's chunk (row, ch) of slab slice t, inside the shared
                // memory checked at entry (16-byte aligned), written by no other thread and
                // read only after the wait + barrier before the first K slice. When `ok` the
                // chunk n·kdim + kk .. + chunk (n < k, kk + chunk ≤ kdim, both multiples of a
                // chunk) lies inside the k·kdim weights checked at entry, aligned.
                unsafe {
                    mma::cp_async_16(
                        smem + (slab + t * b_slice + tile_off(KB, row, ch)) as u32,
                        src as *const u8,
                        if ok { 16 } else { 0 },
                    )
                };
            }
        }
    }

    // The A loader walks (tile, slice) in order: the tap advances by additions within a tile
    // and restarts at this thread's first chunk for the next one.
    let (c32, ksx32, bk32) = (g.c as u32, g.ksx as u32, bk as u32);
    let kk0 = (ch * lanes) as u32;
    let (ty0, tx0, ci0) = {
        let tap = kk0 / c32;
        (tap / ksx32, tap % ksx32, kk0 % c32)
    };
    let (h32, w32) = (g.h as u32, g.w as u32);
    let mut a_off = [0isize; MAX_LOADS];
    let mut a_y0 = [OUTSIDE; MAX_LOADS];
    let mut a_x0 = [0i32; MAX_LOADS];
    let (mut kk, mut ty, mut tx, mut ci) = (kdim32, 0u32, 0u32, 0u32);
    let mut ltile = first;
    let mut lslice = nt;
    let mut load = |stage: u32| {
        if lslice == nt {
            // Next tile: its window corners, the tap back at this thread's first chunk.
            window_corners(
                &g,
                ltile * bm as u32,
                r0 as u32,
                row_step as u32,
                a_loads,
                &mut a_off,
                &mut a_y0,
                &mut a_x0,
            );
            (kk, ty, tx, ci) = (kk0, ty0, tx0, ci0);
            lslice = 0;
            ltile += step;
        }
        let in_k = kk < kdim32;
        load_a_slice!(stage, KB, px, g; r0, row_step, ch, a_loads; a_off, a_y0, a_x0;
            ty, tx, ci; in_k, h32, w32);
        next_tap!(kk, ty, tx, ci; bk32, c32, ksx32);
        lslice += 1;
    };

    let warp = tid / 32;
    let lane = tid % 32;
    let (wm, wn) = (warp / WN, warp % WN);
    let total = my_tiles * nt;
    for s in 0..STAGES - 1 {
        if s < total {
            load(smem + (s * a_stage) as u32);
        }
        cp_async_commit();
    }
    let (bias, res) = (Input::new(bias), Input::new(res));
    let mut acc = [[[0.0f32; 4]; NI]; MI];
    let mut read = 0usize;
    let mut write = STAGES - 1;
    let mut slice = 0usize;
    let mut tile = first as usize;
    for t in 0..total {
        // Slice t has landed (one group per slice, empty past the end; the slab came with the
        // first).
        match STAGES {
            2 => cp_async_wait::<0>(),
            3 => cp_async_wait::<1>(),
            _ => cp_async_wait::<2>(),
        }
        gpu::sync_threads();
        if t + STAGES - 1 < total {
            load(smem + (write * a_stage) as u32);
        }
        cp_async_commit();
        let st = smem + (read * a_stage) as u32;
        let sb = smem + (slab + slice * b_slice) as u32;
        // SAFETY: the stage's A tile (bm rows) at `st` and slab slice `slice` (bn rows, slice <
        // nt) at `sb` lie inside the dynamic shared memory checked at entry, landed (wait +
        // barrier above); the loop bounds are uniform, so the whole warp is converged here.
        unsafe { mma_slice::<T, MI, NI, KB>(st, sb, wm, wn, lane, &mut acc) };
        read = if read + 1 == STAGES { 0 } else { read + 1 };
        write = if write + 1 == STAGES { 0 } else { write + 1 };
        slice += 1;
        if slice == nt {
            // The tile is done: its epilogue runs while the next tile's first slices land.
            let row_w = tile * bm + wm * MI * 16 + lane / 4;
            let col_w = n0 + wn * NI * 8 + (lane % 4) * 2;
            // SAFETY: pixel tile `tile` of out-channel block n0 belongs to this block alone
            // (tiles are strided by the grid); each lane stores only its fragment positions.
            unsafe {
                store_tile::<T, MI, NI>(
                    &mut out,
                    &acc,
                    (row_w, col_w),
                    (m_total, g.k),
                    &bias,
                    &res,
                    relu,
                )
            };
            acc = [[[0.0f32; 4]; NI]; MI];
            slice = 0;
            tile += step as usize;
        }
    }
    cp_async_wait::<0>();
}

/// One K slice of a warp's MMA tiles: `MI` A fragments from the A tile at shared address `a`,
/// `NI` B fragments from the B tile at `b` (both `KB`-byte rows swizzled by [`tile_off`]),
/// multiplied into `acc`. Warp (`wm`, `wn`) covers A rows `wm·MI·16..` and B rows `wn·NI·8..`.
///
/// # Safety
/// Both tiles lie inside this block's shared memory with at least `(wm + 1)·MI·16` and
/// `(wn + 1)·NI·8` rows, 16-byte aligned, and are not written during the call; the whole warp
/// calls this converged (ldmatrix and mma are warp-wide).
#[inline(always)]
unsafe fn mma_slice<T: ConvAct, const MI: usize, const NI: usize, const KB: usize>(
    a: u32,
    b: u32,
    wm: usize,
    wn: usize,
    lane: usize,
    acc: &mut [[[f32; 4]; NI]; MI],
) {
    unroll!(ks in [0, 1, 2, 3] {
        if ks < KB / 32 {
            let mut af = [[0u32; 4]; MI];
            unroll!(mi in [0, 1, 2, 3] {
                if mi < MI {
                    let row = wm * MI * 16 + mi * 16 + lane % 16;
                    let off = tile_off(KB, row, ks * 2 + lane / 16);
                    // SAFETY: a 16-byte aligned chunk of the A tile (row and chunk < KB / 16
                    // inside it, by the caller's contract); the warp is converged.
                    af[mi] = unsafe { mma::ldmatrix_x4(a + off as u32) };
                }
            });
            let mut bf = [[0u32; 2]; NI];
            unroll!(nj in [0, 1, 2, 3] {
                if nj < NI / 2 {
                    let row = wn * NI * 8 + nj * 16 + lane % 8 + 8 * (lane / 16);
                    let off = tile_off(KB, row, ks * 2 + (lane / 8) % 2);
                    // SAFETY: as for A, in the B tile.
                    let r = unsafe { mma::ldmatrix_x4(b + off as u32) };
                    bf[2 * nj] = [r[0], r[1]];
                    bf[2 * nj + 1] = [r[2], r[3]];
                }
            });
            unroll!(mi in [0, 1, 2, 3] {
                unroll!(ni in [0, 1, 2, 3, 4, 5, 6, 7] {
                    if mi < MI && ni < NI {
                        // SAFETY: the whole warp executes this (the caller's contract).
                        acc[mi][ni] = unsafe { T::mma_step(af[mi], bf[ni], acc[mi][ni]) };
                    }
                });
            });
        }
    });
}

/// Writes a warp's finished MMA tiles with the fused epilogue: `acc[mi][ni]` holds rows `g` and
/// `g + 8`, columns `2t` and `2t + 1` of MMA tile (mi, ni), at output row `row_w + mi·16` and
/// column `col_w + ni·8` of the `m_total` × `k` output; each value plus its column's bias, plus
/// the residual at the same position (when `res` is not empty), then ReLU when `relu`. Column
/// pairs outermost, so that each lane reads its two bias values once for its `MI` × 2 rows;
/// bias and residual through the read-only path.
///
/// # Safety
/// No other thread accesses this lane's output positions during the launch.
#[inline(always)]
unsafe fn store_tile<T: ConvAct, const MI: usize, const NI: usize>(
    out: &mut OutSlice<T, Manual>,
    acc: &[[[f32; 4]; NI]; MI],
    (row_w, col_w): (usize, usize),
    (m_total, k): (usize, usize),
    bias: &Input<'_, f32>,
    res: &Input<'_, T>,
    relu: bool,
) {
    let has_res = !res.is_empty();
    unroll!(ni in [0, 1, 2, 3, 4, 5, 6, 7] {
        let col = col_w + ni * 8;
        if ni < NI && col < k {
            let two = col + 1 < k;
            let b = [bias.get(col), if two { bias.get(col + 1) } else { 0.0 }];
            unroll!(mi in [0, 1, 2, 3] {
                unroll!(h in [0, 1] {
                    let row = row_w + mi * 16 + h * 8;
                    if mi < MI && row < m_total {
                        let i = row * k + col;
                        let v = [acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]];
                        let f = |j: usize| {
                            let mut y = v[j] + b[j];
                            if has_res {
                                y += res.get(i + j).to_f32();
                            }
                            if relu && y < 0.0 { 0.0 } else { y }
                        };
                        let y0 = f(0);
                        let y1 = if two { f(1) } else { 0.0 };
                        // SAFETY: (row, col..col + 2) is this lane's (the caller's contract).
                        unsafe { store_pair(out, i, two, T::from_f32(y0), T::from_f32(y1)) };
                    }
                });
            });
        }
    });
}

/// Stores `a` at `out[i]` and, when `two`, `b` at `out[i + 1]`: one 32-bit (halves) or 64-bit
/// (f32) store when both are in bounds and the pair is aligned to its size.
///
/// # Safety
/// No other thread accesses `out[i]` (or `out[i + 1]` when `two`) during the launch.
#[inline(always)]
unsafe fn store_pair<T: ConvAct>(out: &mut OutSlice<T, Manual>, i: usize, two: bool, a: T, b: T) {
    if two && i + 2 <= out.len() {
        // SAFETY: `i + 2 <= len`.
        let p = unsafe { out.as_mut_ptr().add(i) };
        let size = core::mem::size_of::<T>();
        if (p as usize) % (2 * size) == 0 {
            if size == 2 {
                let w = a.bits() | b.bits() << 16;
                // SAFETY: 4 aligned bytes inside the output that this thread alone accesses (the
                // caller's contract); element i is the low half (little endian).
                unsafe { *(p as *mut u32) = w };
            } else {
                // SAFETY: as above, 8 aligned bytes (two f32s).
                unsafe { *(p as *mut Words2) = Words2([a.bits(), b.bits()]) };
            }
            return;
        }
    }
    // SAFETY: bounds-checked by `claim_mut`; exclusive by the caller's contract.
    unsafe {
        *out.claim_mut(i) = a;
        if two {
            *out.claim_mut(i + 1) = b;
        }
    }
}

/// 8 bytes at an 8-byte aligned address: one 64-bit store.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct Words2([u32; 2]);

/// Convolution (NHWC) with fused bias/residual/ReLU epilogue as an implicit GEMM on the tensor
/// cores (see the module docs), tile `big` (128 × 128). `x`: images × h × w × c (c a multiple of
/// 8); `wt`: k × ky × kx × c; window ky × kx, strides (sy, sx), zero padding (py, px); `bias`: k
/// (f32); `res`: empty or the output's shape; `relu` ≠ 0 applies max(·, 0) last. Grid (⌈m / BM⌉, ⌈k / BN⌉, splits) with m = images ×
/// oh × ow; the tile's threads; its `CONV_*_SHARED_BYTES` of dynamic shared memory. With `ws`
/// non-empty, z-slice z writes raw f32 partial sums to `ws[z·m·k ..]` instead of `out` (split-K;
/// finish with [`conv_reduce`]). Instances: element type, K-slice bytes per row (`KB`: 64 with 4
/// stages, the shallow pipeline; 128 with 3, the deep one).
#[kernel(
    launch_bounds(256),
    instances(
        (f16, 64, 4),
        (Bf16, 64, 4),
        (f32, 64, 4),
        (f16, 128, 3),
        (Bf16, 128, 3),
        (f32, 128, 3)
    )
)]
#[allow(clippy::too_many_arguments)]
pub fn conv_big<T: ConvAct, const KB: usize, const STAGES: usize>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ky: u32,
    kx: u32,
    sy: u32,
    sx: u32,
    py: u32,
    px: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<T, Manual>,
    ws: OutSlice<f32, Manual>,
) {
    let g = Geom::new([n, h, w, c, oh, ow, k], [ky, kx, sy, sx, py, px]);
    conv_body::<T, 4, 2, 2, 8, KB, STAGES>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big`] with tile `c64` (128 × 64), held to 128 registers so that two blocks share an SM.
/// 16-bit storage only: f32's split operands would spill under that cap (the host runs f32's
/// 64-channel layers with tile `small`).
#[kernel(
    launch_bounds(256, 2),
    instances((f16, 64, 4), (Bf16, 64, 4), (f16, 128, 3), (Bf16, 128, 3))
)]
#[allow(clippy::too_many_arguments)]
pub fn conv_c64<T: ConvAct, const KB: usize, const STAGES: usize>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ky: u32,
    kx: u32,
    sy: u32,
    sx: u32,
    py: u32,
    px: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<T, Manual>,
    ws: OutSlice<f32, Manual>,
) {
    let g = Geom::new([n, h, w, c, oh, ow, k], [ky, kx, sy, sx, py, px]);
    conv_body::<T, 4, 2, 2, 4, KB, STAGES>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big`] with tile `w64` (128 × 64, 128 threads, 64 × 32 per warp), the shallow pipeline,
/// 16-bit storage (f32's split operands would not fit three blocks' registers).
#[kernel(launch_bounds(128, 3), instances((f16, 64, 4), (Bf16, 64, 4)))]
#[allow(clippy::too_many_arguments)]
pub fn conv_w64<T: ConvAct, const KB: usize, const STAGES: usize>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ky: u32,
    kx: u32,
    sy: u32,
    sx: u32,
    py: u32,
    px: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<T, Manual>,
    ws: OutSlice<f32, Manual>,
) {
    let g = Geom::new([n, h, w, c, oh, ow, k], [ky, kx, sy, sx, py, px]);
    conv_body::<T, 2, 2, 4, 4, KB, STAGES>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_c64`]'s tile (128 × 64, 8 warps of 32 × 32) with the weights resident in shared
/// memory and persistent blocks (see [`conv_resident_body`]): no split-K (`ws` must be empty,
/// `splits` 1), 16-bit storage; dynamic shared memory: the A ring (`STAGES` × 128 rows × `KB`)
/// plus the weight slab (⌈depth / K slice⌉ × 64 rows × `KB`); grid (at most one block per pixel
/// tile, ⌈k / 64⌉, 1). Instances: the shallow pipeline (64-byte slices, 4 stages) and the deep
/// one with a 2-stage ring ([`CONV_RESIDENT_DEEP_STAGES`]: the 64 × 576 weights of layer 1 and
/// 3 stages would not leave room for two blocks an SM).
#[kernel(
    launch_bounds(256, 2),
    instances((f16, 64, 4), (Bf16, 64, 4), (f16, 128, 2), (Bf16, 128, 2))
)]
#[allow(clippy::too_many_arguments)]
pub fn conv_c64r<T: ConvAct, const KB: usize, const STAGES: usize>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ky: u32,
    kx: u32,
    sy: u32,
    sx: u32,
    py: u32,
    px: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<T, Manual>,
    ws: OutSlice<f32, Manual>,
) {
    if !ws.is_empty() {
        trap();
    }
    let g = Geom::new([n, h, w, c, oh, ow, k], [ky, kx, sy, sx, py, px]);
    conv_resident_body::<T, 4, 2, 2, 4, KB, STAGES>(
        x,
        wt,
        bias,
        res,
        g,
        relu != 0,
        splits as usize,
        out,
    )
}

/// [`conv_w64`]'s tile (128 × 64, 4 warps of 64 × 32) with the weights resident and persistent
/// blocks, as [`conv_c64r`].
#[kernel(launch_bounds(128, 3), instances(f16, Bf16))]
#[allow(clippy::too_many_arguments)]
pub fn conv_w64r<T: ConvAct>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ky: u32,
    kx: u32,
    sy: u32,
    sx: u32,
    py: u32,
    px: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<T, Manual>,
    ws: OutSlice<f32, Manual>,
) {
    if !ws.is_empty() {
        trap();
    }
    let g = Geom::new([n, h, w, c, oh, ow, k], [ky, kx, sy, sx, py, px]);
    conv_resident_body::<T, 2, 2, 4, 4, CONV_KB, CONV_STAGES>(
        x,
        wt,
        bias,
        res,
        g,
        relu != 0,
        splits as usize,
        out,
    )
}

/// [`conv_big`] with tile `small` (64 × 64, 128 threads).
#[kernel(
    launch_bounds(128),
    instances(
        (f16, 64, 4),
        (Bf16, 64, 4),
        (f32, 64, 4),
        (f16, 128, 3),
        (Bf16, 128, 3),
        (f32, 128, 3)
    )
)]
#[allow(clippy::too_many_arguments)]
pub fn conv_small<T: ConvAct, const KB: usize, const STAGES: usize>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ky: u32,
    kx: u32,
    sy: u32,
    sx: u32,
    py: u32,
    px: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<T, Manual>,
    ws: OutSlice<f32, Manual>,
) {
    let g = Geom::new([n, h, w, c, oh, ow, k], [ky, kx, sy, sx, py, px]);
    conv_body::<T, 2, 2, 2, 4, KB, STAGES>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// Split-K finish of a convolution: `out[i] = relu?(Σ_z ws[z·len + i] + bias[i % cols] +
/// res[i])` with `len = out.len()`; `res` empty means none. f32 output is the linear layer's
/// logits.
#[kernel(elements = out, grid_stride, instances(f16, Bf16, f32))]
pub fn conv_reduce<O: ConvAct>(
    ws: &[f32],
    bias: &[f32],
    res: &[O],
    cols: u32,
    splits: u32,
    relu: u32,
    mut out: OutSlice<O, GridStride>,
) {
    if cols == 0 {
        trap();
    }
    let (cols, splits, relu) = (cols as usize, splits as usize, relu != 0);
    let len = out.len();
    for (i, o) in out.grid_stride() {
        let mut y = 0.0f32;
        for z in 0..splits {
            y += ws[z * len + i];
        }
        y += bias[i % cols];
        if !res.is_empty() {
            y += res[i].to_f32();
        }
        if relu && y < 0.0 {
            y = 0.0;
        }
        *o = O::from_f32(y);
    }
}

/// Elements `i .. i + 8` of `x` widened to f32 (16-byte loads when aligned; `i + 8 <= len`).
#[inline(always)]
fn load8<T: ConvAct>(x: &Input<'_, T>, i: usize) -> [f32; 8] {
    x.items::<8>(i).map(|v| v.to_f32())
}

/// Eight f32s rounded to `T`, stored as a thread's group of the output (16-byte stores when
/// the launch's alignment allows).
#[inline(always)]
fn store8<T: ConvAct>(out: &mut OutSlice<T, PerThread<8>>, v: [f32; 8]) {
    if let Some(mut o) = out.thread_items() {
        o.store(v.map(T::from_f32));
    }
}

/// 3×3 max pooling, stride 2, padding 1 (padding never wins, as in PyTorch), NHWC with
/// `c % 8 == 0`: thread `t` computes channels `8 (t % (c/8)) ..` of output pixel `t / (c/8)`,
/// which are its group of 8 in the output.
#[kernel(elements = out, launch_bounds(256), instances(f16, Bf16, f32))]
#[allow(clippy::too_many_arguments)]
pub fn maxpool3s2<T: ConvAct>(
    x: &[T],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    mut out: OutSlice<T, PerThread<8>>,
) {
    let (n, h, w, c, oh, ow) = (
        n as usize,
        h as usize,
        w as usize,
        c as usize,
        oh as usize,
        ow as usize,
    );
    if c % 8 != 0 {
        trap();
    }
    let groups = c / 8;
    let total = n * oh * ow * groups;
    let t = gpu::global_linear_id();
    if t >= total {
        return;
    }
    let xi = Input::new(x);
    // 32-bit divisions when the index fits (ResNet's batch 256 has 6.4M threads): a 64-bit
    // division by a run-time value is a ~70-instruction subroutine.
    let (cg, img, oy, ox) = if total <= u32::MAX as usize {
        let (t, groups, opix, ow) = (t as u32, groups as u32, (oh * ow) as u32, ow as u32);
        let p = t / groups;
        let img = p / opix;
        let q = p - img * opix;
        let oy = q / ow;
        (
            (t - p * groups) as usize,
            img as usize,
            oy as usize,
            (q - oy * ow) as usize,
        )
    } else {
        let p = t / groups;
        let img = p / (oh * ow);
        let q = p - img * oh * ow;
        let oy = q / ow;
        (t - p * groups, img, oy, q - oy * ow)
    };
    let mut m = [f32::NEG_INFINITY; 8];
    for dy in 0..3 {
        let iy = (oy * 2 + dy) as isize - 1;
        if iy < 0 || iy as usize >= h {
            continue;
        }
        for dx in 0..3 {
            let ix = (ox * 2 + dx) as isize - 1;
            if ix < 0 || ix as usize >= w {
                continue;
            }
            let v = load8(
                &xi,
                ((img * h + iy as usize) * w + ix as usize) * c + cg * 8,
            );
            for j in 0..8 {
                m[j] = if v[j] > m[j] { v[j] } else { m[j] };
            }
        }
    }
    // Output pixel p, channels 8 cg .. 8 cg + 8: elements 8t .. 8t + 8.
    store8(&mut out, m);
}

/// Global average pooling NHWC → (images × c), `c % 8 == 0`: thread `t` averages channels
/// `8 (t % (c/8)) ..` of image `t / (c/8)` (its group of 8 in the output) over its `hw` pixels,
/// in f32.
#[kernel(elements = out, launch_bounds(256), instances(f16, Bf16, f32))]
pub fn avgpool<T: ConvAct>(x: &[T], n: u32, hw: u32, c: u32, mut out: OutSlice<T, PerThread<8>>) {
    let (n, hw, c) = (n as usize, hw as usize, c as usize);
    if c % 8 != 0 || hw == 0 {
        trap();
    }
    let groups = c / 8;
    let t = gpu::global_linear_id();
    if t >= n * groups {
        return;
    }
    let xi = Input::new(x);
    let cg = t % groups;
    let img = t / groups;
    let mut s = [0.0f32; 8];
    for p in 0..hw {
        let v = load8(&xi, (img * hw + p) * c + cg * 8);
        for j in 0..8 {
            s[j] += v[j];
        }
    }
    let inv = 1.0 / hw as f32;
    for sj in s.iter_mut() {
        *sj *= inv;
    }
    // Image img, channels 8 cg .. 8 cg + 8: elements 8t .. 8t + 8.
    store8(&mut out, s);
}

/// u8 RGB pixels (NHWC, 3 channels, images × h × w) → normalised `(v / 255 − mean[ch]) /
/// std[ch]` in 4 channels (the 4th zero) and `wp` = w rounded up to even columns (a last zero
/// column when w is odd). The result read as NHWC with `wp / 2` columns of 8 channels holds pixel
/// pairs: the first convolution (7 × 7, stride 2) runs over them as a 7 × 4 kernel with stride
/// (2, 1) and 16-byte chunks of real data (3 of 8 channels zero; with 8 channels per pixel it
/// was 5 of 8). `norm` = mean[0..3] then std[0..3]. One thread per pixel pair.
#[kernel(elements = out, launch_bounds(256), instances(f16, Bf16, f32))]
pub fn input_u8<T: ConvAct>(img: &[u8], norm: &[f32], w: u32, mut out: OutSlice<T, PerThread<8>>) {
    let w = w as usize;
    let wp = w.next_multiple_of(2);
    if w == 0 || img.len() % (3 * w) != 0 || out.len() != img.len() / (3 * w) * wp * 4 {
        trap();
    }
    let pairs = out.len() / 8;
    let t = gpu::global_linear_id();
    if t >= pairs {
        return;
    }
    // A 32-bit division when the index fits (see `maxpool3s2`).
    let row = if 2 * t <= u32::MAX as usize && wp <= u32::MAX as usize {
        ((2 * t) as u32 / wp as u32) as usize
    } else {
        (2 * t) / wp
    };
    let x0 = 2 * t - row * wp;
    let mut v = [0.0f32; 8];
    for q in 0..2 {
        if x0 + q < w {
            let src = 3 * (row * w + x0 + q);
            for ch in 0..3 {
                v[4 * q + ch] = (img[src + ch] as f32 * (1.0 / 255.0) - norm[ch]) / norm[3 + ch];
            }
        }
    }
    // Pixel pair t: elements 8t .. 8t + 8.
    store8(&mut out, v);
}
