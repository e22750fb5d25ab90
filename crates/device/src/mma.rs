//! Tensor-core building blocks for `mma.sync`-based kernels (sm_80+), on raw 32-bit shared
//! addresses so they work on static ([`crate::SharedArray::shared_addr`]) and dynamic
//! ([`crate::DynamicShared::shared_addr`]) shared memory alike:
//!
//! - [`MmaInput::mma_16816`]: `mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.f32`, one
//!   16×8×16 product per warp with f32 accumulators (`HMMA.16816.F32[.BF16]` in SASS);
//! - [`ldmatrix_x4`] / [`ldmatrix_x4_trans`]: `ldmatrix.sync.aligned.m8n8.x4[.trans]` (`LDSM`),
//!   the fragment loads that feed it;
//! - [`cp_async_16`]: a 16-byte `cp.async.cg` global → shared copy with zero fill (`LDGSTS`),
//!   committed and awaited with [`crate::shared_vec::cp_async_commit`] /
//!   [`crate::shared_vec::cp_async_wait`];
//! - [`st_shared_v4`]: a synchronous 16-byte shared store (for loads that cannot use cp.async).
//!
//! Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16"), with `g = lane / 4` and
//! `t = lane % 4`:
//! - A (16×16, row-major), four `.b32` registers of two elements each: `a[0]` = row `g`,
//!   columns `2t, 2t+1`; `a[1]` = row `g + 8`; `a[2]` = row `g`, columns `2t + 8, 2t + 9`;
//!   `a[3]` = row `g + 8`, columns `2t + 8, 2t + 9`. One `ldmatrix_x4` whose lane `l` points at
//!   row `l % 16`, column `8 * (l / 16)` of the tile yields exactly these four registers.
//! - B (16×8, K×N), two registers: `b[0]` = rows (k) `2t, 2t+1` of column `g`; `b[1]` = rows
//!   `2t + 8, 2t + 9`. For B stored k-major (row `k` holds consecutive `n`), one
//!   `ldmatrix_x4_trans` whose lane `l` points at k-row `l % 16`, columns `8 * (l / 16)..` of a
//!   16×16 block yields `[b0, b1]` of the n-tile `0..8` and `[b0, b1]` of the n-tile `8..16`.
//! - C/D (16×8, f32), four registers: `c[0], c[1]` = row `g`, columns `2t, 2t+1`; `c[2], c[3]` =
//!   row `g + 8`, same columns.
//!
//! Every instruction here except the shared store and `cp.async` is warp-collective
//! (`.sync.aligned`): all 32 lanes of the warp must execute it together, with no lane diverged
//! or exited. That is the callers' contract (the functions are `unsafe`). The asm blocks are
//! deliberately not `pure`, so the compiler never moves them into divergent control flow or
//! merges them.

/// Element types the tensor cores multiply with f32 accumulation: `f16` and [`crate::Bf16`].
pub trait MmaInput: Copy {
    /// The element's 16 bits.
    fn bits16(self) -> u16;

    /// `d = a * b + c` for one 16×8×16 tile (`mma.sync.aligned.m16n8k16.row.col.f32.T.T.f32`):
    /// `a` holds this lane's A fragment, `b` its B fragment, `c` its accumulators (layouts in
    /// the module docs). Returns the new accumulators.
    ///
    /// # Safety
    /// All 32 lanes of the warp execute this call together (convergent, none exited).
    unsafe fn mma_16816(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4];
}

macro_rules! mma_input {
    ($t:ty, $ty:literal) => {
        impl MmaInput for $t {
            #[inline(always)]
            fn bits16(self) -> u16 {
                self.to_bits()
            }

            #[inline(always)]
            unsafe fn mma_16816(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
                let [mut d0, mut d1, mut d2, mut d3] = c;
                // SAFETY: register-only instruction (sm_80+); the caller guarantees the whole
                // warp executes it together, as `.sync.aligned` requires. Not `pure`: it is a
                // warp-collective and must stay where the caller put it.
                unsafe {
                    crate::__device_asm!(
                        concat!(
                            "mma.sync.aligned.m16n8k16.row.col.f32.", $ty, ".", $ty, ".f32 ",
                            "{{{d0}, {d1}, {d2}, {d3}}}, {{{a0}, {a1}, {a2}, {a3}}}, ",
                            "{{{b0}, {b1}}}, {{{d0}, {d1}, {d2}, {d3}}};"
                        ),
                        d0 = inout(reg32) d0, d1 = inout(reg32) d1,
                        d2 = inout(reg32) d2, d3 = inout(reg32) d3,
                        a0 = in(reg32) a[0], a1 = in(reg32) a[1],
                        a2 = in(reg32) a[2], a3 = in(reg32) a[3],
                        b0 = in(reg32) b[0], b1 = in(reg32) b[1],
                        options(nomem, nostack, preserves_flags),
                    );
                }
                [d0, d1, d2, d3]
            }
        }
    };
}

#[cfg(gpukit_unstable)]
mma_input!(f16, "f16");
mma_input!(crate::half::Bf16, "bf16");

/// `ldmatrix.sync.aligned.m8n8.x4.shared.b16`: lane `l` supplies `addr`, the shared address of
/// row `l % 8` of matrix `l / 8` (8 consecutive 16-bit elements); every lane receives one
/// register (two elements) of each of the four 8×8 matrices: register `j` holds row `l / 4`,
/// elements `2 * (l % 4)` and `+ 1` of matrix `j`.
///
/// # Safety
/// `addr` is 16-byte aligned and the 16 bytes from it lie in this block's shared memory, for
/// every lane; all 32 lanes of the warp execute the call together.
#[inline(always)]
pub unsafe fn ldmatrix_x4(addr: u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: the caller's contract. `readonly`: reads shared memory only; not `pure`: the
    // values depend on other threads' stores ordered by barriers, and it is warp-collective.
    unsafe {
        crate::__device_asm!(
            "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {{{a}, {b}, {c}, {d}}}, [{p}];",
            a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
            p = in(reg32) addr,
            options(readonly, nostack, preserves_flags),
        );
    }
    [a, b, c, d]
}

