//! Warp shuffles, votes, reductions; block reductions.
use gpukit_device::{self as gpu, Bf16, Bf16x2, F16x2, OutSlice, block, kernel, warp};

/// Per thread, 12 outputs (launch with whole warps; `x.len()` = threads):
/// down1, up3, xor5, idx7, ballot(odd), any(v%97==0), all(v!=0), active mask under
/// `lane < 20`, lane id, warp sum, warp min, warp max.
#[kernel]
pub fn warp_u32(x: &[u32], mut out: OutSlice<u32>) {
    let i = gpu::global_id_x();
    let v = x[i];
    let mut r = [0u32; 12];
    r[0] = warp::shfl_down_u32(v, 1);
    r[1] = warp::shfl_up_u32(v, 3);
    r[2] = warp::shfl_xor_u32(v, 5);
    r[3] = warp::shfl_idx_u32(v, 7);
    r[4] = warp::ballot(v & 1 != 0);
    r[5] = warp::any(v % 97 == 0) as u32;
    r[6] = warp::all(v != 0) as u32;
    let lane = warp::lane_id();
    if lane < 20 {
        r[7] = warp::active_mask();
    }
    r[8] = lane;
    r[9] = warp::reduce_sum_u32(v);
    r[10] = warp::reduce_min_u32(v);
    r[11] = warp::reduce_max_u32(v);
    let len = out.len();
    if let Some(mut t) = out.thread_tile::<12, 1>(len) {
        t.row_mut(0).copy_from_slice(&r);
    }
}

/// Per thread, 4 outputs: warp sum, min, max and inclusive scan of `i32`.
#[kernel]
pub fn warp_i32(x: &[i32], mut out: OutSlice<i32>) {
    let v = x[gpu::global_id_x()];
    let r = [
        warp::reduce_sum_i32(v),
        warp::reduce_min_i32(v),
        warp::reduce_max_i32(v),
        warp::inclusive_scan_i32(v),
    ];
    let len = out.len();
    if let Some(mut t) = out.thread_tile::<4, 1>(len) {
        t.row_mut(0).copy_from_slice(&r);
    }
}

/// Per thread, 7 outputs: shfl_down(v, 2), shfl_xor(v, 16), shfl_up(v, 1), warp sum, max,
/// min, and the low half of (v, -v) as f16x2 and bf16x2 pairs shuffled by xor 1 then summed
/// as f32 (f16 lo + bf16 hi).
#[kernel]
pub fn warp_f32(x: &[f32], mut out: OutSlice<f32>) {
    let v = x[gpu::global_id_x()];
    let h = warp::shfl_xor_f16x2(F16x2::from_f32s(v, -v), 1);
    let b = warp::shfl_xor_bf16x2(Bf16x2::new(Bf16::from_f32(v), Bf16::from_f32(-v)), 1);
    let r = [
        warp::shfl_down_f32(v, 2),
        warp::shfl_xor_f32(v, 16),
        warp::shfl_up_f32(v, 1),
        warp::reduce_sum_f32(v),
        warp::reduce_max_f32(v),
        warp::reduce_min_f32(v),
        h.lo() as f32 + b.hi().to_f32(),
    ];
    let len = out.len();
    if let Some(mut t) = out.thread_tile::<7, 1>(len) {
        t.row_mut(0).copy_from_slice(&r);
    }
}

/// Per block `b`: `out[3b..3b+3]` = block sum, max, min of the block's elements of `x` (1D,
/// any block size that is a multiple of 32, any `x.len()`).
#[kernel]
pub fn block_reduce_f32(x: &[f32], mut out: OutSlice<f32>) {
    let i = gpu::global_id_x();
    let in_range = i < x.len();
    let v = if in_range { x[i] } else { 0.0 };
    let s = block::reduce_sum_f32(v);
    let mx = block::reduce_max_f32(if in_range { v } else { f32::NEG_INFINITY });
    let mn = block::reduce_min_f32(if in_range { v } else { f32::INFINITY });
    let first = block::broadcast_f32(v);
    write_block(&mut out, [s, mx, mn, first]);
}

/// Per block `b`: `out[4b..4b+4]` = block sum, min, max of `x` (i32) and thread 0's value
/// broadcast (as u32 bits).
#[kernel]
pub fn block_reduce_i32(x: &[i32], mut out: OutSlice<i32>) {
    let i = gpu::global_id_x();
    let in_range = i < x.len();
    let v = if in_range { x[i] } else { 0 };
    let s = block::reduce_sum_i32(v);
    let mn = block::reduce_min_i32(if in_range { v } else { i32::MAX });
    let mx = block::reduce_max_i32(if in_range { v } else { i32::MIN });
    let first = block::broadcast_u32(v as u32) as i32;
    write_block(&mut out, [s, mn, mx, first]);
}

/// Per block `b`: `out[4b..4b+4]` = block sum, min, max of `x` (u32, wrapping sum) and the
/// number of elements (through the u32 sum of ones).
#[kernel]
pub fn block_reduce_u32(x: &[u32], mut out: OutSlice<u32>) {
    let i = gpu::global_id_x();
    let in_range = i < x.len();
    let v = if in_range { x[i] } else { 0 };
    let s = block::reduce_sum_u32(v);
    let mn = block::reduce_min_u32(if in_range { v } else { u32::MAX });
    let mx = block::reduce_max_u32(v);
    let n = block::reduce_sum_u32(in_range as u32);
    write_block(&mut out, [s, mn, mx, n]);
}

#[inline(always)]
fn write_block<T: Copy, const K: usize>(out: &mut OutSlice<T>, v: [T; K]) {
    if gpu::thread_idx().x == 0 {
        let b = gpu::block_idx().x as usize * K;
        for (k, v) in v.into_iter().enumerate() {
            // SAFETY: elements Kb..Kb+K belong to block b, and only its thread 0 writes them.
            unsafe { *out.get_unchecked_mut(b + k) = v };
        }
    }
}
