//! Tensor-core GEMM: `C = alpha * A * B + beta * C` with A (m×k) and B (k×n) row-major `f16`
//! or [`Bf16`](gpukit_device::Bf16), C (m×n) row-major `f32`, products accumulated in f32.
//! Any m, n, k; strided batches through `blockIdx.z`.
//!
//! Design (sm_80+ `mma.sync`, no wgmma: the module targets plain sm_90):
//! - Block tile 128 (M) × 256 (N), K slices of 32, 256 threads = 8 warps as 2 (M) × 4 (N), each
//!   warp a 64×64 tile of C = 4 × 8 `mma.sync.m16n8k16` tiles, 128 f32 accumulators per thread
//!   in registers. Per 16-deep step a warp loads 4 A fragments (`ldmatrix.x4`) and 8 B
//!   fragments (4 `ldmatrix.x4.trans`: B stays row-major k×n in shared memory and is transposed
//!   by ldmatrix) and issues 32 MMAs.
//! - Global → shared with 16-byte `cp.async.cg` (zero fill past the matrix edges) in a
//!   4-stage ring of (8 KiB A + 16 KiB B) = 96 KiB of dynamic shared memory; group `g` of
//!   `cp.async.commit_group` holds slice `g`. One barrier per K slice `t`, in the middle of it:
//!   load the fragments of its second 16-deep step, queue the copies of slice `t + 3` into the
//!   stage slice `t - 1` used, commit, issue the first step's MMAs, `cp.async.wait_group 2`
//!   (slice `t + 1` has landed), barrier (slice `t + 1` visible to all; every warp has read
//!   all of slice `t`), load the first step's fragments of slice `t + 1`, issue the second
//!   step's MMAs. So fragment loads always overlap MMAs, and the barrier too.
//! - Shared layout, in 16-byte chunks (8 elements). A stage: 128 rows × 4 chunks, chunk `c` of
//!   row `r` stored at chunk `c ^ ((r >> 1) & 3)`. B stage: 32 k-rows × 32 chunks, chunk `c`
//!   of row `kr` at `c ^ (kr & 7)`. Each 8-lane phase of an ldmatrix reads 8 consecutive rows
//!   at one logical chunk, and each 8-thread phase of the cp.async stores writes 2 rows × 4
//!   chunks (A) or 8 consecutive chunks of one row (B); with the XOR both land on 8 distinct
//!   16-byte bank groups: no bank conflicts.
//! - Edges: the fast path (k and n multiples of 8, 16-byte aligned matrices, every matrix
//!   inside its slice) copies each chunk whole or zero-fills it (16 or 0 source bytes), so rows
//!   past m, columns past n and depths past k contribute zeros. Otherwise (odd k or n,
//!   misaligned batch strides) a slow path loads elements one by one (bounds-checked, zeros
//!   outside) and stores the chunks synchronously into the same layout. The epilogue writes
//!   only in-bounds elements (8-byte stores when aligned); `beta == 0` never reads C.
//! - Block order: blocks are renumbered in groups of 8 row tiles (consecutive blocks walk down
//!   the 8 row tiles of a group, then move one column tile right), so a wave of resident
//!   blocks shares A row panels and B column panels in L2.
//! - Resources (ptxas, sm_90): about 250 registers, no spills, no local memory: one block of
//!   8 warps per SM. SASS: `HMMA.16816.F32[.BF16]`, `LDSM.16.M88.4` / `LDSM.16.MT88.4`,
//!   `LDGSTS.E.BYPASS.128`.
use gpukit_device::mma::{self, MmaInput};
use gpukit_device::shared_vec::{cp_async_commit, cp_async_wait};
use gpukit_device::{self as gpu, Manual, OutSlice, kernel};

/// Block tile: rows of C, columns of C, depth of one K slice.
pub const TC_BM: usize = 128;
pub const TC_BN: usize = 256;
pub const TC_BK: usize = 32;
/// Pipeline depth (shared-memory stages).
pub const TC_STAGES: usize = 4;
/// Threads per block.
pub const TC_THREADS: usize = 256;

