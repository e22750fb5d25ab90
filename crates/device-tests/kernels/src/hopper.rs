//! Hopper (sm_90a) primitives: the mbarrier pipeline, TMA loads/stores (multicast too),
//! clusters and distributed shared memory, `elect.sync`, and wgmma for every input type with
//! both operand sources. Each kernel's result is checked against a CPU/float64 reference by the
//! GPU tests (`benches/hopper_harness.py --cases primitives` until the runtime launches
//! tensor-map and cluster kernels).
use gpukit_device::cluster;
use gpukit_device::mbarrier::{MBarrier, Pipeline, fence_init};
use gpukit_device::tma::{self, TensorMap};
use gpukit_device::warpgroup::elect_one;
use gpukit_device::wgmma::{
    self, Accumulator, E4M3, E5M2, FenceOperands, MatrixDesc, MmaAsync, Tf32,
};
use gpukit_device::{self as gpu, Bf16, Manual, OutSlice, kernel};

#[inline(always)]
fn trap() -> ! {
    // SAFETY: `trap` aborts the kernel; no memory is touched.
    unsafe { core::arch::asm!("trap;", options(noreturn, nostack)) }
}

#[inline(always)]
fn st_shared_u32(addr: u32, v: u32) {
    // SAFETY: every caller passes an address inside its checked dynamic allocation.
    unsafe {
        core::arch::asm!("st.shared.u32 [{a}], {v};", a = in(reg32) addr, v = in(reg32) v,
            options(nostack, preserves_flags));
    }
}

#[inline(always)]
fn ld_shared_u32(addr: u32) -> u32 {
    let v: u32;
    // SAFETY: as `st_shared_u32`.
    unsafe {
        core::arch::asm!("ld.shared.u32 {v}, [{a}];", a = in(reg32) addr, v = out(reg32) v,
            options(nostack, preserves_flags, readonly));
    }
    v
}

/// `x`, through an `asm!` the optimiser cannot see into.
///
/// Why the TMA kernels need it: with `if t == 0 { init } sync; if t == 0 { copy }` LLVM threads
/// the second test into the first branch and duplicates the block (or cluster) barrier into
/// it. Warp 0 then reaches two different `.aligned` barrier instructions (lane 0 one, lanes
/// 1..31 the other): undefined behaviour, which on the H200 released the barrier without
/// thread 0 (or never), so the copy was never issued and every thread spun on the mbarrier
/// forever. Testing an opaque copy of the index after the barrier leaves LLVM nothing to
/// thread, and the PTX keeps one barrier on the joined path (`hopper_ptx.rs` checks it).
#[inline(always)]
fn opaque(x: u32) -> u32 {
    let y: u32;
    // SAFETY: a register move.
    unsafe {
        core::arch::asm!("mov.b32 {y}, {x};", x = in(reg32) x, y = out(reg32) y,
            options(nomem, nostack, preserves_flags));
    }
    y
}

/// Dynamic shared memory rounded up to 1024 bytes, and its usable size; traps if smaller than
/// `need` bytes after alignment.
#[inline(always)]
fn smem_1024(need: u32) -> u32 {
    let smem = gpu::dynamic_shared::<u32>();
    let base = (smem.shared_addr() + 1023) & !1023;
    if (smem.len() as u32) * 4 < need + (base - smem.shared_addr()) {
        trap();
    }
    base
}

/// Stages of [`mbarrier_pipeline`] and words per stage.
const PIPE_STAGES: usize = 4;
const PIPE_WORDS: u32 = 32;

