//! The engine behind the row-wise kernels (softmax, log-softmax, LayerNorm, RMSNorm, ...): each
//! row of a (rows × cols) matrix is handled by one thread-block cluster (one block when the
//! launch has no clusters), the cluster's blocks splitting the row's 16-byte packets evenly.
//!
//! A block first stages its part of the row in dynamic shared memory with `cp.async` (few
//! registers, so many blocks per SM and much data in flight), then runs its statistics pass(es)
//! and its write pass from shared memory: global memory is read once and written once, the
//! floor of these kernels. Statistics are combined across the block ([`gpu::block::fold`]) and
//! across the cluster through distributed shared memory ([`gpu::cluster_reduce::fold`]), so a row may be
//! any width: a long row is split over up to 8 (or 16) blocks, and the part of a block's share
//! that does not fit in its shared memory is read from global memory in each pass (slower, still
//! correct). Rows whose start is not 16-byte aligned (odd widths) or whose output is aligned
//! differently from the input take the scalar path for the elements before the first packet, or
//! for all elements.
//!
//! Launch: `grid.x = clusters × cluster size` (clusters loop over rows: cluster c handles rows
//! c, c + clusters, ...), any block size that is a multiple of 32, and the dynamic shared memory
//! the host chose (a multiple of 16 bytes; 0 is valid and reads everything from global memory).
use crate::elem::Elem;
use gpukit_device::{
    self as gpu, DynamicShared, Manual, OutSlice, Packets, SharedArray, cluster_reduce as cluster,
};

/// Where this cluster's rows are: `(first row, step)`.
#[inline(always)]
pub fn cluster_rows() -> (usize, usize) {
    (cluster::id_x() as usize, cluster::count_x() as usize)
}

/// One block's part of one row: the row's elements are `head` scalars (before the first 16-byte
/// boundary), `packets` whole packets, and the tail scalars; this block owns packets
/// `p0..p1` (the first `staged` of them live in shared memory) and scalars `rank, rank + ranks,
/// ...` (in units of threads).
pub struct Part<'a, E: Elem> {
    row: &'a [E],
    /// Matrix index of the row's first element.
    pub start: usize,
    pub cols: usize,
    head: usize,
    packets: usize,
    body: Option<Packets<'a, E>>,
    pub p0: usize,
    pub p1: usize,
    pub staged: usize,
    thread: usize,
    threads: usize,
    /// This thread's first scalar and the scalar step across the cluster.
    scalar0: usize,
    scalar_step: usize,
}

