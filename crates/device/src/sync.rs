//! Barriers and memory fences.
//!
//! Barriers are NVVM intrinsics (rustc marks their calls convergent); fences are tiny inline-PTX
//! functions without `nomem`, so they are also compiler barriers (rustc's `compiler_fence`
//! crashes the NVPTX backend, see NVPTX.md).

crate::arch::nvvm_intrinsics! {
#[link_name = "llvm.nvvm.barrier0.popc"]
fn barrier0_popc(pred: i32) -> i32;
#[link_name = "llvm.nvvm.barrier0.and"]
fn barrier0_and(pred: i32) -> i32;
#[link_name = "llvm.nvvm.barrier0.or"]
fn barrier0_or(pred: i32) -> i32;
#[link_name = "llvm.nvvm.bar.warp.sync"]
fn bar_warp_sync(mask: u32);}

/// Block-wide barrier (`__syncthreads`, PTX `bar.sync 0`): every thread of the block must reach
/// it, and shared-memory writes before it are visible to the block after it.
#[inline(always)]
pub fn sync_threads() {
    // SAFETY: a barrier has no memory-safety preconditions; divergent calls deadlock, they do not
    // corrupt memory.
    unsafe { crate::arch::nvptx::_syncthreads() }
}

/// Block barrier that also counts the threads whose `pred` is true (`__syncthreads_count`,
/// PTX `bar.red.popc.u32`). Every thread of the block must call it.
#[inline(always)]
pub fn sync_threads_count(pred: bool) -> u32 {
    // SAFETY: as `sync_threads`.
    unsafe { barrier0_popc(pred as i32) as u32 }
}

/// Block barrier returning whether `pred` is true for every thread (`__syncthreads_and`,
/// PTX `bar.red.and.pred`).
#[inline(always)]
pub fn sync_threads_and(pred: bool) -> bool {
    // SAFETY: as `sync_threads`.
    unsafe { barrier0_and(pred as i32) != 0 }
}

/// Block barrier returning whether `pred` is true for any thread (`__syncthreads_or`,
/// PTX `bar.red.or.pred`).
#[inline(always)]
pub fn sync_threads_or(pred: bool) -> bool {
    // SAFETY: as `sync_threads`.
    unsafe { barrier0_or(pred as i32) != 0 }
}

/// Warp barrier over the lanes in `mask` (`__syncwarp(mask)`, PTX `bar.warp.sync`): each lane
/// named in `mask` must call it with the same mask; orders memory among those lanes.
#[inline(always)]
pub fn sync_warp_mask(mask: u32) {
    // SAFETY: a barrier has no memory-safety preconditions.
    unsafe { bar_warp_sync(mask) }
}

/// Warp barrier over all 32 lanes (`__syncwarp()`).
#[inline(always)]
pub fn sync_warp() {
    sync_warp_mask(0xffff_ffff)
}

/// Sequentially consistent fence among the threads of this block (`__threadfence_block`,
/// PTX `fence.sc.cta`).
#[inline(always)]
pub fn fence_block() {
    // SAFETY: a fence only orders this thread's memory operations. Not `nomem`: it is also a
    // compiler barrier.
    unsafe { crate::__device_asm!("fence.sc.cta;", options(nostack, preserves_flags)) }
}

/// Sequentially consistent fence among all threads of the device (`__threadfence`,
/// PTX `fence.sc.gpu`).
#[inline(always)]
pub fn fence_device() {
    // SAFETY: as `fence_block`.
    unsafe { crate::__device_asm!("fence.sc.gpu;", options(nostack, preserves_flags)) }
}

/// Sequentially consistent fence with the host and peer devices too (`__threadfence_system`,
/// PTX `fence.sc.sys`), e.g. before publishing a flag in mapped host memory.
#[inline(always)]
pub fn fence_system() {
    // SAFETY: as `fence_block`.
    unsafe { crate::__device_asm!("fence.sc.sys;", options(nostack, preserves_flags)) }
}

/// Acquire-release fence at `scope` (PTX `fence.acq_rel.{cta,gpu,sys}`): lighter than the
/// `fence_*` functions; enough to turn relaxed atomics into release/acquire pairs.
#[inline(always)]
pub fn fence_acq_rel(scope: crate::atomic::Scope) {
    use crate::atomic::Scope;
    // SAFETY: as `fence_block`.
    unsafe {
        match scope {
            Scope::Block => {
                crate::__device_asm!("fence.acq_rel.cta;", options(nostack, preserves_flags))
            }
            Scope::Device => {
                crate::__device_asm!("fence.acq_rel.gpu;", options(nostack, preserves_flags))
            }
            Scope::System => {
                crate::__device_asm!("fence.acq_rel.sys;", options(nostack, preserves_flags))
            }
        }
    }
}

/// Sequentially consistent fence at `scope` (PTX `fence.sc.{cta,gpu,sys}`).
#[inline(always)]
pub fn fence_sc(scope: crate::atomic::Scope) {
    use crate::atomic::Scope;
    match scope {
        Scope::Block => fence_block(),
        Scope::Device => fence_device(),
        Scope::System => fence_system(),
    }
}

/// Suspend this thread for about `ns` nanoseconds (`nanosleep.u32`, sm_70+; the hardware may
/// wake it earlier or later, up to 1 ms). For back-off in spin loops, so that waiting threads do
/// not flood the memory system.
#[inline(always)]
pub fn nanosleep(ns: u32) {
    // SAFETY: a scheduling hint with no memory effects.
    unsafe {
        crate::__device_asm!("nanosleep.u32 {t};", t = in(reg32) ns, options(nomem, nostack, preserves_flags))
    };
}