/// Two warps, `PIPE_STAGES * 128 + 64` bytes of dynamic shared memory: warp 0 produces
/// `x` 32 words at a time into a 4-stage ring (ordinary stores, one lane commits), warp 1
/// consumes it and writes `out[i] = 3 * x[i] + 1`. `x.len()` a multiple of 32; many times the
/// ring's size, so every phase bit is exercised.
#[kernel(arch = "sm_90a")]
pub fn mbarrier_pipeline(x: &[u32], mut out: OutSlice<u32, Manual>) {
    let base = smem_1024(PIPE_STAGES as u32 * PIPE_WORDS * 4 + 64);
    // SAFETY: the barriers live after the ring inside the checked allocation; thread 0
    // initialises them before the block barrier below.
    let pipe = unsafe { Pipeline::<PIPE_STAGES>::at(base + PIPE_STAGES as u32 * PIPE_WORDS * 4) };
    let t = gpu::thread_idx().x;
    if t == 0 {
        // SAFETY: one thread, before any use.
        unsafe { pipe.init(1) };
        fence_init();
    }
    gpu::sync_threads();
    let (warp, lane) = (t / 32, t % 32);
    let chunks = x.len() as u32 / PIPE_WORDS;
    if warp == 0 {
        let mut prod = pipe.producer();
        for c in 0..chunks {
            let stage = prod.acquire();
            let addr = base + stage.index() * PIPE_WORDS * 4 + lane * 4;
            st_shared_u32(addr, x[(c * PIPE_WORDS + lane) as usize]);
            gpu::sync_warp();
            if lane == 0 {
                stage.commit(0);
            } else {
                stage.forget();
            }
        }
    } else if warp == 1 {
        let mut cons = pipe.consumer();
        let o = out.as_mut_ptr();
        for c in 0..chunks {
            let stage = cons.wait();
            let v = ld_shared_u32(base + stage.index() * PIPE_WORDS * 4 + lane * 4);
            let i = (c * PIPE_WORDS + lane) as usize;
            if i < out.len() {
                // SAFETY: in bounds; element `i` is written by this lane alone.
                unsafe { *o.add(i) = 3 * v + 1 };
            }
            gpu::sync_warp();
            if lane == 0 {
                cons.release(stage);
            } else {
                cons.forget(stage);
            }
        }
    }
    gpu::sync_threads();
    if t == 0 {
        for i in 0..PIPE_STAGES as u32 {
            // SAFETY: both warps are past their last use (block barrier above).
            unsafe {
                pipe.full(i).invalidate();
                pipe.empty(i).invalidate();
            }
        }
    }
}

/// Box of the TMA tests: 32 rows × 32 u32 (128 bytes: one 128-byte swizzle row).
const BOX_ROWS: u32 = 32;
const BOX_BYTES: u32 = BOX_ROWS * 128;

/// One CTA per box of a 2-D u32 tensor of `cols` × `rows` (innermost first), 128 threads,
/// `BOX_BYTES + 1024 + 64` bytes of dynamic shared memory: TMA-loads box
/// (`blockIdx.x`, `blockIdx.y`) from `src` (zeros outside the tensor), adds 1 to every word in
/// shared memory, and TMA-stores it to the same place of `dst` (clipped at the edges). Both
/// maps: 2-D, box 32 × 32, 128-byte swizzle (the GEMM's layout; the word-wise update does not
/// depend on where the swizzle puts each word).
#[kernel(arch = "sm_90a")]
pub fn tma_roundtrip(src: TensorMap, dst: TensorMap) {
    let base = smem_1024(BOX_BYTES + 64);
    // SAFETY: 8 bytes after the box inside the checked allocation; initialised below.
    let bar = unsafe { MBarrier::at(base + BOX_BYTES) };
    let t = gpu::thread_idx().x;
    let (bx, by) = (gpu::block_idx().x, gpu::block_idx().y);
    if t == 0 {
        // SAFETY: one thread, before any use.
        unsafe { bar.init(1) };
        fence_init();
        src.prefetch();
    }
    gpu::sync_threads();
    if opaque(t) == 0 {
        // SAFETY: the box (aligned, reserved) is written only by this copy before the barrier
        // phase completes; the barrier expects its bytes below; the map is 2-D.
        unsafe { src.load_2d(base, bar, (bx * 32) as i32, (by * BOX_ROWS) as i32) };
        bar.arrive_expect_tx(BOX_BYTES);
    }
    bar.wait_parity(0);
    for w in (t..BOX_BYTES / 4).step_by(128) {
        let a = base + 4 * w;
        st_shared_u32(a, ld_shared_u32(a) + 1);
    }
    tma::fence_proxy_async_shared();
    gpu::sync_threads();
    if t == 0 {
        // SAFETY: the box was written by this CTA and fenced for the async proxy; it stays
        // untouched until the wait below; the map is 2-D.
        unsafe { dst.store_2d(base, (bx * 32) as i32, (by * BOX_ROWS) as i32) };
        tma::bulk_commit_group();
        tma::bulk_wait_group_read::<0>();
        tma::bulk_wait_group::<0>();
    }
}

