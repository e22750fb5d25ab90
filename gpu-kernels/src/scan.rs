//! Single-pass prefix sums (inclusive and exclusive) with decoupled look-back (Merrill &
//! Garland; CUB's `agent_scan`), one read and one write of the data: the memory floor of a scan.
//! One generic source for f32, i32 and u32 (`ScanWord`), two kernels:
//!
//! - [`scan_persistent`] (what the library runs): one resident wave of blocks, launched
//!   cooperatively, block `b` of `G` scanning tiles `b, b + G, ..` with each tile's aggregate
//!   published two rounds before the blocks after it look back, each warp's chunk staged by one
//!   bulk copy and scanned in row order; described at its body below (0.586–0.592 ms at 2^28
//!   on the H200, 85–86% of copy, through the main program; TUNING.md, scan rounds 6, 10 and
//!   11).
//! - [`scan`] (the fallback where the driver cannot make the whole grid resident: 0.711 ms):
//!   one tile per block, described here.
//!
//! Block `b` owns tile `b` of [`TILE`] elements. It stages the tile in shared memory with
//! `cp.async` (no registers hold the data in flight: six blocks fit on an SM, 192 KB in flight),
//! each thread sums its [`ITEMS`] consecutive elements, a warp scan and a pass over
//! the warp totals give every thread its offset inside the tile, and warp 0 publishes the tile's
//! aggregate and walks back over the predecessors' published states until it meets an inclusive
//! prefix. Then each thread rescans its elements from shared memory into shared memory, and the
//! block writes the tile out with coalesced 16-byte stores. Shared-memory packets are
//! XOR-swizzled so both the thread-contiguous and the coalesced accesses are conflict-free.
//!
//! Forward progress: a block waits only on lower-numbered blocks, and the hardware dispatches
//! blocks in increasing index order, so every block waited on is resident or finished (the
//! assumption CUB's decoupled look-back makes too).
//!
//! Tile states are u64 words: the upper 32 bits a flag (0: nothing yet, 1: aggregate,
//! 2: inclusive prefix), the lower 32 the value's bits. Flag and value travel in one word, so
//! relaxed device-scope loads and stores suffice (no fences). The host zeroes `state` (one word
//! per tile) before each launch.
use gpukit_device::atomic::{Ordering, Scope};
use gpukit_device::{
    self as gpu, Atomic, DynamicShared, Manual, OutSlice, SharedArray, async_copy, kernel,
    shared::SharedElem, shared_array, warp,
};

/// Threads per block of the scan kernels (the host launches with this).
pub const BLOCK: usize = 256;
const WARPS: usize = BLOCK / 32;
/// Consecutive elements each thread scans (32 measured 0.71 ms at 2^28 f32 on the H200, 16
/// measured 0.87 ms: fewer, larger tiles mean fewer look-backs).
pub const ITEMS: usize = 32;
/// Elements per tile (one block each): launch ⌈n / TILE⌉ blocks.
pub const TILE: usize = BLOCK * ITEMS;

const FLAG_AGGREGATE: u64 = 1 << 32;
const FLAG_PREFIX: u64 = 2 << 32;

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

/// Walks back from `tile` over the predecessors' states (warp 0 only; lane 0 has already
/// published this tile's aggregate) and returns the sum of all tiles before `tile`.
#[inline(always)]
fn look_back<T: ScanWord>(states: &gpu::AtomicSlice<'_, u64>, tile: usize) -> T {
    let lane = warp::lane_id() as usize;
    let mut prefix = T::ZERO;
    let mut end = tile;
    while end > 0 {
        // Lane l examines tile end-1-l and waits until it has published something.
        let s = if lane < end {
            let i = end - 1 - lane;
            let mut pause = 20;
            loop {
                let s = states.load(i, Scope::Device, Ordering::Relaxed);
                if s >> 32 != 0 {
                    break s;
                }
                // Back off so that waiting lanes do not crowd out the data traffic in L2.
                gpu::sync::nanosleep(pause);
                pause = (pause * 2).min(640);
            }
        } else {
            FLAG_PREFIX
        };
        let found = warp::ballot(s & !0xffff_ffff == FLAG_PREFIX);
        let first = found.trailing_zeros() as usize;
        let mine = if lane <= first {
            T::from_bits(s as u32)
        } else {
            T::ZERO
        };
        prefix = warp_sum(mine).plus(prefix);
        if found != 0 {
            break;
        }
        end -= 32;
    }
    prefix
}

