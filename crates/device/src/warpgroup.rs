//! Warp specialisation on sm_90: warpgroups (4 consecutive warps, the unit `wgmma` runs on),
//! moving registers between them (`setmaxnreg`, sm_90a), electing one lane (`elect.sync`),
//! programmatic dependent launch (`griddepcontrol`) and the warp-level matrix store
//! (`stmatrix`) that writes `mma`/`wgmma` accumulator fragments to shared memory.

/// Threads per warpgroup.
pub const WARPGROUP_THREADS: u32 = 128;

/// This thread's warpgroup in its block (`threadIdx.x / 128`), for 1-D blocks.
#[inline(always)]
pub fn warpgroup_index() -> u32 {
    crate::index::thread_idx().x / WARPGROUP_THREADS
}

/// This thread's index inside its warpgroup (`threadIdx.x % 128`), for 1-D blocks.
#[inline(always)]
pub fn thread_in_warpgroup() -> u32 {
    crate::index::thread_idx().x % WARPGROUP_THREADS
}

/// `setmaxnreg.inc.sync.aligned.u32 N`: raises this warpgroup's per-thread register budget to
/// `N` (24 ..= 256, a multiple of 8), waiting until the block's pool has them. Takes effect
/// only in kernels with a register cap at entry (`launch_bounds(threads, 1)`); ptxas reports
/// warning C7508 when it ignores the instruction.
///
/// # Safety
/// Every thread of the warpgroup executes it together (`.sync.aligned`), and the registers the
/// warpgroups ask for never exceed the block's allocation (or the call waits forever).
#[cfg(any(target_feature = "sm_90a", not(target_arch = "nvptx64")))]
#[inline(always)]
pub unsafe fn setmaxnreg_inc<const N: u32>() {
    const {
        assert!(
            N >= 24 && N <= 256 && N.is_multiple_of(8),
            "setmaxnreg: 24..=256, multiple of 8"
        )
    };
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!("setmaxnreg.inc.sync.aligned.u32 {n};", n = const N, options(nostack))
    }
}

/// `setmaxnreg.dec.sync.aligned.u32 N`: lowers this warpgroup's per-thread register budget to
/// `N` (24 ..= 256, a multiple of 8), returning the rest to the block's pool.
///
/// # Safety
/// Every thread of the warpgroup executes it together, and the code after it fits in `N`
/// registers (ptxas allocates accordingly).
#[cfg(any(target_feature = "sm_90a", not(target_arch = "nvptx64")))]
#[inline(always)]
pub unsafe fn setmaxnreg_dec<const N: u32>() {
    const {
        assert!(
            N >= 24 && N <= 256 && N.is_multiple_of(8),
            "setmaxnreg: 24..=256, multiple of 8"
        )
    };
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!("setmaxnreg.dec.sync.aligned.u32 {n};", n = const N, options(nostack))
    }
}

/// `elect.sync` over the active lanes (`activemask`): true in exactly one of the lanes that
/// call it together (the lowest), false in the others. Works in divergent code: the member
/// mask is the set of lanes executing the call.
#[inline(always)]
pub fn elect_one() -> bool {
    let r: u32;
    // SAFETY: a register-only warp vote among exactly the lanes that execute it. Not `pure`:
    // a warp-collective stays where it is written.
    unsafe {
        crate::__device_asm!(
            "{{",
            ".reg .pred p;",
            ".reg .b32 m;",
            "activemask.b32 m;",
            "elect.sync _|p, m;",
            "selp.u32 {r}, 1, 0, p;",
            "}}",
            r = out(reg32) r,
            options(nomem, nostack, preserves_flags),
        );
    }
    r != 0
}

/// `griddepcontrol.wait`: with programmatic dependent launch, waits until the grids this one
/// depends on have completed and their memory is visible. A no-op otherwise.
#[inline(always)]
pub fn griddep_wait() {
    // SAFETY: no preconditions. Not `nomem`: later loads must stay after it.
    unsafe { crate::__device_asm!("griddepcontrol.wait;", options(nostack, preserves_flags)) }
}

/// `griddepcontrol.launch_dependents`: lets a dependent grid (programmatic dependent launch)
/// start its prologue now. A hint; a no-op without a dependent launch.
#[inline(always)]
pub fn griddep_launch_dependents() {
    // SAFETY: no preconditions.
    unsafe {
        crate::__device_asm!(
            "griddepcontrol.launch_dependents;",
            options(nostack, preserves_flags)
        )
    }
}

/// `stmatrix.sync.aligned.m8n8.x4.shared.b16`: the warp stores four 8×8 matrices of 16-bit
/// elements; lane `l` supplies `addr`, the shared address of row `l % 8` of matrix `l / 8`
/// (16 bytes), and `regs[j]` holds its part of matrix `j`: row `l / 4`, elements
/// `2 * (l % 4)` and `+ 1` (the layout of an `mma`/`wgmma` accumulator pair after conversion).
///
/// # Safety
/// Every lane's `addr` is 16-byte aligned with 16 bytes in this CTA's shared memory that no
/// other thread accesses concurrently; all 32 lanes execute it together.
#[inline(always)]
pub unsafe fn stmatrix_x4(addr: u32, regs: [u32; 4]) {
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "stmatrix.sync.aligned.m8n8.x4.shared.b16 [{a}], {{{r0}, {r1}, {r2}, {r3}}};",
            a = in(reg32) addr,
            r0 = in(reg32) regs[0], r1 = in(reg32) regs[1], r2 = in(reg32) regs[2], r3 = in(reg32) regs[3],
            options(nostack, preserves_flags),
        );
    }
}

/// As [`stmatrix_x4`] with `.trans`: each 8×8 matrix is transposed on the way, so `regs[j]`'s
/// two elements land in rows `2 * (l % 4)` and `+ 1`, column `l / 4`, of matrix `j`.
///
/// # Safety
/// As [`stmatrix_x4`].
#[inline(always)]
pub unsafe fn stmatrix_x4_trans(addr: u32, regs: [u32; 4]) {
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [{a}], {{{r0}, {r1}, {r2}, {r3}}};",
            a = in(reg32) addr,
            r0 = in(reg32) regs[0], r1 = in(reg32) regs[1], r2 = in(reg32) regs[2], r3 = in(reg32) regs[3],
            options(nostack, preserves_flags),
        );
    }
}

/// `bar.sync id, threads`: a named barrier among `threads` threads (a multiple of 32), e.g. one
/// warpgroup's 128 threads, without stopping the rest of the block. IDs 1..16 (0 is
/// [`crate::sync_threads`]'s).
#[inline(always)]
pub fn named_barrier_sync(id: u32, threads: u32) {
    // SAFETY: a barrier has no memory-safety preconditions (a wrong count deadlocks).
    unsafe {
        crate::__device_asm!(
            "bar.sync {i}, {n};",
            i = in(reg32) id, n = in(reg32) threads,
            options(nostack, preserves_flags),
        );
    }
}
