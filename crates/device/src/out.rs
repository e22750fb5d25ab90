//! Output views: each thread gets `&mut` only to the elements it owns.
//!
//! A kernel's outputs are shared by every thread of the launch, so a `&mut [T]` parameter would
//! hand every thread a mutable alias of the same memory. An [`OutSlice<T, View>`] instead
//! exposes only the elements a thread owns under one ownership rule, the *view*, which is part
//! of the output's type and therefore fixed for the whole launch:
//!
//! | view (in the signature)       | who owns what                                          | accessor        |
//! |-------------------------------|--------------------------------------------------------|-----------------|
//! | [`PerThread<N>`] (default 1)  | thread `i` (linear id): elements `N*i .. N*i + N`      | [`thread_items`](OutSlice::thread_items), [`thread_elem`](OutSlice::thread_elem), [`thread_packet`](OutSlice::thread_packet) |
//! | [`GridStride`]                | thread `i`: `i, i + T, i + 2T, ..` (`T` threads)       | [`grid_stride`](OutSlice::grid_stride) |
//! | [`BlockRows<len>`](BlockRows) | block `b`: row `b` (`len` elements)                    | [`block_row`](OutSlice::block_row) |
//! | [`WarpRows<len>`](WarpRows)   | warp `w` of the grid: row `w`                          | [`warp_row`](OutSlice::warp_row) |
//! | [`BlockTiles<W, H, cols>`](BlockTiles) | block `(x, y)`: the `H x W` tile at `(y*H, x*W)` | [`block_tile`](OutSlice::block_tile) |
//! | [`ThreadTiles<W, H, cols>`](ThreadTiles) | thread `(x, y)`: the `H x W` tile at `(y*H, x*W)` | [`thread_tile`](OutSlice::thread_tile) |
//! | [`StridedPackets<K>`](StridedPackets) | thread `i`: 16-byte packets `i, i + T, .., i + (K-1)T` | [`thread_packets`](OutSlice::thread_packets), [`thread_packet_set`](OutSlice::thread_packet_set) |
//! | [`Atomic`]                    | everyone, atomically                                   | [`atomic`](OutSlice::atomic) |
//! | [`Manual`]                    | the kernel's own `unsafe` claim                        | [`claim_mut`](OutSlice::claim_mut), [`claim_thread_packets`](OutSlice::claim_thread_packets) |
//!
//! Inside a row or tile a block or warp shares, each thread again owns a fixed part: in rows, the
//! 16-byte chunks `rank, rank + team, ..` ([`RowMut::chunks`]); in block tiles, the same chunks of
//! a band of consecutive rows ([`BlockTileMut::chunk_at`]). Since each output has exactly one view
//! and each view exactly one partition, two threads can never obtain `&mut` to the same element
//! through safe code, whatever launch configuration is used: a launch that is too small leaves
//! elements unwritten, never written twice. Accessors of another view do not exist on the type,
//! so mixing disciplines on one output does not compile.
//!
//! A view's row length or matrix width comes from a kernel parameter, bound once at the launch
//! by `#[kernel]` (`OutSlice<f32, BlockRows<cols>>` reads the parameter `cols`), so every thread
//! uses the same geometry. Whether 16-byte stores are possible (aligned base, rows of whole
//! chunks) is decided at the same time, once per launch.
use crate::atomic::{AtomicElem, AtomicSlice};
use crate::elem::{Element, store_chunk};
use crate::index::{
    block_dim, block_idx, block_linear_thread, global_linear_id, grid_dim, grid_linear_threads,
    thread_idx,
};
use core::marker::PhantomData;

mod stream;

mod sealed {
    pub trait Sealed {}
}

/// An ownership discipline for [`OutSlice`]; see the module docs. Sealed: the views are the
/// device library's audited partitions.
pub trait Ownership: sealed::Sealed {
    /// What the view is bound with at launch: a row length or matrix width, or nothing.
    type Geometry: Copy;
}

/// Each thread owns `N` consecutive elements: thread `i` (its [`global_linear_id`]) owns
/// `N*i .. N*i + N`. The default view of [`OutSlice`], with `N = 1`.
pub struct PerThread<const N: usize = 1>;
/// Thread `i` owns elements `i, i + T, i + 2T, ..` for `T` threads in the launch.
pub struct GridStride;
/// Block `b` (its linear index in the grid) owns row `b`; rows have the length given in the
/// signature (`BlockRows<cols>`). Inside the row, thread `t` of the block's `n` owns chunks
/// `t, t + n, ..`.
pub struct BlockRows;
/// Warp `w` of the grid owns row `w` (`WarpRows<cols>`); lane `l` owns chunks `l, l + 32, ..`.
pub struct WarpRows;
/// Block `(x, y)` owns the `H x W` tile at rows `y*H..`, columns `x*W..` of the output seen as a
/// matrix of `cols` columns (`BlockTiles<W, H, cols>`). In a `(bx, by)` block, thread `(tx, ty)`
/// owns the band of `R = ceil(H / by)` consecutive tile rows from `ty*R`, and in them the 16-byte
/// chunks `tx, tx + bx, ..`: a warp writes whole rows with vector stores, and a thread walks down
/// its columns (so a stencil can keep the rows it has read in registers).
pub struct BlockTiles<const W: usize, const H: usize>;
/// The thread with 2D global index `(x, y)` owns the `H x W` tile at rows `y*H..`, columns
/// `x*W..` of the output seen as a matrix of `cols` columns (`ThreadTiles<W, H, cols>`).
pub struct ThreadTiles<const W: usize, const H: usize>;
/// The thread with linear id `i` owns the `K` 16-byte packets `i, i + T, .., i + (K-1)·T` of
/// the output (`T` threads in the launch; packet `p` is elements `p*L .. p*L + L`,
/// `L = 16 / size_of::<T>()`): each store instruction of a warp is fully coalesced, and a
/// thread can have all `K` loads of its inputs in flight before it computes. `K` is part of the
/// type, so every thread of a launch uses the same `K` and the packets partition the output.
pub struct StridedPackets<const K: usize>;
/// Any thread may update any element, through atomic operations only.
pub struct Atomic;
/// No rule: each access is an `unsafe` claim whose exclusivity the kernel states.
pub struct Manual;

