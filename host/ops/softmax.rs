//! Row softmax and log-softmax of a row-major matrix of any shape, f32 math over f32 or bf16
//! storage. Rows that fit in a block's registers (16-byte aligned, a whole number of 16-byte
//! packets, at most `SHORT_HELD · SHORT_THREADS_MAX` of them) are read once into registers by one block each
//! (`softmax_short`); longer aligned rows of whole packets take the held-ring kernels
//! (`softmax_held`: each row over ordinary blocks of the resident grid, each block's slice held
//! in a shared-memory ring that the copy engine fills with bulk copies while the slice's
//! statistics are exchanged through a per-call scratch; TUNING round 10), or where those do not
//! apply the wide engine's re-read
//! kernels (`softmax_reread`: each row over ordinary blocks, each block streaming its slice
//! once for its (max, sum) pair, exchanging the pairs through a per-call scratch in global
//! memory, taken from a stream-ordered pool and zeroed in stream order, then re-reading the
//! slice from L2 to write it; measured faster than the others for both types and ops), or,
//! for rows past its 64 parts, the split engine (`softmax_split`: each row over a
//! cluster of up to 8 blocks, every block's share held in shared memory, partial (max, sum)
//! pairs exchanged through distributed shared memory, read once and written once); any other
//! row takes the general row engine, which stages as much of
//! the row in shared memory as fits and reads the rest from global memory in each pass
//! (gpu-kernels/src/rows.rs). One generic kernel per op and engine: the element type picks the
//! instance, with no per-type dispatch here.
use super::Library;
use super::matrix::Shape;
use super::rows::RowElem;
use crate::kernels::consts::rows::{SHORT_HELD, SHORT_THREADS_MAX, WIDE_THREADS};
use crate::kernels::consts::softmax::{HELD_CHUNK_PACKETS, HELD_THREADS};
use crate::runtime::{ClusterDims, DeviceSlice, KernelFn, LaunchConfig, MemPool, Result, Stream};

/// Which normalisation of each row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoftmaxKind {
    /// `out[j] = e^(x[j] - max) / Σ e^(x - max)`
    Softmax,
    /// `out[j] = x[j] - max - ln Σ e^(x - max)`
    LogSoftmax,
}

