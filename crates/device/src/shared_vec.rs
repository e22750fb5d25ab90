//! Vector and asynchronous shared-memory accesses for tiled kernels (GEMM and the like).
//!
//! - [`SharedArray::get4`] / [`SharedArray::set4`]: one 16-byte `ld.shared.v4.f32` /
//!   `st.shared.v4.f32` (`LDS.128` / `STS.128` in SASS), the access width a register-tiled
//!   matrix multiply needs to keep shared memory off the critical path.
//! - [`SharedArray::cp_async16`] and [`cp_async_commit`] / [`cp_async_wait`]: `cp.async.cg`
//!   copies of 16 bytes from global to shared memory that do not pass through registers
//!   (sm_80+), with zero fill for the part past the end of the source.
//! - [`SharedArray::ldmatrix_x4`]: `ldmatrix.sync.aligned.m8n8.x4.shared.b16`, the fragment load
//!   of the tensor-core `mma.sync` instructions.
//!
//! Everything here addresses shared memory through the array's 32-bit shared address
//! ([`SharedArray::shared_addr`]) and bounds-checks element indices against the array's length,
//! as the scalar accessors in [`crate::shared`] do; ordering between threads is the kernel's job.
use crate::shared::SharedArray;

impl<const N: usize> SharedArray<f32, N> {
    /// Elements `i .. i + 4` with one `ld.shared.v4.f32`. `i` must be a multiple of 4 and
    /// `i + 4 <= N` (checked: otherwise panics, i.e. traps).
    #[inline(always)]
    pub fn get4(&self, i: usize) -> [f32; 4] {
        assert!(
            i.is_multiple_of(4) && i < N && N - i >= 4,
            "shared get4 index out of bounds or unaligned"
        );
        // SAFETY: checked just above.
        unsafe { self.get4_unchecked(i) }
    }

    /// Stores `v` at elements `i .. i + 4` with one `st.shared.v4.f32` (same checks as
    /// [`Self::get4`]).
    #[inline(always)]
    pub fn set4(&self, i: usize, v: [f32; 4]) {
        assert!(
            i.is_multiple_of(4) && i < N && N - i >= 4,
            "shared set4 index out of bounds or unaligned"
        );
        // SAFETY: checked just above.
        unsafe { self.set4_unchecked(i, v) }
    }

    /// [`Self::get4`] without the checks, for inner loops whose indices are proven in range.
    ///
    /// # Safety
    /// `i % 4 == 0` and `i + 4 <= N`.
    #[inline(always)]
    pub unsafe fn get4_unchecked(&self, i: usize) -> [f32; 4] {
        let addr = self.shared_addr() + (i * 4) as u32;
        let (a, b, c, d): (f32, f32, f32, f32);
        // SAFETY: `shared_array!` declares every array `.align 16`, so with `i % 4 == 0` the
        // address is 16-byte aligned; `i + 4 <= N` keeps the 16 bytes inside the array (caller's
        // contract). `readonly`: the load does not write memory. Not `pure`: the value depends on
        // other threads' stores ordered by barriers, so it must not be moved across them.
        unsafe {
            crate::__device_asm!(
                "ld.shared.v4.f32 {{{a}, {b}, {c}, {d}}}, [{p}];",
                a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
                p = in(reg32) addr,
                options(nostack, readonly, preserves_flags),
            );
        }
        [a, b, c, d]
    }

    /// [`Self::set4`] without the checks.
    ///
    /// # Safety
    /// `i % 4 == 0` and `i + 4 <= N`.
    #[inline(always)]
    pub unsafe fn set4_unchecked(&self, i: usize, v: [f32; 4]) {
        let addr = self.shared_addr() + (i * 4) as u32;
        // SAFETY: aligned and in bounds as in `get4_unchecked` (caller's contract).
        unsafe {
            crate::__device_asm!(
                "st.shared.v4.f32 [{p}], {{{a}, {b}, {c}, {d}}};",
                a = in(reg32) v[0], b = in(reg32) v[1], c = in(reg32) v[2], d = in(reg32) v[3],
                p = in(reg32) addr,
                options(nostack, preserves_flags),
            );
        }
    }
}