macro_rules! ownership {
    ($($t:ty => $g:ty),* $(,)?) => {
        $(
            impl sealed::Sealed for $t {}
            impl Ownership for $t {
                type Geometry = $g;
            }
        )*
    };
}
ownership!(GridStride => (), BlockRows => usize, WarpRows => usize, Atomic => (), Manual => ());
impl<const N: usize> sealed::Sealed for PerThread<N> {}
impl<const N: usize> Ownership for PerThread<N> {
    type Geometry = ();
}
impl<const K: usize> sealed::Sealed for StridedPackets<K> {}
impl<const K: usize> Ownership for StridedPackets<K> {
    type Geometry = ();
}
impl<const W: usize, const H: usize> sealed::Sealed for BlockTiles<W, H> {}
impl<const W: usize, const H: usize> Ownership for BlockTiles<W, H> {
    type Geometry = usize;
}
impl<const W: usize, const H: usize> sealed::Sealed for ThreadTiles<W, H> {}
impl<const W: usize, const H: usize> Ownership for ThreadTiles<W, H> {
    type Geometry = usize;
}

/// An output parameter as the PTX `.entry` receives it: `{ptr: u64, len: u64}`, the layout of
/// `&mut [T]`. `#[kernel]` turns it into the [`OutSlice`] the signature names.
#[repr(C)]
pub struct RawOut<T> {
    ptr: *mut T,
    len: usize,
}

/// A device output slice under the ownership view `O` (see the module docs).
pub struct OutSlice<T, O: Ownership = PerThread<1>> {
    ptr: *mut T,
    len: usize,
    geom: O::Geometry,
    /// 16-byte stores are possible for this view's groups (decided once per launch).
    vec_ok: bool,
    _own: PhantomData<O>,
}

/// Called by `#[kernel]` only: the view of the output `raw` for this launch.
///
/// # Safety
/// `raw` is a kernel's output parameter (a device allocation of `len` elements that no other
/// parameter aliases), `geom` is the same for every thread of the launch, and the result is the
/// only view created of `raw` in this thread.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn __bind<T: Element, O: Ownership>(raw: RawOut<T>, geom: O::Geometry) -> OutSlice<T, O>
where
    OutSlice<T, O>: Bind,
{
    let mut out = OutSlice {
        ptr: raw.ptr,
        len: raw.len,
        geom,
        vec_ok: false,
        _own: PhantomData,
    };
    out.vec_ok = out.vector_ok();
    out
}

/// How each view decides, once per launch, whether its groups can use 16-byte stores.
#[doc(hidden)]
pub trait Bind {
    /// Whether every group a thread owns starts 16-byte aligned (when whole).
    fn vector_ok(&self) -> bool;
}

#[inline(always)]
fn aligned<T>(p: *const T) -> bool {
    (p as usize).is_multiple_of(16)
}

impl<T: Element, const N: usize> Bind for OutSlice<T, PerThread<N>> {
    #[inline(always)]
    fn vector_ok(&self) -> bool {
        aligned(self.ptr) && (N * core::mem::size_of::<T>()).is_multiple_of(16)
    }
}
impl<T: Element> Bind for OutSlice<T, BlockRows> {
    #[inline(always)]
    fn vector_ok(&self) -> bool {
        aligned(self.ptr) && (self.geom * core::mem::size_of::<T>()).is_multiple_of(16)
    }
}
impl<T: Element> Bind for OutSlice<T, WarpRows> {
    #[inline(always)]
    fn vector_ok(&self) -> bool {
        aligned(self.ptr) && (self.geom * core::mem::size_of::<T>()).is_multiple_of(16)
    }
}
macro_rules! no_vectors {
    ($($t:ty),*) => {
        $(
            impl<T: Element> Bind for OutSlice<T, $t> {
                #[inline(always)]
                fn vector_ok(&self) -> bool {
                    false
                }
            }
        )*
    };
}
no_vectors!(GridStride, Atomic, Manual);
impl<T: Element, const K: usize> Bind for OutSlice<T, StridedPackets<K>> {
    #[inline(always)]
    fn vector_ok(&self) -> bool {
        // Decided per packet (alignment and a whole packet) by `strided_packets`.
        false
    }
}
impl<T: Element, const W: usize, const H: usize> Bind for OutSlice<T, BlockTiles<W, H>> {
    #[inline(always)]
    fn vector_ok(&self) -> bool {
        // Aligned base, rows and tile widths of whole chunks: every whole chunk is aligned.
        aligned(self.ptr)
            && (self.geom * core::mem::size_of::<T>()).is_multiple_of(16)
            && (W * core::mem::size_of::<T>()).is_multiple_of(16)
    }
}
impl<T: Element, const W: usize, const H: usize> Bind for OutSlice<T, ThreadTiles<W, H>> {
    #[inline(always)]
    fn vector_ok(&self) -> bool {
        false
    }
}

impl<T, O: Ownership> OutSlice<T, O> {
    /// Number of elements in the whole output (not only this thread's part).
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the output has no elements.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

// ---------------------------------------------------------------------------------------------
// PerThread<N>

/// The `N` (or, at the end, fewer) consecutive elements a thread owns under [`PerThread<N>`].
pub struct Items<'a, T, const N: usize> {
    ptr: *mut T,
    start: usize,
    n: usize,
    vec_ok: bool,
    _out: PhantomData<&'a mut T>,
}

impl<T: Element, const N: usize> Items<'_, T, N> {
    /// Index of the first element in the whole output.
    #[inline(always)]
    pub fn start(&self) -> usize {
        self.start
    }

    /// Elements owned: `N`, except in the last group.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.n
    }

    /// Never: a thread with nothing to own gets no `Items`.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// All `N` elements are in bounds.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.n == N
    }

    /// Element `k` of the group (bounds-checked against [`len`](Self::len)).
    #[inline(always)]
    pub fn get_mut(&mut self, k: usize) -> &mut T {
        assert!(k < self.n, "item index out of bounds");
        // SAFETY: `start + k < len` of the output, inside this thread's group.
        unsafe { &mut *self.ptr.add(k) }
    }

    /// Set element `k` of the group (bounds-checked).
    #[inline(always)]
    pub fn set(&mut self, k: usize, v: T) {
        *self.get_mut(k) = v;
    }

    /// Write the group: 16-byte stores when it is whole and the launch's alignment allows,
    /// otherwise the in-bounds elements one by one.
    #[inline(always)]
    pub fn store(&mut self, vals: [T; N]) {
        if self.vec_ok && self.n == N {
            // SAFETY: `N` elements in bounds, owned by this thread; `vec_ok` means the group
            // starts 16-byte aligned and is a whole number of 16-byte chunks, so the aligned
            // write compiles to vector stores of exactly these bytes.
            unsafe {
                let mut k = 0;
                while k < N {
                    let mut c = T::splat(T::ZERO);
                    c.as_mut().copy_from_slice(&vals[k..k + T::LANES]);
                    store_chunk(self.ptr.add(k), c);
                    k += T::LANES;
                }
            }
        } else {
            // A constant trip count keeps `vals` in registers (constant indices after unrolling).
            for (k, v) in vals.into_iter().enumerate() {
                if k < self.n {
                    // SAFETY: `k < n`, inside this thread's group.
                    unsafe { *self.ptr.add(k) = v };
                }
            }
        }
    }

    /// The group as a slice.
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: `n` elements in bounds, owned by this thread.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.n) }
    }
}