impl Library {
    /// Row-wise softmax or log-softmax (`kind`) of a row-major matrix of `shape`, any width
    /// (vocabulary rows of 150k+ columns included); an empty matrix does nothing.
    pub fn softmax_rows<T: RowElem>(
        &self,
        s: &Stream,
        kind: SoftmaxKind,
        a: &DeviceSlice<T>,
        shape: Shape,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let op = match kind {
            SoftmaxKind::Softmax => "softmax_rows",
            SoftmaxKind::LogSoftmax => "log_softmax_rows",
        };
        shape.check(op, "a", a.len())?;
        shape.check(op, "out", out.len())?;
        if shape.rows == 0 || shape.cols == 0 {
            return Ok(());
        }
        let (rows, cols) = (shape.rows as u64, shape.cols as u64);
        let k = &self.kernels;
        let addrs = [a.device_ptr(), out.device_ptr()];
        let plan = match held_plan::<T>(self, shape, &addrs)? {
            Some(hp) => Some(hp),
            None => wide_plan::<T>(self, shape, &addrs)?,
        };
        if let Some(wp) = plan {
            let words = wide_scratch_words(shape.rows, wp.parts as usize);
            let pool = match self.rows_pool.get() {
                Some(p) => p,
                None => {
                    let p = MemPool::new(&self.gpu, WIDE_POOL_KEEP)?;
                    self.rows_pool.get_or_init(|| p)
                }
            };
            // Zeroed in stream order before the launch, freed in stream order after it: each
            // call has its own tickets and counts, so calls on concurrent streams never share
            // them.
            let mut scratch = pool.alloc_zeroed_async::<u32>(s, words)?;
            let parts = wp.parts;
            return match (kind, wp.engine) {
                (SoftmaxKind::Softmax, LongRowEngine::Held) => {
                    k.softmax_held
                        .launch_with(s, &wp.cfg, a, rows, cols, parts, out, &mut scratch)
                }
                (SoftmaxKind::LogSoftmax, LongRowEngine::Held) => k.log_softmax_held.launch_with(
                    s,
                    &wp.cfg,
                    a,
                    rows,
                    cols,
                    parts,
                    out,
                    &mut scratch,
                ),
                (SoftmaxKind::Softmax, LongRowEngine::Reread) => k.softmax_reread.launch_with(
                    s,
                    &wp.cfg,
                    a,
                    rows,
                    cols,
                    parts,
                    out,
                    &mut scratch,
                ),
                (SoftmaxKind::LogSoftmax, LongRowEngine::Reread) => k
                    .log_softmax_reread
                    .launch_with(s, &wp.cfg, a, rows, cols, parts, out, &mut scratch),
            };
        }
        if let Some(sp) = split_plan(self, shape, std::mem::size_of::<T>(), &addrs) {
            let f = match kind {
                SoftmaxKind::Softmax => k.softmax_split.function::<T>(),
                SoftmaxKind::LogSoftmax => k.log_softmax_split.function::<T>(),
            };
            let (cfg, cluster) = sp.launch(f, shape.rows)?;
            return match (kind, cluster) {
                (SoftmaxKind::Softmax, Some(c)) => k
                    .softmax_split
                    .launch_cluster(s, &cfg, c, a, rows, cols, out),
                (SoftmaxKind::Softmax, None) => {
                    k.softmax_split.launch_with(s, &cfg, a, rows, cols, out)
                }
                (SoftmaxKind::LogSoftmax, Some(c)) => k
                    .log_softmax_split
                    .launch_cluster(s, &cfg, c, a, rows, cols, out),
                (SoftmaxKind::LogSoftmax, None) => {
                    k.log_softmax_split.launch_with(s, &cfg, a, rows, cols, out)
                }
            };
        }
        match (row_plan::<T>(self, shape, &addrs), kind) {
            (RowPlan::Short(cfg), SoftmaxKind::Softmax) => {
                k.softmax_short.launch_with(s, &cfg, a, rows, cols, out)
            }
            (RowPlan::Short(cfg), SoftmaxKind::LogSoftmax) => {
                k.log_softmax_short.launch_with(s, &cfg, a, rows, cols, out)
            }
            (RowPlan::General(cfg), SoftmaxKind::Softmax) => {
                k.softmax_rows.launch_with(s, &cfg, a, rows, cols, out)
            }
            (RowPlan::General(cfg), SoftmaxKind::LogSoftmax) => {
                k.log_softmax_rows.launch_with(s, &cfg, a, rows, cols, out)
            }
        }
    }
}

/// How a row op is launched.
pub(super) enum RowPlan {
    /// The register-resident `*_short` kernel: one block per row (blocks loop past the grid).
    Short(LaunchConfig),
    /// The general row engine ([`row_launch`]).
    General(LaunchConfig),
}

/// The short kernel when every row fits in one block's registers and every buffer (`addrs`)
/// starts 16-byte aligned with rows a whole number of packets; the general engine otherwise.
/// Threads: one per [`SHORT_HELD`] packets, a multiple of 32 (256 for a 4096-column f32 row).
pub(super) fn row_plan<T>(lib: &Library, shape: Shape, addrs: &[u64]) -> RowPlan {
    let elem = std::mem::size_of::<T>();
    match short_threads(shape.cols, elem, addrs) {
        Some(threads) => {
            let grid = shape.rows.min(lib.gpu.props().max_grid_dim[0] as usize) as u32;
            RowPlan::Short(LaunchConfig::linear(grid, threads))
        }
        None => RowPlan::General(row_launch(lib, shape, elem)),
    }
}

/// Threads per block of the register-resident kernels for rows of `cols` elements of `elem`
/// bytes, or `None` when a row does not qualify (see [`row_plan`]).
fn short_threads(cols: usize, elem: usize, addrs: &[u64]) -> Option<u32> {
    let row_bytes = cols.saturating_mul(elem);
    let packets = row_bytes / 16;
    let aligned = row_bytes.is_multiple_of(16) && addrs.iter().all(|a| a.is_multiple_of(16));
    (aligned && packets <= SHORT_HELD * SHORT_THREADS_MAX)
        .then(|| (packets.div_ceil(SHORT_HELD).div_ceil(32) * 32).max(32) as u32)
}

