//! Reductions across a thread-block cluster (sm_90) through distributed shared memory, for
//! kernels that split one row over several blocks. The blocks of a cluster run at the same time
//! on one GPC and can read each other's shared memory. Everything here reads the cluster shape
//! at run time, so one kernel serves every cluster size the host launches it with (a launch
//! without a cluster attribute is a cluster of one block, and every function still works).
//!
//! The barrier is written without the `.release`/`.acquire` modifiers (their default semantics),
//! so that it also assembles as PTX 7.8 (LLVM's default for sm_90 when a build does not ask for
//! `+ptx80`).

/// A special register as `u32`.
macro_rules! sreg {
    ($name:ident, $reg:literal, $doc:literal) => {
        #[doc = $doc]
        #[inline(always)]
        pub fn $name() -> u32 {
            let r: u32;
            // SAFETY: reads a special register.
            unsafe {
                crate::__device_asm!(concat!("mov.u32 {r}, ", $reg, ";"), r = out(reg32) r,
                    options(pure, nomem, nostack, preserves_flags))
            };
            r
        }
    };
}
sreg!(
    rank,
    "%cluster_ctarank",
    "This block's rank in its cluster, `0..size()`."
);
sreg!(size, "%cluster_nctarank", "Blocks in this cluster.");
sreg!(
    id_x,
    "%clusterid.x",
    "This cluster's index in the grid along x."
);
sreg!(count_x, "%nclusterid.x", "Clusters in the grid along x.");

/// Barrier over every thread of every block of the cluster, with release/acquire semantics for
/// shared and global memory (`barrier.cluster.arrive` + `barrier.cluster.wait`, whose default
/// semantics are release and acquire; spelling them out needs PTX 8.0, rustc emits 7.8). All threads of
/// the cluster must call it, from uniform control flow.
#[inline(always)]
pub fn sync() {
    // SAFETY: a barrier has no memory-safety preconditions. Not `nomem`: a compiler barrier too.
    unsafe {
        crate::__device_asm!(
            "barrier.cluster.arrive.aligned;",
            "barrier.cluster.wait.aligned;",
            options(nostack, preserves_flags)
        )
    }
}

/// The 32-bit word at shared address `addr` of block `rank` of this cluster.
///
/// # Safety
/// `addr` is a 4-byte aligned address inside a shared allocation, `rank < size()`, and that
/// block has started and not exited (a [`sync`] since the start and before its exit ensure it).
#[inline(always)]
unsafe fn ld_remote_u32(addr: u32, rank: u32) -> u32 {
    let v: u32;
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "mapa.shared::cluster.u32 {r}, {a}, {k};",
            "ld.shared::cluster.u32 {v}, [{r}];",
            v = out(reg32) v, a = in(reg32) addr, k = in(reg32) rank, r = out(reg32) _,
            options(nostack, readonly, preserves_flags),
        )
    };
    v
}

/// Combines one value per block across the cluster: every thread of every block passes its
/// block's value (thread 0's is the one used) and gets `f` folded over the blocks in rank order,
/// identical in every thread of the cluster. All threads of the cluster must call it together.
/// `K` is at most 8 words.
#[inline(always)]
pub fn fold<const K: usize>(v: [u32; K], f: impl Fn([u32; K], [u32; K]) -> [u32; K]) -> [u32; K] {
    let n = size();
    if n == 1 {
        return v;
    }
    assert!(K <= 8, "cluster::fold carries at most 8 words");
    let slot = crate::shared_array!(GPUKIT_CLUSTER_FOLD: [u32; 8]);
    if crate::thread_idx().x == 0 {
        for (k, w) in v.iter().enumerate() {
            slot.set(k, *w);
        }
    }
    sync();
    let read = |r: u32| {
        let mut w = [0u32; K];
        for (k, wk) in w.iter_mut().enumerate() {
            // SAFETY: `slot` holds 8 words, k < K <= 8; r < size(); every block passed the
            // `sync` above after starting and waits at the one below before going on.
            *wk = unsafe { ld_remote_u32(slot.shared_addr() + 4 * k as u32, r) };
        }
        w
    };
    let mut acc = read(0);
    for r in 1..n {
        acc = f(acc, read(r));
    }
    // No block may overwrite its slot (next fold) or exit while others still read it.
    sync();
    acc
}

