//! Single-pass prefix sums (inclusive and exclusive) with decoupled look-back (Merrill &
//! Garland; CUB's `agent_scan`), one read and one write of the data: the memory floor of a scan.
//!
//! Block `b` owns tile `b` of the output (`BlockRows<tile>`: a tile is a row), and its thread
//! `t` owns the 16-byte chunks `t, t + B, .., t + (CHUNKS-1)·B` of it (B threads per block), so
//! every load and store of a warp is one coalesced 512-byte access. The tile stays in registers:
//! each thread loads its [`CHUNKS`] chunks at once (all in flight), sums each chunk, and the warp
//! scans the chunk sums of every block-wide row `j` of chunks with shuffles. The warp totals
//! (one per row and warp) go through shared memory once; from them each thread knows the
//! offset of its chunks inside the tile and the tile's aggregate. Warp 0 publishes the
//! aggregate and walks back over the predecessors' states until it meets an inclusive prefix,
//! [`WINDOW`] states per lane per step (128 predecessors per L2 round trip). Then each thread
//! adds the prefix and stores its chunks: two barriers per tile, no shared-memory staging.
//!
//! Forward progress: a block waits only on lower-numbered blocks, and the hardware dispatches
//! blocks in increasing index order, so every block waited on is resident or finished (the
//! assumption CUB's decoupled look-back makes too).
//!
//! Tile states are u64 words: the upper 32 bits a flag (0: nothing yet, 1: aggregate,
//! 2: inclusive prefix), the lower 32 the value's bits. Flag and value travel in one naturally
//! aligned 64-bit word (single-copy atomic), and the state carries no other data, so
//! `ld.relaxed.gpu` / `st.relaxed.gpu` suffice: a reader that sees a flag sees its value, and
//! relaxed device-scope accesses always reach L2 (no stale L1 copy). The host zeroes `state`
//! (one word per tile) on the same stream before each launch.
use gpukit_device::atomic::{Ordering, Scope};
use gpukit_device::{
    self as gpu, Atomic, AtomicSlice, BlockRows, Element, Input, OutSlice, kernel, shared_array,
    warp,
};

/// Threads per block the host launches the scan with (512: 8192-element tiles at 16 elements
/// per thread; see [`WINDOW`] for why tiles should be large).
pub const BLOCK: usize = 512;
/// 16-byte chunks each thread scans (four elements each): sixteen elements per thread in
/// registers, four 16-byte loads in flight.
pub const CHUNKS: usize = 4;
/// Elements per tile (one block each): the `tile` argument, and the host launches
/// ⌈n / TILE⌉ blocks of [`BLOCK`] threads.
pub const TILE: usize = BLOCK * CHUNKS * 4;
/// Most warps in a scan block (`launch_bounds(512)`).
const MAX_WARPS: usize = 16;
/// Most chunks per thread (the warp-total table's rows).
const MAX_CHUNKS: usize = CHUNKS;
/// Predecessor states each look-back lane reads per step (64 per warp step). The inclusive
/// prefixes can advance by at most one window of tiles per L2 round trip, so the scan cannot
/// run faster than `32 · WINDOW` tiles per round trip: large tiles and wide windows keep that
/// bound above the memory bandwidth. Four per lane would double the window but spills at the
/// 64-register cap of two 512-thread blocks per SM.
pub const WINDOW: usize = 2;

const FLAG_AGGREGATE: u64 = 1 << 32;
const FLAG_PREFIX: u64 = 2 << 32;