/// Memory the wide engine's scratch pool keeps between calls (it needs 8 bytes per part of a
/// row: 0.3 MB at 2048 vocabulary rows).
const WIDE_POOL_KEEP: u64 = 16 << 20;

/// Words of the wide engine's scratch (gpu-kernels `rows::wide_scratch_words`).
fn wide_scratch_words(rows: usize, parts: usize) -> usize {
    1 + rows + 2 * rows * parts
}

/// Which kernels take rows split over several blocks of the resident grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LongRowEngine {
    /// `softmax_held`: each block's slice held in a shared-memory ring ([`held_plan`]).
    Held,
    /// `softmax_reread`: each slice read twice, the second time from L2 ([`wide_plan`]).
    Reread,
}

/// A launch of a long-row engine: each row over `parts` blocks.
pub(super) struct WidePlan {
    pub engine: LongRowEngine,
    pub parts: u32,
    pub cfg: LaunchConfig,
}

/// Packets of one item's slice in the re-read kernels: 16 per thread of [`WIDE_THREADS`] (64
/// KB). Larger slices amortise the per-item chain (ticket, publish, acquire, fold); 64 KB
/// measured fastest (TUNING round 7: 2048 × 151936 f32 softmax 0.876 ms against 1.085 at 32
/// KB) while 4 resident blocks per SM × 132 SMs × 64 KB (34 MB) still fit the 60 MB L2 for the
/// re-read.
const REREAD_SLICE_PACKETS: usize = 16 * WIDE_THREADS;

/// The wide engine's geometry for rows of `cols` elements of `elem` bytes: `(parts, threads)`
/// with slices of [`REREAD_SLICE_PACKETS`]; `None` for rows it does not take (see
/// [`wide_measured_faster`]).
fn wide_geometry(cols: usize, elem: usize, addrs: &[u64], rows: usize) -> Option<(u32, u32)> {
    let row_bytes = cols.checked_mul(elem)?;
    let aligned = row_bytes.is_multiple_of(16) && addrs.iter().all(|a| a.is_multiple_of(16));
    let packets = row_bytes / 16;
    if !aligned || !wide_measured_faster(elem, packets) {
        return None;
    }
    let parts = packets.div_ceil(REREAD_SLICE_PACKETS);
    let items = rows.checked_mul(parts)?;
    (parts <= WIDE_MAX_PARTS && items <= u32::MAX as usize)
        .then_some((parts as u32, WIDE_THREADS as u32))
}

/// Where the wide engine's re-read kernels (64 KB slices, one block per item) beat the other
/// engines on the H200 (docs/TUNING.md, round 7, one call with torch): every type and op past
/// the register kernel. 2048 × 151936: softmax f32 0.876 ms against the split engine's 1.151,
/// log-softmax f32 0.881 against the held wide kernel's 1.046 (since removed), bf16 0.430 /
/// 0.448 against 0.493 / 0.552; 8192 × 32768: f32 0.725 / 0.715 against the split engine's
/// 0.828 / 0.808, bf16 0.360 / 0.370 against the held wide kernel's 0.378 / 0.412. The same
/// for softmax and log-softmax.
fn wide_measured_faster(elem: usize, packets: usize) -> bool {
    matches!(elem, 2 | 4) && packets > SHORT_HELD * SHORT_THREADS_MAX
}

/// Blocks of `threads` threads with `shared` bytes of dynamic shared memory that can be resident
/// on the whole device at once for each of `fs`, the fewest of them: the row-splitting engines'
/// forward-progress condition must hold for whichever op is launched.
fn fewest_resident(fs: &[&KernelFn], threads: u32, shared: u32) -> Result<u32> {
    let mut fewest = u32::MAX;
    for f in fs {
        fewest = fewest.min(f.occupancy(threads, shared)? * f.device_props().sm_count);
    }
    Ok(if fs.is_empty() { 0 } else { fewest })
}

/// Most blocks per row of the wide engine (all of them must be resident at once).
const WIDE_MAX_PARTS: usize = 64;