impl<T: Element, const N: usize> OutSlice<T, PerThread<N>> {
    /// The group this thread owns, `None` past the end.
    #[inline(always)]
    pub fn thread_items(&mut self) -> Option<Items<'_, T, N>> {
        let start = global_linear_id().checked_mul(N)?;
        if start >= self.len {
            return None;
        }
        Some(Items {
            // SAFETY: `start < len`.
            ptr: unsafe { self.ptr.add(start) },
            start,
            n: (self.len - start).min(N),
            vec_ok: self.vec_ok,
            _out: PhantomData,
        })
    }
}

impl<T> OutSlice<T, PerThread<1>> {
    /// The element this thread owns: index [`global_linear_id`]. `None` past the end.
    #[inline(always)]
    pub fn thread_elem(&mut self) -> Option<(usize, &mut T)> {
        let i = global_linear_id();
        if i < self.len {
            // SAFETY: `i < len`, and no other thread of the launch has linear id `i`.
            Some((i, unsafe { &mut *self.ptr.add(i) }))
        } else {
            None
        }
    }
}

/// Four consecutive elements at a 16-byte-aligned address: loads and stores of it compile to one
/// vector instruction (`ld.global.v4` / `st.global.v4` for 4-byte `T`).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Quad<T>(pub [T; 4]);

/// The group of four elements a thread owns in [`OutSlice::thread_quad`].
pub enum QuadMut<'a, T> {
    /// All four in bounds and 16-byte aligned.
    Full(&'a mut Quad<T>),
    /// The in-bounds part of a group that runs past the end (or is misaligned): element-wise.
    Partial(&'a mut [T]),
}

impl<T> OutSlice<T, PerThread<4>> {
    /// The group of four elements `4*id .. 4*id + 4` this thread owns, as one aligned [`Quad`]
    /// when possible. `None` past the end.
    #[inline(always)]
    pub fn thread_quad(&mut self) -> Option<(usize, QuadMut<'_, T>)> {
        let start = global_linear_id().checked_mul(4)?;
        if start >= self.len {
            return None;
        }
        // SAFETY: `start < len`; the group `start..min(start+4, len)` belongs to this thread
        // alone, so one `&mut` to it is unique.
        unsafe {
            let p = self.ptr.add(start);
            if start + 4 <= self.len && aligned(p) {
                Some((start, QuadMut::Full(&mut *(p as *mut Quad<T>))))
            } else {
                let n = (self.len - start).min(4);
                Some((
                    start,
                    QuadMut::Partial(core::slice::from_raw_parts_mut(p, n)),
                ))
            }
        }
    }
}

impl<T: Element, const N: usize> OutSlice<T, PerThread<N>> {
    /// The 16-byte group this thread owns under `PerThread<N>` when `N` elements are 16
    /// bytes (four `f32`, eight `bf16`): elements `N·id .. N·id + N` as one aligned
    /// [`Packet`](crate::vector::Packet) when possible. `None` past the end. A view whose `N`
    /// is not one packet traps.
    #[inline(always)]
    pub fn thread_packet(&mut self) -> Option<(usize, PacketMut<'_, T>)> {
        let per = 16 / core::mem::size_of::<T>();
        assert!(
            N == per,
            "thread_packet needs PerThread<16 / size_of::<T>()>"
        );
        let start = global_linear_id().checked_mul(per)?;
        if start >= self.len {
            return None;
        }
        // SAFETY: `start < len`; the group `start..min(start+per, len)` belongs to this thread
        // alone (`PerThread<N>` with `N = per`), so one `&mut` to it is unique.
        unsafe {
            let p = self.ptr.add(start);
            if start + per <= self.len && (p as usize).is_multiple_of(16) {
                Some((
                    start,
                    PacketMut::Full(&mut *(p as *mut crate::vector::Packet)),
                ))
            } else {
                let n = (self.len - start).min(per);
                Some((
                    start,
                    PacketMut::Partial(core::slice::from_raw_parts_mut(p, n)),
                ))
            }
        }
    }
}

impl<T> OutSlice<T, Manual> {
    /// The `K` 16-byte groups this thread owns under the strided-packets rule: packets
    /// `id, id + T, .., id + (K-1)·T` for linear thread id `id` and `T` threads in the launch
    /// (each packet is `16 / size_of::<T>()` elements). Each access instruction of a warp stays
    /// fully coalesced, and a thread can have all `K` loads in flight before it computes. Entries
    /// past the end are `None`.
    ///
    /// # Safety
    /// Every thread of the launch accesses this output only through this claim with the same
    /// `K` (the strided-packets rule is then a partition).
    #[inline(always)]
    pub unsafe fn claim_thread_packets<const K: usize>(
        &mut self,
    ) -> [Option<(usize, PacketMut<'_, T>)>; K] {
        // SAFETY: the caller's contract makes the strided-packets rule a partition of `out`.
        unsafe { strided_packets(self.ptr, self.len) }
    }

    /// Elements `i .. i + 16 / size_of::<T>()` as one [`Packet`](crate::vector::Packet) (a
    /// 16-byte vector store), or `None` when they are not all in bounds or not 16-byte aligned.
    ///
    /// # Safety
    /// As [`claim_mut`](Self::claim_mut), for all the packet's elements.
    #[inline(always)]
    pub unsafe fn claim_packet_mut(&mut self, i: usize) -> Option<&mut crate::vector::Packet> {
        let end = i.checked_add(16 / core::mem::size_of::<T>())?;
        if end > self.len {
            return None;
        }
        // SAFETY: `i < len`.
        let p = unsafe { self.ptr.add(i) };
        if !(p as usize).is_multiple_of(16) {
            return None;
        }
        // SAFETY: in bounds and aligned; exclusivity is the caller's contract.
        Some(unsafe { &mut *(p as *mut crate::vector::Packet) })
    }

    /// The first `rows · per_row` packets as `rows` rows of `per_row` packets, with one bounds
    /// and alignment check for all of them (`None` when they are not all in bounds or the
    /// output is not 16-byte aligned): a row kernel claims its output once per launch and
    /// takes each row's [`PacketSpan`] with [`PacketRows::row`], whose only check is the row
    /// index, so that nothing but the row's base pointer is live across its arithmetic.
    ///
    /// # Safety
    /// As [`claim_mut`](Self::claim_mut), for the elements of every packet stored through the
    /// rows' spans: no other thread writes them during the launch (threads sharing a row store
    /// disjoint packets).
    #[inline(always)]
    pub unsafe fn claim_packet_rows_mut(
        &mut self,
        rows: usize,
        per_row: usize,
    ) -> Option<PacketRows<'_>> {
        let per = 16 / core::mem::size_of::<T>();
        if rows.checked_mul(per_row)?.checked_mul(per)? > self.len {
            return None;
        }
        if !(self.ptr as usize).is_multiple_of(16) {
            return None;
        }
        Some(PacketRows {
            first: self.ptr as *mut crate::vector::Packet,
            rows,
            per_row,
            _out: PhantomData,
        })
    }
}

/// An output claimed as rows of whole packets ([`OutSlice::claim_packet_rows_mut`]).
pub struct PacketRows<'a> {
    first: *mut crate::vector::Packet,
    rows: usize,
    per_row: usize,
    _out: PhantomData<&'a mut ()>,
}