impl<'a, E: Elem> Part<'a, E> {
    /// The part of row `row` of `x` (`cols` wide) that this block owns. `others` are the
    /// addresses of the first elements of the other rows read or written alongside (outputs,
    /// residuals): the packet path is used only when all are aligned alike. `smem` bounds what
    /// is staged.
    #[inline(always)]
    pub fn new(
        x: &'a [E],
        row: usize,
        cols: usize,
        others: &[usize],
        smem: &DynamicShared<u32>,
    ) -> Part<'a, E> {
        let size = core::mem::size_of::<E>();
        let start = row * cols;
        let row_s = &x[start..start + cols];
        let mis = row_s.as_ptr() as usize % 16;
        let vector = mis % size == 0 && others.iter().all(|a| a % 16 == mis);
        let head = if vector {
            ((16 - mis) % 16 / size).min(cols)
        } else {
            cols
        };
        let body = if vector {
            Packets::new(&row_s[head..])
        } else {
            None
        };
        let packets = body.map_or(0, |b| b.len());
        let (rank, ranks) = (cluster::rank() as usize, cluster::size() as usize);
        let per = packets.div_ceil(ranks);
        let p0 = (rank * per).min(packets);
        let p1 = (p0 + per).min(packets);
        let staged = (p1 - p0).min(smem.bytes() / 16);
        let (thread, threads) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
        Part {
            row: row_s,
            start,
            cols,
            head,
            packets,
            body,
            p0,
            p1,
            staged,
            thread,
            threads,
            scalar0: rank * threads + thread,
            scalar_step: ranks * threads,
        }
    }

    /// Starts copying this block's staged packets into shared memory packets `0..staged`.
    /// Follow with [`gpu::async_copy::wait_all`] and a block barrier.
    #[inline(always)]
    pub fn stage(&self, smem: &DynamicShared<u32>) {
        let mut q = self.thread;
        while q < self.staged {
            smem.copy_packet_async(q, self.row, self.head + (self.p0 + q) * E::PER);
            q += self.threads;
        }
    }

    /// This thread's packets: `p0 + thread, + threads, ... < p1`.
    #[inline(always)]
    pub fn my_packets(&self) -> core::iter::StepBy<core::ops::Range<usize>> {
        (self.p0 + self.thread..self.p1.max(self.p0 + self.thread)).step_by(self.threads)
    }

    /// Packet `q` of the row's body, from shared memory when staged.
    #[inline(always)]
    pub fn load(&self, q: usize, smem: &DynamicShared<u32>) -> [u32; 4] {
        if q < self.p0 + self.staged {
            smem.load_packet(q - self.p0)
        } else {
            match &self.body {
                Some(b) => b.get(q),
                None => [0; 4],
            }
        }
    }

    /// Packet `q` of the row's body from global memory (never from shared memory).
    #[inline(always)]
    pub fn global(&self, q: usize) -> [u32; 4] {
        match &self.body {
            Some(b) => b.get(q),
            None => [0; 4],
        }
    }

    /// This thread's index in the block and the block size (the step of [`Self::my_packets`]).
    #[inline(always)]
    pub fn thread(&self) -> (usize, usize) {
        (self.thread, self.threads)
    }

    /// Packet `q`'s values.
    #[inline(always)]
    pub fn values(&self, q: usize, smem: &DynamicShared<u32>) -> [f32; 8] {
        E::unpack(self.load(q, smem))
    }

    /// Replaces staged packet `q` (no effect for packets read from global memory).
    #[inline(always)]
    pub fn restage(&self, q: usize, smem: &DynamicShared<u32>, w: [u32; 4]) {
        if q < self.p0 + self.staged {
            smem.store_packet(q - self.p0, w);
        }
    }

    /// Whether packet `q` is staged.
    #[inline(always)]
    pub fn is_staged(&self, q: usize) -> bool {
        q < self.p0 + self.staged
    }

    /// Column of packet `q`'s first element.
    #[inline(always)]
    pub fn packet_col(&self, q: usize) -> usize {
        self.head + q * E::PER
    }

    /// This thread's scalar elements (head and tail) as columns.
    #[inline(always)]
    pub fn my_scalars(&self) -> impl Iterator<Item = usize> + use<'_, 'a, E> {
        let n = self.cols - self.packets * E::PER;
        let (head, body_end) = (self.head, self.head + self.packets * E::PER);
        (self.scalar0..n.max(self.scalar0))
            .step_by(self.scalar_step)
            .map(move |j| if j < head { j } else { j - head + body_end })
    }

    /// The value at column `c` (from global memory).
    #[inline(always)]
    pub fn value(&self, c: usize) -> f32 {
        self.row[c].to_f32()
    }

    /// Visits this thread's elements as `(column, value)`.
    #[inline(always)]
    pub fn for_each(&self, smem: &DynamicShared<u32>, mut f: impl FnMut(usize, f32)) {
        for q in self.my_packets() {
            let v = self.values(q, smem);
            let c = self.packet_col(q);
            for (k, vk) in v.iter().enumerate().take(E::PER) {
                f(c + k, *vk);
            }
        }
        for c in self.my_scalars() {
            f(c, self.value(c));
        }
    }

    /// Writes this thread's elements of the output row: `g(column, value)` for each.
    #[inline(always)]
    pub fn write(
        &self,
        smem: &DynamicShared<u32>,
        out: &mut OutSlice<E, Manual>,
        mut g: impl FnMut(usize, f32) -> f32,
    ) {
        for q in self.my_packets() {
            let v = self.values(q, smem);
            let c = self.packet_col(q);
            let mut r = [0.0f32; 8];
            for k in 0..E::PER {
                r[k] = g(c + k, v[k]);
            }
            self.store_packet(out, q, E::pack(r));
        }
        for c in self.my_scalars() {
            let y = g(c, self.value(c));
            self.store(out, c, y);
        }
    }

    /// Stores packet `q` of the output row.
    #[inline(always)]
    pub fn store_packet(&self, out: &mut OutSlice<E, Manual>, q: usize, w: [u32; 4]) {
        // Row `start / cols` belongs to this cluster, packet q of it to this thread (packets
        // are dealt out by rank and thread index).
        put_packet(out, self.start + self.packet_col(q), w);
    }

    /// Stores the element at column `c` of the output row.
    #[inline(always)]
    pub fn store(&self, out: &mut OutSlice<E, Manual>, c: usize, y: f32) {
        // SAFETY: scalar columns are dealt out to one thread of the cluster each.
        unsafe { *out.claim_mut(self.start + c) = E::from_f32(y) };
    }
}

/// Stores one packet (`E::PER` elements from index `i`) of a row this thread owns: one 16-byte
/// store when aligned, element by element otherwise. Callers own elements `i .. i + PER` (the
/// row engines deal packets out to one thread each).
#[inline(always)]
fn put_packet<E: Elem>(out: &mut OutSlice<E, Manual>, i: usize, w: [u32; 4]) {
    // SAFETY: the caller owns the packet (see above).
    match unsafe { out.claim_packet_mut(i) } {
        Some(o) => o.set(w),
        None => {
            let v = E::unpack(w);
            for (k, vk) in v.iter().enumerate().take(E::PER) {
                // SAFETY: as above.
                unsafe { *out.claim_mut(i + k) = E::from_f32(*vk) };
            }
        }
    }
}

/// Packets each thread of the `*_short` row kernels holds: 4 (16 registers; v2's measured
/// choice, 256 threads for a 4096-column f32 row).
pub const SHORT_HELD: usize = 4;

/// Most threads per block of the `*_short` row kernels (their `launch_bounds`): at 1024 the
/// 64-register cap made two instances spill; at 512 none does. Rows of up to
/// `SHORT_HELD · SHORT_THREADS_MAX` packets (8192 f32 or 16384 bf16 columns) qualify.
pub const SHORT_THREADS_MAX: usize = 512;

