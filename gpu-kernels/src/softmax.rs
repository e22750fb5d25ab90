//! Row-wise softmax and log-softmax of a (rows × cols) f32 matrix in one pass over memory: each
//! block stages its row in dynamic shared memory while computing the running (max, sum of
//! exponentials) online, combines the per-thread pairs across the block, then writes the row from
//! shared memory. Launch one block per row with `cols · 4` bytes of dynamic shared memory.
use gpukit_device::{
    self as gpu, Bf16, Manual, OutSlice, Quads, block, dynamic_shared, kernel, math, shared_array,
    warp,
};

/// Combine two online-softmax states (max, Σ e^(x - max)).
#[inline(always)]
fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> (f32, f32) {
    let m = m1.max(m2);
    if m == f32::NEG_INFINITY {
        return (m, 0.0);
    }
    (m, s1 * math::exp_fast(m1 - m) + s2 * math::exp_fast(m2 - m))
}

/// Running (max, Σ e^(x - max)) of the values one thread stages.
struct Online {
    m: f32,
    s: f32,
}

impl Online {
    #[inline(always)]
    fn new() -> Online {
        Online {
            m: f32::NEG_INFINITY,
            s: 0.0,
        }
    }

    /// Stage column `c`'s value `v` in shared memory and fold it in.
    #[inline(always)]
    fn push(&mut self, smem: &gpukit_device::DynamicShared<f32>, c: usize, v: f32) {
        smem.set(c, v);
        if v > self.m {
            self.s = self.s * math::exp_fast(self.m - v) + 1.0;
            self.m = v;
        } else {
            self.s += math::exp_fast(v - self.m);
        }
    }

    /// Combine every thread's state across the block; every thread gets the row's.
    #[inline(always)]
    fn block_total(self) -> (f32, f32) {
        let (mut m, mut s) = (self.m, self.s);
        let mut d = 16;
        while d > 0 {
            let (m2, s2) = (warp::shfl_xor_f32(m, d), warp::shfl_xor_f32(s, d));
            (m, s) = merge(m, s, m2, s2);
            d >>= 1;
        }
        let ms = shared_array!(SOFTMAX_MAX: [f32; 32]);
        let ss = shared_array!(SOFTMAX_SUM: [f32; 32]);
        let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
        if lane == 0 {
            ms.set(wid, m);
            ss.set(wid, s);
        }
        gpu::sync_threads();
        let (mut bm, mut bs) = (f32::NEG_INFINITY, 0.0f32);
        for w in 0..(gpu::block_dim().x as usize).div_ceil(32) {
            (bm, bs) = merge(bm, bs, ms.get(w), ss.get(w));
        }
        (bm, bs)
    }
}

/// Stage f32 row `row` in shared memory (16-byte loads when the row allows) and return the row's
/// (max, Σ e^(x - max)).
#[inline(always)]
fn row_stats(a: &[f32], row: usize, cols: usize) -> (f32, f32) {
    let smem = dynamic_shared::<f32>();
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let base = row * cols;
    let mut st = Online::new();
    if let Some(qa) = Quads::new(&a[base..base + cols]) {
        let mut q = t;
        while q < qa.len() {
            let v = qa.get(q);
            for k in 0..4 {
                st.push(&smem, q * 4 + k, v[k]);
            }
            q += nt;
        }
        let tail = qa.tail();
        if t < tail.len() {
            st.push(&smem, qa.len() * 4 + t, tail[t]);
        }
    } else {
        let mut c = t;
        while c < cols {
            st.push(&smem, c, a[base + c]);
            c += nt;
        }
    }
    st.block_total()
}

/// Quads each thread keeps in registers on the fast path (rows up to 4 · 4 · block columns).
const REG_QUADS: usize = 4;

/// The fast path for f32 rows whose columns are a multiple of 4 and fit in registers: one
/// 16-byte read per quad, a block max, exponentials computed once, a block sum, one 16-byte
/// write per quad. Returns false (having done nothing) when the row does not qualify.
#[inline(always)]
fn softmax_row_in_registers(
    a: &[f32],
    row: usize,
    cols: usize,
    out: &mut OutSlice<f32, Manual>,
    log: bool,
) -> bool {
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let nq = cols / 4;
    if cols % 4 != 0 || nq > REG_QUADS * nt {
        return false;
    }
    let Some(qa) = Quads::new(&a[row * cols..row * cols + cols]) else {
        return false;
    };
    let mut v = [[f32::NEG_INFINITY; 4]; REG_QUADS];
    let mut m = f32::NEG_INFINITY;
    for (j, vj) in v.iter_mut().enumerate() {
        let q = t + j * nt;
        if q < nq {
            *vj = qa.get(q);
            m = m.max(vj[0].max(vj[1])).max(vj[2].max(vj[3]));
        }
    }
    let m = block::reduce_max_f32(m);
    let mut s = 0.0f32;
    for (j, vj) in v.iter_mut().enumerate() {
        if t + j * nt < nq {
            for x in vj.iter_mut() {
                let d = *x - m;
                let e = math::exp_fast(d);
                s += e;
                *x = if log { d } else { e };
            }
        }
    }
    let s = block::reduce_sum_f32(s);
    let (scale, shift) = if log {
        (1.0, math::log_fast(s))
    } else {
        (1.0 / s, 0.0)
    };
    for (j, vj) in v.iter().enumerate() {
        let q = t + j * nt;
        if q < nq {
            let r = [
                vj[0] * scale - shift,
                vj[1] * scale - shift,
                vj[2] * scale - shift,
                vj[3] * scale - shift,
            ];
            let i = row * cols + q * 4;
            // SAFETY: row `row` belongs to this block; quad q to this thread (stride = block size).
            match unsafe { out.claim_quad_mut(i) } {
                Some(o) => o.0 = r,
                None => {
                    for (k, rk) in r.into_iter().enumerate() {
                        // SAFETY: as above.
                        unsafe { *out.claim_mut(i + k) = rk };
                    }
                }
            }
        }
    }
    true
}

