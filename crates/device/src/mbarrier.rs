//! Transaction-counting shared-memory barriers (`mbarrier`, sm_90 / PTX 8.0) and a pipeline of
//! them that keeps the phase bookkeeping out of kernel code.
//!
//! An mbarrier is a 64-bit object in shared memory. It counts *arrivals* (threads that called
//! an arrive) and *transaction bytes* (bytes announced with [`MBarrier::arrive_expect_tx`] and
//! delivered by the copy engine, TMA, which decrements the count as data lands). When both
//! reach zero the current *phase* completes, the barrier re-arms itself with the arrival count
//! it was initialised with, and the phase parity flips. Waiters name the parity of the phase
//! they wait for ([`MBarrier::try_wait_parity`]), so a barrier can be reused every iteration
//! of a loop without reinitialisation.
//!
//! [`Pipeline`] is a ring of `S` stages, each with a *full* barrier (producer → consumers:
//! "stage `i` holds data") and an *empty* barrier (consumers → producer: "stage `i` may be
//! overwritten"). The producer side ([`Producer`]) and the consumer side ([`Consumer`]) each
//! carry their own stage index and phase bit; stages are handed out as tokens that must be
//! committed or released exactly once, so kernel code never computes a parity.
//!
//! Memory model: `mbarrier.arrive` has release semantics and `try_wait` acquire semantics at
//! CTA scope (PTX defaults), so ordinary shared-memory writes before an arrive are visible to a
//! thread whose wait observed the phase completion. Data written by TMA is covered by the
//! transaction count itself.

use crate::cluster;

/// One mbarrier in this CTA's shared memory, by its 32-bit shared address.
///
/// The handle is a plain address (`Copy`): every thread that uses the barrier holds one. The
/// constructor is `unsafe` because the address must name an 8-byte-aligned, 8-byte shared
/// object reserved for this barrier; after that, arriving and waiting are safe (a protocol
/// mistake deadlocks or completes a phase early; it cannot touch other memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MBarrier {
    addr: u32,
}

impl MBarrier {
    /// Bytes one barrier occupies in shared memory.
    pub const BYTES: u32 = 8;

    /// The barrier at shared address `addr`.
    ///
    /// # Safety
    /// `addr` is 8-byte aligned, lies in this CTA's shared memory, and the 8 bytes from it are
    /// used only as this mbarrier (initialised with [`MBarrier::init`] by one thread, followed
    /// by [`fence_init`] and a barrier, before any other use).
    #[inline(always)]
    pub const unsafe fn at(addr: u32) -> MBarrier {
        MBarrier { addr }
    }

    /// The barrier's 32-bit shared address (for TMA completion and remote arrivals).
    #[inline(always)]
    pub const fn addr(self) -> u32 {
        self.addr
    }

    /// `mbarrier.init.shared::cta.b64`: resets the barrier to phase 0 expecting `arrivals`
    /// arrivals per phase (1 ..= 2^20 - 1).
    ///
    /// # Safety
    /// Called by exactly one thread, while no other thread (and no copy in flight) uses the
    /// barrier; make the initialisation visible with [`fence_init`] and a block (or cluster)
    /// barrier before anyone arrives or waits.
    #[inline(always)]
    pub unsafe fn init(self, arrivals: u32) {
        // SAFETY: the caller's contract; the address is a valid barrier slot.
        unsafe {
            crate::__device_asm!(
                "mbarrier.init.shared::cta.b64 [{a}], {n};",
                a = in(reg32) self.addr, n = in(reg32) arrivals,
                options(nostack, preserves_flags),
            );
        }
    }

    /// `mbarrier.inval.shared::cta.b64`: ends the barrier's life so its 8 bytes can be reused
    /// as ordinary shared memory.
    ///
    /// # Safety
    /// No thread or copy uses the barrier any more (all phases it will see have completed and
    /// every waiter has returned).
    #[inline(always)]
    pub unsafe fn invalidate(self) {
        // SAFETY: the caller's contract.
        unsafe {
            crate::__device_asm!(
                "mbarrier.inval.shared::cta.b64 [{a}];",
                a = in(reg32) self.addr,
                options(nostack, preserves_flags),
            );
        }
    }

