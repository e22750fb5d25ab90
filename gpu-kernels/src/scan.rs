//! Single-pass prefix sums (inclusive and exclusive) with decoupled look-back.
//!
//! Block `b` scans tile `b` of `TILE` elements in registers and shared memory, publishes its
//! aggregate, then walks back over its predecessors' published states until it finds an
//! inclusive prefix, and finally publishes its own inclusive prefix. One read and one write of
//! the data: the memory floor of a scan.
//!
//! Forward progress: a block waits only on lower-numbered blocks, and the hardware dispatches
//! blocks in increasing index order, so every block waited on is already resident or finished
//! (the assumption CUB's decoupled look-back makes too). A dynamic tile ticket would remove the
//! assumption at the price of an atomic round trip and a barrier before the loads can start:
//! measured 1.14 ms with the ticket at 2^28 f32 on the H200. The look-back is done by warp 0
//! over windows of 32 predecessors, with `nanosleep` back-off while a predecessor has published
//! nothing yet (1.11 ms; a block-wide window of 256 measured 1.35 ms, more threads spinning).
//!
//! Tile states are u64 words: the upper 32 bits a flag (0: nothing yet, 1: aggregate,
//! 2: inclusive prefix), the lower 32 the value's bits. They are written with release stores and
//! read with acquire loads at device scope. The host zeroes `state` before each launch.
use gpukit_device::atomic::{Ordering, Scope};
use gpukit_device::{self as gpu, Atomic, Manual, OutSlice, Quads, kernel, shared_array, warp};

/// Threads per block of the scan kernels (the host launches with this), warps per block, and
/// rows of one quad per thread in a tile.
pub const BLOCK: usize = 256;
const WARPS: usize = BLOCK / 32;
const ROWS: usize = 4;
/// Elements per tile (one block each).
pub const TILE: usize = ROWS * BLOCK * 4;

const FLAG_AGGREGATE: u64 = 1 << 32;
const FLAG_PREFIX: u64 = 2 << 32;

/// Repeats `$body` for `$j` = 0..8 as a constant, so per-row arrays stay in registers (a loop
/// the compiler leaves rolled would index them at run time, from local memory).
macro_rules! for_rows {
    ($j:ident => $body:block) => {{
        for_rows!(@ $j, $body, 0 1 2 3 4 5 6 7);
    }};
    (@ $j:ident, $body:block, $($n:literal)*) => {
        $({
            #[allow(non_upper_case_globals)]
            const $j: usize = $n;
            if $j < ROWS $body
        })*
    };
}

