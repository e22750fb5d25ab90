//! Single-pass prefix sums (inclusive and exclusive), one read and one write of the data: the
//! memory floor of a scan. One generic source for f32, i32 and u32 (`ScanWord`).
//!
//! Persistent blocks (the host launches about one resident wave) take tiles of [`TILE`]
//! elements in increasing order from a ticket counter and keep [`BUFFERS`] of them in shared
//! memory: while a block scans tile r, tile r + 1 is already loaded and its aggregate
//! published, and the tile after it is loading (`cp.async`, no registers hold data in flight).
//! A tile's exclusive prefix is the block's inclusive prefix through its previous tile plus the
//! aggregates of the tiles in between (other blocks' tiles), which all threads of the block read
//! at once: no serial walk over predecessors. Publishing tile r + 1's aggregate before tile r
//! waits keeps the tiles' dependency chain two tiles ahead of each block (see TUNING.md, round 5:
//! one tile per block measured 0.71 ms at 2^28 f32 on the H200, this 0.64 ms).
//!
//! Each thread sums its [`ITEMS`] consecutive elements, a warp scan and a pass over the warp
//! totals give every thread its offset inside the tile; after the prefix is known each thread
//! rescans its elements in shared memory, and the block writes the tile with coalesced 16-byte
//! stores. Shared-memory packets are XOR-swizzled so both the thread-contiguous and the
//! coalesced accesses are conflict-free.
//!
//! Forward progress: a block waits only for the aggregates of tiles with lower tickets, each
//! taken by a running block that publishes it without waiting for any higher tile, so the scan
//! completes whatever number of its blocks are resident (tickets, not block indices, order the
//! tiles). Integer sums are exact; an f32 prefix is summed in an order that depends on which
//! tiles each block took, so its rounding may differ between runs (within the same bound).
//!
//! `state` holds one u64 word per tile (upper 32 bits a flag, 1 = aggregate published; lower 32
//! the aggregate's bits: flag and value in one word, so relaxed device-scope loads and stores
//! suffice) and, after them, the ticket counter. The host zeroes it before each launch.
use gpukit_device::atomic::{Ordering, Scope};
use gpukit_device::{
    self as gpu, Atomic, DynamicShared, Manual, OutSlice, async_copy, kernel, shared::SharedElem,
    shared_array, warp,
};

/// Threads per block of the scan kernel (the host launches with this).
pub const BLOCK: usize = 512;
const WARPS: usize = BLOCK / 32;
/// Consecutive elements each thread scans (512 × 16 measured 0.640 ms at 2^28 f32 on the H200;
/// 256 × 32 0.703, 256 × 16 0.720).
pub const ITEMS: usize = 16;
/// Elements per tile.
pub const TILE: usize = BLOCK * ITEMS;
/// Tiles a block holds in shared memory at once (scanned, aggregate published, loading).
pub const BUFFERS: usize = 3;
/// Dynamic shared memory per block: the tile buffers.
pub const SHARED_BYTES: usize = BUFFERS * TILE * 4;

const FLAG_AGGREGATE: u64 = 1 << 32;

/// What the scan needs of an element type: an associative addition with identity 0, and 32-bit
/// words to travel through shuffles, shared memory and tile states.
pub trait ScanWord: Copy + SharedElem {
    /// The identity of [`plus`](Self::plus).
    const ZERO: Self;
    /// `self + o` (wrapping for integers).
    fn plus(self, o: Self) -> Self;
    /// The value's bits.
    fn bits(self) -> u32;
    /// The value with these bits.
    fn from_bits(b: u32) -> Self;
}
impl ScanWord for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn plus(self, o: f32) -> f32 {
        self + o
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self.to_bits()
    }
    #[inline(always)]
    fn from_bits(b: u32) -> f32 {
        f32::from_bits(b)
    }
}
impl ScanWord for i32 {
    const ZERO: i32 = 0;
    #[inline(always)]
    fn plus(self, o: i32) -> i32 {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self as u32
    }
    #[inline(always)]
    fn from_bits(b: u32) -> i32 {
        b as i32
    }
}
impl ScanWord for u32 {
    const ZERO: u32 = 0;
    #[inline(always)]
    fn plus(self, o: u32) -> u32 {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self
    }
    #[inline(always)]
    fn from_bits(b: u32) -> u32 {
        b
    }
}

/// Inclusive scan across the warp of `v` (lane i gets v_0 + .. + v_i).
#[inline(always)]
fn warp_scan<T: ScanWord>(mut v: T) -> T {
    let lane = warp::lane_id();
    let mut d = 1;
    while d < 32 {
        let up = T::from_bits(warp::shfl_up_u32(v.bits(), d));
        if lane >= d {
            v = up.plus(v);
        }
        d <<= 1;
    }
    v
}

/// Sum across the warp; every lane gets it.
#[inline(always)]
fn warp_sum<T: ScanWord>(mut v: T) -> T {
    let mut m = 16;
    while m > 0 {
        v = v.plus(T::from_bits(warp::shfl_xor_u32(v.bits(), m)));
        m >>= 1;
    }
    v
}