impl PacketRows<'_> {
    /// Row `r`'s packets as a span (empty when `r` is past the last row). No `Option`: a
    /// caller that needs the row compares the span's [`len`](PacketSpan::len) once.
    #[inline(always)]
    pub fn row(&mut self, r: usize) -> PacketSpan<'_> {
        let ok = r < self.rows;
        PacketSpan {
            // `r · per_row` packets in, inside the claim when `ok` (checked when claimed).
            first: self
                .first
                .wrapping_add(if ok { r * self.per_row } else { 0 }),
            count: if ok { self.per_row } else { 0 },
            _out: PhantomData,
        }
    }
}

/// Consecutive output packets claimed together (a row of [`PacketRows`]): a base pointer and a
/// count.
pub struct PacketSpan<'a> {
    first: *mut crate::vector::Packet,
    count: usize,
    _out: PhantomData<&'a mut ()>,
}

impl PacketSpan<'_> {
    /// Number of packets in the span.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the span has no packet.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Stores `w` to packet `q` of the span (one 16-byte store); nothing for `q` past its end.
    #[inline(always)]
    pub fn set(&mut self, q: usize, w: [u32; 4]) {
        if q < self.count {
            // SAFETY: packet `q < count` was checked in bounds and 16-byte aligned when the
            // span was claimed, and no other thread stores it (the claim's contract).
            unsafe { (*self.first.add(q)).set(w) };
        }
    }
}

impl<T, const K: usize> OutSlice<T, StridedPackets<K>> {
    /// The `K` 16-byte packets this thread owns (see [`StridedPackets`]): `(first element,
    /// packet)` for each, `None` past the end. A whole, aligned packet is
    /// [`PacketMut::Full`] (one 16-byte store); the last, partial one is
    /// [`PacketMut::Partial`].
    #[inline(always)]
    pub fn thread_packets(&mut self) -> [Option<(usize, PacketMut<'_, T>)>; K] {
        // SAFETY: the view (`K` in the output's type) is the only way to this output, so every
        // thread of the launch uses the same `K` and the packets partition the output.
        unsafe { packets_at(self.ptr, self.len, strided_packet_indices::<K>()) }
    }

    /// The same packets as [`thread_packets`](Self::thread_packets), handed out one at a
    /// time: their indices first (for input loads issued before any output check), each
    /// packet's bounds and alignment checks only when it is [taken](ThreadPackets::take), so
    /// that nothing about the output is live across the math before it.
    #[inline(always)]
    pub fn thread_packet_set(&mut self) -> ThreadPackets<'_, T, K> {
        ThreadPackets {
            ptr: self.ptr,
            len: self.len,
            qs: strided_packet_indices::<K>(),
            taken: [false; K],
            _out: PhantomData,
        }
    }
}

/// This thread's `K` packets under [`StridedPackets<K>`], from
/// [`OutSlice::thread_packet_set`]: each can be taken once.
pub struct ThreadPackets<'a, T, const K: usize> {
    ptr: *mut T,
    len: usize,
    qs: [usize; K],
    taken: [bool; K],
    _out: PhantomData<&'a mut T>,
}

impl<'a, T, const K: usize> ThreadPackets<'a, T, K> {
    /// The packets' indices (packet `q` is elements `q·L ..`, `L = 16 / size_of::<T>()`);
    /// indices may lie past the end of the output.
    #[inline(always)]
    pub fn indices(&self) -> &[usize; K] {
        &self.qs
    }

    /// Packet `k` (`k < K`) as [`OutSlice::thread_packets`] gives it: `(first element,
    /// packet)`, `None` past the end, when `k >= K`, or when already taken.
    #[inline(always)]
    pub fn take(&mut self, k: usize) -> Option<(usize, PacketMut<'a, T>)> {
        if k >= K || self.taken[k] {
            return None;
        }
        self.taken[k] = true;
        // SAFETY: packet `qs[k]` is this thread's under the view (the `OutSlice` this set was
        // made from is borrowed for `'a`, so no other access exists), and it is handed out once.
        unsafe { packet_at(self.ptr, self.len, self.qs[k]) }
    }
}

/// This thread's packets under the strided-packets rule: `id + k·T` for `k < K` (linear id
/// `id`, `T` threads in the launch); `usize::MAX` where the index would overflow.
#[inline(always)]
fn strided_packet_indices<const K: usize>() -> [usize; K] {
    const { assert!(K < 1 << 16, "StridedPackets<K> takes K below 2^16") };
    let (bd, g) = (block_dim(), grid_dim());
    // A 1D launch (every map launch) gets the same linear id from the x registers alone: the
    // general formula's 64-bit products over three dimensions cost ~90 instructions before
    // the first load, on a thread that moves 32 bytes.
    if bd.y == 1 && bd.z == 1 && g.y == 1 && g.z == 1 {
        let id = block_idx().x as usize * bd.x as usize + thread_idx().x as usize;
        let step = g.x as usize * bd.x as usize;
        // id, step < 2^31 · 2^10 and k < 2^16: id + k·step < 2^58, no overflow.
        core::array::from_fn(|k| id + k * step)
    } else {
        let (id, step) = (global_linear_id(), grid_linear_threads());
        core::array::from_fn(|k| {
            k.checked_mul(step)
                .and_then(|o| id.checked_add(o))
                .unwrap_or(usize::MAX)
        })
    }
}

