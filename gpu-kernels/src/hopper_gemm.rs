//! Hopper (sm_90a) GEMM: `C = act(alpha * A·Bᵀ + beta * C + bias)` on the warpgroup tensor
//! cores, with f32 accumulation, for bf16/f16 inputs (bf16/f16/f32 out), fp8 inputs (e4m3 × e4m3
//! and e4m3 × e5m2, per-tensor scales folded into `alpha` by the host; bf16/f32 out) and tf32
//! (f32 inputs rounded to tf32 by the copy engine; f32 out).
//!
//! Operands (row-major, as a linear layer stores them): A is M×K, B is N×K (so the product is
//! A·Bᵀ, both K-major), C is M×N with row stride `ldc`; batches are `batches` such triples,
//! `stride_c` elements apart in C (A and B batch strides live in their tensor maps). A and B
//! reach the kernel as TMA tensor maps (3-D: K, rows, batch; 128-byte swizzle; box 64 × 128
//! for A and 64 × (256 / cluster size) for B), built by the host.
//!
//! Design (one CTA per SM, persistent):
//! - 384 threads = 3 warpgroups. Warpgroup 0 is the producer: it gives registers away
//!   (`setmaxnreg.dec 24`) and one thread issues TMA loads of 128×64 A and 256×64 B tiles into
//!   a 4-stage ring (48 KiB per stage) guarded by full/empty mbarriers ([`Pipeline`]).
//!   Warpgroups 1 and 2 are consumers (`setmaxnreg.inc 240`): each owns 64 rows of the 128×256
//!   CTA tile, 128 f32 accumulators per thread, and per stage issues four
//!   `wgmma.m64n256k16` (K = 64) reading both operands from shared memory, then waits for
//!   the previous stage's group (`wait_group 1`) and releases that stage — so the tensor cores
//!   always have the next stage queued.
//! - Tiles are visited persistently: tile `i` of the launch's cluster `c` is
//!   `c + i * clusters`, in a grouped order (`group_m` tile rows per group, column-major inside
//!   a group) so concurrently running CTAs share A and B panels in L2.
//! - Clusters of 2 CTAs along M (launch-time choice): both CTAs need the same 256-wide B tile,
//!   so each loads half of it and multicasts it to both; consumers release a stage to both
//!   producers (remote mbarrier arrivals).
//! - Edges: TMA fills out-of-range rows and columns (and K past the end) with zeros, so partial
//!   tiles compute on zeros; the epilogue writes only elements inside C (bounds-checked
//!   against the slice, too). K, the row strides and batch strides must be multiples of 16
//!   bytes (a TMA rule; the host checks and otherwise uses the portable kernel).
//! - Epilogue from registers: `alpha`, `beta` (C is not read when `beta == 0`), per-column
//!   `bias` (empty slice: none), activation [`ACT_NONE`], [`ACT_RELU`] or [`ACT_GELU`] (tanh
//!   form), converted to the output type with paired stores where aligned.
//! - Every input type moves 128 bytes of K per stage and 32 bytes per wgmma (k16 for 16-bit,
//!   k32 for fp8, k8 for tf32), so one body serves them all; only the K per stage in elements
//!   ([`HgInput::BYTES`]) and the instruction differ.
//! - Split-K (`splits > 1`, for problems with fewer tiles than SMs): work unit `u` is split
//!   `u % splits` of tile `u / splits`, a contiguous range of K blocks. Each consumer warpgroup
//!   writes its partial accumulators to `workspace` (in fragment order: 16-byte stores, fully
//!   coalesced), fences, and counts itself in `counters[tile * 2 + group]`; the group that
//!   arrives last adds the other partials, runs the epilogue and resets the counter to 0 (so
//!   the counters must be zero before the first launch, and stay reusable).

use gpukit_device::atomic::{Ordering, Scope};
use gpukit_device::cluster;
use gpukit_device::mbarrier::{Consumer, ConsumerStage, Pipeline, fence_init};
use gpukit_device::tma::{TensorMap, TensorMapRef};
use gpukit_device::warpgroup::{named_barrier_sync, setmaxnreg_dec, setmaxnreg_inc};
use gpukit_device::wgmma::{
    self, Accumulator, E4M3, E5M2, FenceOperands, MatrixDesc, MmaAsync, Tf32,
};
use gpukit_device::{self as gpu, Bf16, Bf16x2, F16x2, Manual, OutSlice, kernel};