/// A row short enough to live in one block's registers: each thread holds `H` of its 16-byte
/// packets (packets `t, t + threads, ...`), all loads issued before any is used. For rows whose
/// start is 16-byte aligned and whose width is a whole number of packets (the host checks both
/// and the packet count against `H · threads`, and launches the general engine otherwise).
/// Launch: one block per row (blocks loop over rows past the grid), no shared memory. Nothing is
/// staged and the index math is small, so a block needs few registers and many rows are in
/// flight per SM: the row is read once and written once.
pub struct ShortRow<const H: usize> {
    /// Slot `i` holds packet `t + i · threads` of the row (zeros past its end).
    pub w: [[u32; 4]; H],
    start: usize,
    t: usize,
    nt: usize,
    n: usize,
}

impl<const H: usize> ShortRow<H> {
    /// Loads this thread's packets of row `row` (`cols` wide); `None` when the row is not a
    /// whole number of aligned packets (the host never launches that).
    #[inline(always)]
    pub fn load<E: Elem>(x: &[E], row: usize, cols: usize) -> Option<ShortRow<H>> {
        let start = row * cols;
        let body = Packets::new(&x[start..start + cols])?;
        if !body.tail().is_empty() {
            return None;
        }
        let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
        let n = body.len();
        let w = gpu::unroll::array(|i| {
            let q = t + i * nt;
            if q < n { body.get(q) } else { [0; 4] }
        });
        Some(ShortRow { w, start, t, nt, n })
    }

    /// The packet in slot `i`, if the row has one there.
    #[inline(always)]
    pub fn slot(&self, i: usize) -> Option<usize> {
        let q = self.t + i * self.nt;
        (q < self.n).then_some(q)
    }

    /// Visits this thread's packets as `(slot, values)` (the first `E::PER` values).
    #[inline(always)]
    pub fn for_each<E: Elem>(&self, mut f: impl FnMut(usize, [f32; 8])) {
        gpu::unroll::each::<H>(|i| {
            if self.slot(i).is_some() {
                f(i, E::unpack(self.w[i]));
            }
        });
    }

    /// The row's packet index in slot `i` (valid when [`Self::slot`] gives it).
    #[inline(always)]
    pub fn packet_of(&self, i: usize) -> usize {
        self.t + i * self.nt
    }

    /// Writes `g(slot, values)` for each of this thread's packets to the same row of `out`.
    #[inline(always)]
    pub fn write<E: Elem>(
        &self,
        out: &mut OutSlice<E, Manual>,
        mut g: impl FnMut(usize, [f32; 8]) -> [f32; 8],
    ) {
        gpu::unroll::each::<H>(|i| {
            if let Some(q) = self.slot(i) {
                let r = g(i, E::unpack(self.w[i]));
                // The row belongs to this block, packet q of it to this thread.
                put_packet(out, self.start + q * E::PER, E::pack(r));
            }
        });
    }
}

/// The block's maximum, NaN if any thread's value is NaN; every thread gets it.
#[inline(always)]
pub fn block_max_nan(v: f32) -> f32 {
    let [m] = gpu::block::fold([v.to_bits()], |a, b| {
        [gpukit_device::math::max_nan(f32::from_bits(a[0]), f32::from_bits(b[0])).to_bits()]
    });
    f32::from_bits(m)
}

/// The block's sum; every thread gets it.
#[inline(always)]
pub fn block_sum(v: f32) -> f32 {
    gpu::block::reduce_sum_f32(v)
}

/// Block sums with one barrier each, for kernels that take several per row: every warp reads
/// all warps' partial sums from shared memory (16-byte loads; the same order in every warp, so
/// every thread gets the same sum) instead of warp 0 folding and broadcasting them behind two
/// more barriers. Two scratch arrays, used in turn ([`Self::sum`]`::<0>`, then `::<1>`, then
/// `::<0>` ...): a scratch is written again only after the other one's barrier, which every
/// thread reaches after reading it. Blocks of up to 512 threads (`SHORT_THREADS_MAX`; more
/// trap).
#[derive(Clone, Copy)]
pub struct AlternatingSums {
    scratch: [SharedArray<f32, 16>; 2],
}

impl AlternatingSums {
    /// Declares the scratch and zeroes the entries between the last warp's and the next
    /// multiple of four (read by the 16-byte loads; ordered before them by the first sum's
    /// barrier).
    #[inline(always)]
    pub fn declare() -> AlternatingSums {
        let scratch = [
            gpu::shared_array!(GPUKIT_ALT_SUM_0: [f32; 16]),
            gpu::shared_array!(GPUKIT_ALT_SUM_1: [f32; 16]),
        ];
        let t = gpu::thread_idx().x as usize;
        let nwarps = (gpu::block_dim().x as usize).div_ceil(32);
        if t >= nwarps && t < nwarps.next_multiple_of(4) {
            for s in &scratch {
                s.set(t, 0.0);
            }
        }
        AlternatingSums { scratch }
    }