/// [`tma_roundtrip`] through 3-D maps (`cols` × `rows` × batches, innermost first; box
/// 32 × 32 × 1): CTA (`x`, `y`, `z`) moves box (`x`, `y`) of batch `z`, adding `z + 1`.
#[kernel(arch = "sm_90a")]
pub fn tma_roundtrip_3d(src: TensorMap, dst: TensorMap) {
    let base = smem_1024(BOX_BYTES + 64);
    // SAFETY: 8 bytes after the box inside the checked allocation; initialised below.
    let bar = unsafe { MBarrier::at(base + BOX_BYTES) };
    let t = gpu::thread_idx().x;
    let (bx, by, bz) = (gpu::block_idx().x, gpu::block_idx().y, gpu::block_idx().z);
    if t == 0 {
        // SAFETY: one thread, before any use.
        unsafe { bar.init(1) };
        fence_init();
    }
    gpu::sync_threads();
    if opaque(t) == 0 {
        // SAFETY: as `tma_roundtrip`; the map is 3-D.
        unsafe {
            src.load_3d(
                base,
                bar,
                (bx * 32) as i32,
                (by * BOX_ROWS) as i32,
                bz as i32,
            )
        };
        bar.arrive_expect_tx(BOX_BYTES);
    }
    bar.wait_parity(0);
    for w in (t..BOX_BYTES / 4).step_by(128) {
        let a = base + 4 * w;
        st_shared_u32(a, ld_shared_u32(a) + bz + 1);
    }
    tma::fence_proxy_async_shared();
    gpu::sync_threads();
    if t == 0 {
        // SAFETY: as `tma_roundtrip`; the map is 3-D.
        unsafe { dst.store_3d(base, (bx * 32) as i32, (by * BOX_ROWS) as i32, bz as i32) };
        tma::bulk_commit_group();
        tma::bulk_wait_group_read::<0>();
        tma::bulk_wait_group::<0>();
    }
}

