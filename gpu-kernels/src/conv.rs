//! Convolutional-network kernels over NHWC activations in f16 or [`Bf16`] storage with f32
//! arithmetic: convolution as an implicit GEMM on the tensor cores (batch norm folded into the
//! weights on the host, fused bias + residual + ReLU epilogue, optional split-K), 3×3 max
//! pooling, global average pooling, and the u8 image → normalised input conversion. Together with
//! the convolution run as a 1×1 "linear layer" they are everything ResNet-18 inference needs.
//!
//! Convolution as a GEMM: C (M × K_out) = A (M × Kdim) · Bᵀ where M = images × out-height ×
//! out-width (one row per output pixel, which is exactly the NHWC output), Kdim = kernel-height ×
//! kernel-width × in-channels, A is the im2col matrix (never stored: each 16-byte chunk of 8
//! channels of one tap is copied straight from the input with `cp.async`, or zero-filled in the
//! padding), and B is the weight tensor stored `[out-channel][ky][kx][in-channel]`, i.e. K_out
//! rows of Kdim contiguous elements. In-channels must be a multiple of 8 (so a chunk never
//! straddles two taps; the network pads its 3-channel input to 8 with zeros).
//!
//! Design (sm_80+ `mma.sync.m16n8k16`, f32 accumulation), shared by three tile shapes:
//! - A block computes BM × BN of C with 32-deep K slices in a [`CONV_STAGES`]-stage ring of
//!   cp.async copies (or 64-deep slices in [`CONV_DEEP_STAGES`] stages: `conv_*k_*`); each
//!   warp owns a (16·MI) × (8·NI) tile = MI × NI MMA tiles.
//! - A and B tiles share one shared layout: rows of 32 elements (64 bytes = 4 chunks of 16 bytes),
//!   chunk `c` of row `r` stored at chunk `c ^ ((r >> 1) & 3)` (64-deep rows: 8 chunks, at
//!   `c ^ (r & 7)`), so each 8-lane phase of an `ldmatrix` (8 consecutive rows, one logical
//!   chunk) hits 8 distinct 16-byte bank groups.
//!   A fragments come from `ldmatrix.x4` on pixel rows; B fragments from `ldmatrix.x4` (no
//!   transpose) on out-channel rows, which is the `.col` B operand directly.
//! - One barrier per K slice: wait for slice t, barrier (slice t visible; every warp is done with
//!   slice t − 1), queue the copies of slice t + STAGES − 1 into slice t − 1's stage, compute t.
//! - Epilogue: `out = relu?(acc + bias[n] + residual[m][n])` rounded to the storage type, pairs
//!   of channels stored as one 32-bit word. With split-K (`ws` non-empty) each z-slice of the
//!   grid instead writes its raw f32 partial sums to `ws[z]`, and [`conv_reduce_f16`] and
//!   friends add the slices and apply the same epilogue (or write f32, for the final logits).
use gpukit_device::mma::{self, MmaInput};
use gpukit_device::shared_vec::{cp_async_commit, cp_async_wait};
use gpukit_device::{self as gpu, Bf16, OutSlice, Quads, kernel};

/// Two pipelines exist. The default one: 32-deep K slices in 4 shared-memory stages.
pub const CONV_BK: usize = 32;
pub const CONV_STAGES: usize = 4;
/// The deep one (kernels `conv_*k_*`): 64-deep K slices in 3 stages, half the barriers and
/// address arithmetic per multiply-add (`c64k` is held to 128 registers so two blocks fit on an
/// SM; `bigk` needs about 234 and would spill).
pub const CONV_DEEP_BK: usize = 64;
pub const CONV_DEEP_STAGES: usize = 3;

/// Tile shape `big`: 128 pixels × 128 out-channels, 256 threads (8 warps as 4 × 2).
pub const CONV_BIG_BM: usize = 128;
pub const CONV_BIG_BN: usize = 128;
pub const CONV_BIG_THREADS: usize = 256;
/// Tile shape `c64`: 128 pixels × 64 out-channels, 256 threads (8 warps as 4 × 2), for the
/// 64-channel layers.
pub const CONV_C64_BM: usize = 128;
pub const CONV_C64_BN: usize = 64;
pub const CONV_C64_THREADS: usize = 256;
/// Tile shape `small`: 64 pixels × 64 out-channels, 128 threads (4 warps as 2 × 2), for small
/// images counts (with split-K).
pub const CONV_SMALL_BM: usize = 64;
pub const CONV_SMALL_BN: usize = 64;
pub const CONV_SMALL_THREADS: usize = 128;