/// As [`ldmatrix_x4`] with `.trans`: each 8×8 matrix is transposed on the way, so register `j`
/// holds elements `[2 * (l % 4)][l / 4]` and `[2 * (l % 4) + 1][l / 4]` (row, column as
/// addressed) of matrix `j`.
///
/// # Safety
/// As [`ldmatrix_x4`].
#[inline(always)]
pub unsafe fn ldmatrix_x4_trans(addr: u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: as `ldmatrix_x4`.
    unsafe {
        crate::__device_asm!(
            "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {{{a}, {b}, {c}, {d}}}, [{p}];",
            a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
            p = in(reg32) addr,
            options(readonly, nostack, preserves_flags),
        );
    }
    [a, b, c, d]
}

/// `cp.async.cg.shared.global [dst], [src], 16, src_bytes`: copies `src_bytes` (0..=16) bytes
/// from global `src` to shared `dst` and zero-fills the rest of the 16 destination bytes,
/// asynchronously (complete after [`crate::shared_vec::cp_async_commit`] and a matching
/// [`crate::shared_vec::cp_async_wait`]; visible to other threads after a barrier that follows
/// the wait). With `src_bytes == 0` nothing is read and the 16 bytes become zeros.
///
/// # Safety
/// `dst` is a 16-byte aligned shared address with 16 bytes inside this block's shared memory
/// that nothing else accesses until the copy completes; `src` is 16-byte aligned global memory
/// of which the first `src_bytes` bytes are readable and not written during the launch;
/// `src_bytes <= 16`.
#[inline(always)]
pub unsafe fn cp_async_16(dst: u32, src: *const u8, src_bytes: u32) {
    // SAFETY: the caller's contract. Not `nomem`: it writes shared memory (asynchronously), so
    // it must stay ordered with the surrounding barriers and waits.
    unsafe {
        crate::__device_asm!(
            "cp.async.cg.shared.global [{d}], [{s}], 16, {n};",
            d = in(reg32) dst, s = in(reg64) src, n = in(reg32) src_bytes,
            options(nostack, preserves_flags),
        );
    }
}

/// `st.shared.v4.b32 [addr], v`: 16 bytes stored synchronously.
///
/// # Safety
/// `addr` is a 16-byte aligned shared address with 16 bytes inside this block's shared memory
/// that no other thread accesses concurrently.
#[inline(always)]
pub unsafe fn st_shared_v4(addr: u32, v: [u32; 4]) {
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "st.shared.v4.b32 [{p}], {{{a}, {b}, {c}, {d}}};",
            p = in(reg32) addr,
            a = in(reg32) v[0], b = in(reg32) v[1], c = in(reg32) v[2], d = in(reg32) v[3],
            options(nostack, preserves_flags),
        );
    }
}

/// `cvt.rna.tf32.f32`: `x` rounded (to nearest, ties away from zero) to TF32, returned as the
/// 32-bit register the TF32 tensor-core instructions take (the low 13 mantissa bits zero).
#[inline(always)]
pub fn to_tf32(x: f32) -> u32 {
    let r: u32;
    // SAFETY: a register-only conversion (sm_80+); no memory, no side effects, so `pure`.
    unsafe {
        crate::__device_asm!(
            "cvt.rna.tf32.f32 {r}, {x};",
            r = out(reg32) r, x = in(reg32) x,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}

/// `d = a * b + c` for one 16×8×8 tile with TF32 inputs and f32 accumulators
/// (`mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32`, `HMMA.1688.F32.TF32`). Fragments, with
/// `g = lane / 4`, `t = lane % 4`: `a[0]` = A(g, t), `a[1]` = A(g + 8, t), `a[2]` = A(g, t + 4),
/// `a[3]` = A(g + 8, t + 4); `b[0]` = B(k = t, n = g), `b[1]` = B(t + 4, g); C as for
/// [`MmaInput::mma_16816`]. These are exactly the registers [`ldmatrix_x4`] yields when each
/// "16-bit pair" it moves is one 32-bit element, so 16-bit and f32 tiles in the same shared
/// layout (rows of 16-byte chunks) are addressed the same way.
///
/// # Safety
/// All 32 lanes of the warp execute this call together (convergent, none exited).
#[inline(always)]
pub unsafe fn mma_tf32_1688(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
    let [mut d0, mut d1, mut d2, mut d3] = c;
    // SAFETY: register-only instruction (sm_80+); the caller guarantees the whole warp executes
    // it together. Not `pure`: it is a warp-collective and must stay where the caller put it.
    unsafe {
        crate::__device_asm!(
            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 \
             {{{d0}, {d1}, {d2}, {d3}}}, {{{a0}, {a1}, {a2}, {a3}}}, {{{b0}, {b1}}}, \
             {{{d0}, {d1}, {d2}, {d3}}};",
            d0 = inout(reg32) d0, d1 = inout(reg32) d1,
            d2 = inout(reg32) d2, d3 = inout(reg32) d3,
            a0 = in(reg32) a[0], a1 = in(reg32) a[1],
            a2 = in(reg32) a[2], a3 = in(reg32) a[3],
            b0 = in(reg32) b[0], b1 = in(reg32) b[1],
            options(nomem, nostack, preserves_flags),
        );
    }
    [d0, d1, d2, d3]
}