    /// The block's sum of `v` through scratch `K` (alternate `K` between consecutive calls).
    #[inline(always)]
    pub fn sum<const K: usize>(&self, v: f32) -> f32 {
        let s = &self.scratch[K];
        let w = gpu::warp::reduce_sum_f32(v);
        let (lane, wid) = (gpu::warp::lane_id(), gpu::warp::warp_id() as usize);
        if lane == 0 {
            s.set(wid, w);
        }
        gpu::sync_threads();
        let quad = |p: usize| {
            let [a, b, c, d] = s.load_packet(p).map(f32::from_bits);
            (a + b) + (c + d)
        };
        // Packets of four warps' sums: 1 to 4 (blocks of up to 512 threads).
        let nq = (gpu::block_dim().x as usize).div_ceil(128).min(4);
        let mut total = quad(0);
        for p in 1..nq {
            total += quad(p);
        }
        total
    }
}

/// A per-column parameter vector (LayerNorm/RMSNorm weight or bias) read alongside a row: one
/// 16-byte load per packet when it is aligned like the row's packets, scalars otherwise; empty
/// means "absent" and reads as `default`.
#[derive(Clone, Copy)]
pub struct ColParam<'a, E: Elem> {
    v: &'a [E],
    packets: Option<Packets<'a, E>>,
    default: f32,
}

impl<'a, E: Elem> ColParam<'a, E> {
    /// `v` must be empty or `cols` long (checked: a mismatch traps).
    #[inline(always)]
    pub fn new(v: &'a [E], cols: usize, head: usize, default: f32) -> ColParam<'a, E> {
        assert!(v.is_empty() || v.len() == cols, "parameter length != cols");
        let packets = if v.is_empty() {
            None
        } else {
            Packets::new(&v[head.min(v.len())..])
        };
        ColParam {
            v,
            packets,
            default,
        }
    }

    #[inline(always)]
    pub fn is_present(&self) -> bool {
        !self.v.is_empty()
    }

    /// The values of the columns of body packet `q` (first `PER` of the array).
    #[inline(always)]
    pub fn packet(&self, q: usize, first_col: usize) -> [f32; 8] {
        if self.v.is_empty() {
            return [self.default; 8];
        }
        match &self.packets {
            Some(p) => E::unpack(p.get(q)),
            None => {
                let mut r = [0.0; 8];
                for (k, rk) in r.iter_mut().enumerate().take(E::PER) {
                    *rk = self.v[first_col + k].to_f32();
                }
                r
            }
        }
    }

    /// The value at column `c`.
    #[inline(always)]
    pub fn at(&self, c: usize) -> f32 {
        if self.v.is_empty() {
            self.default
        } else {
            self.v[c].to_f32()
        }
    }
}

impl<'a, E: Elem> Part<'a, E> {
    /// The row's head length (scalars before the first packet).
    #[inline(always)]
    pub fn head(&self) -> usize {
        self.head
    }
}

/// A statistic folded over a block and then a cluster.
#[inline(always)]
pub fn fold_all<const K: usize>(
    v: [f32; K],
    f: impl Fn([f32; K], [f32; K]) -> [f32; K] + Copy,
) -> [f32; K] {
    let to = |x: [f32; K]| x.map(f32::to_bits);
    let from = |w: [u32; K]| w.map(f32::from_bits);
    let g = move |a: [u32; K], b: [u32; K]| to(f(from(a), from(b)));
    let b = gpu::block::fold(to(v), g);
    from(cluster::fold(b, g))
}

/// Address of element `i` of an output, for [`Part::new`]'s alignment check.
#[inline(always)]
pub fn addr_of<T>(out: &mut OutSlice<T, Manual>, i: usize) -> usize {
    out.as_mut_ptr().wrapping_add(i) as usize
}

/// Rows split over a cluster with every block's share of a row held in shared memory, the next
/// row's share copied in (`cp.async`) while the current one is reduced and written: one read
/// and one write of global memory per element, and the copy engine never idles between rows.
/// The `*_split` kernels run on it. For matrices whose rows are whole 16-byte packets and whose
/// buffers start 16-byte aligned (checked once, uniformly: [`Split::new`] gives `None`, and the
/// kernel does nothing, otherwise; the host launches the general engine then).
///
/// Launch: clusters of `C` blocks (`grid.x` a multiple of `C`; a cluster of one without a
/// cluster launch), clusters loop over rows; block `rank` owns packets
/// `rank · per .. (rank + 1) · per` of each row, `per = ⌈packets / C⌉`; dynamic shared memory of
/// `2 · per` packets (double-buffered) or at least `per` (one buffer: the next row's copies
/// start after the current row is written). Less traps.
pub struct Split<'a, E: Elem> {
    x: &'a [E],
    smem: DynamicShared<u32>,
    rows: usize,
    cols: usize,
    /// Current row and the step between this cluster's rows.
    row: usize,
    step: usize,
    /// This block's first packet of a row and its packet count (32-bit: few registers).
    p0: u32,
    mine: u32,
    /// Packets per buffer, the current buffer's first slot, and whether there are two.
    per: u32,
    base: u32,
    double: bool,
    started: bool,
    /// Single buffer: the next row's share was already requested slot by slot in the write
    /// pass ([`Self::for_each_refill`]).
    refilled: core::cell::Cell<bool>,
    t: u32,
    nt: u32,
}