/// Where 16-byte packet `p` of the tile lives in shared memory: XOR of bits 0..3 with bits 3..6
/// makes the eight packets of every quarter-warp access land in eight different bank groups,
/// both when thread t reads packets `PPT·t + k` and when it reads packets `t + BLOCK·j`.
#[inline(always)]
fn swizzle(p: usize) -> usize {
    p ^ ((p >> 3) & 7)
}

/// Stages tile `tile` (elements `tile · TILE ..`) into `buf` as coalesced packets
/// `t + BLOCK·j` and commits the copies as one group: an empty group when the tile lies past
/// the end of `x`, so every thread commits one group per buffer refill.
#[inline(always)]
fn stage_tile<T: ScanWord>(buf: &DynamicShared<u32>, x: &[T], tile: u32) {
    let t = gpu::thread_idx().x as usize;
    let base = (tile as usize).saturating_mul(TILE);
    if base < x.len() {
        if (x.as_ptr() as usize) % 16 == 0 {
            for j in 0..ITEMS / 4 {
                let p = t + BLOCK * j;
                buf.copy_packet_async(swizzle(p), x, base + 4 * p);
            }
        } else {
            for j in 0..ITEMS / 4 {
                let p = t + BLOCK * j;
                let mut w = [0u32; 4];
                for (k, wk) in w.iter_mut().enumerate() {
                    if let Some(v) = x.get(base + 4 * p + k) {
                        *wk = v.bits();
                    }
                }
                buf.store_packet(swizzle(p), w);
            }
        }
    }
    async_copy::commit();
}

/// Waits until tile `i`'s aggregate is published and returns its bits.
#[inline(always)]
fn await_aggregate(states: &gpu::AtomicSlice<'_, u64>, i: usize) -> u32 {
    let mut pause = 20;
    loop {
        let s = states.load(i, Scope::Device, Ordering::Relaxed);
        if s >> 32 != 0 {
            return s as u32;
        }
        // Back off so that waiting threads do not crowd out the data traffic in L2.
        gpu::sync::nanosleep(pause);
        pause = (pause * 2).min(640);
    }
}

/// A tile's per-thread offsets: what its rescan needs once its prefix is known.
#[derive(Clone, Copy)]
struct TileSums<T> {
    tile: u32,
    in_warp: T,
    warp_prefix: T,
    aggregate: T,
}

/// Waits for `buf`'s copies (`WAIT`: the newer groups allowed still in flight), sums each
/// thread's elements and publishes the tile's aggregate (thread 0).
#[inline(always)]
fn reduce_publish<T: ScanWord, const WAIT: u32>(
    buf: &DynamicShared<u32>,
    states: &gpu::AtomicSlice<'_, u64>,
    tile: u32,
) -> TileSums<T> {
    let ppt = ITEMS / 4;
    let t = gpu::thread_idx().x as usize;
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let warp_sums = shared_array!(SCAN_WARP_SUMS: [u32; WARPS]);
    if WAIT == 1 {
        async_copy::wait_group::<1>();
    } else {
        async_copy::wait_group::<2>();
    }
    gpu::sync_threads();
    let mut total = T::ZERO;
    for k in 0..ppt {
        let w = buf.load_packet(swizzle(ppt * t + k));
        for wk in w {
            total = total.plus(T::from_bits(wk));
        }
    }
    let incl = warp_scan(total);
    let up = T::from_bits(warp::shfl_up_u32(incl.bits(), 1));
    let in_warp = if lane == 0 { T::ZERO } else { up };
    if lane == 31 {
        warp_sums.set(wid, incl.bits());
    }
    gpu::sync_threads();
    let mut warp_prefix = T::ZERO;
    let mut aggregate = T::ZERO;
    for w in 0..WARPS {
        let s = T::from_bits(warp_sums.get(w));
        if w < wid {
            warp_prefix = warp_prefix.plus(s);
        }
        aggregate = aggregate.plus(s);
    }
    if t == 0 {
        states.store(
            tile as usize,
            FLAG_AGGREGATE | aggregate.bits() as u64,
            Scope::Device,
            Ordering::Relaxed,
        );
    }
    TileSums {
        tile,
        in_warp,
        warp_prefix,
        aggregate,
    }
}

/// The next tile ticket (thread 0 takes them; the block reads them through shared memory).
#[inline(always)]
fn take_ticket(states: &gpu::AtomicSlice<'_, u64>, counter: usize) -> u64 {
    states.fetch_add(counter, 1, Scope::Device, Ordering::Relaxed)
}