    /// One arrival (`mbarrier.arrive.shared::cta.b64`, release at CTA scope).
    #[inline(always)]
    pub fn arrive(self) {
        // SAFETY: the handle names an initialised barrier (constructor contract). Not `nomem`:
        // it orders this thread's earlier shared-memory writes (release).
        unsafe {
            crate::__device_asm!(
                "mbarrier.arrive.shared::cta.b64 _, [{a}];",
                a = in(reg32) self.addr,
                options(nostack, preserves_flags),
            );
        }
    }

    /// One arrival that also announces `bytes` transaction bytes for the current phase
    /// (`mbarrier.arrive.expect_tx.shared::cta.b64`): the phase then completes only after the
    /// copies that signal this barrier have delivered that many bytes.
    #[inline(always)]
    pub fn arrive_expect_tx(self, bytes: u32) {
        // SAFETY: as `arrive`.
        unsafe {
            crate::__device_asm!(
                "mbarrier.arrive.expect_tx.shared::cta.b64 _, [{a}], {n};",
                a = in(reg32) self.addr, n = in(reg32) bytes,
                options(nostack, preserves_flags),
            );
        }
    }

    /// Announces `bytes` more transaction bytes without arriving (`mbarrier.expect_tx`).
    #[inline(always)]
    pub fn expect_tx(self, bytes: u32) {
        // SAFETY: as `arrive`.
        unsafe {
            crate::__device_asm!(
                "mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [{a}], {n};",
                a = in(reg32) self.addr, n = in(reg32) bytes,
                options(nostack, preserves_flags),
            );
        }
    }

    /// One arrival on the barrier at the same shared offset in CTA `rank` of this cluster
    /// (`mapa` + `mbarrier.arrive.shared::cluster.b64`, as CUTLASS's `ClusterBarrier`); `rank`
    /// may be this CTA's own rank. It orders nothing but the arrival itself (no cluster-scope
    /// release, which would cost a GPU-wide `MEMBAR` in SASS): use it to hand back buffers
    /// whose reads have completed (TMA or wgmma reads waited for), not to publish data.
    ///
    /// # Safety
    /// The kernel runs as a cluster, `rank` is below the cluster size, and the barrier at this
    /// offset in CTA `rank` is initialised and alive (that CTA has not exited: clusters end
    /// with a [`cluster::sync`]).
    #[inline(always)]
    pub unsafe fn arrive_cluster(self, rank: u32) {
        let remote = cluster::map_shared(self.addr, rank);
        // SAFETY: the caller's contract; `remote` is the mapped address of a live barrier.
        unsafe {
            crate::__device_asm!(
                "mbarrier.arrive.shared::cluster.b64 _, [{a}];",
                a = in(reg32) remote,
                options(nostack, preserves_flags),
            );
        }
    }

    /// Whether the phase with parity `parity` (0 or 1) has completed
    /// (`mbarrier.try_wait.parity.shared::cta.b64`, acquire at CTA scope). The instruction
    /// itself waits a bounded, hardware-chosen time before answering `false`.
    ///
    /// A freshly initialised barrier is in phase 0, so `try_wait_parity(1)` returns `true`
    /// at once ("the phase before the first one" counts as complete).
    #[inline(always)]
    pub fn try_wait_parity(self, parity: u32) -> bool {
        let done: u32;
        // SAFETY: as `arrive`. Not `nomem`/`pure`: it acquires other threads' writes.
        unsafe {
            crate::__device_asm!(
                "{{",
                ".reg .pred p;",
                "mbarrier.try_wait.parity.shared::cta.b64 p, [{a}], {ph};",
                "selp.u32 {d}, 1, 0, p;",
                "}}",
                a = in(reg32) self.addr, ph = in(reg32) parity, d = out(reg32) done,
                options(nostack, preserves_flags),
            );
        }
        done != 0
    }