/// `barrier.cluster.arrive` alone (default release semantics): this thread is done with what the
/// next [`wait_arrived`] protects. Every thread of the cluster, from uniform control flow.
#[inline(always)]
fn arrive() {
    // SAFETY: a barrier has no memory-safety preconditions. Not `nomem`: a compiler barrier too.
    unsafe {
        crate::__device_asm!(
            "barrier.cluster.arrive.aligned;",
            options(nostack, preserves_flags)
        )
    }
}

/// `barrier.cluster.wait` alone (default acquire semantics): every thread of the cluster has
/// arrived since this thread's last wait.
#[inline(always)]
fn wait_arrived() {
    // SAFETY: as `arrive`.
    unsafe {
        crate::__device_asm!(
            "barrier.cluster.wait.aligned;",
            options(nostack, preserves_flags)
        )
    }
}

/// A run of cluster folds, one per loop iteration (one per row), with half the barriers of
/// [`fold`] on the critical path: the barrier that keeps a block from overwriting its slot
/// while others still read it is split, its arrival made right after the reads and its wait
/// deferred to the next fold (or to [`Run::end`]), by when every block has long finished.
/// The remote reads are issued four at a time. Create it with [`Run::begin`] before the loop and
/// call [`Run::end`] after it (before the block exits: other blocks may still read its slot),
/// in every thread of the cluster.
pub struct Run {
    clustered: bool,
}

impl Run {
    /// Opens the run (arrives at the barrier the first fold waits on).
    #[inline(always)]
    pub fn begin() -> Run {
        let clustered = size() > 1;
        if clustered {
            arrive();
        }
        Run { clustered }
    }

    /// As [`fold`]: every thread passes its block's value (thread 0's is used) and gets `f`
    /// folded over the blocks in rank order, identical in every thread of the cluster.
    #[inline(always)]
    pub fn fold<const K: usize>(
        &mut self,
        v: [u32; K],
        f: impl Fn([u32; K], [u32; K]) -> [u32; K],
    ) -> [u32; K] {
        if !self.clustered {
            return v;
        }
        assert!(K <= 8, "cluster::Run::fold carries at most 8 words");
        let slot = crate::shared_array!(GPUKIT_CLUSTER_RUN_FOLD: [u32; 8]);
        // Every block finished reading the previous fold's slots.
        wait_arrived();
        if crate::thread_idx().x == 0 {
            for (k, w) in v.iter().enumerate() {
                slot.set(k, *w);
            }
        }
        arrive();
        wait_arrived();
        let n = size();
        let read = |r: u32| {
            let mut w = [0u32; K];
            for (k, wk) in w.iter_mut().enumerate() {
                // SAFETY: `slot` holds 8 words, k < K <= 8; r < size(); every block arrived
                // above after writing its slot and waits (next fold or `end`) before changing
                // it or exiting.
                *wk = unsafe { ld_remote_u32(slot.shared_addr() + 4 * k as u32, r) };
            }
            w
        };
        let mut acc = read(0);
        let mut r = 1;
        while r < n {
            // Four independent remote loads in flight (past the last rank, the last again),
            // folded in rank order.
            let g: [[u32; K]; 4] = core::array::from_fn(|i| read((r + i as u32).min(n - 1)));
            crate::unroll::each::<4>(|i| {
                if r + (i as u32) < n {
                    acc = f(acc, g[i]);
                }
            });
            r += 4;
        }
        arrive();
        acc
    }

    /// Closes the run: waits until every block has read this block's last slot.
    #[inline(always)]
    pub fn end(self) {
        if self.clustered {
            wait_arrived();
        }
    }
}