/// The wide engine's (re-read kernels') launch for aligned long rows where it measured faster,
/// or `None`: one block per (row, part) item, when at least `parts` blocks fit on the device
/// at once (the condition for the engine's forward progress).
pub(super) fn wide_plan<T: RowElem>(
    lib: &Library,
    shape: Shape,
    addrs: &[u64],
) -> Result<Option<WidePlan>> {
    let elem = std::mem::size_of::<T>();
    let Some((parts, threads)) = wide_geometry(shape.cols, elem, addrs, shape.rows) else {
        return Ok(None);
    };
    // Both ops' kernels have the same engine and launch bounds; the forward-progress check
    // takes the fewer resident blocks of the two.
    let k = &lib.kernels;
    let resident = fewest_resident(
        &[
            k.softmax_reread.function::<T>(),
            k.log_softmax_reread.function::<T>(),
        ],
        threads,
        0,
    )?;
    if resident < parts {
        return Ok(None);
    }
    // One block per item (measured no slower than a persistent grid of the resident blocks,
    // TUNING round 7); past the grid's limit the blocks loop over items by ticket.
    let items = shape.rows * parts as usize;
    let grid = items.min(i32::MAX as usize) as u32;
    Ok(Some(WidePlan {
        engine: LongRowEngine::Reread,
        parts,
        cfg: LaunchConfig::linear(grid, threads),
    }))
}

/// Blocks per SM the held-ring kernels are sized for (each with a ring of half an SM's shared
/// memory).
const HELD_BLOCKS_PER_SM: usize = 2;

/// Ring chunks a held block keeps free for its next slice while it holds one.
const HELD_PREFETCH_CHUNKS: usize = 4;

/// Shared memory the driver reserves per block on sm_80/sm_90 (an SM has the opt-in limit plus
/// one such reserve).
const BLOCK_SHARED_RESERVE: usize = 1024;

/// The held-ring engine's geometry for rows of `cols` elements of `elem` bytes: `(parts,
/// dynamic shared bytes)`; the ring (`slots` chunks of `HELD_CHUNK_PACKETS` packets plus two
/// 8-byte barriers each) is sized for [`HELD_BLOCKS_PER_SM`] blocks of `static_shared` bytes
/// per SM on a device with `optin` bytes of opt-in shared memory per block, and a row is split
/// so that a slice leaves [`HELD_PREFETCH_CHUNKS`] chunks free. `None` where the engine does
/// not take the rows (see [`held_measured_faster`]) or a slice needs more than
/// [`WIDE_MAX_PARTS`] parts.
fn held_geometry(
    cols: usize,
    elem: usize,
    addrs: &[u64],
    rows: usize,
    optin: usize,
    static_shared: usize,
) -> Option<(u32, u32)> {
    let row_bytes = cols.checked_mul(elem)?;
    let aligned = row_bytes.is_multiple_of(16) && addrs.iter().all(|a| a.is_multiple_of(16));
    let packets = row_bytes / 16;
    if !aligned || !held_measured_faster(elem, packets) {
        return None;
    }
    let chunk = HELD_CHUNK_PACKETS * 16;
    let per_block = ((optin + BLOCK_SHARED_RESERVE) / HELD_BLOCKS_PER_SM)
        .checked_sub(BLOCK_SHARED_RESERVE + static_shared)?;
    let slots = per_block / (chunk + 16);
    let per_slice = slots.checked_sub(HELD_PREFETCH_CHUNKS)?.max(1) * HELD_CHUNK_PACKETS;
    let parts = packets.div_ceil(per_slice);
    let items = rows.checked_mul(parts)?;
    (parts <= WIDE_MAX_PARTS && items <= u32::MAX as usize)
        .then_some((parts as u32, (slots * (chunk + 16)) as u32))
}

/// Where the held-ring kernels beat the re-read kernels on the H200 (docs/TUNING.md, round
/// 10): aligned rows past the register kernel.
fn held_measured_faster(elem: usize, packets: usize) -> bool {
    matches!(elem, 2 | 4) && packets > SHORT_HELD * SHORT_THREADS_MAX
}

