//! [`BlockTileMut::stream_rows`]: a stencil's input rows staged in shared memory by the copy
//! engine, so that the bytes in flight occupy no registers.
//!
//! Each warp of the block walks down its band of the tile (the rows the `BlockTiles` view gives
//! it) through a ring of stages in shared memory. A stage holds `STAGE_ROWS` input rows of the
//! warp's columns plus a 16-byte halo on each side, one bulk copy (`cp.async.bulk`, sm_90) per
//! row, all completing on the stage's mbarrier. As soon as a stage has been read into registers
//! (the rows the kernel's closure sees), the warp refills it with the rows `stages` stages
//! further down, so its whole ring stays in flight while it holds only an `N`-row window and one
//! stage in registers; a register-staged walk holds every row in flight in registers.
use super::BlockTileMut;
use crate::elem::Element;
use crate::input::{HaloChunk, Rows};
use crate::shared::{SharedArray, SharedElem};

/// Input rows per stage: one barrier wait, one warp barrier and one refill per this many rows.
pub(crate) const STAGE_ROWS: usize = 4;

/// Most stages a warp uses (its first fill is one copy per lane).
/// Where one warp's ring lives: decided once per block.
#[derive(Clone, Copy)]
#[cfg_attr(
    all(target_arch = "nvptx64", not(target_feature = "ptx80")),
    allow(dead_code)
)]
struct Ring {
    /// Shared address of this warp's first stage barrier (`stages` barriers of 8 bytes).
    bars: u32,
    /// Shared address of this warp's first stage (16-byte aligned).
    rows: u32,
    /// Stages in the ring (2 ..= 32 / G).
    stages: u32,
    /// Bytes of one row slot: a halo chunk, up to 32 chunks, a halo chunk.
    row_bytes: u32,
}