/// Dynamic shared memory (bytes) of each tile shape and pipeline: stages × (BM + BN) rows of
/// BK 2-byte elements.
pub const CONV_BIG_SHARED_BYTES: usize = CONV_STAGES * (CONV_BIG_BM + CONV_BIG_BN) * CONV_BK * 2;
pub const CONV_C64_SHARED_BYTES: usize = CONV_STAGES * (CONV_C64_BM + CONV_C64_BN) * CONV_BK * 2;
pub const CONV_SMALL_SHARED_BYTES: usize =
    CONV_STAGES * (CONV_SMALL_BM + CONV_SMALL_BN) * CONV_BK * 2;
pub const CONV_BIG_DEEP_SHARED_BYTES: usize =
    CONV_DEEP_STAGES * (CONV_BIG_BM + CONV_BIG_BN) * CONV_DEEP_BK * 2;
pub const CONV_C64_DEEP_SHARED_BYTES: usize =
    CONV_DEEP_STAGES * (CONV_C64_BM + CONV_C64_BN) * CONV_DEEP_BK * 2;
pub const CONV_SMALL_DEEP_SHARED_BYTES: usize =
    CONV_DEEP_STAGES * (CONV_SMALL_BM + CONV_SMALL_BN) * CONV_DEEP_BK * 2;

/// Threads of the element-wise kernels (pooling, input, reduction) per block.
pub const CONV_ELEM_THREADS: usize = 256;

/// 16-bit storage types of activations and weights.
pub trait Act16: MmaInput {
    fn from_f32(x: f32) -> Self;
    fn to_f32(self) -> f32;
    fn from_bits16(b: u16) -> Self;
}

impl Act16 for f16 {
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x as f16
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn from_bits16(b: u16) -> Self {
        f16::from_bits(b)
    }
}

impl Act16 for Bf16 {
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        Bf16::from_f32(x)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        Bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_bits16(b: u16) -> Self {
        Bf16::from_bits(b)
    }
}

/// Output element types of the split-K reduction: the activation types and f32 (logits).
pub trait OutElem: Copy {
    fn from_f32(x: f32) -> Self;
    fn to_f32(self) -> f32;
}

impl OutElem for f16 {
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x as f16
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
}

impl OutElem for Bf16 {
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        Bf16::from_f32(x)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        Bf16::to_f32(self)
    }
}

impl OutElem for f32 {
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

#[inline(always)]
fn trap() -> ! {
    // SAFETY: `trap` aborts the kernel; no memory is touched.
    unsafe { core::arch::asm!("trap;", options(noreturn, nostack)) }
}

/// Byte offset of logical chunk `c` of row `r` in a tile whose rows hold `bk` elements
/// (swizzled, see the module docs: with 4 chunks a row, rows r and r + 1 share a 128-byte line
/// and the XOR uses `(r >> 1) & 3`; with 8 chunks a row fills a line and it uses `r & 7`).
#[inline(always)]
const fn tile_off(bk: usize, r: usize, c: usize) -> usize {
    let swz = if bk == 32 { (r >> 1) & 3 } else { r & 7 };
    r * bk * 2 + ((c ^ swz) << 4)
}

/// Shape of one convolution (all NHWC; square kernels).
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
    /// Kernel size, stride, zero padding.
    ks: usize,
    stride: usize,
    pad: usize,
}