/// Warp tile and the MMA tiles inside it.
const WM: usize = 64;
const WN: usize = 64;
const WARPS_N: usize = TC_BN / WN;
const MI: usize = WM / 16;
const NI: usize = WN / 8;
/// Bytes of one stage's A tile (rows × 64 bytes) and B tile (k-rows × 512 bytes).
const A_ROW_BYTES: usize = TC_BK * 2;
const B_ROW_BYTES: usize = TC_BN * 2;
const A_STAGE: usize = TC_BM * A_ROW_BYTES;
const B_STAGE: usize = TC_BK * B_ROW_BYTES;
const STAGE: usize = A_STAGE + B_STAGE;
/// Dynamic shared memory per block (bytes) the kernels need.
pub const TC_SHARED_BYTES: usize = TC_STAGES * STAGE;
/// 16-byte chunks per A row / B row, and chunks each thread copies per stage.
const A_CHUNKS: usize = TC_BK / 8;
const B_CHUNKS: usize = TC_BN / 8;
const A_LOADS: usize = TC_BM * A_CHUNKS / TC_THREADS;
const B_LOADS: usize = TC_BK * B_CHUNKS / TC_THREADS;
/// Row tiles per raster group.
const GROUP_M: u32 = 8;

/// Runs `$body` once per listed value of `$i`, written out: LLVM does not fully unroll loops
/// this large, and an accumulator array indexed by a loop variable would live in local memory.
macro_rules! unroll {
    ($i:ident in [$($v:literal),* $(,)?] $body:block) => {{
        $({
            let $i: usize = $v;
            $body
        })*
    }};
}

const _: () = {
    // The unrolled loops below list 0..MI and 0..NI explicitly.
    assert!(MI == 4 && NI == 8);
    assert!(TC_THREADS == 32 * (TC_BM / WM) * (TC_BN / WN));
    // The A swizzle is written for 4 chunks per row, the B swizzle for a multiple of 8.
    assert!(A_CHUNKS == 4 && B_CHUNKS % 8 == 0);
    assert!(TC_BK % 16 == 0 && TC_THREADS % A_CHUNKS == 0 && TC_THREADS % B_CHUNKS == 0);
    assert!(A_LOADS * TC_THREADS == TC_BM * A_CHUNKS && B_LOADS * TC_THREADS == TC_BK * B_CHUNKS);
    // Each thread's B rows differ by multiples of 8, so they share one swizzle.
    assert!((TC_THREADS / B_CHUNKS) % 8 == 0);
    // Each thread's A rows differ by multiples of 8, so they share one swizzle.
    assert!((TC_THREADS / A_CHUNKS) % 8 == 0);
};

/// Byte offset of logical chunk `c` of row `r` in a stage's A tile.
#[inline(always)]
const fn a_off(r: usize, c: usize) -> usize {
    r * A_ROW_BYTES + ((c ^ ((r >> 1) & 3)) << 4)
}

/// Byte offset of logical chunk `c` of k-row `kr` in a stage's B tile.
#[inline(always)]
const fn b_off(kr: usize, c: usize) -> usize {
    kr * B_ROW_BYTES + ((c ^ (kr & 7)) << 4)
}

#[inline(always)]
fn trap() -> ! {
    gpu::trap()
}

/// C = alpha * A * B + beta * C for row-major A (m×k), B (k×n) of f16 or bf16 and C (m×n, f32),
/// with f32 accumulation on the tensor cores (`mma.sync`, the portable path for sm_80 and
/// later). Launch with [`TC_THREADS`] threads, [`TC_SHARED_BYTES`] of dynamic shared memory and
/// grid (ceil(n / 256), ceil(m / 128), batches); batch `z` uses the matrices at element offsets
/// `z * stride_a`, `z * stride_b`, `z * stride_c`. Any shape; slices shorter than the shapes
/// imply read zeros / skip writes (the host checks them first).
#[kernel(instances(f16, Bf16))]
#[allow(clippy::too_many_arguments)]
pub fn gemm_mma_f32<T: MmaInput>(
    a: &[T],
    b: &[T],
    m: u32,
    n: u32,
    k: u32,
    alpha: f32,
    beta: f32,
    stride_a: u64,
    stride_b: u64,
    stride_c: u64,
    c: OutSlice<f32, Manual>,
) {
    tc_gemm_body(a, b, m, n, k, alpha, beta, stride_a, stride_b, stride_c, c)
}

