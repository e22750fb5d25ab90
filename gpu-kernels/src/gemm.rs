//! Matrix multiplication: `C = alpha * A * B + beta * C`, row-major, any shape.
//!
//! [`sgemm_f32`] (f32, CUDA cores): each block computes a 128×128 tile of C with 256 threads,
//! each thread an 8×8 register micro-tile. A and B advance through K in slices of 8, staged in
//! double-buffered shared memory: while the block multiplies slice `t` out of one buffer, every
//! thread already holds slice `t + 1` in registers (16-byte global loads) and stores it into the
//! other buffer afterwards, so one barrier per slice suffices. The A slice is stored transposed
//! (k-major) so both operands are read with 16-byte `ld.shared.v4` loads; A's rows are padded
//! to 132 floats so the transposing stores are free of bank conflicts. Inside a warp the 32
//! lanes form a 4×8 grid whose shared loads touch 4 (A) and 8 (B) distinct 16-byte vectors:
//! one wavefront each, no conflicts.
//!
//! Edges: loads past M, N or K read zeros (per element, so any M, N, K works, including K not a
//! multiple of 4 or misaligned rows, which take element-wise loads); the epilogue writes only
//! in-bounds elements. When `beta == 0`, C is not read (BLAS semantics: NaNs in C do not
//! propagate).
//!
//! Batches: `blockIdx.z` selects the batch; matrices of batch `z` start at `z * stride_*`
//! elements (strided batched GEMM; a single GEMM is batch 1 with any strides).
use gpukit_device::{
    self as gpu, Manual, OutSlice, Quad, SharedArray, kernel, load_quad, shared_array,
};

/// Block tile: rows of C (M), columns of C (N), depth of one K slice.
pub const SGEMM_BM: usize = 128;
pub const SGEMM_BN: usize = 128;
pub const SGEMM_BK: usize = 8;
/// Threads per block of [`sgemm_f32`].
pub const SGEMM_THREADS: usize = 256;

/// Row length of the transposed A slice in shared memory (padded against bank conflicts).
const A_LD: usize = SGEMM_BM + 4;
const A_BUF: usize = SGEMM_BK * A_LD;
const B_BUF: usize = SGEMM_BK * SGEMM_BN;

/// `s[i .. i + valid]` followed by zeros (`valid <= 4`), with one 16-byte load when all four
/// are valid and aligned.
#[inline(always)]
fn load4(s: &[f32], i: usize, valid: usize) -> [f32; 4] {
    if valid >= 4 && i.checked_add(4).is_some_and(|e| e <= s.len()) {
        // SAFETY: `i + 4 <= len`, so the pointer stays inside the slice.
        let p = unsafe { s.as_ptr().add(i) };
        if (p as usize) % 16 == 0 {
            return load_quad(s, i);
        }
    }
    let mut v = [0.0f32; 4];
    for (j, x) in v.iter_mut().enumerate() {
        if j < valid {
            // Never past the end when the host checked the shapes; a zero otherwise (no panic
            // path in the kernel: its call would cost registers in the main loop).
            *x = s.get(i + j).copied().unwrap_or(0.0);
        }
    }
    v
}

