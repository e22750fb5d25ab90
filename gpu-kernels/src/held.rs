//! The held-ring engine for long rows: each row split over `parts` ordinary blocks, every
//! block's slice HELD in shared memory across the exchange of the row's statistics, and the
//! shared memory filled by the copy engine (`cp.async.bulk`, one instruction per chunk) so the
//! bytes in flight cost no registers. While a block holds the slice it reduces, publishes and
//! waits on, its next slices keep loading into the ring's free chunks.
//!
//! Warp roles: warp 0 is the producer (lane 0 issues every bulk copy, in item and chunk order,
//! whenever a ring slot is free); warps `1 ..= W` are the consumers. Per item the consumers
//! wait for each chunk (its full barrier), reduce their packets of it, fold the block's pair
//! (named barrier among the consumers only: the producer never joins a barrier after the
//! start), publish it and wait for the row's other parts through global memory (as
//! [`crate::rows::Wide`]), then read every chunk again from shared memory, write the results
//! from registers with 16-byte stores and release the chunk to the producer (one arrival per
//! consumer warp on its empty barrier).
//!
//! Items (row, part) are assigned statically, block `b` taking items `b, b + grid, ...`, so a
//! producer knows its next slices ahead of time. Forward progress: a block's previous item is
//! `grid` items back, in an earlier row when `grid ≥ parts`; by induction over rows every row's
//! blocks reach it and publish without waiting, provided every block of the grid is resident
//! at once. The host launches exactly the resident blocks (occupancy × SMs, at least `parts`).
//!
//! Shared memory (dynamic): `slots` chunks of `CHUNK` packets, then `2 · slots` mbarriers
//! (full, empty); `slots = bytes / (16 · CHUNK + 16)` must cover one item's chunks.
//! Scratch: the [`crate::rows::wide_scratch_words`] layout (word 0 unused, a count per row,
//! a pair per part), zero before the launch.
use crate::elem::Elem;
use gpukit_device::mbarrier::{MBarrier, fence_init};
use gpukit_device::warpgroup::named_barrier_sync;
use gpukit_device::{self as gpu, DynamicShared, Manual, OutSlice, dynamic_shared, math, tma};

/// The named barrier the consumer warps use among themselves.
const CONSUMER_BAR: u32 = 1;

/// One block's view of the engine: geometry and the ring.
pub struct Held<'a, E: Elem, const W: usize, const U: usize> {
    x: &'a [E],
    scratch: gpu::AtomicSlice<'a, u32>,
    rows: u32,
    parts: u32,
    n: u32,
    per: u32,
    items: u32,
    slots: u32,
    ring: DynamicShared<u32>,
    bars: u32,
}

/// One item: part `part` of row `row`, packets `p0 .. p0 + mine` of the row.
#[derive(Clone, Copy)]
pub struct HeldItem {
    pub row: u32,
    pub part: u32,
    p0: u32,
    mine: u32,
    /// The ring slot of the item's first chunk.
    slot0: u32,
}

/// A consumer thread's position in the ring and its items.
pub struct HeldConsumer {
    item: u32,
    slot: u32,
    phase: u32,
    /// Consumer thread index (0 .. 32 W) and the parity of the reduction buffer.
    ct: u32,
    parity: u32,
}

impl<'a, E: Elem, const W: usize, const U: usize> Held<'a, E, W, U> {
    /// Packets per chunk: `U` per consumer thread.
    pub const CHUNK: u32 = (U * 32 * W) as u32;
    /// Threads per block: the producer warp and `W` consumer warps.
    pub const THREADS: u32 = (32 * (W + 1)) as u32;