impl Geom {
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn new(
        n: u32,
        h: u32,
        w: u32,
        c: u32,
        oh: u32,
        ow: u32,
        k: u32,
        ks: u32,
        stride: u32,
        pad: u32,
    ) -> Geom {
        Geom {
            n: n as usize,
            h: h as usize,
            w: w as usize,
            c: c as usize,
            oh: oh as usize,
            ow: ow as usize,
            k: k as usize,
            ks: ks as usize,
            stride: stride as usize,
            pad: pad as usize,
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
        self.ks * self.ks * self.c
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

/// The most 16-byte chunks one thread copies per stage for A or B (all shapes here: ≤ 4).
const MAX_LOADS: usize = 4;

/// The shared body of every convolution kernel. `WM`/`WN`: warps along pixels / out-channels;
/// `MI`/`NI`: 16-row / 8-column MMA tiles per warp.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn conv_body<
    T: Act16,
    const WM: usize,
    const WN: usize,
    const MI: usize,
    const NI: usize,
    const BK: usize,
    const STAGES: usize,
>(
    x: &[T],
    wt: &[T],
    bias: &[f32],
    res: &[T],
    g: Geom,
    relu: bool,
    splits: usize,
    mut out: OutSlice<T>,
    mut ws: OutSlice<f32>,
) {
    let threads = WM * WN * 32;
    let bm = WM * MI * 16;
    let bn = WN * NI * 8;
    // 16-byte chunks per tile row.
    let chunks = BK / 8;
    let a_loads = bm * chunks / threads;
    let b_loads = bn * chunks / threads;
    let a_stage = bm * BK * 2;
    let stage_bytes = (bm + bn) * BK * 2;
    let smem = gpu::dynamic_shared::<u16>();
    if gpu::block_dim().x as usize != threads
        || !(BK == 32 || BK == 64)
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
    let tiles = kdim.div_ceil(BK);
    let per = tiles.div_ceil(splits);
    let t0 = (z * per).min(tiles);
    let t1 = (t0 + per).min(tiles);

    // Copy mapping: thread copies chunk `ch` of tile rows `r0 + i * row_step`. Row steps are
    // multiples of 8, so a thread's rows share one swizzle.
    let ch = tid % chunks;
    let r0 = tid / chunks;
    let row_step = threads / chunks;

    // Per A row: image base offset, top-left input coordinate of its window, validity.
    let mut a_base = [0usize; MAX_LOADS];
    let mut a_y0 = [0isize; MAX_LOADS];
    let mut a_x0 = [0isize; MAX_LOADS];
    let mut a_ok = [false; MAX_LOADS];
    let opix = g.oh * g.ow;
    for i in 0..MAX_LOADS {
        let m = m0 + r0 + i * row_step;
        if i < a_loads && m < m_total {
            let img = m / opix;
            let p = m - img * opix;
            let oy = p / g.ow;
            let ox = p - oy * g.ow;
            a_base[i] = img * g.h * g.w * g.c;
            a_y0[i] = (oy * g.stride) as isize - g.pad as isize;
            a_x0[i] = (ox * g.stride) as isize - g.pad as isize;
            a_ok[i] = true;
        }
    }
    let (px, pw) = (x.as_ptr(), wt.as_ptr());
    let load = |stage: u32, kt: usize| {
        let kk = kt * BK + ch * 8;
        let in_k = kk < kdim;
        let tap = kk / g.c;
        let ci = kk - tap * g.c;
        let ty = tap / g.ks;
        let tx = tap - ty * g.ks;
        for i in 0..MAX_LOADS {
            if i < a_loads {
                let iy = a_y0[i] + ty as isize;
                let ix = a_x0[i] + tx as isize;
                let inside = a_ok[i]
                    && in_k
                    && iy >= 0
                    && (iy as usize) < g.h
                    && ix >= 0
                    && (ix as usize) < g.w;
                let idx = if inside {
                    a_base[i] + ((iy as usize) * g.w + ix as usize) * g.c + ci
                } else {
                    0
                };
                let ok = inside && idx + 8 <= x.len();
                let src = if ok { px.wrapping_add(idx) } else { px };
                // SAFETY: the destination is this thread's 16-byte chunk of row `r0 + i *
                // row_step` in the stage's A tile (16-byte aligned: dynamic shared memory is,
                // offsets are multiples of 16; inside the size checked at entry), which no other
                // thread writes and no warp reads before the wait + barrier that follow. When
                // `ok`, the 8 elements from `idx` are inside `x` (checked just above) and 16-byte
                // aligned (aligned base, `c % 8 == 0`, `ci % 8 == 0`); otherwise 0 bytes are
                // read. Inputs are not written during a launch.
                unsafe {
                    mma::cp_async_16(
                        stage + tile_off(BK, r0 + i * row_step, ch) as u32,
                        src as *const u8,
                        if ok { 16 } else { 0 },
                    )
                };
            }
        }
        for i in 0..MAX_LOADS {
            if i < b_loads {
                let row = r0 + i * row_step;
                let n = n0 + row;
                let idx = n * kdim + kk;
                let ok = n < g.k && in_k && idx + 8 <= wt.len();
                let src = if ok { pw.wrapping_add(idx) } else { pw };
                // SAFETY: as for A: this thread's chunk of the stage's B tile; when `ok` the 8
                // weights from `idx` are inside `wt` and aligned (`kdim` and `kk` multiples of 8).
                unsafe {
                    mma::cp_async_16(
                        stage + (a_stage + tile_off(BK, row, ch)) as u32,
                        src as *const u8,
                        if ok { 16 } else { 0 },
                    )
                };
            }
        }
    };

    let warp = tid / 32;
    let lane = tid % 32;
    let (wm, wn) = (warp / WN, warp % WN);
    let mut acc = [[[0.0f32; 4]; NI]; MI];
    let nt = t1 - t0;
    for s in 0..STAGES - 1 {
        if s < nt {
            load(smem + (s * stage_bytes) as u32, t0 + s);
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
            load(smem + (write * stage_bytes) as u32, t0 + next);
        }
        cp_async_commit();
        let st = smem + (read * stage_bytes) as u32;
        unroll!(ks in [0, 1, 2, 3] {
            if ks < BK / 16 {
                let mut af = [[0u32; 4]; MI];
                unroll!(mi in [0, 1, 2, 3] {
                    if mi < MI {
                        let row = wm * MI * 16 + mi * 16 + lane % 16;
                        let off = tile_off(BK, row, ks * 2 + lane / 16);
                        // SAFETY: a 16-byte aligned chunk of the stage's A tile (row < bm,
                        // chunk < BK / 8), inside the checked dynamic shared memory; the whole
                        // warp executes this (uniform loop bounds, no divergent branch around
                        // the K loop).
                        af[mi] = unsafe { mma::ldmatrix_x4(st + off as u32) };
                    }
                });
                let mut bf = [[0u32; 2]; NI];
                unroll!(nj in [0, 1, 2, 3] {
                    if nj < NI / 2 {
                        let row = wn * NI * 8 + nj * 16 + lane % 8 + 8 * (lane / 16);
                        let off = a_stage + tile_off(BK, row, ks * 2 + (lane / 8) % 2);
                        // SAFETY: as for A, in the stage's B tile (row < bn).
                        let r = unsafe { mma::ldmatrix_x4(st + off as u32) };
                        bf[2 * nj] = [r[0], r[1]];
                        bf[2 * nj + 1] = [r[2], r[3]];
                    }
                });
                unroll!(mi in [0, 1, 2, 3] {
                    unroll!(ni in [0, 1, 2, 3, 4, 5, 6, 7] {
                        if mi < MI && ni < NI {
                            // SAFETY: the whole warp executes this (converged, see above).
                            acc[mi][ni] = unsafe { T::mma_16816(af[mi], bf[ni], acc[mi][ni]) };
                        }
                    });
                });
            }
        });
        read = if read + 1 == STAGES { 0 } else { read + 1 };
        write = if write + 1 == STAGES { 0 } else { write + 1 };
    }
    cp_async_wait::<0>();

    // Epilogue: acc[mi][ni] holds rows g and g + 8, columns 2t and 2t + 1 of MMA tile (mi, ni).
    let split = !ws.is_empty();
    let row_w = m0 + wm * MI * 16 + lane / 4;
    let col_w = n0 + wn * NI * 8 + (lane % 4) * 2;
    let ws_base = z * m_total * g.k;
    unroll!(mi in [0, 1, 2, 3] {
        unroll!(h in [0, 1] {
            let row = row_w + mi * 16 + h * 8;
            if mi < MI && row < m_total {
                unroll!(ni in [0, 1, 2, 3, 4, 5, 6, 7] {
                    let col = col_w + ni * 8;
                    if ni < NI && col < g.k {
                        let two = col + 1 < g.k;
                        let i = row * g.k + col;
                        let v = [acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]];
                        if split {
                            // SAFETY: (row, col..col + 2) of z-slice `z` belongs to this lane of
                            // this warp of this block alone (blocks own disjoint tiles per z).
                            unsafe {
                                *ws.get_unchecked_mut(ws_base + i) = v[0];
                                if two {
                                    *ws.get_unchecked_mut(ws_base + i + 1) = v[1];
                                }
                            }
                        } else {
                            let f = |j: usize| {
                                let mut y = v[j] + bias[col + j];
                                if !res.is_empty() {
                                    y += res[i + j].to_f32();
                                }
                                if relu && y < 0.0 { 0.0 } else { y }
                            };
                            let y0 = f(0);
                            let y1 = if two { f(1) } else { 0.0 };
                            // SAFETY: as above, for the output.
                            unsafe {
                                store_pair(&mut out, i, two, T::from_f32(y0), T::from_f32(y1))
                            };
                        }
                    }
                });
            }
        });
    });
}

/// Stores `a` at `out[i]` and, when `two`, `b` at `out[i + 1]`: one 32-bit store when both are
/// in bounds and the pair is 4-byte aligned.
///
/// # Safety
/// No other thread accesses `out[i]` (or `out[i + 1]` when `two`) during the launch.
#[inline(always)]
unsafe fn store_pair<T: Act16>(out: &mut OutSlice<T>, i: usize, two: bool, a: T, b: T) {
    if two && i + 2 <= out.len() {
        // SAFETY: `i + 2 <= len`.
        let p = unsafe { out.as_mut_ptr().add(i) };
        if (p as usize) % 4 == 0 {
            let w = a.bits16() as u32 | (b.bits16() as u32) << 16;
            // SAFETY: 4 aligned bytes inside the output that this thread alone accesses (the
            // caller's contract); element i is the low half (little endian).
            unsafe { *(p as *mut u32) = w };
            return;
        }
    }
    // SAFETY: bounds-checked by `get_unchecked_mut`; exclusive by the caller's contract.
    unsafe {
        *out.get_unchecked_mut(i) = a;
        if two {
            *out.get_unchecked_mut(i + 1) = b;
        }
    }
}

/// Convolution (NHWC, square kernel) with fused bias/residual/ReLU epilogue as an implicit
/// GEMM on the tensor cores (see the module docs), f16 storage, the default pipeline, tile `big`
/// (128 × 128). `x`: images × h × w × c (c a multiple of 8); `wt`: k × ks × ks × c; `bias`: k
/// (f32); `res`: empty or the output's shape; `relu` ≠ 0 applies max(·, 0) last. Grid
/// (⌈m / BM⌉, ⌈k / BN⌉, splits) with m = images × oh × ow; the tile's threads; its
/// `CONV_*_SHARED_BYTES` of dynamic shared memory. With `ws` non-empty, z-slice z writes raw f32
/// partial sums to `ws[z·m·k ..]` instead of `out` (split-K; finish with `conv_reduce_*`).
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn conv_big_f16(
    x: &[f16],
    wt: &[f16],
    bias: &[f32],
    res: &[f16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<f16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<f16, 4, 2, 2, 8, 32, 4>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with bf16 storage, the default pipeline, tile `big` (128 × 128).
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn conv_big_bf16(
    x: &[Bf16],
    wt: &[Bf16],
    bias: &[f32],
    res: &[Bf16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<Bf16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<Bf16, 4, 2, 2, 8, 32, 4>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with f16 storage, the default pipeline, tile `c64` (128 × 64).
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn conv_c64_f16(
    x: &[f16],
    wt: &[f16],
    bias: &[f32],
    res: &[f16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<f16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<f16, 4, 2, 2, 4, 32, 4>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with bf16 storage, the default pipeline, tile `c64` (128 × 64).
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn conv_c64_bf16(
    x: &[Bf16],
    wt: &[Bf16],
    bias: &[f32],
    res: &[Bf16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<Bf16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<Bf16, 4, 2, 2, 4, 32, 4>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with f16 storage, the default pipeline, tile `small` (64 × 64).
#[kernel(launch_bounds(128))]
#[allow(clippy::too_many_arguments)]
pub fn conv_small_f16(
    x: &[f16],
    wt: &[f16],
    bias: &[f32],
    res: &[f16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<f16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<f16, 2, 2, 2, 4, 32, 4>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with bf16 storage, the default pipeline, tile `small` (64 × 64).
#[kernel(launch_bounds(128))]
#[allow(clippy::too_many_arguments)]
pub fn conv_small_bf16(
    x: &[Bf16],
    wt: &[Bf16],
    bias: &[f32],
    res: &[Bf16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<Bf16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<Bf16, 2, 2, 2, 4, 32, 4>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with f16 storage, the deep pipeline, tile `big` (128 × 128).
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn conv_bigk_f16(
    x: &[f16],
    wt: &[f16],
    bias: &[f32],
    res: &[f16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<f16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<f16, 4, 2, 2, 8, 64, 3>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with bf16 storage, the deep pipeline, tile `big` (128 × 128).
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn conv_bigk_bf16(
    x: &[Bf16],
    wt: &[Bf16],
    bias: &[f32],
    res: &[Bf16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<Bf16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<Bf16, 4, 2, 2, 8, 64, 3>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with f16 storage, the deep pipeline, tile `c64` (128 × 64).
#[kernel(launch_bounds(256, 2))]
#[allow(clippy::too_many_arguments)]
pub fn conv_c64k_f16(
    x: &[f16],
    wt: &[f16],
    bias: &[f32],
    res: &[f16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<f16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<f16, 4, 2, 2, 4, 64, 3>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with bf16 storage, the deep pipeline, tile `c64` (128 × 64).
#[kernel(launch_bounds(256, 2))]
#[allow(clippy::too_many_arguments)]
pub fn conv_c64k_bf16(
    x: &[Bf16],
    wt: &[Bf16],
    bias: &[f32],
    res: &[Bf16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<Bf16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<Bf16, 4, 2, 2, 4, 64, 3>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with f16 storage, the deep pipeline, tile `small` (64 × 64).
#[kernel(launch_bounds(128))]
#[allow(clippy::too_many_arguments)]
pub fn conv_smallk_f16(
    x: &[f16],
    wt: &[f16],
    bias: &[f32],
    res: &[f16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<f16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<f16, 2, 2, 2, 4, 64, 3>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// [`conv_big_f16`] with bf16 storage, the deep pipeline, tile `small` (64 × 64).
#[kernel(launch_bounds(128))]
#[allow(clippy::too_many_arguments)]
pub fn conv_smallk_bf16(
    x: &[Bf16],
    wt: &[Bf16],
    bias: &[f32],
    res: &[Bf16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    k: u32,
    ks: u32,
    stride: u32,
    pad: u32,
    relu: u32,
    splits: u32,
    out: OutSlice<Bf16>,
    ws: OutSlice<f32>,
) {
    let g = Geom::new(n, h, w, c, oh, ow, k, ks, stride, pad);
    conv_body::<Bf16, 2, 2, 2, 4, 64, 3>(x, wt, bias, res, g, relu != 0, splits as usize, out, ws)
}

/// The split-K finish: `out[i] = relu?(Σ_z ws[z·len + i] + bias[i % cols] + res[i])`.
#[inline(always)]
fn reduce_body<O: OutElem>(
    ws: &[f32],
    bias: &[f32],
    res: &[O],
    cols: usize,
    splits: usize,
    relu: bool,
    out: &mut OutSlice<O>,
) {
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

/// Split-K finish of a convolution, f16 output: `out[i] = relu?(Σ_z ws[z·len + i] +
/// bias[i % cols] + res[i])` with `len = out.len()`; `res` empty means none.
#[kernel(elements = out, grid_stride)]
pub fn conv_reduce_f16(
    ws: &[f32],
    bias: &[f32],
    res: &[f16],
    cols: u32,
    splits: u32,
    relu: u32,
    mut out: OutSlice<f16>,
) {
    if cols == 0 {
        trap();
    }
    reduce_body(
        ws,
        bias,
        res,
        cols as usize,
        splits as usize,
        relu != 0,
        &mut out,
    )
}

/// Split-K finish of a convolution, bf16 output: `out[i] = relu?(Σ_z ws[z·len + i] +
/// bias[i % cols] + res[i])` with `len = out.len()`; `res` empty means none.
#[kernel(elements = out, grid_stride)]
pub fn conv_reduce_bf16(
    ws: &[f32],
    bias: &[f32],
    res: &[Bf16],
    cols: u32,
    splits: u32,
    relu: u32,
    mut out: OutSlice<Bf16>,
) {
    if cols == 0 {
        trap();
    }
    reduce_body(
        ws,
        bias,
        res,
        cols as usize,
        splits as usize,
        relu != 0,
        &mut out,
    )
}

/// Split-K finish of a convolution, f32 output: `out[i] = relu?(Σ_z ws[z·len + i] +
/// bias[i % cols] + res[i])` with `len = out.len()`; `res` empty means none.
#[kernel(elements = out, grid_stride)]
pub fn conv_reduce_f32(
    ws: &[f32],
    bias: &[f32],
    res: &[f32],
    cols: u32,
    splits: u32,
    relu: u32,
    mut out: OutSlice<f32>,
) {
    if cols == 0 {
        trap();
    }
    reduce_body(
        ws,
        bias,
        res,
        cols as usize,
        splits as usize,
        relu != 0,
        &mut out,
    )
}

/// `x` as 16-byte groups of eight 16-bit elements (traps unless `x` starts 16-byte aligned, as
/// every device allocation does; the pooling kernels need `c % 8 == 0` so that every group they
/// read is one of these).
#[inline(always)]
fn groups8<T: Act16>(x: &[T]) -> Quads<'_, u32> {
    match Quads::new(as_words(x)) {
        Some(q) => q,
        None => trap(),
    }
}

/// Group `g` (elements `8g .. 8g + 8`) widened to f32, through one `ld.global.nc.v4`.
#[inline(always)]
fn load8<T: Act16>(x: &Quads<'_, u32>, g: usize) -> [f32; 8] {
    let q = x.get(g);
    let w = |j: usize, hi: bool| T::from_bits16((q[j] >> if hi { 16 } else { 0 }) as u16).to_f32();
    [
        w(0, false),
        w(0, true),
        w(1, false),
        w(1, true),
        w(2, false),
        w(2, true),
        w(3, false),
        w(3, true),
    ]
}

/// A 16-bit slice as its 32-bit words (the last odd element is dropped).
#[inline(always)]
fn as_words<T: Act16>(x: &[T]) -> &[u32] {
    if (x.as_ptr() as usize) % 4 != 0 {
        trap();
    }
    // SAFETY: `T` is a 2-byte plain value (f16 or Bf16); the start is 4-byte aligned (checked),
    // and `len / 2` words cover only elements of `x`.
    unsafe { core::slice::from_raw_parts(x.as_ptr() as *const u32, x.len() / 2) }
}

/// Eight f32s rounded to `T` and stored at `out[i .. i + 8]` with one 16-byte store when
/// aligned (element-wise otherwise, bounds-checked).
///
/// # Safety
/// No other thread accesses `out[i .. i + 8]` during the launch.
#[inline(always)]
unsafe fn store8<T: Act16>(out: &mut OutSlice<T>, i: usize, v: [f32; 8]) {
    if i + 8 <= out.len() {
        // SAFETY: `i + 8 <= len`.
        let p = unsafe { out.as_mut_ptr().add(i) };
        if (p as usize) % 16 == 0 {
            let mut w = [0u32; 4];
            for (j, wj) in w.iter_mut().enumerate() {
                *wj = T::from_f32(v[2 * j]).bits16() as u32
                    | (T::from_f32(v[2 * j + 1]).bits16() as u32) << 16;
            }
            // SAFETY: 16 aligned bytes inside the output, this thread's alone (caller's
            // contract).
            unsafe { *(p as *mut Words4) = Words4(w) };
            return;
        }
    }
    for (j, &y) in v.iter().enumerate() {
        // SAFETY: bounds-checked; exclusive by the caller's contract.
        unsafe { *out.get_unchecked_mut(i + j) = T::from_f32(y) };
    }
}

/// 16 bytes at a 16-byte aligned address: one vector store.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Words4([u32; 4]);

/// 3×3 max pooling, stride 2, padding 1 (padding never wins, as in PyTorch), NHWC with
/// `c % 8 == 0`: thread `t` computes channels `8 (t % (c/8)) ..` of output pixel `t / (c/8)`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn maxpool_body<T: Act16>(
    x: &[T],
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    oh: usize,
    ow: usize,
    out: &mut OutSlice<T>,
) {
    if c % 8 != 0 {
        trap();
    }
    let groups = c / 8;
    let total = n * oh * ow * groups;
    let t = gpu::global_linear_id();
    if t >= total {
        return;
    }
    let xg = groups8(x);
    let cg = t % groups;
    let p = t / groups;
    let img = p / (oh * ow);
    let q = p - img * oh * ow;
    let oy = q / ow;
    let ox = q - oy * ow;
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
            let v = load8::<T>(
                &xg,
                (((img * h + iy as usize) * w + ix as usize) * c) / 8 + cg,
            );
            for j in 0..8 {
                m[j] = if v[j] > m[j] { v[j] } else { m[j] };
            }
        }
    }
    // SAFETY: output pixel p, channels 8 cg .. 8 cg + 8, belong to thread t alone.
    unsafe { store8(out, p * c + cg * 8, m) };
}

/// Global average pooling NHWC → (images × c): thread `t` averages channels `8 (t % (c/8)) ..`
/// of image `t / (c/8)` over its `hw` pixels, in f32.
#[inline(always)]
fn avgpool_body<T: Act16>(x: &[T], n: usize, hw: usize, c: usize, out: &mut OutSlice<T>) {
    if c % 8 != 0 || hw == 0 {
        trap();
    }
    let groups = c / 8;
    let t = gpu::global_linear_id();
    if t >= n * groups {
        return;
    }
    let xg = groups8(x);
    let cg = t % groups;
    let img = t / groups;
    let mut s = [0.0f32; 8];
    for p in 0..hw {
        let v = load8::<T>(&xg, ((img * hw + p) * c) / 8 + cg);
        for j in 0..8 {
            s[j] += v[j];
        }
    }
    let inv = 1.0 / hw as f32;
    for sj in s.iter_mut() {
        *sj *= inv;
    }
    // SAFETY: image img, channels 8 cg .. 8 cg + 8, belong to thread t alone.
    unsafe { store8(out, img * c + cg * 8, s) };
}

/// u8 RGB pixels (NHWC, 3 channels) → normalised `(v / 255 − mean[ch]) / std[ch]` in 8
/// channels (5 zero channels, so the first convolution's depth is a multiple of 8). `norm` =
/// mean[0..3] then std[0..3].
#[inline(always)]
fn input_body<T: Act16>(img: &[u8], norm: &[f32], out: &mut OutSlice<T>) {
    let pixels = img.len() / 3;
    let t = gpu::global_linear_id();
    if t >= pixels {
        return;
    }
    let mut v = [0.0f32; 8];
    for ch in 0..3 {
        v[ch] = (img[3 * t + ch] as f32 * (1.0 / 255.0) - norm[ch]) / norm[3 + ch];
    }
    // SAFETY: pixel t's 8 output channels belong to thread t alone.
    unsafe { store8(out, t * 8, v) };
}

/// 3×3 / stride 2 / padding 1 max pooling over NHWC f16 (`c % 8 == 0`). One thread per 8
/// channels of an output pixel.
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn maxpool3s2_f16(
    x: &[f16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    mut out: OutSlice<f16>,
) {
    maxpool_body(
        x,
        n as usize,
        h as usize,
        w as usize,
        c as usize,
        oh as usize,
        ow as usize,
        &mut out,
    )
}

/// [`maxpool3s2_f16`] for bf16.
#[kernel(launch_bounds(256))]
#[allow(clippy::too_many_arguments)]
pub fn maxpool3s2_bf16(
    x: &[Bf16],
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    mut out: OutSlice<Bf16>,
) {
    maxpool_body(
        x,
        n as usize,
        h as usize,
        w as usize,
        c as usize,
        oh as usize,
        ow as usize,
        &mut out,
    )
}

/// Global average pooling over NHWC f16 (`c % 8 == 0`) into images × c, f32 sums. One thread
/// per 8 channels of an image.
#[kernel(launch_bounds(256))]
pub fn avgpool_f16(x: &[f16], n: u32, hw: u32, c: u32, mut out: OutSlice<f16>) {
    avgpool_body(x, n as usize, hw as usize, c as usize, &mut out)
}

/// [`avgpool_f16`] for bf16.
#[kernel(launch_bounds(256))]
pub fn avgpool_bf16(x: &[Bf16], n: u32, hw: u32, c: u32, mut out: OutSlice<Bf16>) {
    avgpool_body(x, n as usize, hw as usize, c as usize, &mut out)
}

/// u8 RGB NHWC images → normalised f16 with 8 channels (3 real, 5 zero). One thread per pixel.
#[kernel(launch_bounds(256))]
pub fn input_u8_f16(img: &[u8], norm: &[f32], mut out: OutSlice<f16>) {
    input_body(img, norm, &mut out)
}

/// [`input_u8_f16`] for bf16.
#[kernel(launch_bounds(256))]
pub fn input_u8_bf16(img: &[u8], norm: &[f32], mut out: OutSlice<Bf16>) {
    input_body(img, norm, &mut out)
}