    /// Waits until the phase with parity `parity` has completed.
    #[inline(always)]
    pub fn wait_parity(self, parity: u32) {
        while !self.try_wait_parity(parity) {}
    }
}

/// `fence.mbarrier_init.release.cluster`: makes this thread's [`MBarrier::init`]s visible to
/// the other CTAs of the cluster and to the copy engine. Call it after the inits, before the
/// block or cluster barrier that publishes them.
#[inline(always)]
pub fn fence_init() {
    // SAFETY: a fence has no preconditions.
    unsafe {
        crate::__device_asm!(
            "fence.mbarrier_init.release.cluster;",
            options(nostack, preserves_flags)
        );
    }
}

/// A ring of `S` stages in shared memory guarded by full/empty mbarrier pairs.
///
/// Layout: `2 * S` consecutive barriers at `base`: `full[0..S]`, then `empty[0..S]`
/// ([`Pipeline::BYTES`] bytes). `full[i]` completes when stage `i` holds data (one producer
/// arrival plus the transaction bytes of its copies); `empty[i]` completes when every consumer
/// of every CTA that reads stage `i` (`consumers` arrivals) has released it.
#[derive(Clone, Copy, Debug)]
pub struct Pipeline<const S: usize> {
    base: u32,
}

impl<const S: usize> Pipeline<S> {
    /// Shared bytes the barriers need.
    pub const BYTES: u32 = 2 * S as u32 * MBarrier::BYTES;

    /// The pipeline whose barriers live at `base`.
    ///
    /// # Safety
    /// `base` is 8-byte aligned and the [`Pipeline::BYTES`] bytes from it in this CTA's shared
    /// memory are reserved for these barriers; [`Pipeline::init`] runs (one thread) and is
    /// published ([`fence_init`] + a block or cluster barrier) before any producer or consumer
    /// call.
    #[inline(always)]
    pub const unsafe fn at(base: u32) -> Self {
        Pipeline { base }
    }

    /// `full[i]`.
    #[inline(always)]
    pub fn full(&self, i: u32) -> MBarrier {
        // SAFETY: inside the reserved range (constructor contract) for i < S.
        unsafe { MBarrier::at(self.base + (i % S as u32) * MBarrier::BYTES) }
    }

    /// `empty[i]`.
    #[inline(always)]
    pub fn empty(&self, i: u32) -> MBarrier {
        // SAFETY: as `full`.
        unsafe { MBarrier::at(self.base + (S as u32 + i % S as u32) * MBarrier::BYTES) }
    }

    /// Initialises every barrier: each full barrier expects one (producer) arrival per phase,
    /// each empty barrier `consumer_arrivals` (consumer groups × CTAs that read the stage).
    ///
    /// # Safety
    /// As [`MBarrier::init`]: one thread, before any use, then [`fence_init`] and a barrier.
    #[inline(always)]
    pub unsafe fn init(&self, consumer_arrivals: u32) {
        for i in 0..S as u32 {
            // SAFETY: the caller's contract.
            unsafe {
                self.full(i).init(1);
                self.empty(i).init(consumer_arrivals);
            }
        }
    }

    /// The producer's view: starts at stage 0, and its first pass over the ring does not wait
    /// (every stage starts empty).
    #[inline(always)]
    pub fn producer(&self) -> Producer<S> {
        Producer {
            pipe: *self,
            stage: 0,
            phase: 0,
        }
    }

    /// A consumer's view: starts at stage 0 waiting for the first fill.
    #[inline(always)]
    pub fn consumer(&self) -> Consumer<S> {
        Consumer {
            pipe: *self,
            stage: 0,
            phase: 0,
        }
    }
}