impl<'a, E: Elem> Split<'a, E> {
    /// The geometry for `rows × cols` matrix `x` with outputs starting at addresses `others`;
    /// `None` unless everything is packet-aligned (the same answer in every thread).
    #[inline(always)]
    pub fn new(
        x: &'a [E],
        rows: usize,
        cols: usize,
        others: &[usize],
        smem: DynamicShared<u32>,
    ) -> Option<Split<'a, E>> {
        let size = core::mem::size_of::<E>();
        let row_bytes = cols * size;
        let aligned = (x.as_ptr() as usize).is_multiple_of(16)
            && others.iter().all(|a| a.is_multiple_of(16))
            && row_bytes.is_multiple_of(16);
        if !aligned || x.len() < rows * cols || row_bytes / 16 > u32::MAX as usize {
            return None;
        }
        let n = (row_bytes / 16) as u32;
        let (rank, ranks) = (cluster::rank(), cluster::size());
        let per = n.div_ceil(ranks);
        let p0 = (rank * per).min(n);
        let mine = (p0 + per).min(n) - p0;
        let slots = smem.bytes() / 16;
        assert!(
            slots >= per as usize,
            "split rows: shared memory below one row share"
        );
        let (row, step) = cluster_rows();
        Some(Split {
            x,
            smem,
            rows,
            cols,
            row,
            step,
            p0,
            mine,
            per,
            base: 0,
            double: slots >= 2 * per as usize,
            started: false,
            refilled: core::cell::Cell::new(false),
            t: gpu::thread_idx().x,
            nt: gpu::block_dim().x,
        })
    }

    /// Starts copying this block's share of `row` into the buffer at slot `base`, as one
    /// `cp.async` group.
    #[inline(always)]
    fn stage(&self, row: usize, base: u32) {
        if row < self.rows {
            let first = row * self.cols + self.p0 as usize * E::PER;
            let mut q = self.t;
            while q < self.mine {
                self.smem.copy_packet_async(
                    (base + q) as usize,
                    self.x,
                    first + q as usize * E::PER,
                );
                q += self.nt;
            }
        }
        gpu::async_copy::commit();
    }

    /// The next row of this cluster, its share in shared memory and visible to the whole block
    /// (the row after it already on its way when double-buffered); `None` past the last row.
    /// Every thread of the cluster calls it in the same loop.
    #[inline(always)]
    pub fn next_row(&mut self) -> Option<usize> {
        if self.started {
            // Everyone is done with the current buffer before it is refilled.
            gpu::sync_threads();
            self.row += self.step;
            if self.double {
                self.base = self.per - self.base;
            } else if self.refilled.replace(false) {
                gpu::async_copy::commit();
            } else {
                self.stage(self.row, 0);
            }
        } else {
            self.started = true;
            self.stage(self.row, 0);
        }
        if self.row >= self.rows {
            return None;
        }
        if self.double {
            self.stage(self.row + self.step, self.per - self.base);
            gpu::async_copy::wait_group::<1>();
        } else {
            gpu::async_copy::wait_all();
        }
        gpu::sync_threads();
        Some(self.row)
    }

    /// This thread's packets of the block's share: local indices `t, t + threads, ...`.
    #[inline(always)]
    pub fn mine(&self) -> core::iter::StepBy<core::ops::Range<u32>> {
        (self.t..self.mine.max(self.t)).step_by(self.nt as usize)
    }

    /// Elements of a row in this block's share.
    #[inline(always)]
    pub fn share(&self) -> usize {
        self.mine as usize * E::PER
    }

    /// Visits this thread's packets `U` at a time as `(local index, packet)`, the `U` shared
    /// loads of a group issued before any is used (independent work for the scheduler).
    #[inline(always)]
    pub fn for_each<const U: usize>(&self, mut f: impl FnMut(u32, [u32; 4])) {
        let mut q0 = self.t;
        while q0 < self.mine {
            let w: [[u32; 4]; U] = gpu::unroll::array(|i| {
                let q = q0 + i as u32 * self.nt;
                if q < self.mine { self.load(q) } else { [0; 4] }
            });
            gpu::unroll::each::<U>(|i| {
                let q = q0 + i as u32 * self.nt;
                if q < self.mine {
                    f(q, w[i]);
                }
            });
            q0 += U as u32 * self.nt;
        }
    }

    /// [`Self::for_each`] for a row's last pass: with one buffer, as soon as `f` has had packet
    /// `q`, this thread starts copying the next row's packet `q` into the same slot, so the next
    /// row loads while this one is written. Safe without a barrier because every pass of the
    /// engine touches slot `q` from one thread only (the one that stages it: `q ≡ t` modulo the
    /// block size), and that thread has its value in registers by then. Double-buffered shares
    /// load during the whole row anyway: nothing changes there.
    #[inline(always)]
    pub fn for_each_refill<const U: usize>(&self, mut f: impl FnMut(u32, [u32; 4])) {
        let next = self.row + self.step;
        let refill = !self.double && next < self.rows;
        let first = next * self.cols + self.p0 as usize * E::PER;
        self.for_each::<U>(|q, w| {
            f(q, w);
            if refill {
                self.smem
                    .copy_packet_async(q as usize, self.x, first + q as usize * E::PER);
            }
        });
        self.refilled.set(refill);
    }

    /// Local packet `q` of the current row, from shared memory.
    #[inline(always)]
    pub fn load(&self, q: u32) -> [u32; 4] {
        self.smem.load_packet((self.base + q) as usize)
    }

    /// Replaces local packet `q` in shared memory (a value the write pass reuses).
    #[inline(always)]
    pub fn restage(&self, q: u32, w: [u32; 4]) {
        self.smem.store_packet((self.base + q) as usize, w)
    }

    /// Packet index in the row of local packet `q` (for per-column parameters).
    #[inline(always)]
    pub fn packet(&self, q: u32) -> usize {
        (self.p0 + q) as usize
    }

    /// Column of local packet `q`'s first element.
    #[inline(always)]
    pub fn col(&self, q: u32) -> usize {
        self.packet(q) * E::PER
    }

    /// Stores local packet `q` of the current row of `out`.
    #[inline(always)]
    pub fn store(&self, out: &mut OutSlice<E, Manual>, q: u32, w: [u32; 4]) {
        // The row belongs to this cluster, packet p0 + q of it to this thread of this block.
        put_packet(out, self.row * self.cols + self.col(q), w);
    }
}