/// Clusters of 2 along x, 128 threads, `BOX_BYTES + 1024 + 64` bytes of dynamic shared memory:
/// cluster `c` covers box column `c`, box row `blockIdx.y`. Each CTA loads half of the box's
/// rows (16 × 32 u32, map box 32 × 16) and multicasts it to both CTAs; then CTA `r` TMA-stores
/// the whole box, plus `r`, into `dst` at rows offset by `r * rows` (so `dst` has twice the rows
/// of `src`). Maps: 2-D, 128-byte swizzle; `src` box 32 × 16, `dst` box 32 × 32.
#[kernel(arch = "sm_90a")]
pub fn tma_multicast_roundtrip(src: TensorMap, dst: TensorMap, rows: u32) {
    let base = smem_1024(BOX_BYTES + 64);
    if cluster::cta_count() != 2 {
        trap();
    }
    // SAFETY: as `tma_roundtrip`.
    let bar = unsafe { MBarrier::at(base + BOX_BYTES) };
    let t = gpu::thread_idx().x;
    let rank = cluster::cta_rank();
    let (bx, by) = (cluster::cluster_id_x(), gpu::block_idx().y);
    if t == 0 {
        // SAFETY: one thread, before any use; published by the cluster barrier.
        unsafe { bar.init(1) };
        fence_init();
    }
    cluster::sync();
    if opaque(t) == 0 {
        let half = BOX_BYTES / 2;
        // SAFETY: this CTA's half-box, at the same offset in both CTAs, is written only by
        // this copy; both CTAs' barriers expect the whole box (two halves); 2-D map.
        unsafe {
            src.load_2d_multicast(
                base + rank * half,
                bar,
                (bx * 32) as i32,
                (by * BOX_ROWS + rank * BOX_ROWS / 2) as i32,
                0b11,
            )
        };
        bar.expect_tx(BOX_BYTES);
        bar.arrive();
    }
    bar.wait_parity(0);
    for w in (t..BOX_BYTES / 4).step_by(128) {
        let a = base + 4 * w;
        st_shared_u32(a, ld_shared_u32(a) + rank);
    }
    tma::fence_proxy_async_shared();
    gpu::sync_threads();
    if t == 0 {
        // SAFETY: as `tma_roundtrip`.
        unsafe { dst.store_2d(base, (bx * 32) as i32, (by * BOX_ROWS + rank * rows) as i32) };
        tma::bulk_commit_group();
        tma::bulk_wait_group::<0>();
    }
    // The other CTA's copy wrote into this CTA's shared memory: leave together.
    cluster::sync();
}

/// Clusters of any size along x, 32 threads, 64 bytes of dynamic shared memory. Per CTA `b`
/// (linear block index) writes 4 words to `out[4b..]`: its rank, the cluster size, the word
/// the next CTA of the cluster (rank + 1, wrapping) stored in its shared memory (`1000 * rank +
/// b` of that CTA), read through distributed shared memory, and 1 when a barrier that every
/// CTA of the cluster arrived on remotely completed its phase 0.
#[kernel(arch = "sm_90a")]
pub fn cluster_exchange(mut out: OutSlice<u32, Manual>) {
    let base = smem_1024(64);
    let t = gpu::thread_idx().x;
    let b = gpu::block_idx().x;
    let (rank, size) = (cluster::cta_rank(), cluster::cta_count());
    // SAFETY: 8 bytes at `base + 8` inside the checked allocation.
    let bar = unsafe { MBarrier::at(base + 8) };
    if t == 0 {
        st_shared_u32(base, 1000 * rank + b);
        // SAFETY: one thread, before any use; published by the cluster barrier.
        unsafe { bar.init(size) };
        fence_init();
    }
    cluster::sync();
    let next = (rank + 1) % size;
    // SAFETY: the next CTA's word was written before the cluster barrier and the CTA stays
    // alive until the final one.
    let theirs = unsafe { cluster::ld_u32(cluster::map_shared(base, next)) };
    if t < size {
        // SAFETY: every CTA's barrier is initialised (cluster barrier above) and alive.
        unsafe { bar.arrive_cluster(t) };
    }
    bar.wait_parity(0);
    if t == 0 {
        let o = out.as_mut_ptr();
        let i = 4 * b as usize;
        if i + 4 <= out.len() {
            // SAFETY: in bounds; this CTA's four words.
            unsafe {
                *o.add(i) = rank;
                *o.add(i + 1) = size;
                *o.add(i + 2) = theirs;
                *o.add(i + 3) = 1;
            }
        }
    }
    cluster::sync();
}