/// The block's tile (row tile, column tile) after grouped renumbering: linear block id `pid`
/// (x fastest) walks groups of [`GROUP_M`] row tiles, column-major inside a group. A bijection
/// of `0..gx` × `0..gy` onto itself.
#[inline(always)]
fn raster(bx: u32, by: u32, gx: u32, gy: u32) -> (u32, u32) {
    let pid = by * gx + bx;
    let per_group = GROUP_M * gx;
    let group = pid / per_group;
    let first = group * GROUP_M;
    let rows = (gy - first).min(GROUP_M);
    let local = pid - group * per_group;
    (first + local % rows, local / rows)
}

/// `alpha * x` or `alpha * x + beta * old` (BLAS: C is not read when `beta == 0`).
#[inline(always)]
fn scale(x: f32, old: impl FnOnce() -> f32, alpha: f32, beta: f32) -> f32 {
    if beta == 0.0 {
        alpha * x
    } else {
        gpu::math::fma(beta, old(), alpha * x)
    }
}

/// Two f32 at an 8-byte aligned address: one 8-byte store.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct Pair([f32; 2]);

/// Writes `alpha * v + beta * C` to `C[i]`, `C[i + 1]` (only the first when `two` is false),
/// with one 8-byte access when both are written and aligned.
///
/// # Safety
/// No other thread accesses `C[i]` (or `C[i + 1]` when `two`) during the launch.
#[inline(always)]
unsafe fn store2(
    c: &mut OutSlice<f32, Manual>,
    i: usize,
    two: bool,
    v: [f32; 2],
    alpha: f32,
    beta: f32,
) {
    if two && i.checked_add(2).is_some_and(|e| e <= c.len()) {
        // SAFETY: `i + 2 <= len`.
        let p = unsafe { c.as_mut_ptr().add(i) };
        if (p as usize) % 8 == 0 {
            // SAFETY: 8 aligned bytes inside the slice that this thread alone accesses (the
            // caller's contract).
            let q = unsafe { &mut *(p as *mut Pair) };
            let old = q.0;
            q.0 = [
                scale(v[0], || old[0], alpha, beta),
                scale(v[1], || old[1], alpha, beta),
            ];
            return;
        }
    }
    for (j, &x) in v.iter().enumerate() {
        if (j == 0 || two) && i + j < c.len() {
            // SAFETY: in bounds; exclusive by the caller's contract.
            let e = unsafe { c.claim_mut(i + j) };
            *e = scale(x, || *e, alpha, beta);
        }
    }
}