/// Threads per block of the [`Wide`] kernels (`*_reread`; their launch bound, with 4 blocks per
/// SM: 64 registers per thread).
pub const WIDE_THREADS: usize = 256;

/// Words of the [`Wide`] kernels' scratch for `rows` rows split into `parts`: the ticket, one
/// arrival count per row, and a `(max, sum)` pair per part of every row. The host zeroes it
/// before each launch.
pub const fn wide_scratch_words(rows: usize, parts: usize) -> usize {
    1 + rows + 2 * rows * parts
}

/// Index of row `row`'s first `(max, sum)` pair in a [`wide_scratch_words`] scratch.
#[inline(always)]
pub(crate) fn first_pair(rows: usize, parts: u32, row: u32) -> usize {
    1 + rows + 2 * row as usize * parts as usize
}

/// Stores part `part`'s pair of row `row` in a [`wide_scratch_words`] scratch (the row's pairs
/// from `pairs`) and counts it for the row, with release: the pair is visible to whoever sees the new count. One
/// thread per block calls it.
#[inline(always)]
pub(crate) fn publish_pair(
    s: &gpu::AtomicSlice<'_, u32>,
    pairs: usize,
    (row, part): (u32, u32),
    pair: [u32; 2],
) {
    use gpu::{Ordering, Scope};
    let at = pairs + 2 * part as usize;
    s.store(at, pair[0], Scope::Device, Ordering::Relaxed);
    s.store(at + 1, pair[1], Scope::Device, Ordering::Relaxed);
    s.fetch_add(1 + row as usize, 1, Scope::Device, Ordering::Release);
}

/// Waits, with acquire, until word `count` of the scratch (a row's arrivals) reaches `parts`,
/// backing off from 32 ns up to `max_pause` ns: waiting blocks must not crowd the loads of the
/// others in L2. One thread per block calls it; a barrier then orders the block's reads.
#[inline(always)]
pub(crate) fn await_pairs(s: &gpu::AtomicSlice<'_, u32>, count: usize, parts: u32, max_pause: u32) {
    use gpu::{Ordering, Scope};
    let mut pause = 32;
    while s.load(count, Scope::Device, Ordering::Acquire) < parts {
        gpu::sync::nanosleep(pause);
        pause = (pause * 2).min(max_pause);
    }
}

/// Long rows split over `parts` ordinary blocks that exchange their partial statistics with the
/// row's other blocks through global memory: no cluster (so 4 blocks per SM, and any number of
/// SMs, take part) and no shared-memory staging. A block holds nothing of its slice across the
/// exchange: it streams the slice for its statistics ([`Wide::batches`]), [`Wide::publish`]es
/// them, and later [`Wide::gather`]s the row's statistics and [`Wide::rewrite`]s the slice from
/// a second read (the `*_reread` kernels, whose pipelining has its own forward-progress argument
/// in `softmax.rs`). The host keeps the slices in flight small enough for that second read to
/// come from L2.
///
/// Work items are (row, part) pairs handed out by an atomic ticket in increasing order: ticket
/// `t` is part `t % parts` of row `t / parts`. A block takes a ticket only when it has nothing
/// else in hand, loads and reduces its slice (which waits on nothing), publishes the pair, and
/// only then waits for the row's other parts.
///
/// Forward progress. Tickets are taken in order, so at any moment the taken ones are `0..T`,
/// each held by a running block that publishes it without waiting. Every row below row `T /
/// parts` has all its parts taken, so all its parts get published and all its blocks finish.
/// Only the blocks of the one partly taken row can wait for a ticket nobody holds yet, and
/// there are fewer than `parts` of them; so as long as `parts` blocks of the launch can be
/// resident at once, some other block (a new one of the grid, or a persistent block looping)
/// takes the next ticket, and the row fills up. The host launches this engine only when the
/// occupancy calculator puts at least `parts` blocks on the device, for any grid size; the
/// same condition a cluster of `parts` blocks would need, here checked once on the host rather
/// than by the hardware.
///
/// Scratch (`u32` words, zero before the launch; see [`wide_scratch_words`]): word 0 the
/// ticket, word `1 + r` the number of parts of row `r` published, words `1 + rows + 2 (r ·
/// parts + p) ..+2` part `p`'s pair. A part stores its pair (relaxed), then adds 1 to the row's
/// count with release; a waiter reads the count with acquire until it reaches `parts`, so the
/// pairs are visible to it, and every block folds the pairs in the same fixed order: all
/// blocks of a row get bit-identical statistics.
///
/// Launch: blocks of at most [`WIDE_THREADS`] threads (a multiple of 32), any grid (`grid ≥
/// rows · parts`: one item per block; fewer: blocks loop). For matrices of whole 16-byte packets in 16-byte aligned
/// buffers; [`Wide::new`] gives `None` otherwise (the kernel then does nothing).
pub struct Wide<'a, E: Elem> {
    x_elems: &'a [E],
    scratch: gpu::AtomicSlice<'a, u32>,
    rows: usize,
    /// 32-bit geometry (few live registers): parts per row, packets per row and per part,
    /// items (`rows · parts`, below 2^32: the ticket is a `u32`).
    parts: u32,
    n: u32,
    per: u32,
    items: u32,
    /// One item per block (the grid covers every item): no second ticket.
    once: bool,
    taken: bool,
    t: u32,
    nt: u32,
}

