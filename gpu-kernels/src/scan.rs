//! Single-pass prefix sums (inclusive and exclusive) with decoupled look-back.
//!
//! Each block takes the next tile of `TILE` elements in launch order (a ticket from an atomic
//! counter, so every tile's predecessors have started), scans it in registers and shared memory,
//! publishes its aggregate, then walks back over its predecessors' published states until it
//! finds an inclusive prefix, and finally publishes its own inclusive prefix. One read and one
//! write of the data: the memory floor of a scan.
//!
//! Tile states are u64 words: the upper 32 bits a flag (0: nothing yet, 1: aggregate,
//! 2: inclusive prefix), the lower 32 the value's bits. They are written with release stores and
//! read with acquire loads at device scope. The host zeroes `state` and `ticket` before each
//! launch.
use gpukit_device::atomic::{Ordering, Scope};
use gpukit_device::{self as gpu, OutSlice, kernel, load_quad, shared_array, warp};

/// Threads per block and elements per thread of the scan kernels (host launches with these).
pub const BLOCK: usize = 256;
pub const PER_THREAD: usize = 16;
pub const TILE: usize = BLOCK * PER_THREAD;

const FLAG_AGGREGATE: u64 = 1 << 32;
const FLAG_PREFIX: u64 = 2 << 32;

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
    out: &mut OutSlice<T>,
    state: &mut OutSlice<u64>,
    ticket: &mut OutSlice<u32>,
    exclusive: bool,
) {
    let n = x.len();
    let t = gpu::thread_idx().x as usize;
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    let tile_slot = shared_array!(SCAN_TILE_ID: [u32; 1]);
    let warp_sums = shared_array!(SCAN_WARP_SUMS: [u32; 8]);
    let prefix_slot = shared_array!(SCAN_PREFIX: [u32; 1]);

    if t == 0 {
        // SAFETY: `ticket` is only ever accessed atomically in this kernel.
        let tickets = unsafe { ticket.as_atomic() };
        tile_slot.set(0, tickets.fetch_add(0, 1, Scope::Device, Ordering::Relaxed));
    }
    gpu::sync_threads();
    let tile = tile_slot.get(0) as usize;
    let base = tile * TILE + t * PER_THREAD;

    // This thread's 16 elements, scanned in registers.
    let mut v = [T::ZERO; PER_THREAD];
    if base + PER_THREAD <= n {
        for q in 0..PER_THREAD / 4 {
            let quad = load_quad(x, base + 4 * q);
            v[4 * q..4 * q + 4].copy_from_slice(&quad);
        }
    } else {
        for (k, e) in v.iter_mut().enumerate() {
            if base + k < n {
                *e = x[base + k];
            }
        }
    }
    let mut run = T::ZERO;
    for e in v.iter_mut() {
        run = run.plus(*e);
        *e = run;
    }

    // Block-wide exclusive prefix of the thread totals.
    let incl = warp_scan(run);
    if lane == 31 {
        warp_sums.set(wid, incl.bits());
    }
    gpu::sync_threads();
    let mut warp_prefix = T::ZERO;
    let mut aggregate = T::ZERO;
    for w in 0..BLOCK / 32 {
        let s: T = from_bits(warp_sums.get(w));
        if w < wid {
            warp_prefix = warp_prefix.plus(s);
        }
        aggregate = aggregate.plus(s);
    }
    let thread_prefix = warp_prefix.plus(from_bits::<T>(warp::shfl_up_u32(incl.bits(), 1)));
    let thread_prefix = if lane == 0 {
        warp_prefix
    } else {
        thread_prefix
    };

    // Look-back by warp 0: lane 0 publishes the tile's aggregate, then the warp examines 32
    // predecessors per step (lane l: tile end-1-l), waits until each has published something,
    // and stops at the nearest one that published an inclusive prefix.
    if wid == 0 {
        // SAFETY: `state` is only ever accessed atomically in this kernel.
        let states = unsafe { state.as_atomic() };
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
                loop {
                    let s = states.load(i, Scope::Device, Ordering::Acquire);
                    if s >> 32 != 0 {
                        break s;
                    }
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
    let offset = from_bits::<T>(prefix_slot.get(0)).plus(thread_prefix);

    for k in 0..PER_THREAD {
        let i = base + k;
        if i < n {
            let value = if exclusive {
                if k == 0 {
                    offset
                } else {
                    offset.plus(v[k - 1])
                }
            } else {
                offset.plus(v[k])
            };
            // SAFETY: tile `tile` belongs to this block alone (one ticket each) and elements
            // base..base+16 of it to this thread alone.
            unsafe { *out.get_unchecked_mut(i) = value };
        }
    }
}

/// Prefix sums of f32 (`exclusive` != 0: out[i] = x[0] + .. + x[i-1]; else up to x[i]).
/// Launch ⌈n / 4096⌉ blocks of 256 threads with `state` (one u64 per block) and `ticket` zeroed.
#[kernel(same_len(x, out))]
pub fn scan_f32(
    x: &[f32],
    mut out: OutSlice<f32>,
    mut state: OutSlice<u64>,
    mut ticket: OutSlice<u32>,
    exclusive: u32,
) {
    scan_tile(x, &mut out, &mut state, &mut ticket, exclusive != 0);
}

/// Prefix sums of i32 (wrapping), as [`scan_f32`].
#[kernel(same_len(x, out))]
pub fn scan_i32(
    x: &[i32],
    mut out: OutSlice<i32>,
    mut state: OutSlice<u64>,
    mut ticket: OutSlice<u32>,
    exclusive: u32,
) {
    scan_tile(x, &mut out, &mut state, &mut ticket, exclusive != 0);
}

/// Prefix sums of u32 (wrapping), as [`scan_f32`].
#[kernel(same_len(x, out))]
pub fn scan_u32(
    x: &[u32],
    mut out: OutSlice<u32>,
    mut state: OutSlice<u64>,
    mut ticket: OutSlice<u32>,
    exclusive: u32,
) {
    scan_tile(x, &mut out, &mut state, &mut ticket, exclusive != 0);
}