/// The shared body of the two kernels.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tc_gemm_body<T: MmaInput>(
    a: &[T],
    b: &[T],
    m: u32,
    n: u32,
    k: u32,
    alpha: f32,
    beta: f32,
    stride_a: u64,
    stride_b: u64,
    stride_c: u64,
    mut c: OutSlice<f32, Manual>,
) {
    let smem = gpu::dynamic_shared::<u16>();
    if gpu::block_dim().x as usize != TC_THREADS || smem.len() * 2 < TC_SHARED_BYTES {
        // Wrong launch (the host API never does this): stop rather than compute a partial C.
        trap();
    }
    let smem = smem.shared_addr();
    let tid = gpu::thread_idx().x as usize % TC_THREADS;
    let blk = gpu::block_idx();
    let grid = gpu::grid_dim();
    let (tm, tn) = raster(blk.x, blk.y, grid.x, grid.y);
    let (m, n, k) = (m as usize, n as usize, k as usize);
    let z = blk.z as usize;
    let (a_base, b_base, c_base) = (
        z * stride_a as usize,
        z * stride_b as usize,
        z * stride_c as usize,
    );
    let m0 = tm as usize * TC_BM;
    let n0 = tn as usize * TC_BN;
    let tiles = k.div_ceil(TC_BK);

    // Copy mapping. A: thread copies chunk `a_ch` of rows `a_r0 + 64 i`; B: chunk `b_ch` of
    // k-rows `b_r0 + 8 i`.
    let a_ch = tid % A_CHUNKS;
    let a_r0 = tid / A_CHUNKS;
    let b_ch = tid % B_CHUNKS;
    let b_r0 = tid / B_CHUNKS;
    const A_ROW_STEP: usize = TC_THREADS / A_CHUNKS;
    const B_ROW_STEP: usize = TC_THREADS / B_CHUNKS;
    // Shared byte offsets of this thread's chunks (within a stage); rows of one thread share
    // their swizzle (row steps are multiples of 8).
    let a_soff = a_off(a_r0, a_ch) as u32;
    let b_soff = (A_STAGE + b_off(b_r0, b_ch)) as u32;
    let b_col = n0 + b_ch * 8;

    let aligned = |p: *const T, base: usize, ld: usize| {
        (p as usize) % 16 == 0 && base % 8 == 0 && ld % 8 == 0
    };
    let fast = aligned(a.as_ptr(), a_base, k)
        && aligned(b.as_ptr(), b_base, n)
        && a_base.checked_add(m * k).is_some_and(|e| e <= a.len())
        && b_base.checked_add(k * n).is_some_and(|e| e <= b.len());

    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let fast_load = {
        let load = |stage: u32, kt: usize| {
            let kk = kt * TC_BK;
            for i in 0..A_LOADS {
                let row = m0 + a_r0 + i * A_ROW_STEP;
                let col = kk + a_ch * 8;
                let ok = row < m && col < k;
                let src = if ok {
                    pa.wrapping_add(a_base + row * k + col)
                } else {
                    pa
                };
                // SAFETY: the destination is 16 bytes of this thread's chunk in the stage
                // (16-byte aligned: the dynamic shared base is, and offsets are multiples of
                // 16), which no other thread writes and no warp reads until the stage has been
                // waited for and passed a barrier. When `ok`, `fast` established that rows
                // < m of A (k columns, k a multiple of 8) lie inside `a` with 16-byte aligned
                // rows, so the 8 elements from `col` (< k, a multiple of 8) are in bounds and
                // aligned; otherwise 0 bytes are read. Inputs are not written during a launch.
                unsafe {
                    mma::cp_async_16(
                        stage + a_soff + (i * A_ROW_STEP * A_ROW_BYTES) as u32,
                        src as *const u8,
                        if ok { 16 } else { 0 },
                    )
                };
            }
            for i in 0..B_LOADS {
                let row = kk + b_r0 + i * B_ROW_STEP;
                let ok = row < k && b_col < n;
                let src = if ok {
                    pb.wrapping_add(b_base + row * n + b_col)
                } else {
                    pb
                };
                // SAFETY: as for A: rows < k of B (n columns, n a multiple of 8) lie inside
                // `b` with 16-byte aligned rows and `b_col` (< n) is a multiple of 8.
                unsafe {
                    mma::cp_async_16(
                        stage + b_soff + (i * B_ROW_STEP * B_ROW_BYTES) as u32,
                        src as *const u8,
                        if ok { 16 } else { 0 },
                    )
                };
            }
        };
        load
    };
    let slow = {
        let load = |stage: u32, kt: usize| {
            let kk = kt * TC_BK;
            let bits = |s: &[T], ok: bool, i: usize| {
                if ok {
                    s.get(i).map_or(0, |v| v.bits16()) as u32
                } else {
                    0
                }
            };
            for i in 0..A_LOADS {
                let row = m0 + a_r0 + i * A_ROW_STEP;
                let col = kk + a_ch * 8;
                let idx = a_base + row * k + col;
                let mut w = [0u32; 4];
                for (j, wj) in w.iter_mut().enumerate() {
                    let lo = bits(a, row < m && col + 2 * j < k, idx + 2 * j);
                    let hi = bits(a, row < m && col + 2 * j + 1 < k, idx + 2 * j + 1);
                    *wj = lo | hi << 16;
                }
                // SAFETY: this thread's 16-byte chunk of the stage (aligned, inside the
                // dynamic shared memory, see the fast path); no other thread accesses it until
                // the barrier that precedes its reads.
                unsafe {
                    mma::st_shared_v4(stage + a_soff + (i * A_ROW_STEP * A_ROW_BYTES) as u32, w)
                };
            }
            for i in 0..B_LOADS {
                let row = kk + b_r0 + i * B_ROW_STEP;
                let idx = b_base + row * n + b_col;
                let mut w = [0u32; 4];
                for (j, wj) in w.iter_mut().enumerate() {
                    let lo = bits(b, row < k && b_col + 2 * j < n, idx + 2 * j);
                    let hi = bits(b, row < k && b_col + 2 * j + 1 < n, idx + 2 * j + 1);
                    *wj = lo | hi << 16;
                }
                // SAFETY: as for A.
                unsafe {
                    mma::st_shared_v4(stage + b_soff + (i * B_ROW_STEP * B_ROW_BYTES) as u32, w)
                };
            }
        };
        load
    };
    // One K loop for both paths (`fast` is uniform across the block): accumulators stay in
    // registers instead of being merged from two loops through memory.
    let acc = mainloop::<T>(smem, tiles, tid, |stage, kt| {
        if fast {
            fast_load(stage, kt)
        } else {
            slow(stage, kt)
        }
    });

    // Epilogue: accumulator `acc[mi][ni]` holds rows `g` and `g + 8`, columns `2t, 2t + 1` of
    // MMA tile (mi, ni) of this warp's 64×64 tile.
    let warp = tid / 32;
    let lane = tid % 32;
    let row_w = m0 + (warp / WARPS_N) * WM + lane / 4;
    let col_w = n0 + (warp % WARPS_N) * WN + (lane % 4) * 2;
    unroll!(mi in [0, 1, 2, 3] {
        unroll!(h in [0, 1] {
            let row = row_w + mi * 16 + h * 8;
            if row < m {
                unroll!(ni in [0, 1, 2, 3, 4, 5, 6, 7] {
                    let col = col_w + ni * 8;
                    if col < n {
                        let v = &acc[mi][ni];
                        // SAFETY: this block's tile (rows m0.., columns n0.. of batch z) belongs
                        // to it alone (raster is a bijection), and inside it (row, col..col + 2)
                        // of MMA tile (mi, ni) to this lane of this warp alone.
                        unsafe {
                            store2(
                                &mut c,
                                c_base + row * n + col,
                                col + 1 < n,
                                [v[2 * h], v[2 * h + 1]],
                                alpha,
                                beta,
                            )
                        };
                    }
                });
            }
        });
    });
}