/// One work item of [`Wide`]: part `part` of row `row`, packets `p0 .. p0 + mine` of it.
#[derive(Clone, Copy)]
pub struct WideItem {
    pub row: u32,
    pub part: u32,
    p0: u32,
    mine: u32,
}

/// One step of a block's slice in registers: slot `i` holds local packet `t + i · threads`.
pub struct Held<const H: usize> {
    pub w: [[u32; 4]; H],
    t: u32,
    nt: u32,
    mine: u32,
}

impl<const H: usize> Held<H> {
    /// Whether slot `i` holds a packet of the slice.
    #[inline(always)]
    pub fn has(&self, i: usize) -> bool {
        self.t + i as u32 * self.nt < self.mine
    }

    /// Visits this thread's packets as `(slot, values)`.
    #[inline(always)]
    pub fn for_each<E: Elem>(&self, mut f: impl FnMut(usize, [f32; 8])) {
        gpu::unroll::each::<H>(|i| {
            if self.has(i) {
                f(i, E::unpack(self.w[i]));
            }
        });
    }
}

impl<'a, E: Elem> Wide<'a, E> {
    /// The engine over the `rows × cols` matrix `x` split into `parts` per row, outputs at
    /// addresses `others`; `None` unless everything is packet-aligned and the scratch is large
    /// enough (the same answer in every thread).
    #[inline(always)]
    pub fn new(
        x: &'a [E],
        rows: usize,
        cols: usize,
        parts: usize,
        others: &[usize],
        scratch: gpu::AtomicSlice<'a, u32>,
    ) -> Option<Wide<'a, E>> {
        let row_bytes = cols * core::mem::size_of::<E>();
        let aligned = row_bytes.is_multiple_of(16)
            && (x.as_ptr() as usize).is_multiple_of(16)
            && others.iter().all(|a| a.is_multiple_of(16));
        let x_elems = x.get(..rows * cols)?;
        let n = row_bytes / 16;
        let items = rows * parts;
        if !aligned
            || parts == 0
            || n > u32::MAX as usize
            || items > u32::MAX as usize
            || scratch.len() < wide_scratch_words(rows, parts)
        {
            return None;
        }
        let (t, nt) = (gpu::thread_idx().x, gpu::block_dim().x);
        let per = n.div_ceil(parts);
        Some(Wide {
            x_elems,
            scratch,
            rows,
            parts: parts as u32,
            n: n as u32,
            per: per as u32,
            items: items as u32,
            once: gpu::grid_dim().x as usize >= items,
            taken: false,
            t,
            nt,
        })
    }

    /// The block's next item, by ticket; `None` when all are taken. Every thread of the block
    /// calls it in the same loop (it contains a barrier).
    #[inline(always)]
    pub fn next(&mut self) -> Option<WideItem> {
        if self.once && self.taken {
            return None;
        }
        self.taken = true;
        let slot = gpukit_device::shared_array!(WIDE_TICKET: [u32; 1]);
        if self.t == 0 {
            let ticket = self
                .scratch
                .fetch_add(0, 1, gpu::Scope::Device, gpu::Ordering::Relaxed);
            slot.set(0, ticket);
        }
        gpu::sync_threads();
        let ticket = slot.get(0);
        // Everyone has read the slot before thread 0 writes it again: the item's block
        // reductions and its wait hold barriers.
        if ticket >= self.items {
            return None;
        }
        let (row, part) = (ticket / self.parts, ticket % self.parts);
        let p0 = (part * self.per).min(self.n);
        let mine = (p0 + self.per).min(self.n) - p0;
        Some(WideItem {
            row,
            part,
            p0,
            mine,
        })
    }

    /// Index of row `row`'s first pair in the scratch.
    #[inline(always)]
    fn pairs(&self, row: u32) -> usize {
        first_pair(self.rows, self.parts, row)
    }

    /// Publishes this part's pair `mine` (the same in every thread; thread 0 stores it) without
    /// waiting for anything.
    #[inline(always)]
    pub fn publish(&self, it: &WideItem, mine: [u32; 2]) {
        if self.t == 0 {
            publish_pair(&self.scratch, self.pairs(it.row), (it.row, it.part), mine);
        }
    }

    /// Waits until every part of the item's row has published (see [`Wide::publish`]) and
    /// returns the fold of the row's pairs by `f` in part order (bit-identical in every block of the
    /// row when `f` is commutative bit for bit). Every
    /// thread of the block calls it (it contains a barrier).
    #[inline(always)]
    pub fn gather(
        &self,
        it: &WideItem,
        identity: [u32; 2],
        f: impl Fn([u32; 2], [u32; 2]) -> [u32; 2],
    ) -> [u32; 2] {
        use gpu::{Ordering, Scope};
        let s = &self.scratch;
        let count = 1 + it.row as usize;
        let parts = self.parts as usize;
        let pairs = self.pairs(it.row);
        if self.t == 0 {
            await_pairs(s, count, self.parts, 512);
        }
        // Thread 0 has acquired every pair; the barrier orders the reads below after that.
        gpu::sync_threads();
        // Every warp folds the pairs itself (lane l: parts l, l + 32, ...; then a butterfly):
        // the same order in every warp and block.
        let lane = gpu::warp::lane_id() as usize;
        let mut acc = identity;
        let mut p = lane;
        while p < parts {
            let at = pairs + 2 * p;
            let v = [
                s.load(at, Scope::Device, Ordering::Relaxed),
                s.load(at + 1, Scope::Device, Ordering::Relaxed),
            ];
            acc = f(acc, v);
            p += 32;
        }
        let mut m = 16;
        while m > 0 {
            let other = [
                gpu::warp::shfl_xor_u32(acc[0], m),
                gpu::warp::shfl_xor_u32(acc[1], m),
            ];
            acc = f(acc, other);
            m >>= 1;
        }
        acc
    }

    /// Writes `g(values)` of each of the step's packets `h` to the same place of `out` with
    /// the store `put`.
    #[inline(always)]
    fn write_each<const H: usize>(
        &self,
        it: &WideItem,
        h: &Held<H>,
        out: &mut OutSlice<E, Manual>,
        mut g: impl FnMut([f32; 8]) -> [f32; 8],
        put: impl Fn(&mut gpu::Packet, [u32; 4]),
    ) {
        let first = (it.row as usize * self.n as usize + it.p0 as usize) * E::PER;
        gpu::unroll::each::<H>(|i| {
            if h.has(i) {
                let r = g(E::unpack(h.w[i]));
                // SAFETY: row `it.row`'s part `it.part` belongs to this block (its ticket),
                // packet t + i · threads of the part to this thread. The packet is in bounds
                // (`out` is as long as `x`) and aligned (checked in `new`), so the claim never
                // fails; no scalar fallback (its eight stores cost registers).
                let q = (h.t + i as u32 * h.nt) as usize;
                if let Some(o) = unsafe { out.claim_packet_mut(first + q * E::PER) } {
                    put(o, E::pack(r));
                }
            }
        });
    }

    /// Streams the item's slice from global memory in steps of `U` packets per thread (all
    /// `U` loads issued before any is used, each with the L2 policy `policy`), calling `f` on
    /// each step: nothing is held between steps, so a slice may be any length.
    #[inline(always)]
    pub fn batches<const U: usize>(
        &self,
        it: &WideItem,
        policy: gpu::L2Policy,
        mut f: impl FnMut(&Held<U>),
    ) {
        let first = (it.row as usize * self.n as usize + it.p0 as usize) * E::PER;
        // Always `Some` (the slice lies in `x`, aligned: checked in `new`).
        let Some(part) = self
            .x_elems
            .get(first..first + it.mine as usize * E::PER)
            .and_then(Packets::new)
        else {
            return;
        };
        let (nt, mine) = (self.nt, it.mine);
        let mut t = self.t;
        while t < mine {
            let w = gpu::unroll::array(|i| {
                let q = t + i as u32 * nt;
                if q < mine {
                    part.get_hinted(q as usize, policy)
                } else {
                    [0; 4]
                }
            });
            f(&Held { w, t, nt, mine });
            t += U as u32 * nt;
        }
    }

    /// Re-reads the item's slice in steps of `U` packets per thread (loads with policy
    /// `load`) and writes `g(values)` of each packet to the same place of `out` (stores with
    /// policy `store`).
    #[inline(always)]
    pub fn rewrite<const U: usize>(
        &self,
        it: &WideItem,
        out: &mut OutSlice<E, Manual>,
        load: gpu::L2Policy,
        store: gpu::L2Policy,
        mut g: impl FnMut([f32; 8]) -> [f32; 8],
    ) {
        self.batches::<U>(it, load, |h| {
            self.write_each(it, h, out, &mut g, |o, w| o.set_hinted(w, store))
        });
    }
}
