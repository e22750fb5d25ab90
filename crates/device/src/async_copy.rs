//! Asynchronous copies from global to shared memory (`cp.async`, sm_80+).
//!
//! The data does not pass through registers, so a block can have a whole tile (tens of KB) in
//! flight while holding only a few registers per thread: memory-bound kernels that stage their
//! input in shared memory reach high occupancy and keep enough bytes in flight. A thread's copies
//! complete at [`wait_all`]; other threads see them after the barrier that follows.
//!
//! The safe entry points are the `copy_packet_async` methods of
//! [`SharedArray`](crate::SharedArray) and [`DynamicShared`](crate::DynamicShared): one 16-byte
//! packet per call, bounds-checked on both sides.

/// Copies `src_bytes` (0..=16) bytes from global `src` to shared `dst` and zero-fills the rest of
/// the 16 destination bytes (`cp.async.cg`, bypassing L1).
///
/// # Safety
/// `dst` is a 16-byte aligned shared address with 16 bytes inside one shared allocation; `src` is
/// a 16-byte aligned pointer to global memory with `src_bytes` readable bytes, not written during
/// the launch.
#[inline(always)]
pub unsafe fn cp_async_16(dst: u32, src: *const u8, src_bytes: u32) {
    // SAFETY: the caller's contract. Not `nomem`: the copy writes shared memory.
    unsafe {
        crate::__device_asm!(
            "cvta.to.global.u64 {g}, {s};",
            "cp.async.cg.shared.global [{d}], [{g}], 16, {n};",
            d = in(reg32) dst, s = in(reg64) src, n = in(reg32) src_bytes, g = out(reg64) _,
            options(nostack, preserves_flags),
        )
    }
}

/// Closes the group of `cp.async` copies this thread started since the last commit
/// (`cp.async.commit_group`), for [`wait_group`].
#[inline(always)]
pub fn commit() {
    // SAFETY: bookkeeping of this thread's own copies. Not `nomem`: keeps copies in program order.
    unsafe { crate::__device_asm!("cp.async.commit_group;", options(nostack, preserves_flags)) }
}

/// Waits until at most `N` of this thread's committed groups are still in flight
/// (`cp.async.wait_group N`): with double buffering, `wait_group::<1>()` waits for the older
/// buffer while the newer one keeps loading. Follow it with a block barrier.
#[inline(always)]
pub fn wait_group<const N: u32>() {
    // SAFETY: as `wait_all`.
    unsafe {
        crate::__device_asm!("cp.async.wait_group {n};", n = const N, options(nostack, preserves_flags))
    }
}

/// Waits until every `cp.async` this thread started has landed in shared memory
/// (`cp.async.wait_all`). Follow it with a block barrier before reading other threads' copies.
#[inline(always)]
pub fn wait_all() {
    // SAFETY: waits on this thread's own copies; no memory is accessed. Not `nomem`: shared
    // memory reads after it must not move above it.
    unsafe { crate::__device_asm!("cp.async.wait_all;", options(nostack, preserves_flags)) }
}

/// The packet copy behind both shared views: bounds and alignment checked, `false` (nothing
/// copied) when `src[src_elem]` is not 16-byte aligned.
#[inline(always)]
pub(crate) fn copy_packet<T>(
    base: u32,
    cap_bytes: usize,
    dst_packet: usize,
    src: &[T],
    src_elem: usize,
) -> bool {
    assert!(
        (dst_packet + 1) * 16 <= cap_bytes,
        "shared packet index out of bounds"
    );
    let size = core::mem::size_of::<T>();
    let avail = src.len().saturating_sub(src_elem) * size;
    let p = src.as_ptr().wrapping_add(src_elem.min(src.len())) as *const u8;
    if !(p as usize).is_multiple_of(16) {
        return false;
    }
    // SAFETY: the destination is in bounds and 16-byte aligned (the shared base is); the source
    // is 16-byte aligned and only `min(avail, 16)` bytes of it, all inside the input slice, are
    // read (none when `src_elem` is at or past the end). Kernel inputs are device allocations
    // that no thread writes during the launch.
    unsafe { cp_async_16(base + (dst_packet * 16) as u32, p, avail.min(16) as u32) };
    true
}