/// The K loop: `tiles` slices through the [`TC_STAGES`]-deep ring at shared address `smem`.
/// `load(stage, t)` queues (or performs) this thread's copies of slice `t` into the stage at
/// shared address `stage`. Returns this thread's accumulators.
#[inline(always)]
fn mainloop<T: MmaInput>(
    smem: u32,
    tiles: usize,
    tid: usize,
    load: impl Fn(u32, usize),
) -> [[[f32; 4]; NI]; MI] {
    let warp = tid / 32;
    let lane = tid % 32;
    let (wm, wn) = (warp / WARPS_N, warp % WARPS_N);
    // ldmatrix addresses (byte offsets inside a stage). A: lane supplies row `lane % 16` of the
    // 16×16 tile, chunk `lane / 16` of the 16-deep step; rows of a lane differ by multiples of
    // 16, so their swizzle `(row >> 1) & 3` is the lane's. B (transposed): k-row `lane % 16`,
    // chunk `lane / 16` of each 16-column pair of n-tiles; swizzle `k-row & 7 = lane & 7`.
    let a_row = wm * WM + lane % 16;
    let a_ld = |ks: usize| a_off(a_row, ks * 2 + lane / 16) as u32;
    let b_ld = |ks: usize, nj: usize| {
        (A_STAGE + b_off(ks * 16 + lane % 16, wn * (WN / 8) + nj * 2 + lane / 16)) as u32
    };
    let a_ld0 = [a_ld(0), a_ld(1)];
    let b_ld0 = [
        [b_ld(0, 0), b_ld(0, 1), b_ld(0, 2), b_ld(0, 3)],
        [b_ld(1, 0), b_ld(1, 1), b_ld(1, 2), b_ld(1, 3)],
    ];

    let frags = |st: u32, ks: usize| {
        let b = b_ld0[ks];
        load_frags(st + a_ld0[ks], [st + b[0], st + b[1], st + b[2], st + b[3]])
    };

    let mut acc = [[[0.0f32; 4]; NI]; MI];
    // Prologue: slices 0 .. STAGES - 1, one commit group each (empty past the end, so the
    // group count stays uniform: group g holds slice g).
    for s in 0..TC_STAGES - 1 {
        if s < tiles {
            load(smem + (s * STAGE) as u32, s);
        }
        cp_async_commit();
    }
    // Slice 0 has landed (at most STAGES - 2 younger groups pending), for every thread.
    cp_async_wait::<{ (TC_STAGES - 2) as u32 }>();
    gpu::sync_threads();
    // Fragments of the first 16-deep step of slice 0 (unused when there is no slice).
    let mut f0 = frags(smem, 0);
    let mut read = 0usize; // stage of slice kt
    let mut write = TC_STAGES - 1; // stage of slice kt + STAGES - 1 (the stage of slice kt - 1)
    let mut kt = 0usize;
    // Invariant at the top of iteration kt: slice kt is visible in stage `read`, `f0` holds
    // its first step's fragments, and every warp has passed the barrier after its last read
    // of stage `write` (slice kt - 1's fragments were loaded before the previous barrier).
    while kt < tiles {
        let st = smem + (read * STAGE) as u32;
        let f1 = frags(st, 1);
        let next = kt + TC_STAGES - 1;
        if next < tiles {
            load(smem + (write * STAGE) as u32, next);
        }
        cp_async_commit();
        mma_all::<T>(&mut acc, &f0);
        // Groups 0 ..= kt + STAGES - 1 are committed; with at most STAGES - 2 pending, slice
        // kt + 1 has landed; after the barrier it is visible to all, and every warp has loaded
        // all its fragments of slice kt (so its stage may be refilled next iteration).
        cp_async_wait::<{ (TC_STAGES - 2) as u32 }>();
        gpu::sync_threads();
        read = if read + 1 == TC_STAGES { 0 } else { read + 1 };
        write = if write + 1 == TC_STAGES { 0 } else { write + 1 };
        // First step of slice kt + 1, loaded while the second step of slice kt computes
        // (stale and unused after the last slice; no copy targets that stage then).
        f0 = frags(smem + (read * STAGE) as u32, 0);
        mma_all::<T>(&mut acc, &f1);
        kt += 1;
    }
    // Drain (only empty groups can remain) so no copy is in flight at exit.
    cp_async_wait::<0>();
    acc
}