/// Any block size: `out[warp]` = 1000 × (lanes elected) + the elected lane, from `elect.sync`
/// (in odd warps only the odd lanes take part, so the lowest of them, lane 1, is elected).
#[kernel(arch = "sm_90a")]
pub fn elect_lanes(mut out: OutSlice<u32, Manual>) {
    gpukit_device::warpgroup::griddep_wait();
    let t = gpu::thread_idx().x;
    let (warp, lane) = (t / 32, t % 32);
    let global_warp = (gpu::block_idx().x * gpu::block_dim().x + t) / 32;
    let chosen = if warp % 2 == 0 || lane % 2 == 1 {
        elect_one()
    } else {
        false
    };
    let votes = gpu::warp::ballot_mask(gpu::warp::active_mask(), chosen);
    if lane == 0 && (global_warp as usize) < out.len() {
        // SAFETY: in bounds; one lane per warp writes its warp's element.
        unsafe {
            *out.as_mut_ptr().add(global_warp as usize) =
                1000 * votes.count_ones() + votes.trailing_zeros()
        };
    }
    gpukit_device::warpgroup::griddep_launch_dependents();
}

/// One warp, 1024 + 2048 bytes of dynamic shared memory: lane `l` holds `x[4 l + j]` as
/// register `j` of a `stmatrix` (four 8×8 matrices of 16-bit elements, element pairs per
/// register); `out[0..512]` is the shared memory after `stmatrix.x4` (matrix `j` row-major at
/// element `64 j`), `out[512..1024]` after `stmatrix.x4.trans`, both read back as 16-bit words.
#[kernel(arch = "sm_90a")]
pub fn stmatrix_layout(x: &[u32], mut out: OutSlice<u16, Manual>) {
    let base = smem_1024(2048);
    let lane = gpu::thread_idx().x % 32;
    if x.len() < 128 || out.len() < 1024 || gpu::block_dim().x != 32 {
        trap();
    }
    let regs = [
        x[4 * lane as usize],
        x[4 * lane as usize + 1],
        x[4 * lane as usize + 2],
        x[4 * lane as usize + 3],
    ];
    // Lane `l` names row `l % 8` of matrix `l / 8` (16 bytes per row, 128 per matrix).
    let row = base + (lane / 8) * 128 + (lane % 8) * 16;
    // SAFETY: every lane's 16 bytes lie in the checked allocation, distinct per lane; the whole
    // warp executes the stores together.
    unsafe {
        gpukit_device::warpgroup::stmatrix_x4(row, regs);
        gpukit_device::warpgroup::stmatrix_x4_trans(row + 1024, regs);
    }
    gpu::sync_warp();
    let o = out.as_mut_ptr();
    for w in (lane..512).step_by(32) {
        let v = ld_shared_u32(base + 4 * w);
        // SAFETY: `2 w + 1 < 1024 <= len`; each lane writes its own words.
        unsafe {
            *o.add(2 * w as usize) = v as u16;
            *o.add(2 * w as usize + 1) = (v >> 16) as u16;
        }
    }
}

/// Writes the 64 × 32-word (128-byte) rows of `src` (row-major u32 words) into shared memory at
/// `dst` in the 128-byte swizzled K-major layout TMA produces: 16-byte chunk `c` of row `r` at
/// chunk `c ^ (r % 8)`.
#[inline(always)]
fn fill_sw128(dst: u32, src: &[u32], rows: u32) {
    let t = gpu::thread_idx().x;
    for w in (t..rows * 32).step_by(128) {
        let (r, c) = (w / 32, w % 32);
        let chunk = (c / 4) ^ (r % 8);
        st_shared_u32(dst + r * 128 + chunk * 16 + (c % 4) * 4, src[w as usize]);
    }
}