/// The held-ring kernels' launch for aligned long rows where they measured faster, or `None`:
/// the resident grid (every block must be resident at once: blocks take items statically and
/// wait for the other parts of their rows), at least `parts` blocks.
pub(super) fn held_plan<T: RowElem>(
    lib: &Library,
    shape: Shape,
    addrs: &[u64],
) -> Result<Option<WidePlan>> {
    let elem = std::mem::size_of::<T>();
    let k = &lib.kernels;
    let fs = [
        k.softmax_held.function::<T>(),
        k.log_softmax_held.function::<T>(),
    ];
    let props = lib.gpu.props();
    let static_shared = fs
        .iter()
        .map(|f| f.attrs().static_shared_bytes as usize)
        .max()
        .unwrap_or(0);
    let Some((parts, shared)) = held_geometry(
        shape.cols,
        elem,
        addrs,
        shape.rows,
        props.max_shared_per_block_optin as usize,
        static_shared,
    ) else {
        return Ok(None);
    };
    let threads = HELD_THREADS as u32;
    let resident = fewest_resident(&fs, threads, shared)?;
    if resident < parts {
        return Ok(None);
    }
    let items = shape.rows * parts as usize;
    let grid = items.min(resident as usize) as u32;
    Ok(Some(WidePlan {
        engine: LongRowEngine::Held,
        parts,
        cfg: LaunchConfig::linear(grid, threads).with_shared(shared),
    }))
}

/// Largest cluster the split engine uses (portable on every sm_90 part).
const SPLIT_MAX_CLUSTER: usize = 8;

/// A launch of the split engine (gpu-kernels `rows::Split`) before the grid is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SplitPlan {
    /// Blocks per row (the cluster size).
    pub cluster: u32,
    pub threads: u32,
    /// Dynamic shared memory per block: one share of a row, or two (double-buffered).
    pub shared: u32,
}

impl SplitPlan {
    /// The launch configuration: as many clusters as are resident at once (they loop over the
    /// rows), at most one per row; no cluster attribute for clusters of one.
    fn launch(&self, f: &KernelFn, rows: usize) -> Result<(LaunchConfig, Option<ClusterDims>)> {
        let c = self.cluster;
        let one = LaunchConfig::linear(c, self.threads).with_shared(self.shared);
        let dims = ClusterDims(c, 1, 1);
        let sms = f.device_props().sm_count;
        let resident = match f.max_active_clusters(&one, dims) {
            Ok(n) if n > 0 => n,
            _ => f.occupancy(self.threads, self.shared)?.max(1) * sms / c,
        };
        let clusters = rows.min(resident.max(1) as usize) as u32;
        let cfg = LaunchConfig::linear(clusters * c, self.threads).with_shared(self.shared);
        Ok((cfg, (c > 1).then_some(dims)))
    }
}

/// The split engine's plan for rows too long for the register kernels: rows of whole 16-byte
/// packets with every buffer (`addrs`) 16-byte aligned, split over the smallest cluster whose
/// per-block share fits one block's shared memory (measured on the H200 at 2048 × 151936: a
/// single-buffered share on few blocks beat double-buffered ones on more), double-buffered when
/// two shares fit; a thread per 8 packets of the share (128 to 1024 threads, 512 for f32 rows
/// over a cluster).
/// `None` (the general engine) for other rows and for shares past 8 blocks' shared memory.
pub(super) fn split_plan(
    lib: &Library,
    shape: Shape,
    elem: usize,
    addrs: &[u64],
) -> Option<SplitPlan> {
    let props = lib.gpu.props();
    let cap = (props.max_shared_per_block_optin as usize).saturating_sub(2048) / 16;
    split_plan_for(shape.cols, elem, addrs, cap)
}