/// A and B fragments of one 16-deep step of a warp's 64×64 tile.
type Frags = ([[u32; 4]; MI], [[u32; 2]; NI]);

/// Loads a step's fragments: 4 A fragments from shared address `a` (+ 16 rows each) and 8 B
/// fragments from the 4 shared addresses `b` (two n-tiles each).
#[inline(always)]
fn load_frags(a: u32, b: [u32; NI / 2]) -> Frags {
    let mut af = [[0u32; 4]; MI];
    unroll!(mi in [0, 1, 2, 3] {
        // SAFETY: a 16-byte aligned row of the stage's A tile (row < 128, chunk < 4), inside
        // the dynamic shared memory (checked at entry); the warp is converged (uniform loop
        // bounds, no divergent branch around the K loop).
        af[mi] = unsafe { mma::ldmatrix_x4(a + (mi * 16 * A_ROW_BYTES) as u32) };
    });
    let mut bf = [[0u32; 2]; NI];
    unroll!(nj in [0, 1, 2, 3] {
        // SAFETY: as for A: a 16-byte row of the stage's B tile (k-row < 32, chunk < 32);
        // converged warp.
        let r = unsafe { mma::ldmatrix_x4_trans(b[nj]) };
        bf[2 * nj] = [r[0], r[1]];
        bf[2 * nj + 1] = [r[2], r[3]];
    });
    (af, bf)
}

/// The 32 MMAs of one step: `acc[mi][ni] += A_mi * B_ni`.
#[inline(always)]
fn mma_all<T: MmaInput>(acc: &mut [[[f32; 4]; NI]; MI], (af, bf): &Frags) {
    unroll!(mi in [0, 1, 2, 3] {
        unroll!(ni in [0, 1, 2, 3, 4, 5, 6, 7] {
            // SAFETY: the whole warp executes this (converged, see `load_frags`).
            acc[mi][ni] = unsafe { T::mma_16816(af[mi], bf[ni], acc[mi][ni]) };
        });
    });
}