/// The strided-packets rule over the output `ptr[..len]`: packets `id + k·T` for `k < K`.
///
/// # Safety
/// `ptr[..len]` is a kernel output, and every thread of the launch accesses it only through
/// this rule with the same `K`.
#[inline(always)]
unsafe fn strided_packets<'a, T, const K: usize>(
    ptr: *mut T,
    len: usize,
) -> [Option<(usize, PacketMut<'a, T>)>; K] {
    // SAFETY: the caller's contract; the indices are this thread's under the rule.
    unsafe { packets_at(ptr, len, strided_packet_indices::<K>()) }
}

/// The packets `qs` of the output `ptr[..len]` (`None` past the end).
///
/// # Safety
/// `ptr[..len]` is a kernel output, and those of the packets `qs` that start inside it are
/// distinct and belong to this thread alone under the output's view.
#[inline(always)]
unsafe fn packets_at<'a, T, const K: usize>(
    ptr: *mut T,
    len: usize,
    qs: [usize; K],
) -> [Option<(usize, PacketMut<'a, T>)>; K] {
    // SAFETY: the caller's contract, packet by packet.
    core::array::from_fn(|k| unsafe { packet_at(ptr, len, qs[k]) })
}

/// Packet `q` of the output `ptr[..len]`: whole and aligned, partial, or `None` past the end.
///
/// # Safety
/// `ptr[..len]` is a kernel output, packet `q` belongs to this thread alone under the output's
/// view, and no other reference to it exists.
#[inline(always)]
unsafe fn packet_at<'a, T>(ptr: *mut T, len: usize, q: usize) -> Option<(usize, PacketMut<'a, T>)> {
    let per = 16 / core::mem::size_of::<T>();
    let start = q.checked_mul(per)?;
    if start >= len {
        return None;
    }
    // SAFETY: `start < len`; the packet is this thread's alone (the caller's contract), so the
    // `&mut` is unique.
    unsafe {
        let p = ptr.add(start);
        if start + per <= len && (p as usize).is_multiple_of(16) {
            Some((
                start,
                PacketMut::Full(&mut *(p as *mut crate::vector::Packet)),
            ))
        } else {
            let n = (len - start).min(per);
            Some((
                start,
                PacketMut::Partial(core::slice::from_raw_parts_mut(p, n)),
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GridStride

impl<T> OutSlice<T, GridStride> {
    /// The elements this thread owns: `id, id + T, id + 2T, ...` for linear id `id` and `T`
    /// threads in the grid. Yields `(index, &mut element)`.
    #[inline(always)]
    pub fn grid_stride(&mut self) -> GridStrideMut<'_, T> {
        GridStrideMut {
            ptr: self.ptr,
            len: self.len,
            next: global_linear_id(),
            step: grid_linear_threads(),
            _out: PhantomData,
        }
    }
}

/// The group of elements a thread owns in [`OutSlice::thread_packet`].
pub enum PacketMut<'a, T> {
    /// All in bounds and 16-byte aligned: store it as one packet.
    Full(&'a mut crate::vector::Packet),
    /// The in-bounds part of a group that runs past the end (or is misaligned): element-wise.
    Partial(&'a mut [T]),
}

/// Iterator of [`OutSlice::grid_stride`].
pub struct GridStrideMut<'a, T> {
    ptr: *mut T,
    len: usize,
    next: usize,
    step: usize,
    _out: PhantomData<&'a mut T>,
}

impl<'a, T> Iterator for GridStrideMut<'a, T> {
    type Item = (usize, &'a mut T);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        if i >= self.len {
            return None;
        }
        self.next = i.saturating_add(self.step);
        // SAFETY: `i < len`; grid-stride indices of distinct threads are disjoint.
        Some((i, unsafe { &mut *self.ptr.add(i) }))
    }
}

// ---------------------------------------------------------------------------------------------
// BlockRows, WarpRows

/// Linear index of this block in the grid.
#[inline(always)]
fn block_linear_id() -> usize {
    let (b, g) = (block_idx(), grid_dim());
    (b.z as usize * g.y as usize + b.y as usize) * g.x as usize + b.x as usize
}

#[inline(always)]
fn threads_per_block() -> usize {
    let d = block_dim();
    d.x as usize * d.y as usize * d.z as usize
}

impl<T: Element, O: Ownership<Geometry = usize>> OutSlice<T, O> {
    /// The row length (or matrix width) the view was bound with.
    #[inline(always)]
    pub fn row_len(&self) -> usize {
        self.geom
    }

    /// Number of rows: `len / row_len`, rounded up (a last, partial row is a row).
    #[inline(always)]
    pub fn rows(&self) -> usize {
        if self.geom == 0 {
            0
        } else {
            self.len.div_ceil(self.geom)
        }
    }

    /// Row `r` with the given team, `None` when it does not exist.
    #[inline(always)]
    fn row_for(&mut self, r: usize, rank: usize, team: usize) -> Option<RowMut<'_, T>> {
        let cols = self.geom;
        let start = r.checked_mul(cols)?;
        if cols == 0 || start >= self.len {
            return None;
        }
        Some(RowMut {
            // SAFETY: `start < len`.
            ptr: unsafe { self.ptr.add(start) },
            len: (self.len - start).min(cols),
            index: r,
            rank,
            team,
            vec_ok: self.vec_ok,
            _out: PhantomData,
        })
    }
}

impl<T: Element> OutSlice<T, BlockRows> {
    /// The row this block owns (row = the block's linear index), shared by its threads; `None`
    /// for blocks past the last row.
    #[inline(always)]
    pub fn block_row(&mut self) -> Option<RowMut<'_, T>> {
        let (r, rank, team) = (
            block_linear_id(),
            block_linear_thread() as usize,
            threads_per_block(),
        );
        self.row_for(r, rank, team)
    }
}

impl<T: Element> OutSlice<T, WarpRows> {
    /// The row this warp owns (row = the warp's index in the grid), shared by its lanes; `None`
    /// past the last row.
    #[inline(always)]
    pub fn warp_row(&mut self) -> Option<RowMut<'_, T>> {
        let (t, n) = (block_linear_thread() as usize, threads_per_block());
        let (warp, lane) = (t / 32, t % 32);
        let warps = n.div_ceil(32);
        // The last warp of a block whose size is not a multiple of 32 has fewer lanes.
        let team = (n - warp * 32).min(32);
        let r = block_linear_id().checked_mul(warps)?.checked_add(warp)?;
        self.row_for(r, lane, team)
    }
}

/// A row owned by a block or a warp ([`OutSlice::block_row`], [`OutSlice::warp_row`]). Its
/// threads share it chunk by chunk: the thread of rank `k` in a team of `n` owns the 16-byte
/// chunks `k, k + n, k + 2n, ..` (chunk `q` is columns `q*L .. q*L + L`, `L = T::LANES`).
pub struct RowMut<'a, T> {
    ptr: *mut T,
    len: usize,
    index: usize,
    rank: usize,
    team: usize,
    vec_ok: bool,
    _out: PhantomData<&'a mut T>,
}