    /// The engine over the `rows × cols` matrix `x` in `parts` per row with outputs at
    /// `others`; `None` (the kernel does nothing) unless everything is packet-aligned, the
    /// block has [`Self::THREADS`] threads, the ring holds an item's chunks and the scratch is
    /// large enough: the same answer in every thread. Initialises the ring's barriers (a block
    /// barrier: every thread calls it).
    #[inline(always)]
    pub fn new(
        x: &'a [E],
        rows: usize,
        cols: usize,
        parts: usize,
        others: &[usize],
        scratch: gpu::AtomicSlice<'a, u32>,
    ) -> Option<Self> {
        let row_bytes = cols * core::mem::size_of::<E>();
        let aligned = row_bytes.is_multiple_of(16)
            && (x.as_ptr() as usize).is_multiple_of(16)
            && others.iter().all(|a| a.is_multiple_of(16));
        let x = x.get(..rows * cols)?;
        let n = row_bytes / 16;
        let items = rows * parts;
        let smem = dynamic_shared::<u32>();
        let chunk_bytes = 16 * Self::CHUNK as usize;
        let slots = smem.bytes() / (chunk_bytes + 16);
        let per = n.div_ceil(parts.max(1));
        if !aligned
            || parts == 0
            || n > u32::MAX as usize
            || items > u32::MAX as usize
            || gpu::block_dim().x != Self::THREADS
            || per.div_ceil(Self::CHUNK as usize) > slots
            || scratch.len() < crate::rows::wide_scratch_words(rows, parts)
        {
            return None;
        }
        let ring = smem.sub(0, slots * chunk_bytes);
        let bars = smem.shared_addr() + (slots * chunk_bytes) as u32;
        if gpu::thread_idx().x == 0 {
            for i in 0..2 * slots as u32 {
                // SAFETY: `2 · slots` barriers fit after the ring (`slots` was sized for a
                // chunk plus 16 bytes each); 8-byte aligned (the ring is whole packets); one
                // thread initialises them before anyone uses them (barrier below).
                unsafe {
                    MBarrier::at(bars + 8 * i).init(if i < slots as u32 { 1 } else { W as u32 })
                };
            }
            fence_init();
        }
        gpu::sync_threads();
        Some(Held {
            x,
            scratch,
            rows: rows as u32,
            parts: parts as u32,
            n: n as u32,
            per: per as u32,
            items: items as u32,
            slots: slots as u32,
            ring,
            bars,
        })
    }

    /// Whether this thread is in the producer warp.
    #[inline(always)]
    pub fn is_producer_warp(&self) -> bool {
        gpu::thread_idx().x < 32
    }

    #[inline(always)]
    fn full(&self, slot: u32) -> MBarrier {
        // SAFETY: initialised in `new` (slot < slots).
        unsafe { MBarrier::at(self.bars + 8 * slot) }
    }

    #[inline(always)]
    fn empty(&self, slot: u32) -> MBarrier {
        // SAFETY: as `full`.
        unsafe { MBarrier::at(self.bars + 8 * (self.slots + slot)) }
    }

    #[inline(always)]
    fn item(&self, t: u32, slot0: u32) -> HeldItem {
        let (row, part) = (t / self.parts, t % self.parts);
        let p0 = (part * self.per).min(self.n);
        let mine = (p0 + self.per).min(self.n) - p0;
        HeldItem {
            row,
            part,
            p0,
            mine,
            slot0,
        }
    }

    /// The producer: lane 0 of warp 0 copies every chunk of the block's items into the ring
    /// in order, each as soon as its slot is free. The other lanes return at once.
    #[inline(always)]
    pub fn produce(&self) {
        if gpu::thread_idx().x != 0 {
            return;
        }
        let (mut slot, mut phase) = (0u32, 0u32);
        let mut t = gpu::block_idx().x;
        let step = gpu::grid_dim().x;
        while t < self.items {
            let it = self.item(t, 0);
            let first = (it.row as usize * self.n as usize + it.p0 as usize) * E::PER;
            let mut k = 0u32;
            while k < it.mine {
                let cnt = (it.mine - k).min(Self::CHUNK);
                let at = first + k as usize * E::PER;
                // Always `Some`: the item lies in `x` (checked in `new`).
                if let Some(src) = self.x.get(at..at + cnt as usize * E::PER) {
                    self.empty(slot).wait_parity(phase ^ 1);
                    let full = self.full(slot);
                    full.arrive_expect_tx(16 * cnt);
                    // SAFETY: the slot is this block's shared memory, 16-byte aligned, a whole
                    // chunk long; its consumers released it (empty barrier) and read it again
                    // only after its full barrier completes; `src` is a 16-byte aligned
                    // (checked in `new`) whole-packet part of the input, which no thread
                    // writes during the launch; `full` expects these bytes (just announced).
                    unsafe {
                        tma::bulk_load(
                            self.ring.shared_addr() + slot * 16 * Self::CHUNK,
                            src.as_ptr() as *const u8,
                            16 * cnt,
                            full,
                        )
                    };
                }
                k += Self::CHUNK;
                slot += 1;
                if slot == self.slots {
                    slot = 0;
                    phase ^= 1;
                }
            }
            t += step;
        }
    }

    /// A consumer thread's state (consumer warps only).
    #[inline(always)]
    pub fn consumer(&self) -> HeldConsumer {
        HeldConsumer {
            item: gpu::block_idx().x,
            slot: 0,
            phase: 0,
            ct: gpu::thread_idx().x - 32,
            parity: 0,
        }
    }

