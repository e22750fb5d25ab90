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

/// How long the L2 should keep the lines a hinted copy reads (PTX cache eviction priorities).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2Hint {
    /// Evict these lines before others: data read once and not again soon.
    EvictFirst,
    /// Evict these lines after others: data that will be read again shortly (e.g. a second pass
    /// over a tile whose first pass only summed it).
    EvictLast,
}

/// A 64-bit L2 cache policy (`createpolicy.fractional`, sm_80+) for
/// [`copy_packet_async_hinted`](crate::DynamicShared::copy_packet_async_hinted): the hint applies
/// to all of the accessed lines. Made once per use site; costs one instruction.
#[derive(Clone, Copy, Debug)]
pub struct L2Policy(u64);

impl L2Policy {
    /// The policy that gives every accessed line the eviction priority `hint`.
    #[inline(always)]
    pub fn new(hint: L2Hint) -> L2Policy {
        let p: u64;
        // SAFETY: `createpolicy` only computes a value in a register; it touches no memory. Not
        // `pure`: made where it is used, not hoisted (a 64-bit value held across a loop costs two
        // registers; the instruction costs one issue slot).
        unsafe {
            match hint {
                L2Hint::EvictFirst => crate::__device_asm!(
                    "createpolicy.fractional.L2::evict_first.b64 {p}, 1.0;",
                    p = out(reg64) p, options(nostack, nomem, preserves_flags)
                ),
                L2Hint::EvictLast => crate::__device_asm!(
                    "createpolicy.fractional.L2::evict_last.b64 {p}, 1.0;",
                    p = out(reg64) p, options(nostack, nomem, preserves_flags)
                ),
            }
        }
        L2Policy(p)
    }

    /// The policy's bits, as `cache-policy` operands take them.
    #[inline(always)]
    pub fn bits(self) -> u64 {
        self.0
    }
}

/// As [`cp_async_16`], with the L2 eviction priority of `policy` for the lines read
/// (`cp.async.cg.shared.global.L2::cache_hint`, sm_80+).
///
/// # Safety
/// As [`cp_async_16`].
#[inline(always)]
pub unsafe fn cp_async_16_hinted(dst: u32, src: *const u8, src_bytes: u32, policy: L2Policy) {
    // SAFETY: the caller's contract; the policy only steers L2 replacement. Not `nomem`: the
    // copy writes shared memory.
    unsafe {
        crate::__device_asm!(
            "cvta.to.global.u64 {g}, {s};",
            "cp.async.cg.shared.global.L2::cache_hint [{d}], [{g}], 16, {n}, {p};",
            d = in(reg32) dst, s = in(reg64) src, n = in(reg32) src_bytes, p = in(reg64) policy.0,
            g = out(reg64) _, options(nostack, preserves_flags),
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
    policy: Option<L2Policy>,
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
    // SAFETY (both arms below): the destination is in bounds and 16-byte aligned (the shared base
    // is); the source is 16-byte aligned and only `min(avail, 16)` bytes of it, all inside the input slice, are
    // read (none when `src_elem` is at or past the end). Kernel inputs are device allocations
    // that no thread writes during the launch.
    let (dst, n) = (base + (dst_packet * 16) as u32, avail.min(16) as u32);
    match policy {
        // SAFETY: as above (the policy only steers L2 replacement).
        Some(policy) => unsafe { cp_async_16_hinted(dst, p, n, policy) },
        // SAFETY: as above.
        None => unsafe { cp_async_16(dst, p, n) },
    }
    true
}