impl<'a, T: Element> RowMut<'a, T> {
    /// The row's index.
    #[inline(always)]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Elements in the row.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty row (never returned by the views).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Chunks in the row (the last may be partial).
    #[inline(always)]
    pub fn chunk_count(&self) -> usize {
        self.len.div_ceil(T::LANES)
    }

    /// This thread's rank in the team sharing the row.
    #[inline(always)]
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Threads sharing the row.
    #[inline(always)]
    pub fn team(&self) -> usize {
        self.team
    }

    /// The indices of the chunks this thread owns, to read inputs at the same positions (see
    /// [`crate::input::Input::for_each_chunk`]).
    #[inline(always)]
    pub fn owned(&self) -> Owned {
        Owned {
            next: self.rank,
            step: self.team,
            end: self.chunk_count(),
        }
    }

    /// Chunk `q` when this thread owns it, else `None`.
    #[inline(always)]
    pub fn chunk(&mut self, q: usize) -> Option<ChunkMut<'_, T>> {
        if q % self.team != self.rank || q >= self.chunk_count() {
            return None;
        }
        Some(self.chunk_at(q))
    }

    /// Every chunk this thread owns, in order.
    #[inline(always)]
    pub fn chunks(&mut self) -> RowChunks<'_, 'a, T> {
        let owned = self.owned();
        RowChunks { row: self, owned }
    }

    #[inline(always)]
    fn chunk_at(&mut self, q: usize) -> ChunkMut<'_, T> {
        let start = q * T::LANES;
        let n = (self.len - start).min(T::LANES);
        ChunkMut {
            // SAFETY: `start < len` (q < chunk_count).
            ptr: unsafe { self.ptr.add(start) },
            index: q,
            n,
            vec_ok: self.vec_ok && n == T::LANES,
            _out: PhantomData,
        }
    }
}

/// Chunk indices `first, first + step, ..` below `end`: the chunks one thread owns in a row.
#[derive(Clone, Copy, Debug)]
pub struct Owned {
    next: usize,
    step: usize,
    end: usize,
}

impl Owned {
    /// The first index (this thread's rank).
    #[inline(always)]
    pub fn first(&self) -> usize {
        self.next
    }

    /// The distance between indices (the team's size).
    #[inline(always)]
    pub fn step(&self) -> usize {
        self.step
    }

    /// The end: the row's chunk count.
    #[inline(always)]
    pub fn end(&self) -> usize {
        self.end
    }
}

impl Iterator for Owned {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        let q = self.next;
        if q >= self.end {
            return None;
        }
        self.next = q + self.step;
        Some(q)
    }
}

/// Iterator of [`RowMut::chunks`].
pub struct RowChunks<'r, 'a, T> {
    row: &'r mut RowMut<'a, T>,
    owned: Owned,
}

impl<'r, T: Element> Iterator for RowChunks<'r, '_, T> {
    type Item = ChunkMut<'r, T>;

    #[inline(always)]
    fn next(&mut self) -> Option<ChunkMut<'r, T>> {
        let q = self.owned.next()?;
        let c = self.row.chunk_at(q);
        // Each owned index is yielded once, so the chunks handed out are disjoint.
        Some(ChunkMut {
            ptr: c.ptr,
            index: c.index,
            n: c.n,
            vec_ok: c.vec_ok,
            _out: PhantomData,
        })
    }
}

/// One chunk of a row that this thread owns: up to `T::LANES` consecutive elements.
pub struct ChunkMut<'a, T> {
    ptr: *mut T,
    index: usize,
    n: usize,
    vec_ok: bool,
    _out: PhantomData<&'a mut T>,
}

impl<T: Element> ChunkMut<'_, T> {
    /// The chunk's index in its row.
    #[inline(always)]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Column of its first element in the row.
    #[inline(always)]
    pub fn start(&self) -> usize {
        self.index * T::LANES
    }

    /// Elements in the chunk: `T::LANES`, except at the end of the row.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.n
    }

    /// Never true: the views hand out no empty chunk.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Write the chunk: one 16-byte store when the launch's alignment allows, otherwise its
    /// in-bounds elements one by one.
    #[inline(always)]
    pub fn store(&mut self, c: T::Chunk) {
        if self.vec_ok {
            // SAFETY: a whole chunk in bounds, owned by this thread, 16-byte aligned (`vec_ok`).
            unsafe { store_chunk(self.ptr, c) }
        } else {
            // A constant trip count keeps `c` in registers (constant indices after unrolling).
            for k in 0..T::LANES {
                if k < self.n {
                    // SAFETY: `k < n`, inside this thread's chunk.
                    unsafe { *self.ptr.add(k) = c[k] };
                }
            }
        }
    }

    /// Element `k` of the chunk (bounds-checked).
    #[inline(always)]
    pub fn get_mut(&mut self, k: usize) -> &mut T {
        assert!(k < self.n, "chunk index out of bounds");
        // SAFETY: inside this thread's chunk.
        unsafe { &mut *self.ptr.add(k) }
    }

    /// Set element `k` of the chunk (bounds-checked).
    #[inline(always)]
    pub fn set(&mut self, k: usize, v: T) {
        *self.get_mut(k) = v;
    }
}

// ---------------------------------------------------------------------------------------------
// BlockTiles, ThreadTiles

impl<T: Element, const W: usize, const H: usize> OutSlice<T, BlockTiles<W, H>> {
    /// The tile this block owns, shared by its threads: block `(x, y)` owns rows `y*H..` and
    /// columns `x*W..`, clipped to the matrix. `None` for blocks outside the matrix, blocks
    /// with `z > 0`, and `cols == 0`.
    #[inline(always)]
    pub fn block_tile(&mut self) -> Option<BlockTileMut<'_, T>> {
        let cols = self.geom;
        let (b, d, t) = (block_idx(), block_dim(), thread_idx());
        if cols == 0 || W == 0 || H == 0 || b.z != 0 {
            return None;
        }
        let rows = self.len / cols;
        let row0 = (b.y as usize).checked_mul(H)?;
        let col0 = (b.x as usize).checked_mul(W)?;
        if row0 >= rows || col0 >= cols {
            return None;
        }
        Some(BlockTileMut {
            // SAFETY: `row0 * cols + col0 < rows * cols <= len`.
            ptr: unsafe { self.ptr.add(row0 * cols + col0) },
            stride: cols,
            rows: (rows - row0).min(H),
            cols: (cols - col0).min(W),
            origin: (row0, col0),
            band: H.div_ceil(d.y as usize),
            thread: (t.y as usize, t.x as usize),
            step: d.x as usize,
            // Threads with z > 0 would repeat (x, y): they own nothing.
            owner: t.z == 0,
            vec_ok: self.vec_ok,
            _out: PhantomData,
        })
    }
}

