//! Atomics with scopes and orderings.
use gpukit_device::{self as gpu, Ordering, OutSlice, Scope, kernel, shared_array};

/// `bins[x[i] % bins.len()] += 1` for every `i` (grid-stride, `red.global.add.u32`).
#[kernel(grid_stride, elements = x)]
pub fn histogram(x: &[u32], mut bins: OutSlice<u32>) {
    // SAFETY: every access to `bins` in this kernel is atomic.
    let bins = unsafe { bins.as_atomic() };
    let n = bins.len() as u32;
    for i in gpu::grid_stride_x(x.len()) {
        bins.add((x[i] % n) as usize, 1);
    }
}

/// As [`histogram`] with 256 bins, counted per block in shared memory (`atom.shared.add`), then
/// merged with device-scope `fetch_add`. `bins.len()` must be 256.
#[kernel(grid_stride, elements = x)]
pub fn histogram_shared(x: &[u32], mut bins: OutSlice<u32>) {
    let local = shared_array!(HIST_LOCAL: [u32; 256]);
    let t = gpu::thread_idx().x as usize;
    let nt = gpu::block_dim().x as usize;
    let mut k = t;
    while k < 256 {
        local.set(k, 0);
        k += nt;
    }
    gpu::sync_threads();
    for i in gpu::grid_stride_x(x.len()) {
        local.atomic_add((x[i] % 256) as usize, 1);
    }
    gpu::sync_threads();
    // SAFETY: every access to `bins` in this kernel is atomic.
    let bins = unsafe { bins.as_atomic() };
    let mut k = t;
    while k < 256 {
        bins.fetch_add(k, local.get(k), Scope::Device, Ordering::Relaxed);
        k += nt;
    }
}

/// Integer atomics under contention; every thread `i < x.len()` with `v = x[i]`:
/// out[0] += v (relaxed), out[1] = min(v) (acquire), out[2] = max(v) (release),
/// out[3] += 1 by a compare-exchange loop (acq_rel), out[4] |= 1 << (v % 32) (seq_cst),
/// out[5] ^= v (relaxed, system scope), out[6] += 1 (seq_cst, system scope), out[7] swapped to
/// 1 by every thread and out[8] += 1 by the one thread that saw the initial 0,
/// out[9 + block] += 1 at block scope (per-block counters). Host initialises out[1] to
/// `u32::MAX` and the rest to 0.
#[kernel]
pub fn atomic_ops_u32(x: &[u32], mut out: OutSlice<u32>) {
    let i = gpu::global_id_x();
    // SAFETY: every access to `out` in this kernel is atomic.
    let a = unsafe { out.as_atomic() };
    if i < x.len() {
        let v = x[i];
        a.fetch_add(0, v, Scope::Device, Ordering::Relaxed);
        a.fetch_min(1, v, Scope::Device, Ordering::Acquire);
        a.fetch_max(2, v, Scope::Device, Ordering::Release);
        let mut cur = a.load(3, Scope::Device, Ordering::Relaxed);
        while let Err(seen) =
            a.compare_exchange(3, cur, cur.wrapping_add(1), Scope::Device, Ordering::AcqRel)
        {
            cur = seen;
        }
        a.fetch_or(4, 1 << (v % 32), Scope::Device, Ordering::SeqCst);
        a.fetch_xor(5, v, Scope::System, Ordering::Relaxed);
        a.fetch_add(6, 1, Scope::System, Ordering::SeqCst);
        if a.swap(7, 1, Scope::Device, Ordering::AcqRel) == 0 {
            a.fetch_add(8, 1, Scope::Device, Ordering::Release);
        }
        a.fetch_add(
            9 + gpu::block_idx().x as usize,
            1,
            Scope::Block,
            Ordering::Relaxed,
        );
    }
}

/// Message passing between blocks through release/acquire: block 0's thread 0 writes
/// `out[1] = 42` (relaxed) then `out[0] = 1` with a release store; every other thread with
/// `i < n` samples once (spinning across blocks could deadlock when blocks are not co-resident): if they acquire-load `out[0] == 1` they must see `out[1] == 42`,
/// and count violations in `out[2]` (must stay 0). Also exercises seq_cst loads/stores and
/// the three fences.
#[kernel]
pub fn message_passing(n: u32, mut out: OutSlice<u32>) {
    let i = gpu::global_id_x();
    // SAFETY: every access to `out` in this kernel is atomic.
    let a = unsafe { out.as_atomic() };
    if i == 0 {
        a.store(1, 42, Scope::Device, Ordering::Relaxed);
        a.store(0, 1, Scope::Device, Ordering::Release);
        a.store(3, 7, Scope::System, Ordering::SeqCst);
    } else if (i as u32) < n {
        if a.load(0, Scope::Device, Ordering::Acquire) == 1
            && a.load(1, Scope::Device, Ordering::Relaxed) != 42
        {
            a.fetch_add(2, 1, Scope::Device, Ordering::Relaxed);
        }
        let _ = a.load(3, Scope::System, Ordering::SeqCst);
        gpu::fence_block();
        gpu::fence_device();
        gpu::fence_system();
    }
}

/// Float atomics: out[0] += x[i] with `fetch_add` (`atom.global.add.f32`), out[1] += x[i] with
/// `add` (`red.global.add.f32`).
#[kernel]
pub fn atomic_add_f32(x: &[f32], mut out: OutSlice<f32>) {
    // SAFETY: every access to `out` in this kernel is atomic.
    let a = unsafe { out.as_atomic() };
    for i in gpu::grid_stride_x(x.len()) {
        a.fetch_add(0, x[i], Scope::Device, Ordering::Relaxed);
        a.add(1, x[i]);
    }
}

/// `out[0] += x[i]` (`atom.global.add.f64`), `out[1] += x[i]` at system scope, acq_rel.
#[kernel]
pub fn atomic_add_f64(x: &[f64], mut out: OutSlice<f64>) {
    // SAFETY: every access to `out` in this kernel is atomic.
    let a = unsafe { out.as_atomic() };
    for i in gpu::grid_stride_x(x.len()) {
        a.fetch_add(0, x[i], Scope::Device, Ordering::Relaxed);
        a.fetch_add(1, x[i], Scope::System, Ordering::AcqRel);
    }
}

/// `out[0] += x[i]`, `out[1] = min`, `out[2] = max` over `i64` (signed min/max).
#[kernel]
pub fn atomic_ops_i64(x: &[i64], mut out: OutSlice<i64>) {
    // SAFETY: every access to `out` in this kernel is atomic.
    let a = unsafe { out.as_atomic() };
    for i in gpu::grid_stride_x(x.len()) {
        a.fetch_add(0, x[i], Scope::Device, Ordering::Relaxed);
        a.fetch_min(1, x[i], Scope::Device, Ordering::Relaxed);
        a.fetch_max(2, x[i], Scope::Device, Ordering::Relaxed);
    }
}