impl<T: Element + SharedElem> BlockTileMut<'_, T> {
    /// As [`sweep_rows`](Self::sweep_rows) (the same `N`-row windows of halo chunks, the same
    /// outputs), with the input rows staged in shared memory: `ring`, which the kernel declares
    /// with [`shared_array!`](crate::shared_array) and uses for nothing else during the call.
    ///
    /// On sm_90 builds with PTX 8.0 (the builder's sm_90 and sm_90a builds), each warp of a `(32, Y)` block streams
    /// its band through its share of `ring` (the ring's bytes ÷ `Y`), in stages of
    /// 4 row slots of `min(W, 32·L) + 2·L` elements plus an 8-byte barrier: one bulk
    /// copy per input row, rows outside the matrix clamped when the copy is issued, columns at
    /// its edge when the halo is read. The bytes in flight per warp are its whole ring, in no
    /// registers. Give each warp at least 2 stages (8 rows); for a 128-column tile of f32 that
    /// is `Y · 8 · (136 + 2)` elements.
    ///
    /// Elsewhere (other block shapes, an input that is not 16-byte aligned or whose rows are not
    /// whole 16-byte chunks, a ring too small, builds without PTX 8.0) it is
    /// [`sweep_rows::<N, 1>`](Self::sweep_rows), decided once per block. Panics when `x` does
    /// not have the output's columns.
    #[inline(always)]
    pub fn stream_rows<const N: usize, const R: usize>(
        &mut self,
        x: &Rows<'_, T>,
        ring: SharedArray<T, R>,
        f: impl FnMut(&[HaloChunk<T>; N]) -> T::Chunk,
    ) {
        self.stream_rows_staged::<N, STAGE_ROWS, R>(x, ring, f);
    }

    /// [`stream_rows`](Self::stream_rows) with `G` rows per stage (for measurements).
    #[doc(hidden)]
    #[inline(always)]
    pub fn stream_rows_staged<const N: usize, const G: usize, const R: usize>(
        &mut self,
        x: &Rows<'_, T>,
        ring: SharedArray<T, R>,
        f: impl FnMut(&[HaloChunk<T>; N]) -> T::Chunk,
    ) {
        assert!(
            x.cols() == self.stride,
            "stencil input and output columns differ"
        );
        #[cfg(any(target_feature = "ptx80", not(target_arch = "nvptx64")))]
        if let Some(plan) =
            self.ring_plan::<G>(x, ring.shared_addr(), R * core::mem::size_of::<T>())
        {
            self.stream_with::<N, G>(x, plan, f);
            return;
        }
        let _ = ring;
        self.sweep_rows::<N, 1>(x, f);
    }

    /// This warp's ring in `bytes` bytes of shared memory at `base`, or `None` when the block
    /// cannot stream (see [`stream_rows`](Self::stream_rows)). Uniform across the block.
    #[cfg_attr(
        all(target_arch = "nvptx64", not(target_feature = "ptx80")),
        allow(dead_code)
    )]
    #[inline(always)]
    fn ring_plan<const G: usize>(&self, x: &Rows<'_, T>, base: u32, bytes: usize) -> Option<Ring> {
        let (d, l) = (crate::block_dim(), T::LANES);
        let warps = d.y as usize;
        let cols = self.stride;
        // One warp per band; chunks and their halos 16-byte aligned; row numbers and row
        // offsets in 32 bits.
        let shape_ok = d.x == 32 && d.z == 1 && self.step == 32 && self.owner && G >= 1;
        let input_ok = x.vec_ok()
            && x.as_slice().len() == x.rows() * cols
            && x.rows() <= i32::MAX as usize
            && self.origin.1.is_multiple_of(l);
        if !shape_ok || !input_ok {
            return None;
        }
        let row_bytes = (32usize.min(self.cols.div_ceil(l)) + 2) * 16;
        let per_warp = bytes / warps / 16 * 16;
        // Barriers first (8 bytes a stage, rounded to 16), then the stages.
        let mut stages = (per_warp / (G * row_bytes + 8)).min(32 / G.min(32));
        while stages > 0 && (stages * 8).next_multiple_of(16) + stages * G * row_bytes > per_warp {
            stages -= 1;
        }
        if stages < 2 {
            return None;
        }
        let bars = base + (self.thread.0 * per_warp) as u32;
        Some(Ring {
            bars,
            rows: bars + (stages * 8).next_multiple_of(16) as u32,
            stages: stages as u32,
            row_bytes: row_bytes as u32,
        })
    }

    /// The streaming walk of [`stream_rows`](Self::stream_rows) for this warp's band.
    #[cfg(any(target_feature = "ptx80", not(target_arch = "nvptx64")))]
    #[inline(always)]
    fn stream_with<const N: usize, const G: usize>(
        &mut self,
        x: &Rows<'_, T>,
        ring: Ring,
        mut f: impl FnMut(&[HaloChunk<T>; N]) -> T::Chunk,
    ) {
        use super::ChunkMut;
        use crate::mbarrier::{MBarrier, fence_init};
        use core::marker::PhantomData;
        let (l, size) = (T::LANES, core::mem::size_of::<T>());
        let lane = self.thread.1 as u32;
        let b = self.thread.0 * self.band;
        let end = self.rows.saturating_sub(b).min(self.band) as u32;
        if end == 0 {
            return;
        }
        let (cols, last_row) = (self.stride, x.rows() as i32 - 1);
        let src = x.as_slice().as_ptr();
        // Input row k (0 .. count) is matrix row first + k, clamped to the matrix; stage q holds
        // rows q·G .. q·G + G (those past `count` are copied but never used).
        let count = end + N as u32 - 1;
        let stages_total = count.div_ceil(G as u32);
        let first = (self.origin.0 + b) as i32 - (N / 2) as i32;
        let (g32, stage_bytes) = (G as u32, G as u32 * ring.row_bytes);
        // SAFETY: `ring_plan` placed `stages` 8-byte barriers at `bars` inside this warp's share
        // of the ring, which the kernel reserved for this call; only this warp uses them, lane 0
        // initialises them below, then `fence_init` and a warp barrier publish them.
        let bar = |s: u32| unsafe { MBarrier::at(ring.bars + 8 * s) };
        if lane == 0 {
            for s in 0..ring.stages {
                // SAFETY: as `bar`; no copy or other lane uses the barriers yet.
                unsafe { bar(s).init(1) };
            }
            fence_init();
        }
        crate::sync_warp();
        // The read cursor: the slot of the next stage, and the parity of its fill.
        let (mut slot, mut phase) = (0u32, 0u32);
        let tile_chunks = self.cols.div_ceil(l);
        for pass in 0..tile_chunks.div_ceil(32) {
            // This pass computes the tile's chunks 32·pass .. (one per lane), matrix columns
            // from `c_first`; a row slot holds columns c_first - L .. and the copy the part of
            // them inside the matrix, `lo .. hi`.
            let chunks = (tile_chunks - 32 * pass).min(32) as u32;
            let c_first = self.origin.1 + 32 * pass * l;
            let lo = c_first.saturating_sub(l);
            let hi = (c_first + (chunks as usize + 1) * l).min(cols);
            let dst_off = ((lo + l - c_first) * size) as u32;
            let bytes = ((hi - lo) * size) as u32;
            // Row g of global stage q into ring slot s (its barrier expects G·bytes per fill).
            let issue = |q: u32, s: u32, g: u32| {
                let r = (first + (q * g32 + g) as i32).clamp(0, last_row) as usize;
                // SAFETY: the source is columns lo .. hi of row r <= last_row of `x`: inside
                // the input (whole rows, `ring_plan`), 16-byte aligned (aligned base, rows and
                // `lo` of whole chunks), `bytes` a multiple of 16; inputs are not written during
                // the launch. The destination is row slot g of stage s of this warp's ring
                // (dst_off + bytes <= row_bytes: at most 32 chunks and two halo chunks), 16-byte
                // aligned; no lane reads the stage until its barrier completes the phase this
                // copy belongs to (the warp barrier before every refill orders the previous
                // reads); the barrier expects G·bytes for the phase (arrive_expect_tx by the
                // stage's first row's issuer).
                unsafe {
                    crate::tma::bulk_load(
                        ring.rows + s * stage_bytes + g * ring.row_bytes + dst_off,
                        src.add(r * cols + lo) as *const u8,
                        bytes,
                        bar(s),
                    )
                };
            };
            // Fill the ring: lane j issues row j % G of stage j / G.
            let pre = stages_total.min(ring.stages) * g32;
            if lane < pre {
                let (q, g) = (lane / g32, lane % g32);
                let s = (slot + q) % ring.stages;
                if g == 0 {
                    bar(s).arrive_expect_tx(g32 * bytes);
                }
                issue(q, s, g);
            }
            let c = c_first + lane as usize * l;
            let mine = lane < chunks;
            // This lane's chunk in band row 0: `out + i·stride` is its chunk in band row i, inside
            // the tile for i < end <= rows - b and `mine` (c - origin.1 < cols of the tile), and
            // owned by this thread alone (its band, its column chunk), as `chunk_at(i, pass)`.
            let out = self.ptr.wrapping_add(b * self.stride + (c - self.origin.1));
            let mut window: [HaloChunk<T>; N] = [HaloChunk::default(); N];
            for q in 0..stages_total {
                bar(slot).wait_parity(phase);
                let base = ring.rows + slot * stage_bytes + (lane + 1) * 16;
                let staged: [HaloChunk<T>; G] = crate::unroll::array(|g| {
                    let mut h = HaloChunk::<T>::default();
                    if mine {
                        let at = base + g as u32 * ring.row_bytes;
                        // SAFETY: the copies of this stage have completed (the wait above).
                        // Chunk `lane + 1` of row slot g holds matrix columns c .. c + L (whole:
                        // c < cols and cols is a multiple of L), inside the copied part; so do
                        // the neighbours c - 1 (when c >= 1) and c + L (when < cols). All lie in
                        // the slot, the chunk 16-byte aligned.
                        unsafe {
                            let v = crate::shared::ld_shared_v4(at);
                            h.chunk = core::mem::transmute_copy::<[u32; 4], T::Chunk>(&v);
                            h.left = if c == 0 {
                                h.chunk[0]
                            } else {
                                T::ld_shared(at - size as u32)
                            };
                            h.right = if c + l >= cols {
                                h.chunk[l - 1]
                            } else {
                                T::ld_shared(at + 16)
                            };
                        }
                    }
                    h
                });
                // Every lane has read the stage: refill it with stage q + stages.
                crate::sync_warp();
                let next = q + ring.stages;
                if next < stages_total && lane < g32 {
                    if lane == 0 {
                        bar(slot).arrive_expect_tx(g32 * bytes);
                    }
                    issue(next, slot, lane);
                }
                slot += 1;
                if slot == ring.stages {
                    slot = 0;
                    phase ^= 1;
                }
                crate::unroll::each::<G>(|g| {
                    crate::unroll::each::<N>(|m| {
                        if m + 1 < N {
                            window[m] = window[m + 1];
                        }
                    });
                    window[N - 1] = staged[g];
                    // Output row i has input rows i .. i + N in its window.
                    let k = q * g32 + g as u32;
                    if mine && k + 1 >= N as u32 && k + 1 - (N as u32) < end {
                        let i = (k + 1 - N as u32) as usize;
                        let mut chunk = ChunkMut {
                            ptr: out.wrapping_add(i * self.stride),
                            index: (c - self.origin.1) / l,
                            n: l,
                            vec_ok: self.vec_ok,
                            _out: PhantomData,
                        };
                        chunk.store(f(&window));
                    }
                });
            }
        }
        crate::sync_warp();
        if lane == 0 {
            for s in 0..ring.stages {
                // SAFETY: every copy issued was waited for (all stages of each pass), so no
                // phase is pending and no lane uses the barriers any more.
                unsafe { bar(s).invalidate() };
            }
        }
        crate::sync_warp();
    }
}