/// Writes `alpha * acc + beta * C` to `C[i .. i + valid]` (`valid <= 4`), with 16-byte accesses
/// when all four are valid and aligned. C is read only when `beta != 0`.
///
/// # Safety
/// No other thread reads or writes `C[i .. i + valid]` during the launch.
#[inline(always)]
unsafe fn store4(
    c: &mut OutSlice<f32, Manual>,
    i: usize,
    valid: usize,
    acc: [f32; 4],
    alpha: f32,
    beta: f32,
) {
    let out = |x: f32, old: f32| {
        if beta == 0.0 {
            alpha * x
        } else {
            gpu::math::fma(beta, old, alpha * x)
        }
    };
    if valid >= 4 && i.checked_add(4).is_some_and(|e| e <= c.len()) {
        // SAFETY: `i + 4 <= len`, so the pointer stays inside the slice.
        let p = unsafe { c.as_mut_ptr().add(i) };
        if (p as usize) % 16 == 0 {
            // SAFETY: 16 aligned bytes inside the slice; the caller guarantees this thread
            // alone accesses them.
            let q = unsafe { &mut *(p as *mut Quad<f32>) };
            let old = if beta == 0.0 { [0.0; 4] } else { q.0 };
            q.0 = [
                out(acc[0], old[0]),
                out(acc[1], old[1]),
                out(acc[2], old[2]),
                out(acc[3], old[3]),
            ];
            return;
        }
    }
    for (j, &x) in acc.iter().enumerate() {
        if j < valid && i + j < c.len() {
            // SAFETY: the caller guarantees exclusive access; in bounds (checked just above).
            let e = unsafe { c.claim_mut(i + j) };
            let old = if beta == 0.0 { 0.0 } else { *e };
            *e = out(x, old);
        }
    }
}

/// Four floats with one `ld.global.nc.v4.f32`, no checks.
///
/// # Safety
/// `p` is 16-byte aligned and the 16 bytes from it are global memory that no thread writes
/// during the launch.
#[inline(always)]
unsafe fn ldg4(p: *const f32) -> [f32; 4] {
    let (x, y, z, w): (f32, f32, f32, f32);
    // SAFETY: the caller's contract.
    unsafe {
        gpukit_device::__device_asm!(
            "ld.global.nc.v4.f32 {{{x}, {y}, {z}, {w}}}, [{p}];",
            x = out(reg32) x, y = out(reg32) y, z = out(reg32) z, w = out(reg32) w,
            p = in(reg64) p,
            options(readonly, nostack, preserves_flags, pure),
        );
    }
    [x, y, z, w]
}

/// The K loop of [`sgemm_f32`]: `tiles` slices of depth 8, double-buffered in shared memory.
/// `load(t)` returns this thread's A and B quads of slice `t`; `store(buf, a, b)` puts them into
/// buffer `buf`. Returns the thread's 8×8 accumulators.
#[inline(always)]
fn mainloop(
    sa: SharedArray<f32, { 2 * A_BUF }>,
    sb: SharedArray<f32, { 2 * B_BUF }>,
    tiles: usize,
    row_t: usize,
    col_t: usize,
    store: impl Fn(usize, [f32; 4], [f32; 4]),
    load: impl Fn(usize) -> ([f32; 4], [f32; 4]),
) -> [[f32; 8]; 8] {
    let mut acc = [[0.0f32; 8]; 8];
    if tiles > 0 {
        let (va, vb) = load(0);
        store(0, va, vb);
    }
    gpu::sync_threads();
    let mut buf = 0usize;
    let mut kt = 0usize;
    while kt < tiles {
        let next = kt + 1 < tiles;
        let (mut na, mut nb) = ([0.0f32; 4], [0.0f32; 4]);
        if next {
            (na, nb) = load(kt + 1);
        }
        macro_rules! step {
            ($kk:expr) => {{
                let ao = buf * A_BUF + $kk * A_LD + row_t;
                let bo = buf * B_BUF + $kk * SGEMM_BN + col_t;
                // SAFETY: `buf <= 1`, `kk <= 7`; `row_t + 16 + 4 <= 128 <= A_LD` and
                // `col_t + 32 + 4 <= 128` with `row_t`, `col_t` multiples of 4 (the caller's
                // mapping), so all four quads are inside their arrays and aligned.
                let (a0, a1) = unsafe { (sa.get4_unchecked(ao), sa.get4_unchecked(ao + 16)) };
                let (b0, b1) = unsafe { (sb.get4_unchecked(bo), sb.get4_unchecked(bo + 32)) };
                let av = [a0[0], a0[1], a0[2], a0[3], a1[0], a1[1], a1[2], a1[3]];
                let bv = [b0[0], b0[1], b0[2], b0[3], b1[0], b1[1], b1[2], b1[3]];
                for i in 0..8 {
                    for j in 0..8 {
                        acc[i][j] = gpu::math::fma(av[i], bv[j], acc[i][j]);
                    }
                }
            }};
        }
        step!(0);
        step!(1);
        step!(2);
        step!(3);
        step!(4);
        step!(5);
        step!(6);
        step!(7);
        if next {
            store(buf ^ 1, na, nb);
        }
        gpu::sync_threads();
        buf ^= 1;
        kt += 1;
    }
    acc
}