/// A block's tile of an [`OutSlice`] (see [`OutSlice::block_tile`]). Its threads share it in
/// 16-byte chunks of a row: thread `(tx, ty)` of a `(bx, by)` block owns, in each row of its
/// band `ty * R .. ty * R + R` (`R = ceil(H / by)`, [`band`](Self::band)), the chunks
/// `tx, tx + bx, ..` (chunk `q` is the tile columns `q*L .. q*L + L`, `L = T::LANES`).
pub struct BlockTileMut<'a, T> {
    ptr: *mut T,
    stride: usize,
    rows: usize,
    cols: usize,
    origin: (usize, usize),
    band: usize,
    thread: (usize, usize),
    step: usize,
    owner: bool,
    vec_ok: bool,
    _out: PhantomData<&'a mut T>,
}

impl<T: Element> BlockTileMut<'_, T> {
    /// `(row, column)` of the tile's first element in the whole matrix.
    #[inline(always)]
    pub fn origin(&self) -> (usize, usize) {
        self.origin
    }

    /// Rows of the tile inside the matrix (`H` except at the bottom edge).
    #[inline(always)]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the tile inside the matrix (`W` except at the right edge).
    #[inline(always)]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows of each thread's band: `ceil(H / block_dim.y)`.
    #[inline(always)]
    pub fn band(&self) -> usize {
        self.band
    }

    /// Chunks this thread owns in each row of its band: `tx, tx + block_dim.x, ..` below the
    /// tile's chunk count.
    #[inline(always)]
    pub fn owned_chunks(&self) -> usize {
        let chunks = self.cols.div_ceil(T::LANES);
        if !self.owner || self.thread.1 >= chunks {
            0
        } else {
            (chunks - self.thread.1).div_ceil(self.step)
        }
    }

    /// `(row, column)`, relative to [`origin`](Self::origin), of the first element of this
    /// thread's `j`-th chunk in row `i` of its band: `(ty * band + i, (tx + j * block_dim.x) * L)`.
    #[inline(always)]
    pub fn chunk_position(&self, i: usize, j: usize) -> (usize, usize) {
        (
            self.thread.0 * self.band + i,
            (self.thread.1 + j * self.step) * T::LANES,
        )
    }

    /// This thread's `j`-th chunk in row `i` of its band (at [`chunk_position(i, j)`]), `None`
    /// outside the tile or the band.
    ///
    /// [`chunk_position(i, j)`]: Self::chunk_position
    #[inline(always)]
    pub fn chunk_at(&mut self, i: usize, j: usize) -> Option<ChunkMut<'_, T>> {
        let (r, c) = self.chunk_position(i, j);
        if !self.owner || i >= self.band || r >= self.rows || c >= self.cols {
            return None;
        }
        let n = (self.cols - c).min(T::LANES);
        Some(ChunkMut {
            // SAFETY: `(r, c)` lies in the tile; the chunk belongs to this thread alone (its
            // band row and a column chunk congruent to `tx`), and the tile to this block.
            ptr: unsafe { self.ptr.add(r * self.stride + c) },
            index: c / T::LANES,
            n,
            vec_ok: self.vec_ok && n == T::LANES,
            _out: PhantomData,
        })
    }

    /// Slide an `N`-row window of `x` (same columns as the output) down each column chunk this
    /// thread owns, one band row at a time, and store what `f` computes from it: for the chunk
    /// at matrix row `r`, column `c`, `window[k]` is [`Rows::halo_chunk(r + k - N/2, c)`]
    /// (the chunk with a neighbour on each side, rows and columns outside the matrix clamped
    /// to its edge). A 3×3 stencil is `N = 3`.
    ///
    /// Each input row is read once per band (the window moves down in registers), and the
    /// rows below are read `D` rows ahead of their use, so `D` loads per thread stay in flight
    /// while `f` computes: the software-pipelined walk that keeps a stencil at the copy
    /// bandwidth with few registers (`6 (N + D)` values live for f32). `D <= 32`. Panics when
    /// `x` does not have the output's columns.
    ///
    /// [`Rows::halo_chunk(r + k - N/2, c)`]: crate::input::Rows::halo_chunk
    #[inline(always)]
    pub fn sweep_rows<const N: usize, const D: usize>(
        &mut self,
        x: &crate::input::Rows<'_, T>,
        mut f: impl FnMut(&[crate::input::HaloChunk<T>; N]) -> T::Chunk,
    ) {
        assert!(
            x.cols() == self.stride,
            "stencil input and output columns differ"
        );
        let half = N / 2;
        // This thread's band: rows `b .. b + end` of the tile.
        let b = self.thread.0 * self.band;
        let end = self.rows.saturating_sub(b).min(self.band);
        if end == 0 {
            return;
        }
        for j in 0..self.owned_chunks() {
            let (_, c) = self.chunk_position(0, j);
            let (r0, col) = (self.origin.0 + b, self.origin.1 + c);
            // The band's rows and the window's rows around them: N + end - 1 rows from r0 - half.
            let count = N + end - 1;
            let column = r0
                .checked_sub(half)
                .and_then(|first| x.halo_column(first, col, count));
            if let Some(mut column) = column {
                // Inside the matrix: no clamping, one pointer walking down, D rows ahead.
                self.sweep_column::<N, D>(j, end, || column.next(), &mut f);
            } else {
                // At the matrix's edges: each row clamped to it, one row ahead.
                let mut r = r0 as isize - half as isize;
                let load = || {
                    let h = x.halo_chunk(r, col);
                    r += 1;
                    h
                };
                self.sweep_column::<N, 1>(j, end, load, &mut f);
            }
        }
    }

    /// [`sweep_rows`](Self::sweep_rows) for chunk `j` of band rows `0 .. end`: `load` returns
    /// the window's input rows in order, each once (`N + end - 1` calls).
    #[inline(always)]
    fn sweep_column<const N: usize, const D: usize>(
        &mut self,
        j: usize,
        end: usize,
        mut load: impl FnMut() -> crate::input::HaloChunk<T>,
        f: &mut impl FnMut(&[crate::input::HaloChunk<T>; N]) -> T::Chunk,
    ) {
        use crate::input::HaloChunk;
        // window[k] = input row `i - N/2 + k` (band-relative) while band row `i` is computed;
        // ahead[k] = the row that enters the window after band row `i ≡ k (mod D)`.
        let mut window: [HaloChunk<T>; N] = crate::unroll::array(|_| load());
        let mut ahead: [HaloChunk<T>; D] = [HaloChunk::default(); D];
        crate::unroll::each::<D>(|k| {
            if k + 1 < end {
                ahead[k] = load();
            }
        });
        let mut i0 = 0;
        while i0 < end {
            crate::unroll::each::<D>(|k| {
                let i = i0 + k;
                if i < end {
                    let v = f(&window);
                    if let Some(mut out) = self.chunk_at(i, j) {
                        out.store(v);
                    }
                    crate::unroll::each::<N>(|m| {
                        if m + 1 < N {
                            window[m] = window[m + 1];
                        }
                    });
                    window[N - 1] = ahead[k];
                    if i + D + 1 < end {
                        ahead[k] = load();
                    }
                }
            });
            i0 += D;
        }
    }

    /// Call `f(row, column, element)` for every tile element this thread owns (positions
    /// relative to [`origin`](Self::origin)).
    #[inline(always)]
    pub fn for_each(&mut self, mut f: impl FnMut(usize, usize, &mut T)) {
        for j in 0..self.owned_chunks() {
            for i in 0..self.band {
                let (r, c) = self.chunk_position(i, j);
                if let Some(mut chunk) = self.chunk_at(i, j) {
                    for k in 0..chunk.len() {
                        f(r, c + k, chunk.get_mut(k));
                    }
                }
            }
        }
    }
}