/// The producer side of a [`Pipeline`]: acquires free stages in ring order.
pub struct Producer<const S: usize> {
    pipe: Pipeline<S>,
    stage: u32,
    phase: u32,
}

/// A stage the producer owns until [`ProducerStage::commit`].
#[must_use = "a stage must be committed, or the consumers wait forever"]
pub struct ProducerStage {
    index: u32,
    full: MBarrier,
}

impl ProducerStage {
    /// Which stage of the ring (0..S): where to write.
    #[inline(always)]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The stage's full barrier, for the copies that fill it to signal.
    #[inline(always)]
    pub fn barrier(&self) -> MBarrier {
        self.full
    }

    /// The producer's arrival: the stage is full once `tx_bytes` bytes of copies completing on
    /// [`ProducerStage::barrier`] have landed (0 for data written by ordinary stores before this
    /// call; when several threads wrote them, order their stores before the committing thread's
    /// arrival first, e.g. with a warp barrier).
    #[inline(always)]
    pub fn commit(self, tx_bytes: u32) {
        self.full.arrive_expect_tx(tx_bytes);
    }

    /// Drops the stage without committing, in the threads of a producer group other than the
    /// one that commits it.
    #[inline(always)]
    pub fn forget(self) {
        let _ = self;
    }
}

impl<const S: usize> Producer<S> {
    /// Waits until the next stage is free (every consumer released its previous contents) and
    /// hands it out.
    #[inline(always)]
    pub fn acquire(&mut self) -> ProducerStage {
        let index = self.stage;
        self.pipe.empty(index).wait_parity(self.phase ^ 1);
        let full = self.pipe.full(index);
        self.stage += 1;
        if self.stage == S as u32 {
            self.stage = 0;
            self.phase ^= 1;
        }
        ProducerStage { index, full }
    }
}

/// A consumer side of a [`Pipeline`]: waits for full stages in ring order.
pub struct Consumer<const S: usize> {
    pipe: Pipeline<S>,
    stage: u32,
    phase: u32,
}

/// A full stage a consumer reads until it hands it back with [`Consumer::release`] or
/// [`Consumer::release_to_rank`].
#[must_use = "a stage must be released, or the producer waits forever"]
pub struct ConsumerStage {
    index: u32,
}

impl ConsumerStage {
    /// Which stage of the ring (0..S): where to read.
    #[inline(always)]
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl<const S: usize> Consumer<S> {
    /// Waits until the next stage is full and hands it out.
    #[inline(always)]
    pub fn wait(&mut self) -> ConsumerStage {
        let index = self.stage;
        self.pipe.full(index).wait_parity(self.phase);
        self.stage += 1;
        if self.stage == S as u32 {
            self.stage = 0;
            self.phase ^= 1;
        }
        ConsumerStage { index }
    }

    /// Hands `stage` back to this CTA's producer: one arrival on its empty barrier. Call it
    /// from one thread per consumer group, after the group's reads of the stage (including
    /// asynchronous ones: wait for them first) are done.
    #[inline(always)]
    pub fn release(&self, stage: ConsumerStage) {
        self.pipe.empty(stage.index).arrive();
    }

    /// Hands `stage` back to the producer of CTA `rank` of this cluster (multicast: every CTA
    /// whose copies write into this CTA's stage needs one arrival from each consumer group):
    /// one arrival on that CTA's empty barrier for this stage.
    ///
    /// # Safety
    /// As [`MBarrier::arrive_cluster`] for `rank`.
    #[inline(always)]
    pub unsafe fn release_to_rank(&self, stage: ConsumerStage, rank: u32) {
        // SAFETY: the caller's contract.
        unsafe { self.pipe.empty(stage.index).arrive_cluster(rank) };
    }

    /// Drops `stage` without signalling, in the threads of a consumer group other than the
    /// one that releases it.
    #[inline(always)]
    pub fn forget(&self, stage: ConsumerStage) {
        let _ = stage;
    }
}