    /// The consumer's next item, or `None` when the block has no more.
    #[inline(always)]
    pub fn next(&self, c: &mut HeldConsumer) -> Option<HeldItem> {
        if c.item >= self.items {
            return None;
        }
        let it = self.item(c.item, c.slot);
        c.item += gpu::grid_dim().x;
        Some(it)
    }

    /// Pass A: waits for each of the item's chunks and calls `f(packets, valid)` on this
    /// thread's packets of it (slot `i` holds packet `ct + i · 32 W` of the chunk; the first
    /// `valid` slots are in the slice, the others zero).
    #[inline(always)]
    pub fn scan(&self, c: &mut HeldConsumer, it: &HeldItem, mut f: impl FnMut([[u32; 4]; U], u32)) {
        let mut k = 0u32;
        while k < it.mine {
            let cnt = (it.mine - k).min(Self::CHUNK);
            self.full(c.slot).wait_parity(c.phase);
            let base = (c.slot * Self::CHUNK) as usize;
            let w: [[u32; 4]; U] = gpu::unroll::array(|i| {
                let q = c.ct + (i * 32 * W) as u32;
                if q < cnt {
                    self.ring.load_packet(base + q as usize)
                } else {
                    [0; 4]
                }
            });
            // Slots past the chunk's end are the last ones (packet indices grow with `i`).
            let valid = if c.ct < cnt {
                (cnt - 1 - c.ct) / (32 * W as u32) + 1
            } else {
                0
            };
            f(w, valid.min(U as u32));
            k += Self::CHUNK;
            c.slot += 1;
            if c.slot == self.slots {
                c.slot = 0;
                c.phase ^= 1;
            }
        }
    }

    /// The consumer warps' value of `v` folded by `f` (butterfly in each warp, then every
    /// thread folds the warps' results in warp order: the same bits everywhere). `slot`
    /// picks one of the two reduction buffers of this item.
    #[inline(always)]
    fn block_fold(
        &self,
        c: &HeldConsumer,
        slot: usize,
        v: f32,
        f: impl Fn(f32, f32) -> f32,
    ) -> f32 {
        let buf = gpukit_device::shared_array!(HELD_FOLD: [u32; 128]);
        let mut acc = v;
        let mut m = 16;
        while m > 0 {
            acc = f(
                acc,
                f32::from_bits(gpu::warp::shfl_xor_u32(acc.to_bits(), m)),
            );
            m >>= 1;
        }
        // Buffers by item parity: a buffer is written again two items later, after the next
        // item's barriers, which every thread passes only after reading it.
        let off = 64 * slot + (c.parity * 32) as usize;
        if c.ct % 32 == 0 {
            buf.set(off + (c.ct / 32) as usize, acc.to_bits());
        }
        named_barrier_sync(CONSUMER_BAR, 32 * W as u32);
        let mut r = f32::from_bits(buf.get(off));
        for w in 1..W {
            r = f(r, f32::from_bits(buf.get(off + w)));
        }
        r
    }

    /// The block's softmax statistics from each consumer thread's `(m, s = Σ e^(x - m))`:
    /// `(M_b, S_b)` by a block maximum (NaN wins), each thread's sum rescaled by
    /// `exp(m - M_b)` once, and a block sum: two cheap reductions instead of merging pairs
    /// (two exponentials per step on the critical path). A thread that saw only -inf adds 0.
    #[inline(always)]
    pub fn stats(
        &self,
        c: &mut HeldConsumer,
        m: f32,
        s: f32,
        exp: impl Fn(f32) -> f32,
    ) -> [f32; 2] {
        let mb = self.block_fold(c, 0, m, math::max_nan);
        let mine = if m == mb {
            s
        } else if m == f32::NEG_INFINITY {
            0.0
        } else {
            s * exp(m - mb)
        };
        let sb = self.block_fold(c, 1, mine, |a, b| a + b);
        c.parity ^= 1;
        [mb, sb]
    }

    /// Index of row `row`'s first pair in the scratch.
    #[inline(always)]
    fn pairs(&self, row: u32) -> usize {
        crate::rows::first_pair(self.rows as usize, self.parts, row)
    }

    /// Publishes the block's pair `mine` for the item without waiting. Every consumer thread
    /// calls it (consumer thread 0 stores).
    #[inline(always)]
    pub fn publish(&self, c: &HeldConsumer, it: &HeldItem, mine: [f32; 2]) {
        if c.ct == 0 {
            let pair = mine.map(f32::to_bits);
            crate::rows::publish_pair(&self.scratch, self.pairs(it.row), (it.row, it.part), pair);
        }
    }