/// CTA tile rows (two consumer warpgroups of 64).
pub const HG_BM: u32 = 128;
/// CTA tile columns (one `m64n256` per consumer per k16 step).
pub const HG_BN: u32 = 256;
/// K per pipeline stage in bytes: one 128-byte swizzle row (64 16-bit, 128 fp8 or 32 tf32
/// elements).
pub const HG_BK_BYTES: u32 = 128;
/// Pipeline stages.
pub const HG_STAGES: usize = 4;
/// Threads per CTA: one producer and two consumer warpgroups.
pub const HG_THREADS: u32 = 384;
/// Largest cluster (along M) the kernels support.
pub const HG_MAX_CLUSTER: u32 = 2;

/// Epilogue activations.
pub const ACT_NONE: u32 = 0;
/// `max(x, 0)`.
pub const ACT_RELU: u32 = 1;
/// GELU, tanh form (`torch.nn.functional.gelu(x, approximate="tanh")`).
pub const ACT_GELU: u32 = 2;

const A_STAGE: u32 = HG_BM * HG_BK_BYTES;
const B_STAGE: u32 = HG_BN * HG_BK_BYTES;
const A_RING: u32 = 0;
const B_RING: u32 = A_RING + HG_STAGES as u32 * A_STAGE;
const BARRIERS: u32 = B_RING + HG_STAGES as u32 * B_STAGE;
/// The pipeline's barriers: a full and an empty mbarrier (8 bytes each) per stage.
const BARRIER_BYTES: u32 = 2 * HG_STAGES as u32 * 8;
/// Split-K hand-off words (one per consumer group), after the barriers.
const FLAGS: u32 = BARRIERS + BARRIER_BYTES;
/// Dynamic shared memory per CTA: the ring, its barriers, the split-K flags, and 1 KiB to
/// align the ring to the 1024 bytes the 128-byte swizzle needs.
pub const HG_SHARED_BYTES: u32 = 1024 + FLAGS + 16;
/// f32 workspace per (tile, split) for split-K: one full CTA tile.
pub const HG_SPLIT_TILE_FLOATS: u32 = HG_BM * HG_BN;

/// Consumer warpgroups per CTA.
const CONSUMERS: u32 = HG_THREADS / 128 - 1;

const _: () = {
    assert!(HG_BM == 64 * CONSUMERS);
    assert!(
        HG_BK_BYTES == 128,
        "one K block is one 128-byte swizzle row"
    );
    assert!(HG_SHARED_BYTES <= 227 * 1024);
    assert!(BARRIER_BYTES == Pipeline::<HG_STAGES>::BYTES);
};

/// Runs `$body` once per listed value of `$i`, written out, so register arrays are indexed by
/// constants only.
macro_rules! unroll {
    ($i:ident in [$($v:literal),* $(,)?] $body:block) => {{
        $({
            let $i: usize = $v;
            $body
        })*
    }};
}

/// Output element types of the epilogue.
pub trait GemmOut: Copy {
    /// Reads one element as f32.
    ///
    /// # Safety
    /// `p` is valid for reads.
    unsafe fn load_f32(p: *const Self) -> f32;
    /// Writes one element.
    ///
    /// # Safety
    /// `p` is valid for writes by this thread alone.
    unsafe fn store(p: *mut Self, v: f32);
    /// Writes two adjacent elements with one access.
    ///
    /// # Safety
    /// `p` is aligned to two elements and both are valid for writes by this thread alone.
    unsafe fn store_pair(p: *mut Self, v0: f32, v1: f32);
    /// Reads two adjacent elements with one access.
    ///
    /// # Safety
    /// `p` is aligned to two elements and both are valid for reads.
    unsafe fn load_pair(p: *const Self) -> (f32, f32);
    /// Reads `bias[i]` as f32.
    ///
    /// # Safety
    /// `i < bias.len()`.
    unsafe fn bias_f32(bias: &[Self], i: usize) -> f32;
}