impl<const N: usize> SharedArray<u16, N> {
    /// Asynchronously copies `src[i .. i + 8]` (16 bytes) to elements `dst .. dst + 8` with
    /// `cp.async.cg.shared.global` (sm_80+); elements past `src.len()` are filled with zeros,
    /// and an `i` at or past the end copies nothing and zero-fills all 8. The copy completes at
    /// [`cp_async_wait`]; a barrier then makes it visible to the block.
    ///
    /// Checked (panics, i.e. traps): `dst % 8 == 0`, `dst + 8 <= N`. When the source address is
    /// not 16-byte aligned (e.g. an odd row length) the 8 elements are loaded one by one and
    /// stored synchronously instead, so the result is the same.
    #[inline(always)]
    pub fn cp_async16(&self, dst: usize, src: &[u16], i: usize) {
        assert!(
            dst.is_multiple_of(8) && dst < N && N - dst >= 8,
            "shared cp_async16 destination out of bounds or unaligned"
        );
        let saddr = self.shared_addr() + (dst * 2) as u32;
        let avail = src.len().saturating_sub(i);
        let full = avail >= 8;
        // Source of the copy: element `i` when anything is copied, else the slice's start
        // (any valid address; 0 bytes are read from it).
        let p = if avail > 0 {
            // SAFETY: `i < len`, so the pointer stays inside the slice.
            unsafe { src.as_ptr().add(i) }
        } else {
            src.as_ptr()
        };
        if (p as usize).is_multiple_of(16) || avail == 0 {
            let bytes = if full { 16u32 } else { (avail * 2) as u32 };
            // SAFETY: the destination is 16 bytes inside the array, 16-byte aligned (`.align 16`
            // base, `dst % 8 == 0`); the source is 16-byte aligned global memory of which
            // `bytes <= 16` are in bounds of `src` and read (`src-size`), the rest of the 16
            // destination bytes are zero-filled. Inputs are not written during a launch.
            unsafe { crate::mma::cp_async_16(saddr, p as *const u8, bytes) };
        } else {
            let mut k = 0;
            while k < 8 {
                let v = if k < avail { src[i + k] } else { 0 };
                // SAFETY: `dst + k < N` (checked above); u16 alignment holds.
                unsafe { self.set_unchecked(dst + k, v) };
                k += 1;
            }
        }
    }

    /// `ldmatrix.sync.aligned.m8n8.x4.shared.b16`: lane `l` supplies the address of row `l % 8`
    /// of matrix `l / 8` (8 consecutive elements starting at element `row_start`); every lane
    /// receives its four fragment registers (two b16 each), one per matrix.
    ///
    /// All 32 lanes of the warp must call it together (it is `.sync.aligned`). Checked:
    /// `row_start % 8 == 0` and `row_start + 8 <= N`.
    #[inline(always)]
    pub fn ldmatrix_x4(&self, row_start: usize) -> [u32; 4] {
        assert!(
            row_start.is_multiple_of(8) && row_start < N && N - row_start >= 8,
            "shared ldmatrix row out of bounds or unaligned"
        );
        // SAFETY: checked just above.
        unsafe { self.ldmatrix_x4_unchecked(row_start) }
    }

    /// [`Self::ldmatrix_x4`] without the checks.
    ///
    /// # Safety
    /// `row_start % 8 == 0` and `row_start + 8 <= N`; all lanes of the warp call it together.
    #[inline(always)]
    pub unsafe fn ldmatrix_x4_unchecked(&self, row_start: usize) -> [u32; 4] {
        let addr = self.shared_addr() + (row_start * 2) as u32;
        // SAFETY: each lane's 16-byte row is aligned and inside the array (caller's contract).
        unsafe { crate::mma::ldmatrix_x4(addr) }
    }

    /// As [`Self::ldmatrix_x4`] with `.trans` (each 8×8 matrix transposed on the way).
    #[inline(always)]
    pub fn ldmatrix_x4_trans(&self, row_start: usize) -> [u32; 4] {
        assert!(
            row_start.is_multiple_of(8) && row_start < N && N - row_start >= 8,
            "shared ldmatrix row out of bounds or unaligned"
        );
        let addr = self.shared_addr() + (row_start * 2) as u32;
        // SAFETY: as `ldmatrix_x4_unchecked`, with the bounds checked just above.
        unsafe { crate::mma::ldmatrix_x4_trans(addr) }
    }
}

/// Closes the current group of [`SharedArray::cp_async16`] copies (`cp.async.commit_group`).
#[inline(always)]
pub fn cp_async_commit() {
    // SAFETY: no operands; orders only this thread's asynchronous copies. Not `nomem`: it is a
    // compiler barrier too.
    unsafe { crate::__device_asm!("cp.async.commit_group;", options(nostack, preserves_flags)) }
}

/// Waits until at most `PENDING` committed copy groups of this thread are still in flight
/// (`cp.async.wait_group PENDING`). Follow it with a block barrier before other threads read.
#[inline(always)]
pub fn cp_async_wait<const PENDING: u32>() {
    // SAFETY: as `cp_async_commit`; also a compiler barrier, so shared loads are not hoisted
    // above it.
    unsafe {
        crate::__device_asm!("cp.async.wait_group {n};", n = const PENDING, options(nostack, preserves_flags))
    }
}