/// One warpgroup (128 threads), `1024 + 64 * 128 + n * 128` bytes of dynamic shared memory:
/// D (64 × N, f32, in fragment order in `d`: `d[t * R + i]` is register `i` of thread `t`) = A · Bᵀ for A = 64 rows and B = N rows of 128 bytes of K
/// each (`a`, `b`: the rows' raw words, row-major), through `N = 2R`-wide wgmma in four steps of
/// 32 bytes of K. `rs`: A from registers (16-bit types only).
#[inline(always)]
fn wgmma_check<TA, TB, const R: usize>(a: &[u32], b: &[u32], mut d: OutSlice<f32, Manual>, rs: bool)
where
    Accumulator<R>: MmaAsync<TA, TB>,
{
    let n = 2 * R as u32;
    let base = smem_1024(64 * 128 + n * 128);
    let (sa, sb) = (base, base + 64 * 128);
    if a.len() < 64 * 32 || b.len() < n as usize * 32 {
        trap();
    }
    fill_sw128(sa, a, 64);
    fill_sw128(sb, b, n);
    tma::fence_proxy_async_shared();
    gpu::sync_threads();
    let t = gpu::thread_idx().x;
    let (ad, bd) = (MatrixDesc::k_major_sw128(sa), MatrixDesc::k_major_sw128(sb));
    // A-fragment registers of k step `kk` (16-bit layout): rows 16 w + l/4 (+8), k words
    // (l % 4) (+4) of the 8-word (32-byte) step.
    let frag = |kk: u32| {
        let (w, l) = (t / 32, t % 32);
        let row = 16 * w + l / 4;
        let word = |r: u32, c: u32| a[(r * 32 + kk * 8 + c) as usize];
        [
            word(row, l % 4),
            word(row + 8, l % 4),
            word(row, l % 4 + 4),
            word(row + 8, l % 4 + 4),
        ]
    };
    // All A fragments first: no bounds check (or its panic call) may sit inside the wgmma
    // pipeline, or ptxas serializes it.
    let frags = if rs {
        [frag(0), frag(1), frag(2), frag(3)]
    } else {
        [[0; 4]; 4]
    };
    // SAFETY: the whole warpgroup runs this; the operands were written by ordinary stores,
    // fenced for the async proxy and published by the block barrier; nothing writes them again.
    let mut acc = unsafe {
        if rs {
            let mut acc = Accumulator::<R>::zeroed();
            acc.fence_operands();
            wgmma::fence();
            acc.mma_async_rs(frags[0], bd, false);
            acc.mma_async_rs(frags[1], bd.add_bytes(32), true);
            acc.mma_async_rs(frags[2], bd.add_bytes(64), true);
            acc.mma_async_rs(frags[3], bd.add_bytes(96), true);
            wgmma::commit_group();
            wgmma::wait_group::<0>();
            acc
        } else {
            wgmma::fence();
            let mut acc = <Accumulator<R> as MmaAsync<TA, TB>>::mma_async_new(ad, bd);
            acc.mma_async(ad.add_bytes(32), bd.add_bytes(32), true);
            acc.mma_async(ad.add_bytes(64), bd.add_bytes(64), true);
            acc.mma_async(ad.add_bytes(96), bd.add_bytes(96), true);
            wgmma::commit_group();
            wgmma::wait_group::<0>();
            acc
        }
    };
    acc.fence_operands();
    if d.len() >= 128 * R {
        // SAFETY: `128 * R` elements are in bounds; thread `t` writes its own `R` (fragment
        // order: register `i` of thread `t` at `t * R + i`; the host maps them to (row,
        // column) with the documented layout). One array store keeps the registers constant-
        // indexed.
        unsafe { *(d.as_mut_ptr().add(t as usize * R) as *mut [f32; R]) = acc.regs };
    }
}

/// [`wgmma_check`] for bf16, N = 8, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_bf16_n8(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<Bf16, Bf16, 4>(a, b, d, false)
}

/// [`wgmma_check`] for bf16, N = 64, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_bf16_n64(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<Bf16, Bf16, 32>(a, b, d, false)
}

/// [`wgmma_check`] for bf16, N = 256, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_bf16_n256(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<Bf16, Bf16, 128>(a, b, d, false)
}

/// [`wgmma_check`] for f16, N = 64, A from registers.
#[kernel(arch = "sm_90a")]
pub fn wgmma_f16_n64_rs(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<f16, f16, 32>(a, b, d, true)
}