impl GemmOut for Bf16 {
    #[inline(always)]
    unsafe fn load_f32(p: *const Self) -> f32 {
        // SAFETY: the caller's contract.
        unsafe { (*p).to_f32() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut Self, v: f32) {
        // SAFETY: the caller's contract.
        unsafe { *p = Bf16::from_f32(v) }
    }
    #[inline(always)]
    unsafe fn store_pair(p: *mut Self, v0: f32, v1: f32) {
        // SAFETY: the caller's contract: 4-byte aligned, both elements ours.
        unsafe { *(p as *mut Bf16x2) = Bf16x2::from_f32s(v0, v1) }
    }
    #[inline(always)]
    unsafe fn load_pair(p: *const Self) -> (f32, f32) {
        // SAFETY: the caller's contract: 4-byte aligned, readable.
        unsafe { (*(p as *const Bf16x2)).to_f32s() }
    }
    #[inline(always)]
    unsafe fn bias_f32(bias: &[Self], i: usize) -> f32 {
        // SAFETY: the caller's contract.
        unsafe { bias.get_unchecked(i).to_f32() }
    }
}

impl GemmOut for f16 {
    #[inline(always)]
    unsafe fn load_f32(p: *const Self) -> f32 {
        // SAFETY: the caller's contract.
        unsafe { gpu::half::f16_to_f32(*p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut Self, v: f32) {
        // SAFETY: the caller's contract.
        unsafe { *p = gpu::half::f16_from_f32(v) }
    }
    #[inline(always)]
    unsafe fn store_pair(p: *mut Self, v0: f32, v1: f32) {
        // SAFETY: the caller's contract: 4-byte aligned, both elements ours.
        unsafe { *(p as *mut F16x2) = F16x2::from_f32s(v0, v1) }
    }
    #[inline(always)]
    unsafe fn load_pair(p: *const Self) -> (f32, f32) {
        // SAFETY: the caller's contract: 4-byte aligned, readable.
        unsafe { (*(p as *const F16x2)).to_f32s() }
    }
    #[inline(always)]
    unsafe fn bias_f32(bias: &[Self], i: usize) -> f32 {
        // SAFETY: the caller's contract.
        gpu::half::f16_to_f32(unsafe { *bias.get_unchecked(i) })
    }
}

/// Two f32 at an 8-byte aligned address.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct F32x2([f32; 2]);

impl GemmOut for f32 {
    #[inline(always)]
    unsafe fn load_f32(p: *const Self) -> f32 {
        // SAFETY: the caller's contract.
        unsafe { *p }
    }
    #[inline(always)]
    unsafe fn store(p: *mut Self, v: f32) {
        // SAFETY: the caller's contract.
        unsafe { *p = v }
    }
    #[inline(always)]
    unsafe fn store_pair(p: *mut Self, v0: f32, v1: f32) {
        // SAFETY: the caller's contract: 8-byte aligned, both elements ours.
        unsafe { *(p as *mut F32x2) = F32x2([v0, v1]) }
    }
    #[inline(always)]
    unsafe fn load_pair(p: *const Self) -> (f32, f32) {
        // SAFETY: the caller's contract: 8-byte aligned, readable.
        let v = unsafe { *(p as *const F32x2) };
        (v.0[0], v.0[1])
    }
    #[inline(always)]
    unsafe fn bias_f32(bias: &[Self], i: usize) -> f32 {
        // SAFETY: the caller's contract.
        unsafe { *bias.get_unchecked(i) }
    }
}

/// Input element types: their size fixes how many elements one 128-byte K block holds.
pub trait HgInput {
    /// Bytes per element.
    const BYTES: u32;
}
impl HgInput for Bf16 {
    const BYTES: u32 = 2;
}
impl HgInput for f16 {
    const BYTES: u32 = 2;
}
impl HgInput for E4M3 {
    const BYTES: u32 = 1;
}
impl HgInput for E5M2 {
    const BYTES: u32 = 1;
}
impl HgInput for Tf32 {
    const BYTES: u32 = 4;
}

/// Problem description shared by all entries (kernel scalars, gathered).
#[derive(Clone, Copy)]
struct Problem {
    m: u32,
    n: u32,
    k: u32,
    batches: u32,
    ldc: u32,
    stride_c: u64,
    alpha: f32,
    beta: f32,
    act: u32,
    group_m: u32,
    splits: u32,
}

/// The `i`-th tile of the grouped order: (batch, cluster row tile, column tile).
#[inline(always)]
fn tile_coords(t: u32, tiles_mc: u32, tiles_n: u32, group: u32) -> (u32, u32, u32) {
    let per_batch = tiles_mc * tiles_n;
    let bz = t / per_batch;
    let r = t - bz * per_batch;
    let per_group = group * tiles_n;
    let g = r / per_group;
    let first = g * group;
    let rows = (tiles_mc - first).min(group);
    let local = r - g * per_group;
    (bz, first + local % rows, local / rows)
}

/// Finishes one accumulator value for column `col` of C at index `idx`.
#[inline(always)]
fn finish<O: GemmOut>(v: f32, p: &Problem, bias: &[O], col: u32, c: *const O) -> f32 {
    let mut x = p.alpha * v;
    if p.beta != 0.0 {
        // SAFETY: the caller checked `c` is inside the output slice.
        x = gpu::math::fma(p.beta, unsafe { O::load_f32(c) }, x);
    }
    if !bias.is_empty() {
        // SAFETY: `col < n <= bias.len()` (the caller checks `col < n`; the kernel entry
        // checked the bias length).
        x += unsafe { O::bias_f32(bias, col as usize) };
    }
    match p.act {
        ACT_RELU => gpu::math::max(x, 0.0),
        ACT_GELU => gpu::math::gelu_fast(x),
        _ => x,
    }
}

/// Writes the pair of accumulators `(v0, v1)` at (`row`, `col`..`col + 2`) of batch `bz`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn store_pair<O: GemmOut>(
    c: &mut OutSlice<O, Manual>,
    p: &Problem,
    bias: &[O],
    pairs_aligned: bool,
    bz: u32,
    row: u32,
    col: u32,
    v0: f32,
    v1: f32,
) {
    if row >= p.m || col >= p.n {
        return;
    }
    let idx = bz as usize * p.stride_c as usize + row as usize * p.ldc as usize + col as usize;
    let two = col + 1 < p.n;
    let len = c.len();
    let base = c.as_mut_ptr();
    if two && idx + 2 <= len {
        let ptr = base.wrapping_add(idx);
        let x0 = finish(v0, p, bias, col, ptr);
        let x1 = finish(v1, p, bias, col + 1, ptr.wrapping_add(1));
        if pairs_aligned {
            // SAFETY: `idx + 2 <= len`; `pairs_aligned` means the slice start, `ldc` and
            // `stride_c` are even (in elements) and suitably aligned, and `col` is even, so
            // `ptr` is aligned to two elements; each (row, col) pair belongs to exactly one
            // thread of one CTA (tiles partition C).
            unsafe { O::store_pair(ptr, x0, x1) };
        } else {
            // SAFETY: as above, element by element.
            unsafe {
                O::store(ptr, x0);
                O::store(ptr.wrapping_add(1), x1);
            }
        }
    } else if idx < len {
        let ptr = base.wrapping_add(idx);
        let x0 = finish(v0, p, bias, col, ptr);
        // SAFETY: `idx < len`; exclusive as above.
        unsafe { O::store(ptr, x0) };
        if two && idx + 1 < len {
            let x1 = finish(v1, p, bias, col + 1, ptr.wrapping_add(1));
            // SAFETY: `idx + 1 < len`; exclusive as above.
            unsafe { O::store(ptr.wrapping_add(1), x1) };
        }
    }
}

/// The activation `ACT` of `x`.
#[inline(always)]
fn activate<const ACT: u32>(x: f32) -> f32 {
    match ACT {
        ACT_RELU => gpu::math::max(x, 0.0),
        ACT_GELU => gpu::math::gelu_fast(x),
        _ => x,
    }
}

/// Epilogue of a warpgroup block that lies entirely inside C, with aligned pairs: no
/// per-element checks. `out` points at this thread's first element (row `row0`, column
/// `col0`), `bias` at `bias[col0]` (null: no bias). Loads (bias, old C) are issued eight pairs at
/// a time before they are used, so their latencies overlap.
///
/// # Safety
/// Rows `row0`, `row0 + 8` (`8 * ldc` elements further) and columns `col0 + 8j + {0, 1}`,
/// `j < 32`, are inside C and the output slice, pair-aligned, and written by this thread alone;
/// `bias` (when not null) is pair-aligned with 256 readable elements from `col0 - col0 % 256`.
#[inline(always)]
unsafe fn epilogue_full<O: GemmOut, const ACT: u32>(
    out: *mut O,
    ldc: usize,
    bias: *const O,
    p: &Problem,
    acc: &Accumulator<128>,
) {
    let rows = [out, out.wrapping_add(8 * ldc)];
    unroll!(chunk in [0, 1, 2, 3] {
        // SAFETY: zero bits are 0.0 (a memset LLVM can split into registers).
        let mut bv: [(f32, f32); 8] = unsafe { core::mem::zeroed() };
        if !bias.is_null() {
            unroll!(jj in [0, 1, 2, 3, 4, 5, 6, 7] {
                // SAFETY: the caller's contract (bias pairs).
                bv[jj] = unsafe { O::load_pair(bias.add(8 * (8 * chunk + jj))) };
            });
        }
        unroll!(h in [0, 1] {
            // SAFETY: as `bv`.
            let mut old: [(f32, f32); 8] = unsafe { core::mem::zeroed() };
            if p.beta != 0.0 {
                unroll!(jj in [0, 1, 2, 3, 4, 5, 6, 7] {
                    // SAFETY: the caller's contract (C pairs).
                    old[jj] = unsafe { O::load_pair(rows[h].add(8 * (8 * chunk + jj))) };
                });
            }
            unroll!(jj in [0, 1, 2, 3, 4, 5, 6, 7] {
                let j = 8 * chunk + jj;
                let v0 = gpu::math::fma(p.alpha, acc.regs[4 * j + 2 * h], bv[jj].0);
                let v1 = gpu::math::fma(p.alpha, acc.regs[4 * j + 2 * h + 1], bv[jj].1);
                let v0 = activate::<ACT>(gpu::math::fma(p.beta, old[jj].0, v0));
                let v1 = activate::<ACT>(gpu::math::fma(p.beta, old[jj].1, v1));
                // SAFETY: the caller's contract (C pairs, exclusive).
                unsafe { O::store_pair(rows[h].add(8 * j), v0, v1) };
            });
        });
    });
}

/// Hands a consumed stage back to the producer of every CTA that writes into it.
#[inline(always)]
fn release(cons: &Consumer<HG_STAGES>, stage: ConsumerStage, t: u32, cluster_size: u32) {
    if cluster_size == 1 {
        if t == 0 {
            cons.release(stage);
        } else {
            cons.forget(stage);
        }
    } else if t < cluster_size {
        // SAFETY: the kernel runs as a cluster of `cluster_size` CTAs (read from
        // `%cluster_nctarank`), thread `t` arrives on CTA `t`'s barrier, and every CTA stays
        // alive until the final cluster barrier.
        unsafe { cons.release_to_rank(stage, t) };
    } else {
        cons.forget(stage);
    }
}

/// A 16-byte aligned group of four f32 (workspace traffic of split-K).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct F32x4([f32; 4]);

/// Split-K outputs: the partial-tile workspace and the per-(tile, group) arrival counters.
struct SplitK<'a> {
    workspace: &'a mut OutSlice<f32, Manual>,
    counters: &'a mut OutSlice<u32, Manual>,
}

/// The shared body: `TA`/`TB` the input types, `O` the output type.
#[inline(always)]
fn hgemm_body<TA: HgInput, TB: HgInput, O: GemmOut>(
    a: TensorMapRef,
    b: TensorMapRef,
    mut c: OutSlice<O, Manual>,
    bias: &[O],
    split: SplitK<'_>,
    p: Problem,
) where
    Accumulator<128>: MmaAsync<TA, TB>,
{
    // Elements of K per stage (the same for A and B: the pairs share a size).
    let bk = HG_BK_BYTES / TA::BYTES;
    let smem = gpu::dynamic_shared::<u32>();
    let cluster_size = cluster::cta_count();
    let tiles_m = p.m.div_ceil(HG_BM);
    let tiles_mc = tiles_m.div_ceil(cluster_size);
    let tiles_n = p.n.div_ceil(HG_BN);
    let tiles = tiles_mc * tiles_n * p.batches;
    let splits = p.splits.max(1);
    let split_floats =
        tiles as usize * cluster_size as usize * splits as usize * HG_SPLIT_TILE_FLOATS as usize;
    if gpu::block_dim().x != HG_THREADS
        || (smem.len() * 4) < HG_SHARED_BYTES as usize
        || cluster_size > HG_MAX_CLUSTER
        || p.group_m == 0
        || TA::BYTES != TB::BYTES
        || (!bias.is_empty() && bias.len() < p.n as usize)
        || (splits > 1
            && (split.workspace.len() < split_floats
                || split.counters.len() < tiles as usize * cluster_size as usize * 2
                || (split.workspace.as_mut_ptr() as usize) % 16 != 0))
    {
        // A launch the host API never makes: stop rather than compute a wrong C.
        gpu::trap();
    }
    let base = (smem.shared_addr() + 1023) & !1023;
    // SAFETY: `base + BARRIERS` is 8-byte aligned and the pipeline's bytes lie inside the
    // dynamic allocation (checked above); nothing else uses them. `init` runs on one thread
    // below, published by the cluster/block barrier before any use.
    let pipe = unsafe { Pipeline::<HG_STAGES>::at(base + BARRIERS) };
    let tid = gpu::thread_idx().x;
    if tid == 0 {
        // SAFETY: one thread, before any use; published below.
        unsafe { pipe.init(CONSUMERS * cluster_size) };
        fence_init();
        a.prefetch();
        b.prefetch();
    }
    if cluster_size > 1 {
        cluster::sync();
    } else {
        gpu::sync_threads();
    }

    let rank = cluster::cta_rank();
    let (first, step) = if cluster_size > 1 {
        (cluster::cluster_id_x(), cluster::ncluster_x())
    } else {
        (gpu::block_idx().x, gpu::grid_dim().x)
    };
    let k_blocks = p.k.div_ceil(bk);
    // Every split gets at least one K block (balanced ranges), so every unit runs a chain.
    let splits = splits.min(k_blocks.max(1));
    let units = tiles * splits;
    // K blocks of work unit `u`, and its tile.
    let (per_split, extra) = (k_blocks / splits, k_blocks % splits);
    let unit = |u: u32| {
        let (tile, part) = (u / splits, u % splits);
        let kb0 = part * per_split + part.min(extra);
        (tile, part, kb0, kb0 + per_split + (part < extra) as u32)
    };
    let wg = tid / 128;

    if wg == 0 {
        // SAFETY: the whole warpgroup executes it; 24 × 128 + 240 × 256 ≤ 65536 registers.
        unsafe { setmaxnreg_dec::<24>() };
        if tid == 0 {
            let mut prod = pipe.producer();
            let b_rows = HG_BN / cluster_size;
            let mut u = first;
            while u < units {
                let (tile, _, kb0, kb1) = unit(u);
                let (bz, tmc, tn) = tile_coords(tile, tiles_mc, tiles_n, p.group_m);
                let row = ((tmc * cluster_size + rank) * HG_BM) as i32;
                let col = (tn * HG_BN + rank * b_rows) as i32;
                for kb in kb0..kb1 {
                    let stage = prod.acquire();
                    let s = stage.index();
                    let kc = (kb * bk) as i32;
                    let a_dst = base + A_RING + s * A_STAGE;
                    let b_dst = base + B_RING + s * B_STAGE + rank * b_rows * HG_BK_BYTES;
                    // SAFETY: the destinations are this stage's A tile and this CTA's part of
                    // the B tile (1024-byte aligned: `base` is, and every stage and half-tile
                    // is a multiple of 16 KiB), free since `acquire` returned (all consumers
                    // of all CTAs released the stage); the stage's full barrier expects
                    // `A_STAGE + B_STAGE` bytes (committed below): A's box here, B's boxes
                    // from every CTA of the cluster. The maps are 3-D (host contract).
                    unsafe {
                        a.load_3d(a_dst, stage.barrier(), kc, row, bz as i32);
                        if cluster_size > 1 {
                            b.load_3d_multicast(
                                b_dst,
                                stage.barrier(),
                                kc,
                                col,
                                bz as i32,
                                ((1u32 << cluster_size) - 1) as u16,
                            );
                        } else {
                            b.load_3d(b_dst, stage.barrier(), kc, col, bz as i32);
                        }
                    }
                    stage.commit(A_STAGE + B_STAGE);
                }
                u += step;
            }
        }
    } else {
        // SAFETY: the whole warpgroup executes it (see above for the budget).
        unsafe { setmaxnreg_inc::<240>() };
        let cw = wg - 1;
        let t_in = tid % 128;
        let mut cons = pipe.consumer();
        let pairs_aligned = {
            let align = 2 * core::mem::size_of::<O>();
            (c.as_mut_ptr() as usize) % align == 0 && p.ldc % 2 == 0 && p.stride_c % 2 == 0
        };
        let flag = base + FLAGS + 4 * cw;
        let mut u = first;
        while u < units {
            let (tile, part, kb0, kb1) = unit(u);
            let (bz, tmc, tn) = tile_coords(tile, tiles_mc, tiles_n, p.group_m);
            // Each unit's accumulator chain starts with a wgmma that defines the registers
            // (no zeroing, nothing carried from the previous unit: see `mma_async_new`).
            let descs = |s: u32| {
                (
                    MatrixDesc::k_major_sw128(base + A_RING + s * A_STAGE + cw * 64 * HG_BK_BYTES),
                    MatrixDesc::k_major_sw128(base + B_RING + s * B_STAGE),
                )
            };
            let mut acc = if kb0 < kb1 {
                let stage = cons.wait();
                let (a_desc, b_desc) = descs(stage.index());
                // SAFETY: the warpgroup executes this together; the stage is full (TMA data,
                // async proxy) and stays unwritten until released after the group completes;
                // `fence` orders the previous epilogue's reads of the registers first.
                let mut acc = unsafe {
                    wgmma::fence();
                    let mut acc =
                        <Accumulator<128> as MmaAsync<TA, TB>>::mma_async_new(a_desc, b_desc);
                    unroll!(kk in [1, 2, 3] {
                        let off = kk as u32 * 32;
                        acc.mma_async(a_desc.add_bytes(off), b_desc.add_bytes(off), true);
                    });
                    wgmma::commit_group();
                    acc
                };
                let mut pending = stage;
                for _ in kb0 + 1..kb1 {
                    let stage = cons.wait();
                    let (a_desc, b_desc) = descs(stage.index());
                    // SAFETY: as above; `wait_group 1` retires the previous stage's group, so
                    // that stage may be handed back.
                    unsafe {
                        wgmma::fence();
                        unroll!(kk in [0, 1, 2, 3] {
                            let off = kk as u32 * 32;
                            acc.mma_async(a_desc.add_bytes(off), b_desc.add_bytes(off), true);
                        });
                        wgmma::commit_group();
                        wgmma::wait_group::<1>();
                    }
                    release(&cons, pending, t_in, cluster_size);
                    pending = stage;
                }
                // SAFETY: the warpgroup executes this together.
                unsafe { wgmma::wait_group::<0>() };
                acc.fence_operands();
                release(&cons, pending, t_in, cluster_size);
                acc
            } else {
                Accumulator::zeroed()
            };

            if splits > 1 {
                // This group's 64 × 256 partial, thread `t` owning float4s `t, t + 128, ...`.
                let slot = |part: u32| {
                    ((((tile * cluster_size + rank) * splits + part) * CONSUMERS + cw) as usize
                        * (HG_SPLIT_TILE_FLOATS / CONSUMERS) as usize)
                        / 4
                        + t_in as usize
                };
                let ws = split.workspace.as_mut_ptr() as *mut F32x4;
                let mine = slot(part);
                unroll!(q in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                              16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31] {
                    // SAFETY: `slot(part) + 128 q` indexes this group's own region of the
                    // workspace (length checked at entry: every (tile, rank, split, group)
                    // has HG_SPLIT_TILE_FLOATS / CONSUMERS floats), 16-byte aligned (checked);
                    // no other thread writes it during the launch.
                    unsafe {
                        *ws.add(mine + 128 * q) = F32x4([
                            acc.regs[4 * q], acc.regs[4 * q + 1],
                            acc.regs[4 * q + 2], acc.regs[4 * q + 3],
                        ]);
                    }
                });
                gpu::fence_device();
                named_barrier_sync(1 + cw, 128);
                let counter = ((tile * cluster_size + rank) * CONSUMERS + cw) as usize;
                if t_in == 0 {
                    // SAFETY: the counters are only accessed atomically (here and below).
                    let counters = unsafe { split.counters.claim_atomic() };
                    let arrived = counters.fetch_add(counter, 1, Scope::Device, Ordering::AcqRel);
                    let last = arrived + 1 == splits;
                    if last {
                        // Every other split has counted itself: reset for the next launch.
                        counters.store(counter, 0, Scope::Device, Ordering::Relaxed);
                    }
                    // SAFETY: this group's own flag word in the dynamic allocation.
                    unsafe {
                        core::arch::asm!("st.shared.u32 [{a}], {v};", a = in(reg32) flag,
                            v = in(reg32) last as u32, options(nostack, preserves_flags));
                    }
                }
                named_barrier_sync(1 + cw, 128);
                let last: u32;
                // SAFETY: reads this group's flag, written before the barrier above.
                unsafe {
                    core::arch::asm!("ld.shared.u32 {v}, [{a}];", a = in(reg32) flag,
                        v = out(reg32) last, options(nostack, preserves_flags, readonly));
                }
                if last == 0 {
                    u += step;
                    continue;
                }
                gpu::fence_device();
                for other in 0..splits {
                    if other == part {
                        continue;
                    }
                    let theirs = slot(other);
                    unroll!(q in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31] {
                        // SAFETY: another split's region of this group (in bounds as above),
                        // complete and visible: its writer fenced before counting itself, and
                        // this group saw every count (acquire) and fenced.
                        let v = unsafe { *ws.add(theirs + 128 * q) };
                        acc.regs[4 * q] += v.0[0];
                        acc.regs[4 * q + 1] += v.0[1];
                        acc.regs[4 * q + 2] += v.0[2];
                        acc.regs[4 * q + 3] += v.0[3];
                    });
                }
            }

            // Epilogue straight from the accumulator registers.
            let tile_row = (tmc * cluster_size + rank) * HG_BM + cw * 64;
            let tile_col = tn * HG_BN;
            let row0 = tile_row + 16 * (t_in / 32) + (t_in % 32) / 4;
            let col0 = tile_col + 2 * (t_in % 4);
            // The common case: this warpgroup's 64 × 256 block lies inside C with aligned
            // pairs (and an aligned bias): no per-element checks.
            let last = bz as usize * p.stride_c as usize
                + (tile_row + 63) as usize * p.ldc as usize
                + (tile_col + HG_BN) as usize;
            let bias_aligned =
                bias.is_empty() || (bias.as_ptr() as usize) % (2 * core::mem::size_of::<O>()) == 0;
            if pairs_aligned
                && bias_aligned
                && tile_row + 64 <= p.m
                && tile_col + HG_BN <= p.n
                && last <= c.len()
            {
                let r0 = bz as usize * p.stride_c as usize
                    + row0 as usize * p.ldc as usize
                    + col0 as usize;
                let out = c.as_mut_ptr().wrapping_add(r0);
                let bias_ptr = if bias.is_empty() {
                    core::ptr::null()
                } else {
                    bias.as_ptr().wrapping_add(col0 as usize)
                };
                // SAFETY: rows `row0`, `row0 + 8` and columns `col0 + 8j + {0, 1}` lie in the
                // block, which lies inside C and the slice (`last <= len`); pairs are aligned
                // (`pairs_aligned`, even column) and belong to this thread alone (tiles
                // partition C, the fragment layout partitions a tile); the bias has `n`
                // elements (checked at entry), is pair-aligned, and the block's columns are
                // below `n`.
                unsafe {
                    match p.act {
                        ACT_RELU => {
                            epilogue_full::<O, ACT_RELU>(out, p.ldc as usize, bias_ptr, &p, &acc)
                        }
                        ACT_GELU => {
                            epilogue_full::<O, ACT_GELU>(out, p.ldc as usize, bias_ptr, &p, &acc)
                        }
                        _ => epilogue_full::<O, ACT_NONE>(out, p.ldc as usize, bias_ptr, &p, &acc),
                    }
                }
            } else {
                unroll!(j in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                              16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31] {
                    let col = col0 + 8 * j as u32;
                    store_pair(&mut c, &p, bias, pairs_aligned, bz, row0, col,
                        acc.regs[4 * j], acc.regs[4 * j + 1]);
                    store_pair(&mut c, &p, bias, pairs_aligned, bz, row0 + 8, col,
                        acc.regs[4 * j + 2], acc.regs[4 * j + 3]);
                });
            }
            u += step;
        }
    }
    if cluster_size > 1 {
        // Keep this CTA's shared memory (barriers, multicast destinations) alive until every
        // CTA of the cluster is done with it.
        cluster::sync();
    }
}

