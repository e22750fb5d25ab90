//! Barriers.

/// Block-wide barrier (`__syncthreads`, PTX `bar.sync 0`): every thread of the block must reach
/// it, and shared-memory writes before it are visible to the block after it.
#[inline(always)]
pub fn sync_threads() {
    // SAFETY: a barrier has no memory-safety preconditions; divergent calls deadlock, they do not
    // corrupt memory.
    unsafe { core::arch::nvptx::_syncthreads() }
}