/// [`wgmma_check`] for fp8 e4m3 × e5m2, N = 128, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_e4m3_e5m2_n128(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<E4M3, E5M2, 64>(a, b, d, false)
}

/// [`wgmma_check`] for tf32, N = 32, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_tf32_n32(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<Tf32, Tf32, 16>(a, b, d, false)
}

/// [`wgmma_check`] for f16, N = 64, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_f16_n64(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<f16, f16, 32>(a, b, d, false)
}

/// [`wgmma_check`] for bf16, N = 128, A from registers.
#[kernel(arch = "sm_90a")]
pub fn wgmma_bf16_n128_rs(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<Bf16, Bf16, 64>(a, b, d, true)
}

/// [`wgmma_check`] for fp8 e4m3 × e4m3, N = 64, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_e4m3_n64(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<E4M3, E4M3, 32>(a, b, d, false)
}

/// [`wgmma_check`] for fp8 e5m2 × e5m2, N = 32, shared A.
#[kernel(arch = "sm_90a")]
pub fn wgmma_e5m2_n32(a: &[u32], b: &[u32], d: OutSlice<f32, Manual>) {
    wgmma_check::<E5M2, E5M2, 16>(a, b, d, false)
}

/// Words each thread of the register-rich warpgroup of [`setmaxnreg_roles`] keeps live.
const NREG_WORDS: usize = 32;

/// Two warpgroups (256 threads, one CTA per SM): warpgroup 0 gives registers away
/// (`setmaxnreg.dec 24`), warpgroup 1 takes them (`setmaxnreg.inc 64`) and keeps
/// [`NREG_WORDS`] words of `x` live in registers. `out[i] = x[i] + 1` for warpgroup 0's
/// threads (`i = blockIdx.x * 128 + t`), and for warpgroup 1's thread `t`
/// `out[n + i] = Σ_j (j + 1) · x[(i + 7 j) % n]` (wrapping u32 arithmetic), with `n = x.len()`.
#[kernel(arch = "sm_90a", launch_bounds(256, 1))]
pub fn setmaxnreg_roles(x: &[u32], mut out: OutSlice<u32, Manual>) {
    let t = gpu::thread_idx().x;
    let n = x.len() as u32;
    let i = gpu::block_idx().x * 128 + t % 128;
    if out.len() < 2 * x.len() || n == 0 {
        trap();
    }
    let o = out.as_mut_ptr();
    if t < 128 {
        // SAFETY: the whole warpgroup runs it; the code below needs few registers.
        unsafe { nreg_dec() };
        if i < n {
            // SAFETY: in bounds; one thread per element.
            unsafe { *o.add(i as usize) = x[i as usize].wrapping_add(1) };
        }
    } else {
        // SAFETY: the whole warpgroup runs it. The CTA holds 256 × its entry register count
        // (ptxas: 50) ≥ 12288 registers, and 128 × (24 + 64) = 11264 fit in them, so the
        // increase never waits.
        unsafe { nreg_inc() };
        if i < n {
            let v: [u32; NREG_WORDS] = gpu::unroll::array(|j| x[((i + 7 * j as u32) % n) as usize]);
            let mut acc = 0u32;
            gpu::unroll::each::<NREG_WORDS>(|j| {
                acc = acc.wrapping_add((j as u32 + 1).wrapping_mul(v[j]))
            });
            // SAFETY: `n + i < 2 n <= len`; one thread per element.
            unsafe { *o.add((n + i) as usize) = acc };
        }
    }
}

#[inline(always)]
unsafe fn nreg_dec() {
    // SAFETY: the caller's contract.
    unsafe { gpukit_device::warpgroup::setmaxnreg_dec::<24>() }
}

#[inline(always)]
unsafe fn nreg_inc() {
    // SAFETY: the caller's contract.
    unsafe { gpukit_device::warpgroup::setmaxnreg_inc::<64>() }
}