/// The GEMM for A and B of input types `TA`, `TB` and C (and bias) of type `O`; instances:
/// bf16 × bf16 and f16 × f16 → same type or f32, e4m3 × e4m3 and e4m3 × e5m2 → bf16 or f32,
/// tf32 × tf32 → f32 (f32 storage; the host's tensor maps round to tf32).
///
/// Launch: [`HG_THREADS`] threads, [`HG_SHARED_BYTES`] of dynamic shared memory, at most one
/// CTA per SM (a persistent grid), optionally as clusters of 2 along x (then B's map has a
/// box of 128 rows). `a`: 3-D map of A (K, M, batches), box (128 bytes of K) × 128 × 1; `b`:
/// 3-D map of B stored N×K (K, N, batches), box (128 bytes of K) × (256 / cluster) × 1; both
/// 128-byte swizzled. `bias`: `n` values or empty. `act`: [`ACT_NONE`], [`ACT_RELU`] or
/// [`ACT_GELU`]. `group_m`: tile rows per raster group (≥ 1). `splits`: split-K factor (1:
/// none); with more, `workspace` holds tiles × cluster × splits × [`HG_SPLIT_TILE_FLOATS`]
/// f32 (16-byte aligned) and `counters` tiles × cluster × 2 zeros (left zero on return), where
/// tiles = batches × ⌈⌈m / 128⌉ / cluster⌉ × ⌈n / 256⌉.
#[kernel(
    arch = "sm_90a",
    launch_bounds(384, 1),
    instances(
        (Bf16, Bf16, Bf16),
        (f16, f16, f16),
        (Bf16, Bf16, f32),
        (f16, f16, f32),
        (E4M3, E4M3, Bf16),
        (E4M3, E4M3, f32),
        (E4M3, E5M2, Bf16),
        (E4M3, E5M2, f32),
        (Tf32, Tf32, f32)
    )
)]
#[allow(clippy::too_many_arguments)]
pub fn hgemm<TA: HgInput, TB: HgInput, O: GemmOut>(
    a: TensorMap,
    b: TensorMap,
    c: OutSlice<O, Manual>,
    bias: &[O],
    mut workspace: OutSlice<f32, Manual>,
    mut counters: OutSlice<u32, Manual>,
    m: u32,
    n: u32,
    k: u32,
    batches: u32,
    ldc: u32,
    stride_c: u64,
    alpha: f32,
    beta: f32,
    act: u32,
    group_m: u32,
    splits: u32,
) where
    Accumulator<128>: MmaAsync<TA, TB>,
{
    #[rustfmt::skip]
    let p = Problem { m, n, k, batches, ldc, stride_c, alpha, beta, act, group_m, splits };
    let split = SplitK {
        workspace: &mut workspace,
        counters: &mut counters,
    };
    hgemm_body::<TA, TB, O>(a, b, c, bias, split, p)
}