#[inline(always)]
fn scan_tile<T: ScanWord, const N: usize>(
    buf: SharedArray<u32, N>,
    x: &[T],
    out: &mut OutSlice<T, Manual>,
    state: &mut OutSlice<u64, Atomic>,
    exclusive: bool,
) {
    // Packets per thread.
    let ppt = N / 4 / BLOCK;
    let n = x.len();
    let t = gpu::thread_idx().x as usize;
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let warp_sums = shared_array!(SCAN_WARP_SUMS: [u32; WARPS]);
    let prefix_slot = shared_array!(SCAN_PREFIX: [u32; 1]);
    let tile = gpu::block_idx().x as usize;
    let base = tile * (N);

    // 1. Stage the tile: coalesced packets t + BLOCK·j, zero past the end of x.
    if (x.as_ptr() as usize) % 16 == 0 {
        for j in 0..ppt {
            let p = t + BLOCK * j;
            buf.copy_packet_async(swizzle(p), x, base + 4 * p);
        }
        async_copy::wait_all();
    } else {
        for j in 0..ppt {
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
    gpu::sync_threads();

    // 2. Each thread's total over its consecutive elements, then offsets inside the tile.
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

    // 3. Publish the aggregate and look back (warp 0).
    if wid == 0 {
        let states = state.atomic();
        if lane == 0 {
            let flag = if tile == 0 {
                FLAG_PREFIX
            } else {
                FLAG_AGGREGATE
            };
            states.store(
                tile,
                flag | aggregate.bits() as u64,
                Scope::Device,
                Ordering::Relaxed,
            );
        }
        let prefix: T = look_back(&states, tile);
        if lane == 0 {
            if tile > 0 {
                states.store(
                    tile,
                    FLAG_PREFIX | prefix.plus(aggregate).bits() as u64,
                    Scope::Device,
                    Ordering::Relaxed,
                );
            }
            prefix_slot.set(0, prefix.bits());
        }
    }
    gpu::sync_threads();

    // 4. Rescan this thread's elements in place, from its prefix.
    let mut run = T::from_bits(prefix_slot.get(0))
        .plus(warp_prefix)
        .plus(in_warp);
    for k in 0..ppt {
        let q = swizzle(ppt * t + k);
        let w = buf.load_packet(q);
        let mut r = [0u32; 4];
        for e in 0..4 {
            let v = T::from_bits(w[e]);
            if exclusive {
                r[e] = run.bits();
                run = run.plus(v);
            } else {
                run = run.plus(v);
                r[e] = run.bits();
            }
        }
        buf.store_packet(q, r);
    }
    gpu::sync_threads();

    // 5. Coalesced 16-byte stores of the tile.
    for j in 0..ppt {
        let p = t + BLOCK * j;
        let i = base + 4 * p;
        if i >= n {
            break;
        }
        // Tile `tile` is block `tile`'s alone, packet p of it this thread's.
        store_packet(out, i, buf.load_packet(swizzle(p)), n);
    }
}

/// The tile buffer: [`TILE`] 4-byte elements.
#[inline(always)]
fn tile_buffer() -> SharedArray<u32, TILE> {
    shared_array!(SCAN_TILE: [u32; TILE])
}

/// Prefix sums (`exclusive` != 0: `out[i] = x[0] + .. + x[i-1]`; else up to `x[i]`); integer
/// sums wrap. Launch ⌈n / TILE⌉ blocks of [`BLOCK`] threads with `state` (one u64 per block)
/// zeroed.
#[kernel(same_len(x, out), launch_bounds(256), instances(f32, i32, u32))]
pub fn scan<T: ScanWord>(
    x: &[T],
    mut out: OutSlice<T, Manual>,
    mut state: OutSlice<u64, Atomic>,
    exclusive: u32,
) {
    scan_tile(tile_buffer(), x, &mut out, &mut state, exclusive != 0);
}

// ---------------------------------------------------------------------------------------------
// The persistent scan: launched cooperatively (it needs its whole grid resident at once).

/// Elements each thread of [`scan_persistent`] scans per tile: one 16-byte packet in each of the
/// four rows of its warp's chunk.
pub const P_ITEMS: usize = 16;
/// Threads per block of [`scan_persistent`]; its tiles are [`TILE`] elements, like
/// [`scan`]'s, so one scratch serves both.
pub const P_BLOCK: usize = TILE / P_ITEMS;
/// Tiles a block of [`scan_persistent`] holds in shared memory at once: the one being scanned,
/// the next (aggregate published), the one after it (loading).
pub const P_BUFFERS: usize = 3;
/// Dynamic shared memory per block of [`scan_persistent`]: the tile buffers.
pub const P_SHARED_BYTES: usize = P_BUFFERS * TILE * 4;
/// Most warps per block a persistent variant has (sizes the per-warp exchange arrays).
const MAX_WARPS: usize = 32;

/// The look-back of one tile as far as the aggregates are published: their sum over this
/// thread's share of the tiles in between, and whether all of them were there.
#[derive(Clone, Copy)]
struct Between<T> {
    sum: T,
    ready: bool,
}

/// Starts this thread's first look-back read (tile `lo + t` when below `end`; else a published
/// zero), so that its L2 round trip overlaps the work before [`finish_between`] uses it.
#[inline(always)]
fn start_between(states: &gpu::AtomicSlice<'_, u64>, lo: u32, end: u32) -> u64 {
    let i = lo + gpu::thread_idx().x;
    if i < end {
        states.load(i as usize, Scope::Device, Ordering::Relaxed)
    } else {
        FLAG_AGGREGATE
    }
}

/// Adds the rest of this thread's share (tiles `lo + t + threads, ..` below `end`, only when
/// more than `threads` tiles lie in between) to the `first` read, without waiting.
#[inline(always)]
fn finish_between<T: ScanWord>(
    states: &gpu::AtomicSlice<'_, u64>,
    first: u64,
    lo: u32,
    end: u32,
    threads: u32,
) -> Between<T> {
    let mut b = Between {
        sum: T::from_bits(first as u32),
        ready: first >> 32 != 0,
    };
    let mut i = lo + gpu::thread_idx().x + threads;
    while i < end {
        let s = states.load(i as usize, Scope::Device, Ordering::Relaxed);
        b.ready &= s >> 32 != 0;
        b.sum = b.sum.plus(T::from_bits(s as u32));
        i += threads;
    }
    b
}

/// As [`finish_between`] over all of this thread's share, waiting (with back-off) for every aggregate.
#[inline(always)]
fn await_between<T: ScanWord>(
    states: &gpu::AtomicSlice<'_, u64>,
    lo: u32,
    end: u32,
    threads: u32,
) -> T {
    let mut sum = T::ZERO;
    let mut i = lo + gpu::thread_idx().x;
    while i < end {
        sum = sum.plus(T::from_bits(await_aggregate(states, i as usize)));
        i += threads;
    }
    sum
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

/// Stores packet `w` at elements `i .. i + 4` of `out` (those below `n`): one 16-byte store
/// when whole and aligned.
#[inline(always)]
fn store_packet<T: ScanWord>(out: &mut OutSlice<T, Manual>, i: usize, w: [u32; 4], n: usize) {
    if i >= n {
        return;
    }
    // SAFETY: both scans' callers store each element of their own tile once, one packet per
    // thread: in `scan`, tile `tile` is block `tile`'s alone and packet p of it thread
    // p mod BLOCK's; in `scan_persistent`, tile `cur` is block b's alone (block b scans tiles
    // b + G·m of a grid that is resident as a whole), its chunk `wid` warp wid's, the packet
    // this lane's (packet `lane + 32·j` of the chunk in row `j`).
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

// ---------------------------------------------------------------------------------------------
// The persistent scan's tile work, in row order (TUNING.md, scan round 10).
//
// A warp owns a 2 KB chunk of each tile (512 elements, four 512-byte rows) and stages it with
// one bulk copy (TMA) completing on the warp's own mbarrier: no per-thread copy instructions,
// the chunk in flight without registers. Thread `lane` owns packet `lane + 32·j` of row `j`:
// the shared-memory reads are conflict-free without a swizzle, each row is scanned across the
// warp with shuffles, and the results are stored from registers as whole 512-byte rows. The
// chunk passes through shared memory three times (copy in, sums, rescan read) where v10 (thread
// owning 16 consecutive elements, swizzled tile, results transposed through shared memory)
// needed five.

/// Stages this warp's chunk of tile `tile` into `buf` in row order (chunk packet `p` at packet
/// `wid · 128 + p`), completing the current phase of `bar` (one arrival): lane 0 moves the whole
/// chunk with one bulk copy where it lies whole inside a 16-byte aligned `x`; else the lanes load
/// it with plain loads (zero past the end of `x`: the last tile, or a misaligned view) and lane
/// 0 arrives. Past the end of `x` nothing is loaded (such tiles are never read).
#[inline(always)]
fn stage_rows<T: ScanWord>(
    buf: &DynamicShared<u32>,
    x: &[T],
    tile: u32,
    bar: gpu::mbarrier::MBarrier,
) {
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let chunk = 8 * P_ITEMS; // 16-byte packets per warp
    let start = (tile as usize).saturating_mul(TILE);
    let base = start.saturating_add(wid * chunk * 4);
    let p0 = wid * chunk;
    let plain = |buf: &DynamicShared<u32>| {
        for j in 0..P_ITEMS / 4 {
            let p = lane + 32 * j;
            let mut w = [0u32; 4];
            for (k, wk) in w.iter_mut().enumerate() {
                if let Some(v) = x.get(base + 4 * p + k) {
                    *wk = v.bits();
                }
            }
            buf.store_packet(p0 + p, w);
        }
    };
    let mut bulk = false;
    if start < x.len() && lane == 0 {
        bulk = buf.load_bulk_arrive(p0, x, base, chunk, bar);
    }
    if warp::shfl_idx_u32(bulk as u32, 0) == 0 {
        if start < x.len() {
            plain(buf);
        }
        gpu::sync::sync_warp();
        if lane == 0 {
            bar.arrive();
        }
    }
}

/// Waits until this warp's chunk of a staged tile has landed (phase `parity` of its mbarrier),
/// then makes the lanes' plain loads, if any, visible to the whole warp.
#[inline(always)]
fn wait_rows(bar: gpu::mbarrier::MBarrier, parity: u32) {
    bar.wait_parity(parity);
    gpu::sync::sync_warp();
}

/// This thread's four packets of its warp's chunk of the tile in `buf` (rows 0..4).
#[inline(always)]
fn load_rows(buf: &DynamicShared<u32>) -> [[u32; 4]; P_ITEMS / 4] {
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let p0 = wid * 8 * P_ITEMS;
    let mut v = [[0u32; 4]; P_ITEMS / 4];
    for (j, vj) in v.iter_mut().enumerate() {
        *vj = buf.load_packet(p0 + lane + 32 * j);
    }
    v
}

/// The sum of a packet's four elements (fixed order).
#[inline(always)]
fn packet_sum<T: ScanWord>(w: &[u32; 4]) -> T {
    T::from_bits(w[0])
        .plus(T::from_bits(w[1]))
        .plus(T::from_bits(w[2]).plus(T::from_bits(w[3])))
}

/// The sum of this warp's chunk of the tile in `buf` (every lane gets it; fixed order).
#[inline(always)]
fn chunk_total<T: ScanWord>(buf: &DynamicShared<u32>) -> T {
    let v = load_rows(buf);
    let mut total = T::ZERO;
    // Index loops, not `into_iter`: an array iterator keeps the array in local memory.
    for w in &v {
        total = total.plus(packet_sum::<T>(w));
    }
    warp_sum(total)
}

/// The persistent scan's body: block `b` of a grid of `G` scans tiles `b, b + G, ..` with
/// [`P_BLOCK`] threads and [`P_BUFFERS`] tile buffers, each warp its own chunk of each tile
/// (see the section comment); the only block barrier per tile combines the warps' sums.
#[inline(always)]
fn scan_rows_body<T: ScanWord>(
    x: &[T],
    out: &mut OutSlice<T, Manual>,
    state: &mut OutSlice<u64, Atomic>,
    exclusive: bool,
) {
    let threads = P_BLOCK;
    let warps = threads / 32;
    let chunk = 8 * P_ITEMS; // packets per warp
    let n = x.len();
    let tiles = n.div_ceil(TILE) as u32;
    let grid = gpu::grid_dim().x;
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let mut cur = gpu::block_idx().x;
    if cur >= tiles {
        return;
    }
    let warp_sums = shared_array!(SCAN_R_WARP_SUMS: [u32; 4 * MAX_WARPS]);
    let between_sums = shared_array!(SCAN_R_BETWEEN: [u32; 2 * MAX_WARPS]);
    let slow_sums = shared_array!(SCAN_R_SLOW: [u32; MAX_WARPS]);
    let bars = shared_array!(SCAN_R_BARS: [u64; P_BUFFERS * MAX_WARPS]);
    // SAFETY: `SCAN_R_BARS` is reserved for these barriers (16-byte aligned, 8 bytes each);
    // barrier (k, wid) is used by warp `wid` alone, initialised by its lane 0 below and
    // published by `fence_init` and a warp barrier before any use.
    let bar = |k: usize| unsafe {
        gpu::mbarrier::MBarrier::at(bars.shared_addr() + (8 * (k * MAX_WARPS + wid)) as u32)
    };
    if lane == 0 {
        for k in 0..P_BUFFERS {
            // SAFETY: one thread, before any copy or wait uses the barrier.
            unsafe { bar(k).init(1) };
        }
        gpu::mbarrier::fence_init();
    }
    gpu::sync::sync_warp();
    let smem = gpu::dynamic_shared::<u32>();
    let tile_bytes = TILE * 4;
    let buffer = |k: usize| smem.sub(k * tile_bytes, tile_bytes);
    let states = state.atomic();
    let next_of = |tile: u32| tile.saturating_add(grid);
    // Round q's tile lives in buffer q % P_BUFFERS; bit k of `phases` is the parity of the
    // phase the next wait on barrier (k, wid) waits for (flipped after each wait).
    let mut phases = 0u32;

    let mut next = next_of(cur);
    let mut after = next_of(next);
    stage_rows::<T>(&buffer(0), x, cur, bar(0));
    stage_rows::<T>(&buffer(1), x, next, bar(1));
    stage_rows::<T>(&buffer(2), x, after, bar(2));

    // The first two tiles' sums, published before anything waits: from here on each tile's
    // aggregate is published two rounds before the blocks after it read it, so their look-back
    // finds it there (one round ahead, a tenth of the warps' time went to the slow path).
    // The warp sums of round q's tile live in slot q % 4 from round q - 2 (the prologue for
    // rounds 0 and 1) until round q has read them: four slots, so that the slot a round writes
    // was last read before the previous round's barrier.
    let slot = |q: usize| (q % 4) * MAX_WARPS;
    wait_rows(bar(0), phases & 1);
    phases ^= 1;
    let total: T = chunk_total(&buffer(0));
    if lane == 0 {
        warp_sums.set(slot(0) + wid, total.bits());
    }
    if next < tiles {
        wait_rows(bar(1), (phases >> 1) & 1);
        phases ^= 2;
        let total: T = chunk_total(&buffer(1));
        if lane == 0 {
            warp_sums.set(slot(1) + wid, total.bits());
        }
    }
    gpu::sync_threads();
    // This warp's offset inside the tile and the tile's aggregate, from `warp_sums[slot..]`:
    // one shared load and a warp scan (sixteen loads per thread held registers that spilled).
    let offsets = |slot: usize| {
        let mine = if lane < warps {
            T::from_bits(warp_sums.get(slot + lane))
        } else {
            T::ZERO
        };
        let incl = warp_scan(mine);
        let below = T::from_bits(warp::shfl_idx_u32(
            incl.bits(),
            (wid as u32).wrapping_sub(1) & 31,
        ));
        let warp_prefix = if wid == 0 { T::ZERO } else { below };
        let aggregate = T::from_bits(warp::shfl_idx_u32(incl.bits(), warps as u32 - 1));
        (warp_prefix, aggregate)
    };
    // Lane 0 of warp 0 publishes a tile's aggregate.
    let publish = |tile: u32, aggregate: T| {
        states.store(
            tile as usize,
            FLAG_AGGREGATE | aggregate.bits() as u64,
            Scope::Device,
            Ordering::Relaxed,
        );
    };
    // Warp 0 sums the warps' sums (a warp scan: the whole warp), its lane 0 publishes.
    if wid == 0 {
        let aggregate = offsets(slot(0)).1;
        if lane == 0 {
            publish(cur, aggregate);
        }
        if next < tiles {
            let aggregate = offsets(slot(1)).1;
            if lane == 0 {
                publish(next, aggregate);
            }
        }
    }

    let mut carry = T::ZERO;
    let mut lo = 0u32;
    let mut r = 0usize;
    let mut k = 0usize;
    loop {
        // 1. The aggregates between this block's previous tile and `cur`, read now and used
        //    after the sums of the tile after next. (Read a round earlier, across the output
        //    pass, the scan measured 1% slower: TUNING, scan round 11.)
        let first = start_between(&states, lo, cur);
        let par = (r & 1) * MAX_WARPS;
        let after_slot = slot(r + 2);
        let k1 = if k + 1 == P_BUFFERS { 0 } else { k + 1 };
        let k2 = if k1 + 1 == P_BUFFERS { 0 } else { k1 + 1 };
        let buf = buffer(k);
        let has_next = next < tiles;
        let has_after = after < tiles;
        // 2. The warp sums of the tile after next.
        if has_after {
            wait_rows(bar(k2), (phases >> k2) & 1);
            phases ^= 1 << k2;
            let total: T = chunk_total(&buffer(k2));
            if lane == 0 {
                warp_sums.set(after_slot + wid, total.bits());
            }
        }
        let between: Between<T> = finish_between(&states, first, lo, cur, threads as u32);
        let bsum = warp_sum(between.sum);
        if lane == 0 {
            between_sums.set(par + wid, bsum.bits());
        }
        // 3. The tile's one block barrier.
        let all_ready = gpu::sync::sync_threads_and(between.ready);
        if has_after && wid == 0 {
            let aggregate = offsets(after_slot).1;
            if lane == 0 {
                publish(after, aggregate);
            }
        }
        let (warp_prefix, aggregate) = offsets(slot(r));
        let mut between = T::ZERO;
        if all_ready {
            for w in 0..warps {
                between = between.plus(T::from_bits(between_sums.get(par + w)));
            }
        } else {
            let s = warp_sum(await_between::<T>(&states, lo, cur, threads as u32));
            if lane == 0 {
                slow_sums.set(wid, s.bits());
            }
            gpu::sync_threads();
            for w in 0..warps {
                between = between.plus(T::from_bits(slow_sums.get(w)));
            }
        }
        let prefix = carry.plus(between);
        carry = prefix.plus(aggregate);
        // 4. Scan the warp's chunk row by row: each packet's total, an inclusive scan of
        //    them across the warp per row, and the rows' totals carried from row to row.
        // The packets are read twice (for their sums, then for the outputs) rather than held
        // across the scans: holding them cost 16 registers and spilled loop invariants to
        // local memory, whose reloads were a fifth of the warps' stall samples (round 10).
        let p0 = wid * chunk;
        let v = load_rows(&buf);
        let mut incl = [T::ZERO; P_ITEMS / 4];
        for j in 0..P_ITEMS / 4 {
            incl[j] = packet_sum(&v[j]);
        }
        let mut d = 1;
        while d < 32 {
            for s in &mut incl {
                let up = T::from_bits(warp::shfl_up_u32(s.bits(), d));
                if lane as u32 >= d {
                    *s = up.plus(*s);
                }
            }
            d <<= 1;
        }
        let mut row_base = prefix.plus(warp_prefix);
        let base = cur as usize * TILE + wid * chunk * 4;
        // Unrolled by construction: with a loop LLVM kept `incl` in local memory (f32).
        gpu::unroll::each::<{ P_ITEMS / 4 }>(|j| {
            let up = T::from_bits(warp::shfl_up_u32(incl[j].bits(), 1));
            let row_total = T::from_bits(warp::shfl_idx_u32(incl[j].bits(), 31));
            let mut run = if lane == 0 {
                row_base
            } else {
                row_base.plus(up)
            };
            let w = buf.load_packet(p0 + lane + 32 * j);
            let mut o = [0u32; 4];
            for e in 0..4 {
                let val = T::from_bits(w[e]);
                if exclusive {
                    o[e] = run.bits();
                    run = run.plus(val);
                } else {
                    run = run.plus(val);
                    o[e] = run.bits();
                }
            }
            store_packet(out, base + 4 * (lane + 32 * j), o, n);
            row_base = row_base.plus(row_total);
        });
        if !has_next {
            break;
        }
        // 5. Refill this buffer with the tile three rounds on (the warp's own chunk: its lanes
        //    have read it).
        gpu::sync::sync_warp();
        let refill = next_of(after);
        stage_rows::<T>(&buf, x, refill, bar(k));
        lo = cur + 1;
        cur = next;
        next = after;
        after = refill;
        r += 1;
        k = k1;
    }
}

/// Prefix sums like [`scan`], by persistent blocks of [`P_BLOCK`] threads with
/// [`P_SHARED_BYTES`] of dynamic shared memory: block `b` of a grid of `G` scans tiles
/// `b, b + G, ..`, publishing each tile's aggregate two tiles ahead and adding the aggregates
/// between its own tiles to its running prefix, each warp staging its chunk of a tile with one
/// bulk copy and scanning it in row order (TUNING.md, scan rounds 5, 6, 10 and 11: 0.586–0.591
/// ms at 2^28 f32 on the H200 against [`scan`]'s 0.711). Block `b` waits for tiles of every
/// other block, so the whole grid must be resident at once: launch it cooperatively (the host
/// does; a plain launch of more blocks than fit can hang). `state` holds one word per tile,
/// zeroed.
#[kernel(same_len(x, out), launch_bounds(512, 2), instances(f32, i32, u32))]
pub fn scan_persistent<T: ScanWord>(
    x: &[T],
    mut out: OutSlice<T, Manual>,
    mut state: OutSlice<u64, Atomic>,
    exclusive: u32,
) {
    scan_rows_body::<T>(x, &mut out, &mut state, exclusive != 0);
}