/// C = alpha * A * B + beta * C for row-major A (m×k), B (k×n), C (m×n), f32, any shape. Launch
/// with 256 threads per block and grid (ceil(n / 128), ceil(m / 128), batches); batch `z` uses
/// the matrices at element offsets `z * stride_a`, `z * stride_b`, `z * stride_c`. Slices
/// shorter than the shapes imply read zeros / skip writes (the host checks them first).
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn sgemm_f32(
    a: &[f32],
    b: &[f32],
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
    sgemm_body::<true>(a, b, m, n, k, alpha, beta, stride_a, stride_b, stride_c, c)
}

/// [`sgemm_f32`] for tile-aligned problems only: m and n multiples of 128, k a multiple of 8,
/// 16-byte aligned matrices and strides multiple of 4 (traps otherwise). Without the edge path
/// it fits in 128 registers, so two blocks share an SM.
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn sgemm_f32_tiled(
    a: &[f32],
    b: &[f32],
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
    sgemm_body::<false>(a, b, m, n, k, alpha, beta, stride_a, stride_b, stride_c, c)
}

/// The SGEMM kernels; `EDGES`: whether blocks that are not fully interior are handled (else
/// they trap).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sgemm_body<const EDGES: bool>(
    a: &[f32],
    b: &[f32],
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
    if gpu::block_dim().x as usize != SGEMM_THREADS {
        // Wrong launch (the host API never does this): stop rather than compute a partial C.
        // (`gpu::trap`, not `gpu::assert!`: the recording call would cost this kernel 17
        // registers and a stack frame.)
        gpu::trap();
    }
    let sa = shared_array!(SGEMM_F32_A: [f32; 2 * A_BUF]);
    let sb = shared_array!(SGEMM_F32_B: [f32; 2 * B_BUF]);
    let (m, n, k) = (m as usize, n as usize, k as usize);
    let tid = gpu::thread_idx().x as usize % SGEMM_THREADS;
    let blk = gpu::block_idx();
    let z = blk.z as usize;
    let (a_base, b_base, c_base) = (
        z * stride_a as usize,
        z * stride_b as usize,
        z * stride_c as usize,
    );
    let m0 = blk.y as usize * SGEMM_BM;
    let n0 = blk.x as usize * SGEMM_BN;

    // Global → register loads: A as 128 rows × two quads of k, B as 8 rows of k × 32 quads.
    let a_row = tid / 2;
    let a_kc = (tid % 2) * 4;
    let b_kr = tid / 32;
    let b_col = (tid % 32) * 4;
    let a_gm = m0 + a_row;
    let b_gn = n0 + b_col;
    let b_cols = if b_gn < n { (n - b_gn).min(4) } else { 0 };
    let load_a = |kt: usize| {
        let kk = kt * SGEMM_BK + a_kc;
        let valid = if a_gm < m && kk < k {
            (k - kk).min(4)
        } else {
            0
        };
        load4(a, a_base + a_gm * k + kk, valid)
    };
    let load_b = |kt: usize| {
        let kk = kt * SGEMM_BK + b_kr;
        let valid = if kk < k { b_cols } else { 0 };
        load4(b, b_base + kk * n + b_gn, valid)
    };
    // SAFETY (the unchecked stores): `buf <= 1`, `a_kc + j <= 7`, `a_row <= 127`, so A
    // indices stay below 2 * A_BUF; `b_kr <= 7`, `b_col <= 124` (a multiple of 4), so B quads
    // stay inside 2 * B_BUF and aligned.
    let store = |buf: usize, va: [f32; 4], vb: [f32; 4]| {
        for (j, &v) in va.iter().enumerate() {
            unsafe { sa.set_unchecked(buf * A_BUF + (a_kc + j) * A_LD + a_row, v) };
        }
        unsafe { sb.set4_unchecked(buf * B_BUF + b_kr * SGEMM_BN + b_col, vb) };
    };

    // Compute mapping: 8 warps as 4 (M) × 2 (N), each 32×64 of C; lanes as 4 × 8, each two
    // 4-row groups 16 apart and two 4-column groups 32 apart.
    let warp = tid / 32;
    let lane = tid % 32;
    let row_t = (warp / 2) * 32 + (lane / 8) * 4;
    let col_t = (warp % 2) * 64 + (lane % 8) * 4;

    let tiles = k.div_ceil(SGEMM_BK);
    // Interior blocks of well-shaped problems (all of them at 8192³) load without any checks:
    // every row and column of the block tile exists, K is a multiple of the slice depth, and
    // rows are 16-byte aligned, so each thread's quads are in bounds and aligned.
    let aligned = |s: &[f32], base: usize, ld: usize| {
        (s.as_ptr() as usize) % 16 == 0 && base % 4 == 0 && ld % 4 == 0
    };
    let fast = m0 + SGEMM_BM <= m
        && n0 + SGEMM_BN <= n
        && k % SGEMM_BK == 0
        && aligned(a, a_base, k)
        && aligned(b, b_base, n)
        && a_base.checked_add(m * k).is_some_and(|e| e <= a.len())
        && b_base.checked_add(k * n).is_some_and(|e| e <= b.len());
    let acc = if fast {
        let pa = a.as_ptr().wrapping_add(a_base + a_gm * k + a_kc);
        let pb = b.as_ptr().wrapping_add(b_base + b_kr * n + b_gn);
        let load = |kt: usize| {
            // SAFETY: `fast` established that rows m0..m0 + 128 of A (k columns) and rows
            // 0..k of B (columns n0..n0 + 128) lie inside the slices, with 16-byte aligned rows;
            // kt < tiles, so these quads are inside and aligned. Inputs are not written during
            // the launch.
            unsafe {
                (
                    ldg4(pa.wrapping_add(kt * SGEMM_BK)),
                    ldg4(pb.wrapping_add(kt * SGEMM_BK * n)),
                )
            }
        };
        mainloop(sa, sb, tiles, row_t, col_t, store, load)
    } else if EDGES {
        mainloop(sa, sb, tiles, row_t, col_t, store, |kt| {
            (load_a(kt), load_b(kt))
        })
    } else {
        // The host launches the tiled kernel only for tile-aligned problems: this is a contract
        // violation, caught before any access.
        gpu::trap()
    };

    // Fully unrolled (macro), so `acc` stays in registers.
    macro_rules! write_row {
        ($i:literal) => {{
            let gm = m0 + row_t + ($i % 4) + ($i / 4) * 16;
            if gm < m {
                let r = &acc[$i];
                for (h, v) in [[r[0], r[1], r[2], r[3]], [r[4], r[5], r[6], r[7]]]
                    .into_iter()
                    .enumerate()
                {
                    let gn = n0 + col_t + h * 32;
                    if gn < n {
                        // SAFETY: C's tile (rows m0.., columns n0.. of batch z) belongs to this
                        // block, and inside it these (row, 4 columns) to this thread alone.
                        unsafe {
                            store4(
                                &mut c,
                                c_base + gm * n + gn,
                                (n - gn).min(4),
                                v,
                                alpha,
                                beta,
                            )
                        };
                    }
                }
            }
        }};
    }
    write_row!(0);
    write_row!(1);
    write_row!(2);
    write_row!(3);
    write_row!(4);
    write_row!(5);
    write_row!(6);
    write_row!(7);
}