/// What the scan needs of an element type: an associative addition with identity 0, and 32-bit
/// words to travel through shuffles and tile states.
trait Scan: Copy + gpukit_device::Word32 {
    const ZERO: Self;
    fn plus(self, o: Self) -> Self;
    fn bits(self) -> u32;
}
impl Scan for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn plus(self, o: f32) -> f32 {
        self + o
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self.to_bits()
    }
}
impl Scan for i32 {
    const ZERO: i32 = 0;
    #[inline(always)]
    fn plus(self, o: i32) -> i32 {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self as u32
    }
}
impl Scan for u32 {
    const ZERO: u32 = 0;
    #[inline(always)]
    fn plus(self, o: u32) -> u32 {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn bits(self) -> u32 {
        self
    }
}

#[inline(always)]
fn from_bits<T: Scan>(b: u32) -> T {
    <T as gpukit_device::Word32>::from_bits(b)
}

/// Sum across the warp; every lane gets it.
#[inline(always)]
fn warp_sum<T: Scan>(mut v: T) -> T {
    let mut m = 16;
    while m > 0 {
        v = v.plus(from_bits(warp::shfl_xor_u32(v.bits(), m)));
        m >>= 1;
    }
    v
}

/// Inclusive scan across the warp of `v` (lane i gets v_0 + .. + v_i).
#[inline(always)]
fn warp_scan<T: Scan>(mut v: T) -> T {
    let lane = warp::lane_id();
    let mut d = 1;
    while d < 32 {
        let up: T = from_bits(warp::shfl_up_u32(v.bits(), d));
        if lane >= d {
            v = up.plus(v);
        }
        d <<= 1;
    }
    v
}

#[inline(always)]
fn scan_tile<T: Scan>(
    x: &[T],
    out: &mut OutSlice<T, Manual>,
    state: &mut OutSlice<u64, Atomic>,
    exclusive: bool,
) {
    let n = x.len();
    let t = gpu::thread_idx().x as usize;
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let warp_sums = shared_array!(SCAN_WARP_SUMS: [u32; ROWS * WARPS]);
    let prefix_slot = shared_array!(SCAN_PREFIX: [u32; 1]);

    let tile = gpu::block_idx().x as usize;
    let tile_base = tile * TILE;

    // The tile is ROWS rows of BLOCK quads; thread t owns quad t of every row, so each load and
    // store instruction of the warp covers 512 contiguous bytes. All loads are issued first.
    let mut v = [[T::ZERO; 4]; ROWS];
    let quads = Quads::new(x);
    for_rows!(j => {
        let i = tile_base + (j * BLOCK + t) * 4;
        match quads {
            Some(q) if i + 4 <= n => v[j] = q.get(i / 4),
            _ => {
                for k in 0..4 {
                    if i + k < n {
                        v[j][k] = x[i + k];
                    }
                }
            }
        }
    });
    // Inclusive scan inside each quad, then the quad totals across the warp.
    let mut incl = [T::ZERO; ROWS];
    for_rows!(j => {
        let q = &mut v[j];
        q[1] = q[0].plus(q[1]);
        q[2] = q[1].plus(q[2]);
        q[3] = q[2].plus(q[3]);
        incl[j] = warp_scan(q[3]);
        if lane == 31 {
            warp_sums.set(j * WARPS + wid, incl[j].bits());
        }
    });
    gpu::sync_threads();
    // Exclusive prefix of each of this thread's quads inside the tile, and the tile's total.
    let mut before = [T::ZERO; ROWS];
    let mut row_offset = T::ZERO;
    for_rows!(j => {
        let mut warp_prefix = T::ZERO;
        let mut row_total = T::ZERO;
        for w in 0..WARPS {
            let s: T = from_bits(warp_sums.get(j * WARPS + w));
            if w < wid {
                warp_prefix = warp_prefix.plus(s);
            }
            row_total = row_total.plus(s);
        }
        let up: T = from_bits(warp::shfl_up_u32(incl[j].bits(), 1));
        let in_warp = if lane == 0 { T::ZERO } else { up };
        before[j] = row_offset.plus(warp_prefix).plus(in_warp);
        row_offset = row_offset.plus(row_total);
    });
    let aggregate = row_offset;

    // Look-back by warp 0: lane 0 publishes the tile's aggregate, then the warp examines 32
    // predecessors per step (lane l: tile end-1-l), waits until each has published something,
    // and stops at the nearest one that published an inclusive prefix.
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
                Ordering::Release,
            );
        }
        let mut prefix = T::ZERO;
        let mut end = tile;
        while end > 0 {
            let s = if lane < end {
                let i = end - 1 - lane;
                let mut pause = 32;
                loop {
                    let s = states.load(i, Scope::Device, Ordering::Acquire);
                    if s >> 32 != 0 {
                        break s;
                    }
                    // Back off so that waiting lanes do not crowd out the data traffic in L2.
                    gpu::sync::nanosleep(pause);
                    pause = (pause * 2).min(1024);
                }
            } else {
                FLAG_PREFIX
            };
            let found = warp::ballot(s & !0xffff_ffff == FLAG_PREFIX);
            let first = found.trailing_zeros() as usize;
            let mine: T = if lane <= first {
                from_bits(s as u32)
            } else {
                T::ZERO
            };
            prefix = warp_sum(mine).plus(prefix);
            if found != 0 {
                break;
            }
            end -= 32;
        }
        if lane == 0 {
            if tile > 0 {
                let inclusive = prefix.plus(aggregate);
                states.store(
                    tile,
                    FLAG_PREFIX | inclusive.bits() as u64,
                    Scope::Device,
                    Ordering::Release,
                );
            }
            prefix_slot.set(0, prefix.bits());
        }
    }
    gpu::sync_threads();
    let tile_prefix: T = from_bits(prefix_slot.get(0));
    for_rows!(j => {
        let i = tile_base + (j * BLOCK + t) * 4;
        let base = tile_prefix.plus(before[j]);
        let q = v[j];
        let r = if exclusive {
            [base, base.plus(q[0]), base.plus(q[1]), base.plus(q[2])]
        } else {
            [
                base.plus(q[0]),
                base.plus(q[1]),
                base.plus(q[2]),
                base.plus(q[3]),
            ]
        };
        // SAFETY: tile `tile` belongs to block `tile` alone, and quad
        // (row j, column t) of it to this thread alone.
        match unsafe { out.claim_quad_mut(i) } {
            Some(o) => o.0 = r,
            None => {
                for (k, rk) in r.into_iter().enumerate() {
                    if i + k < n {
                        // SAFETY: as above.
                        unsafe { *out.claim_mut(i + k) = rk };
                    }
                }
            }
        }
    });
}

/// Prefix sums of f32 (`exclusive` != 0: out[i] = x[0] + .. + x[i-1]; else up to x[i]).
/// Launch ⌈n / 4096⌉ blocks of 256 threads with `state` (one u64 per block) zeroed.
#[kernel(same_len(x, out), launch_bounds(256, 3))]
pub fn scan_f32(
    x: &[f32],
    mut out: OutSlice<f32, Manual>,
    mut state: OutSlice<u64, Atomic>,
    exclusive: u32,
) {
    scan_tile(x, &mut out, &mut state, exclusive != 0);
}

/// Prefix sums of i32 (wrapping), as [`scan_f32`].
#[kernel(same_len(x, out), launch_bounds(256, 3))]
pub fn scan_i32(
    x: &[i32],
    mut out: OutSlice<i32, Manual>,
    mut state: OutSlice<u64, Atomic>,
    exclusive: u32,
) {
    scan_tile(x, &mut out, &mut state, exclusive != 0);
}

/// Prefix sums of u32 (wrapping), as [`scan_f32`].
#[kernel(same_len(x, out), launch_bounds(256, 3))]
pub fn scan_u32(
    x: &[u32],
    mut out: OutSlice<u32, Manual>,
    mut state: OutSlice<u64, Atomic>,
    exclusive: u32,
) {
    scan_tile(x, &mut out, &mut state, exclusive != 0);
}