/// Prefix sums (`exclusive` != 0: `out[i] = x[0] + .. + x[i-1]`; else up to `x[i]`); integer
/// sums wrap. Launch any number of blocks (about one resident wave: more wait for tickets) of
/// [`BLOCK`] threads with [`SHARED_BYTES`] of dynamic shared memory, `state` holding
/// ⌈n / TILE⌉ + 1 words, zeroed.
#[kernel(same_len(x, out), launch_bounds(512, 2), instances(f32, i32, u32))]
pub fn scan<T: ScanWord>(
    x: &[T],
    mut out: OutSlice<T, Manual>,
    mut state: OutSlice<u64, Atomic>,
    exclusive: u32,
) {
    let exclusive = exclusive != 0;
    let tile_bytes = TILE * 4;
    let ppt = ITEMS / 4;
    let n = x.len();
    let tiles = n.div_ceil(TILE);
    let t = gpu::thread_idx().x as usize;
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let between_sums = shared_array!(SCAN_BETWEEN: [u32; WARPS]);
    let ticket_slot = shared_array!(SCAN_TICKETS: [u64; BUFFERS]);
    let smem = gpu::dynamic_shared::<u32>();
    let buffer = |k: usize| smem.sub(k * tile_bytes, tile_bytes);
    let states = state.atomic();
    // The counter sits after the tile states.
    let counter = tiles;
    if t == 0 {
        for k in 0..BUFFERS {
            ticket_slot.set(k, take_ticket(&states, counter));
        }
    }
    gpu::sync_threads();
    // Tickets in increasing order: the tile being scanned, the next, the one after it.
    // Tile indices fit u32 (the host checks); tickets beyond the last tile only mean "no tile"
    // (saturated, never wrapped).
    let first = ticket_slot.get(0).min(u32::MAX as u64) as u32;
    let mut next_tile = ticket_slot.get(1).min(u32::MAX as u64) as u32;
    let mut after_tile = ticket_slot.get(2).min(u32::MAX as u64) as u32;
    let tiles = tiles as u32;
    stage_tile(&buffer(0), x, first);
    stage_tile(&buffer(1), x, next_tile);
    stage_tile(&buffer(2), x, after_tile);
    if first >= tiles {
        async_copy::wait_all();
        return;
    }
    let mut cur = reduce_publish::<T, 2>(&buffer(0), &states, first);
    // The block's inclusive prefix through its previous tile, and the first tile after that
    // one (0 before the block's first tile).
    let mut carry = T::ZERO;
    let mut lo = 0;
    let mut r = 0;
    loop {
        let k = r % BUFFERS;
        let buf = buffer(k);
        // The refill of this buffer: its ticket is taken now and read after the last barrier.
        let refill = if t == 0 {
            take_ticket(&states, counter)
        } else {
            0
        };
        let next = if next_tile < tiles {
            Some(reduce_publish::<T, 1>(
                &buffer((r + 1) % BUFFERS),
                &states,
                next_tile,
            ))
        } else {
            None
        };
        // The tiles between this block's previous tile and this one: their aggregates.
        let mut s = T::ZERO;
        let mut i = lo as usize + t;
        while i < cur.tile as usize {
            s = s.plus(T::from_bits(await_aggregate(&states, i)));
            i += BLOCK;
        }
        let s = warp_sum(s);
        if lane == 0 {
            between_sums.set(wid, s.bits());
        }
        gpu::sync_threads();
        let mut between = T::ZERO;
        for w in 0..WARPS {
            between = between.plus(T::from_bits(between_sums.get(w)));
        }
        let prefix = carry.plus(between);
        let mut run = prefix.plus(cur.warp_prefix).plus(cur.in_warp);
        for p in 0..ppt {
            let q = swizzle(ppt * t + p);
            let w = buf.load_packet(q);
            let mut o = [0u32; 4];
            for e in 0..4 {
                let v = T::from_bits(w[e]);
                if exclusive {
                    o[e] = run.bits();
                    run = run.plus(v);
                } else {
                    run = run.plus(v);
                    o[e] = run.bits();
                }
            }
            buf.store_packet(q, o);
        }
        if t == 0 {
            ticket_slot.set(k, refill);
        }
        gpu::sync_threads();
        let base = cur.tile as usize * TILE;
        for j in 0..ppt {
            let p = t + BLOCK * j;
            let i = base + 4 * p;
            if i >= n {
                break;
            }
            let w = buf.load_packet(swizzle(p));
            // SAFETY: this block alone took tile `cur.tile`'s ticket, and packet p of the tile
            // is this thread's.
            match unsafe { out.claim_packet_mut(i) } {
                Some(o) => o.set(w),
                None => {
                    for (e, we) in w.into_iter().enumerate() {
                        if i + e < n {
                            // SAFETY: as above.
                            unsafe { *out.claim_mut(i + e) = T::from_bits(we) };
                        }
                    }
                }
            }
        }
        carry = prefix.plus(cur.aggregate);
        lo = cur.tile + 1;
        gpu::sync_threads();
        let refilled = ticket_slot.get(k).min(u32::MAX as u64) as u32;
        stage_tile(&buf, x, refilled);
        next_tile = after_tile;
        after_tile = refilled;
        match next {
            Some(nx) => cur = nx,
            None => break,
        }
        r += 1;
    }
    async_copy::wait_all();
}