    /// Waits until every part of the item's row has published and returns the row's
    /// `(M, S)`: `M` the maximum of the parts' maxima, `S = Σ S_p e^(M_p - M)` (parts with
    /// `M_p = -inf` add 0), each lane taking parts `lane, lane + 32, ..` and a butterfly
    /// folding them: the same order, so the same bits, in every warp and block. Every consumer
    /// thread calls it.
    #[inline(always)]
    pub fn gather(&self, c: &HeldConsumer, it: &HeldItem) -> [f32; 2] {
        use gpu::{Ordering, Scope};
        let s = &self.scratch;
        let count = 1 + it.row as usize;
        let pairs = self.pairs(it.row);
        if c.ct == 0 {
            crate::rows::await_pairs(s, count, self.parts, 256);
        }
        named_barrier_sync(CONSUMER_BAR, 32 * W as u32);
        let lane = c.ct % 32;
        let load = |p: u32| {
            let at = pairs + 2 * p as usize;
            [
                f32::from_bits(s.load(at, Scope::Device, Ordering::Relaxed)),
                f32::from_bits(s.load(at + 1, Scope::Device, Ordering::Relaxed)),
            ]
        };
        // Most rows have at most 32 parts: one pair per lane, loaded once.
        let mine = if lane < self.parts {
            load(lane)
        } else {
            [f32::NEG_INFINITY, 0.0]
        };
        let mut big_m = mine[0];
        let mut p = lane + 32;
        while p < self.parts {
            big_m = math::max_nan(big_m, load(p)[0]);
            p += 32;
        }
        let mut k = 16;
        while k > 0 {
            big_m = math::max_nan(
                big_m,
                f32::from_bits(gpu::warp::shfl_xor_u32(big_m.to_bits(), k)),
            );
            k >>= 1;
        }
        let term = |q: [f32; 2]| {
            if q[0] == f32::NEG_INFINITY {
                0.0
            } else {
                q[1] * math::exp(q[0] - big_m)
            }
        };
        let mut big_s = term(mine);
        let mut p = lane + 32;
        while p < self.parts {
            big_s += term(load(p));
            p += 32;
        }
        let mut k = 16;
        while k > 0 {
            big_s += f32::from_bits(gpu::warp::shfl_xor_u32(big_s.to_bits(), k));
            k >>= 1;
        }
        [big_m, big_s]
    }

    /// The consumer warps' loop: per item `pass_a` (the chunks as they land, then the block's
    /// statistics), their publication, the wait for the row's other parts, then `pass_b` with
    /// the row's `(M, S)`.
    #[inline(always)]
    pub fn consume(
        &self,
        mut pass_a: impl FnMut(&Self, &mut HeldConsumer, &HeldItem) -> [f32; 2],
        mut pass_b: impl FnMut(&Self, &HeldConsumer, &HeldItem, [f32; 2]),
    ) {
        let mut c = self.consumer();
        while let Some(it) = self.next(&mut c) {
            let mine = pass_a(self, &mut c, &it);
            self.publish(&c, &it, mine);
            let row = self.gather(&c, &it);
            pass_b(self, &c, &it, row);
        }
    }

    /// Pass B: reads the item's chunks again (from the item's first slot), writes `g(packet)`
    /// of each of this thread's packets to the same place of `out`, and releases each chunk
    /// to the producer.
    #[inline(always)]
    pub fn write(
        &self,
        c: &HeldConsumer,
        it: &HeldItem,
        out: &mut OutSlice<E, Manual>,
        store: gpu::L2Policy,
        mut g: impl FnMut([u32; 4]) -> [u32; 4],
    ) {
        let (mut slot, mut k) = (it.slot0, 0u32);
        let first = (it.row as usize * self.n as usize + it.p0 as usize) * E::PER;
        while k < it.mine {
            let cnt = (it.mine - k).min(Self::CHUNK);
            let base = (slot * Self::CHUNK) as usize;
            gpu::unroll::each::<U>(|i| {
                let q = c.ct + (i * 32 * W) as u32;
                if q < cnt {
                    let r = g(self.ring.load_packet(base + q as usize));
                    // SAFETY: the item (row, part) belongs to this block (static assignment),
                    // packet `q` of its chunk `k` to this thread. In bounds (`out` is as long
                    // as `x`) and aligned (checked in `new`): the claim never fails.
                    if let Some(o) =
                        unsafe { out.claim_packet_mut(first + (k + q) as usize * E::PER) }
                    {
                        o.set_hinted(r, store);
                    }
                }
            });
            // Every lane's reads of the chunk are done before its warp's arrival.
            gpu::sync_warp();
            if c.ct % 32 == 0 {
                self.empty(slot).arrive();
            }
            k += Self::CHUNK;
            slot += 1;
            if slot == self.slots {
                slot = 0;
            }
        }
    }
}