impl<T, const W: usize, const H: usize> OutSlice<T, ThreadTiles<W, H>> {
    /// The `H x W` tile this thread owns in the output viewed as a row-major matrix of `cols`
    /// columns (`len / cols` rows): the thread with 2D global index `(x, y)`
    /// ([`crate::index::global_id_x`], [`crate::index::global_id_y`]) owns rows
    /// `y*H .. y*H+H` and columns `x*W .. x*W+W`, clipped to the matrix. `None` when that tile
    /// is empty, when `cols == 0`, or for threads with global z index > 0 (so 3D launches cannot
    /// give two threads the same tile).
    #[inline(always)]
    pub fn thread_tile(&mut self) -> Option<TileMut<'_, T>> {
        let cols = self.geom;
        if cols == 0 || W == 0 || H == 0 || crate::index::global_id_z() != 0 {
            return None;
        }
        let rows = self.len / cols;
        let row0 = crate::index::global_id_y().checked_mul(H)?;
        let col0 = crate::index::global_id_x().checked_mul(W)?;
        if row0 >= rows || col0 >= cols {
            return None;
        }
        Some(TileMut {
            // SAFETY: `row0 * cols + col0 < rows * cols <= len`.
            ptr: unsafe { self.ptr.add(row0 * cols + col0) },
            stride: cols,
            rows: (rows - row0).min(H),
            cols: (cols - col0).min(W),
            origin: (row0, col0),
            _out: PhantomData,
        })
    }
}

/// A thread's 2D tile of an [`OutSlice`] (see [`OutSlice::thread_tile`]): `&mut` access to its
/// in-bounds elements only, bounds-checked against the tile.
pub struct TileMut<'a, T> {
    ptr: *mut T,
    stride: usize,
    rows: usize,
    cols: usize,
    origin: (usize, usize),
    _out: PhantomData<&'a mut T>,
}

impl<T> TileMut<'_, T> {
    /// `(row, column)` of the tile's first element in the whole matrix.
    #[inline(always)]
    pub fn origin(&self) -> (usize, usize) {
        self.origin
    }

    /// Rows of the tile inside the matrix (`H` except at the bottom edge).
    #[inline(always)]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the tile inside the matrix (`W` except at the right edge).
    #[inline(always)]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Element `(r, c)` of the tile (relative to [`origin`](Self::origin)); panics (traps)
    /// outside the in-bounds part.
    #[inline(always)]
    pub fn get_mut(&mut self, r: usize, c: usize) -> &mut T {
        assert!(r < self.rows && c < self.cols, "tile index out of bounds");
        // SAFETY: inside this thread's tile, which no other thread owns.
        unsafe { &mut *self.ptr.add(r * self.stride + c) }
    }

    /// Row `r` of the tile (its in-bounds columns) as a slice.
    #[inline(always)]
    pub fn row_mut(&mut self, r: usize) -> &mut [T] {
        assert!(r < self.rows, "tile row out of bounds");
        // SAFETY: `cols` consecutive elements of row `r` of this thread's tile.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(r * self.stride), self.cols) }
    }
}

// ---------------------------------------------------------------------------------------------
// Atomic, Manual

impl<T: AtomicElem> OutSlice<T, Atomic> {
    /// The output as an [`AtomicSlice`]: any thread may update any element, atomically. Safe:
    /// the view guarantees that no thread accesses this output in any other way.
    #[inline(always)]
    pub fn atomic(&mut self) -> AtomicSlice<'_, T> {
        // SAFETY: the slice is valid global memory for the borrow, and under the `Atomic` view
        // every access to it is atomic.
        unsafe { AtomicSlice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T> OutSlice<T, Manual> {
    /// Element `i`, bounds-checked (out of range panics, i.e. traps), with exclusivity claimed
    /// by the caller.
    ///
    /// # Safety
    /// No other thread reads or writes element `i` while the returned reference lives; the
    /// caller states the ownership rule that guarantees it (e.g. a tile this block owns).
    #[inline(always)]
    pub unsafe fn claim_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "OutSlice index out of bounds");
        // SAFETY: in bounds; exclusivity is the caller's contract.
        unsafe { &mut *self.ptr.add(i) }
    }

    /// Elements `i .. i + 4` as one [`Quad`] (a 16-byte vector store), or `None` when they are
    /// not all in bounds or not 16-byte aligned.
    ///
    /// # Safety
    /// As [`claim_mut`](Self::claim_mut), for all four elements.
    #[inline(always)]
    pub unsafe fn claim_quad_mut(&mut self, i: usize) -> Option<&mut Quad<T>> {
        let end = i.checked_add(4)?;
        if end > self.len {
            return None;
        }
        // SAFETY: `i + 4 <= len`.
        let p = unsafe { self.ptr.add(i) };
        if !aligned(p) {
            return None;
        }
        // SAFETY: in bounds and aligned for `Quad<T>`; exclusivity is the caller's contract.
        Some(unsafe { &mut *(p as *mut Quad<T>) })
    }

    /// The output as an [`AtomicSlice`].
    ///
    /// # Safety
    /// While the returned view lives, no thread accesses the elements it updates other than
    /// atomically (mixing atomic and plain accesses to one element is a data race).
    #[inline(always)]
    pub unsafe fn claim_atomic(&mut self) -> AtomicSlice<'_, T>
    where
        T: AtomicElem,
    {
        // SAFETY: valid global memory for the borrow; atomic-only access is the caller's
        // contract.
        unsafe { AtomicSlice::from_raw_parts(self.ptr, self.len) }
    }

    /// Raw pointer to element 0, for audited primitives (tensor-core fragment stores).
    #[inline(always)]
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr
    }
}