/// [`split_plan`] for a shared-memory capacity of `cap` packets per block (no GPU needed).
fn split_plan_for(cols: usize, elem: usize, addrs: &[u64], cap: usize) -> Option<SplitPlan> {
    let row_bytes = cols.checked_mul(elem)?;
    let aligned = row_bytes.is_multiple_of(16) && addrs.iter().all(|a| a.is_multiple_of(16));
    let packets = row_bytes / 16;
    if !aligned || packets <= SHORT_HELD * SHORT_THREADS_MAX {
        return None;
    }
    let mut cluster = 1;
    while packets.div_ceil(cluster) > cap {
        if cluster == SPLIT_MAX_CLUSTER {
            return None;
        }
        cluster *= 2;
    }
    let per = packets.div_ceil(cluster);
    let bufs = if 2 * per <= cap { 2 } else { 1 };
    // f32 rows over a cluster: at most 512 threads (measured at 2048 × 151936, 4 blocks of 152
    // KB: 512 threads 1.151 ms, 1024 threads 1.213; bf16's 2 blocks of the same share: 1024
    // threads 0.573, 512 threads 0.585).
    let most = if elem == 4 && cluster > 1 { 512 } else { 1024 };
    let threads = (per.div_ceil(8).div_ceil(32) * 32).clamp(128, most);
    Some(SplitPlan {
        cluster: cluster as u32,
        threads: threads as u32,
        shared: (bufs * per * 16) as u32,
    })
}

/// The launch of the general row engine without clusters: one block per row up to the grid
/// limit (blocks loop over rows), the row staged in dynamic shared memory up to the opt-in limit
/// (2 KiB kept for the kernels' static shared memory), 128 threads for rows up to 64 KiB (many
/// rows in flight per SM measured fastest) and 1024 above.
pub(super) fn row_launch(lib: &Library, shape: Shape, elem: usize) -> LaunchConfig {
    let props = lib.gpu.props();
    let row_bytes = shape.cols.saturating_mul(elem);
    let cap = (props.max_shared_per_block_optin as usize).saturating_sub(2048) / 16 * 16;
    let shared = (row_bytes / 16 + 1).saturating_mul(16).min(cap);
    let threads = if row_bytes > 64 * 1024 { 1024 } else { 128 };
    let grid = shape.rows.min(props.max_grid_dim[0] as usize) as u32;
    LaunchConfig::linear(grid, threads).with_shared(shared as u32)
}

#[cfg(test)]
mod tests {
    use super::{SplitPlan, held_geometry, short_threads, split_plan_for, wide_geometry};

    #[test]
    fn held_rows_leave_four_chunks_of_the_ring_free() {
        // H200: 227 KiB opt-in, 512 B of static shared memory: two blocks of 14 slots of 8 KB
        // (+ 16 B of barriers each), slices of at most 10 chunks (5120 packets).
        let ring = 14 * (8192 + 16);
        assert_eq!(
            held_geometry(151_936, 4, &[0, 256], 2048, 227 * 1024, 512),
            Some((8, ring))
        );
        assert_eq!(
            held_geometry(151_936, 2, &[0, 256], 2048, 227 * 1024, 512),
            Some((4, ring))
        );
        assert_eq!(
            held_geometry(32_768, 4, &[0], 8192, 227 * 1024, 512),
            Some((2, ring))
        );
        // Just past the register kernel: one part; not below.
        assert_eq!(
            held_geometry(8196, 4, &[0], 3, 227 * 1024, 512),
            Some((1, ring))
        );
        assert_eq!(held_geometry(8192, 4, &[0], 3, 227 * 1024, 512), None);
        // 64 parts of 5120 packets, and one packet more.
        assert_eq!(
            held_geometry(64 * 5120 * 4, 4, &[0], 1, 227 * 1024, 512),
            Some((64, ring))
        );
        assert_eq!(
            held_geometry(64 * 5120 * 4 + 4, 4, &[0], 1, 227 * 1024, 512),
            None
        );
        // Odd widths, misaligned buffers, too many items, empty rows.
        assert_eq!(held_geometry(151_937, 4, &[0], 1, 227 * 1024, 512), None);
        assert_eq!(held_geometry(151_936, 2, &[0, 4], 1, 227 * 1024, 512), None);
        assert_eq!(
            held_geometry(151_936, 2, &[0], 1 << 30, 227 * 1024, 512),
            None
        );
        assert_eq!(held_geometry(0, 2, &[0], 1, 227 * 1024, 512), None);
    }