/// What the scan needs of an element type: 16-byte chunks of four elements, an associative
/// addition with identity 0 (all bits zero), and 32-bit words to travel through shuffles,
/// shared memory and tile states.
pub trait ScanWord: Element<Chunk = [Self; 4]> {
    /// `self + o` (wrapping for integers).
    fn plus(self, o: Self) -> Self;
    /// The value's bits.
    fn bits(self) -> u32;
    /// The value with these bits.
    fn from_bits(b: u32) -> Self;
}
impl ScanWord for f32 {
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

/// Walks back from `tile` over the predecessors' states (warp 0 only; lane 0 has already
/// published this tile's aggregate) and returns the sum of all tiles before `tile`.
///
/// Position `p = WINDOW·lane + k` of a step looks at tile `end - 1 - p`. A step ends when, in
/// position order, an inclusive prefix comes before any state still unpublished (the sum of
/// the positions up to it is the answer), or when all 128 positions hold aggregates (their sum
/// is added and the walk moves 128 tiles back). Otherwise the lanes back off and re-read only
/// the states still missing.
#[inline(always)]
fn look_back<T: ScanWord>(states: &AtomicSlice<'_, u64>, tile: usize) -> T {
    let lane = warp::lane_id() as usize;
    let mut prefix = T::ZERO;
    let mut end = tile;
    loop {
        let mut s = [0u64; WINDOW];
        let mut pause = 32;
        let (first, kp) = loop {
            gpu::unroll::each::<WINDOW>(|k| {
                let p = WINDOW * lane + k;
                if s[k] >> 32 == 0 {
                    // Positions before tile 0 count as a prefix of zero.
                    s[k] = if p < end {
                        states.load(end - 1 - p, Scope::Device, Ordering::Relaxed)
                    } else {
                        FLAG_PREFIX
                    };
                }
            });
            // This lane's first prefix and first missing state, in position order.
            let (mut kp, mut km) = (WINDOW, WINDOW);
            for k in (0..WINDOW).rev() {
                let flag = s[k] >> 32;
                kp = if flag == 2 { k } else { kp };
                km = if flag == 0 { k } else { km };
            }
            let blocked = warp::ballot(km < kp);
            let done = warp::ballot(kp < km);
            let first = (blocked | done).trailing_zeros() as usize;
            if first == 32 || done & (1 << first) != 0 {
                break (first, kp);
            }
            // Back off so that waiting lanes do not crowd out the data traffic in L2.
            gpu::sync::nanosleep(pause);
            pause = (pause * 2).min(512);
        };
        let mut mine = T::ZERO;
        gpu::unroll::each::<WINDOW>(|k| {
            if lane < first || (lane == first && k <= kp) {
                mine = mine.plus(T::from_bits(s[k] as u32));
            }
        });
        prefix = warp_sum(mine).plus(prefix);
        if first < 32 {
            return prefix;
        }
        end -= 32 * WINDOW;
    }
}

/// One tile of the scan with `Q` chunks per thread (see the module docs).
#[inline(always)]
fn scan_tile<T: ScanWord, const Q: usize>(
    x: &[T],
    out: &mut OutSlice<T, BlockRows>,
    state: &mut OutSlice<u64, Atomic>,
    exclusive: bool,
) {
    const { assert!(Q <= MAX_CHUNKS) };
    let row_len = out.row_len();
    let Some(mut row) = out.block_row() else {
        return;
    };
    let (tile, b, t) = (row.index(), row.team(), row.rank());
    let warps = b / 32;
    assert!(
        b % 32 == 0 && warps <= MAX_WARPS && row_len == b * Q * 4,
        "scan: the tile must be 4 * Q * threads per block (a whole number of warps)"
    );
    let (lane, wid) = (warp::lane_id() as usize, t / 32);
    let totals = shared_array!(SCAN_TOTALS: [u32; MAX_WARPS * MAX_CHUNKS]);
    let prefix_slot = shared_array!(SCAN_PREFIX: [u32; 1]);

    // 1. Load this thread's chunks, all in flight (lanes past the end read as zero).
    let xin = Input::new(x);
    let (first, count) = (tile * (row_len / 4), xin.chunk_count());
    let mut v = [[T::ZERO; 4]; Q];
    gpu::unroll::each::<Q>(|j| {
        let q = first + t + b * j;
        if q < count {
            v[j] = xin.chunk(q);
        }
    });

    // 2. Per row j of chunks: the chunk's sum, its warp-exclusive offset, the warp's total.
    let mut before = [T::ZERO; Q];
    gpu::unroll::each::<Q>(|j| {
        let c = v[j];
        let sum = c[0].plus(c[1]).plus(c[2]).plus(c[3]);
        let incl = warp_scan(sum);
        let up = T::from_bits(warp::shfl_up_u32(incl.bits(), 1));
        before[j] = if lane == 0 { T::ZERO } else { up };
        if lane == 31 {
            totals.set(j * warps + wid, incl.bits());
        }
    });
    gpu::sync_threads();

    // 3. The tile's aggregate: the table in element order (rows in order, warps in order inside
    //    a row). Only warp 0 needs it; the others go on to the barrier.
    let table = |j: usize, w: usize| T::from_bits(totals.get(j * warps + w));
    // 4. Publish the aggregate and look back (warp 0).
    if wid == 0 {
        let mut aggregate = T::ZERO;
        for j in 0..Q {
            for w in 0..warps {
                aggregate = aggregate.plus(table(j, w));
            }
        }
        let states = state.atomic();
        if tile == 0 {
            if lane == 0 {
                states.store(
                    0,
                    FLAG_PREFIX | aggregate.bits() as u64,
                    Scope::Device,
                    Ordering::Relaxed,
                );
                prefix_slot.set(0, 0);
            }
        } else {
            if lane == 0 {
                states.store(
                    tile,
                    FLAG_AGGREGATE | aggregate.bits() as u64,
                    Scope::Device,
                    Ordering::Relaxed,
                );
            }
            let prefix: T = look_back(&states, tile);
            if lane == 0 {
                states.store(
                    tile,
                    FLAG_PREFIX | prefix.plus(aggregate).bits() as u64,
                    Scope::Device,
                    Ordering::Relaxed,
                );
                prefix_slot.set(0, prefix.bits());
            }
        }
    }
    gpu::sync_threads();

    // 5. Add the prefix and this warp's offset in each row, and store each chunk (16 bytes
    //    when the output allows). The offsets come from the table after the look-back, so they
    //    hold no registers during it.
    let mut run_start = T::from_bits(prefix_slot.get(0));
    gpu::unroll::each::<Q>(|j| {
        let mut in_row = T::ZERO;
        for w in 0..wid {
            in_row = in_row.plus(table(j, w));
        }
        let start = run_start.plus(in_row).plus(before[j]);
        for w in wid..warps {
            in_row = in_row.plus(table(j, w));
        }
        run_start = run_start.plus(in_row);
        if let Some(mut c) = row.chunk(t + b * j) {
            let mut run = start;
            let mut r = v[j];
            for e in r.iter_mut() {
                let x = *e;
                if exclusive {
                    *e = run;
                    run = run.plus(x);
                } else {
                    run = run.plus(x);
                    *e = run;
                }
            }
            c.store(r);
        }
    });
}

/// Prefix sums (`exclusive` != 0: `out[i] = x[0] + .. + x[i-1]`; else up to `x[i]`); integer
/// sums wrap. Launch ⌈n / tile⌉ blocks of `tile / (4 · CHUNKS)` threads (a whole number of warps,
/// at most 512; the host uses [`BLOCK`] and [`TILE`]) with `state` (one u64 per block) zeroed.
#[kernel(same_len(x, out), launch_bounds(512, 2), instances(f32, i32, u32))]
pub fn scan<T: ScanWord>(
    x: &[T],
    mut out: OutSlice<T, BlockRows<tile>>,
    mut state: OutSlice<u64, Atomic>,
    tile: u32,
    exclusive: u32,
) {
    scan_tile::<T, CHUNKS>(x, &mut out, &mut state, exclusive != 0);
}