/// out[r][c] = e^(a[r][c] - max_r) / Σ_c e^(a[r][c] - max_r)
#[kernel(same_len(a, out))]
pub fn softmax_rows_f32(a: &[f32], rows: u32, cols: u32, mut out: OutSlice<f32, Manual>) {
    let (row, cols) = (gpu::block_idx().x as usize, cols as usize);
    if row >= rows as usize || softmax_row_in_registers(a, row, cols, &mut out, false) {
        return;
    }
    let (m, s) = row_stats(a, row, cols);
    let inv = 1.0 / s;
    let smem = dynamic_shared::<f32>();
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let mut c = t;
    while c < cols {
        // SAFETY: row `row` belongs to this block; column c to this thread (stride = block size).
        unsafe { *out.claim_mut(row * cols + c) = math::exp_fast(smem.get(c) - m) * inv };
        c += nt;
    }
}

/// out[r][c] = a[r][c] - max_r - ln Σ_c e^(a[r][c] - max_r)
#[kernel(same_len(a, out))]
pub fn log_softmax_rows_f32(a: &[f32], rows: u32, cols: u32, mut out: OutSlice<f32, Manual>) {
    let (row, cols) = (gpu::block_idx().x as usize, cols as usize);
    if row >= rows as usize || softmax_row_in_registers(a, row, cols, &mut out, true) {
        return;
    }
    let (m, s) = row_stats(a, row, cols);
    let shift = m + math::log_fast(s);
    let smem = dynamic_shared::<f32>();
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let mut c = t;
    while c < cols {
        // SAFETY: as in softmax_rows_f32.
        unsafe { *out.claim_mut(row * cols + c) = smem.get(c) - shift };
        c += nt;
    }
}

/// Softmax (or, with `log`, log-softmax) of bf16 row `blockIdx.x` with f32 math: the row is
/// widened into shared memory (`cols · 4` bytes) and each result rounded to nearest even.
#[inline(always)]
fn softmax_row_bf16(a: &[Bf16], rows: u32, cols: u32, out: &mut OutSlice<Bf16, Manual>, log: bool) {
    let (row, cols) = (gpu::block_idx().x as usize, cols as usize);
    if row >= rows as usize {
        return;
    }
    let smem = dynamic_shared::<f32>();
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let mut st = Online::new();
    // Four loads in flight before the shared-memory stores (inline asm, which loads are not
    // moved across).
    let mut c0 = t;
    while c0 < cols {
        let mut v = [0.0f32; 4];
        for (k, vk) in v.iter_mut().enumerate() {
            let c = c0 + k * nt;
            if c < cols {
                *vk = a[row * cols + c].to_f32();
            }
        }
        for (k, vk) in v.iter().enumerate() {
            let c = c0 + k * nt;
            if c < cols {
                st.push(&smem, c, *vk);
            }
        }
        c0 += 4 * nt;
    }
    let (m, s) = st.block_total();
    let (inv, shift) = (1.0 / s, m + math::log_fast(s));
    let mut c = t;
    while c < cols {
        let x = smem.get(c);
        let r = if log {
            x - shift
        } else {
            math::exp_fast(x - m) * inv
        };
        // SAFETY: as in softmax_rows_f32.
        unsafe { *out.claim_mut(row * cols + c) = Bf16::from_f32(r) };
        c += nt;
    }
}

/// Softmax over bf16 storage with f32 math.
#[kernel(same_len(a, out))]
pub fn softmax_rows_bf16(a: &[Bf16], rows: u32, cols: u32, mut out: OutSlice<Bf16, Manual>) {
    softmax_row_bf16(a, rows, cols, &mut out, false);
}

/// Log-softmax over bf16 storage with f32 math.
#[kernel(same_len(a, out))]
pub fn log_softmax_rows_bf16(a: &[Bf16], rows: u32, cols: u32, mut out: OutSlice<Bf16, Manual>) {
    softmax_row_bf16(a, rows, cols, &mut out, true);
}