    #[test]
    fn long_aligned_rows_split_over_the_smallest_cluster_that_holds_them() {
        // H200: 227 KiB opt-in, 2 KiB kept: 14400 packets per block.
        let cap = (227 * 1024 - 2048) / 16;
        let plan = |cluster, threads, shared| {
            Some(SplitPlan {
                cluster,
                threads,
                shared,
            })
        };
        // Vocabulary rows: f32 over 4 blocks (152 KB each), bf16 over 2.
        assert_eq!(
            split_plan_for(151_936, 4, &[0, 256], cap),
            plan(4, 512, 151_936)
        );
        assert_eq!(
            split_plan_for(151_936, 2, &[0], cap),
            plan(2, 1024, 151_936)
        );
        // Just past the register kernels: one block, two buffers, 8 packets per thread.
        assert_eq!(
            split_plan_for(8196, 4, &[0], cap),
            plan(1, 288, 2 * 2049 * 16)
        );
        assert_eq!(
            split_plan_for(16384, 4, &[0], cap),
            plan(1, 512, 2 * 4096 * 16)
        );
        // At 8 blocks' capacity and one packet past it.
        assert_eq!(
            split_plan_for(8 * cap * 4, 4, &[0], cap),
            plan(8, 512, cap as u32 * 16)
        );
        assert_eq!(split_plan_for(8 * cap * 4 + 4, 4, &[0], cap), None);
        // Register rows, odd widths and misaligned buffers are not split.
        assert_eq!(split_plan_for(4096, 4, &[0], cap), None);
        assert_eq!(split_plan_for(151_937, 4, &[0], cap), None);
        assert_eq!(split_plan_for(151_936, 4, &[0, 4], cap), None);
        assert_eq!(split_plan_for(0, 4, &[0], cap), None);
    }

    #[test]
    fn short_rows_are_aligned_whole_packets_that_fit_one_block() {
        // 4096 f32 columns: 1024 packets, 4 per thread (the measured-best plan).
        assert_eq!(short_threads(4096, 4, &[0, 256]), Some(256));
        assert_eq!(short_threads(4096, 2, &[0, 256]), Some(128));
        assert_eq!(short_threads(8192, 4, &[0]), Some(512));
        assert_eq!(short_threads(16384, 2, &[0]), Some(512));
        assert_eq!(short_threads(1000, 2, &[0]), Some(32));
        // One packet too many, a partial packet, a misaligned buffer: the general engine.
        assert_eq!(short_threads(8196, 4, &[0]), None);
        assert_eq!(short_threads(16384, 4, &[0]), None);
        assert_eq!(short_threads(4097, 4, &[0]), None);
        assert_eq!(short_threads(4096, 4, &[0, 8]), None);
        assert_eq!(short_threads(5, 4, &[0]), None);
    }

    #[test]
    fn wide_engine_takes_the_rows_where_it_measured_faster() {
        // Vocabulary rows in slices of 4096 packets (256 threads × 16): bf16 18992 packets
        // over 5 parts, f32 37984 over 10 (softmax and log-softmax alike).
        assert_eq!(wide_geometry(151_936, 2, &[0, 256], 2048), Some((5, 256)));
        assert_eq!(wide_geometry(151_936, 4, &[0, 256], 2048), Some((10, 256)));
        // Just past the register kernel (2049 packets: one part), and not below; 2^18 f32
        // columns in 16 parts; 57600 f32 columns (14400 packets) in 4.
        assert_eq!(wide_geometry(16_392, 2, &[0], 5), Some((1, 256)));
        assert_eq!(wide_geometry(16_384, 2, &[0], 5), None);
        assert_eq!(wide_geometry(8196, 4, &[0], 5), Some((1, 256)));
        assert_eq!(wide_geometry(8192, 4, &[0], 5), None);
        assert_eq!(wide_geometry(262_144, 4, &[0], 3), Some((16, 256)));
        assert_eq!(wide_geometry(57_600, 4, &[0], 1), Some((4, 256)));
        // Odd widths, misaligned buffers, rows past 64 parts, more items than a u32 ticket
        // counts, empty rows: not wide.
        assert_eq!(wide_geometry(151_937, 4, &[0], 1), None);
        assert_eq!(wide_geometry(151_936, 2, &[0, 4], 1), None);
        assert_eq!(wide_geometry(64 * 4096 * 8 + 8, 2, &[0], 1), None);
        assert_eq!(wide_geometry(151_936, 2, &[0], 1 << 30), None);
        assert_eq!(wide_geometry(0, 2, &[0], 1), None);
    }
}
