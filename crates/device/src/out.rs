//! Output views: each thread gets `&mut` only to the elements it owns.
//!
//! A kernel's outputs are shared by every thread of the launch, so a `&mut [T]` parameter would
//! hand every thread a mutable alias of the same memory. [`OutSlice`] instead exposes the
//! elements a thread owns under a fixed ownership rule (one element, or one group of four, per
//! linear thread id; or the grid-stride set), so two threads can never obtain `&mut` to the same
//! element through safe code. Anything else needs [`OutSlice::get_unchecked_mut`], whose contract
//! the caller states.
use crate::atomic::AtomicSlice;
use crate::index::{global_linear_id, grid_linear_threads};
use core::marker::PhantomData;

/// A device output slice: same ABI as `&mut [T]` (`{ptr: u64, len: u64}`), so the host passes a
/// device buffer and its length as one 16-byte parameter.
#[repr(C)]
pub struct OutSlice<T> {
    ptr: *mut T,
    len: usize,
    _owns: PhantomData<T>,
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

impl<T> OutSlice<T> {
    /// Number of elements in the whole output (not only this thread's part).
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element this thread owns under the one-thread-per-element rule: index
    /// [`global_linear_id`]. `None` for threads past the end.
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

    /// The elements this thread owns under the grid-stride rule: `id, id + T, id + 2T, ...` for
    /// linear id `id` and `T` threads in the grid. Yields `(index, &mut element)`.
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

    /// The group of four elements `4*id .. 4*id + 4` this thread owns under the
    /// four-per-thread rule, as one aligned [`Quad`] when possible. `None` past the end.
    #[inline(always)]
    pub fn thread_quad(&mut self) -> Option<(usize, QuadMut<'_, T>)> {
        let start = global_linear_id().checked_mul(4)?;
        if start >= self.len {
            return None;
        }
        // SAFETY: `start < len`; the group `start..min(start+4, len)` belongs to this thread
        // alone (four-per-thread rule), so one `&mut` to it is unique.
        unsafe {
            let p = self.ptr.add(start);
            if start + 4 <= self.len && (p as usize) % 16 == 0 {
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

    /// The 16-byte group this thread owns under the one-packet-per-thread rule: elements
    /// `PER·id .. PER·id + PER` (`PER` = 16 / element size, so four `f32` or eight `bf16`), as
    /// one aligned [`Packet`](crate::vector::Packet) when possible. `None` past the end.
    #[inline(always)]
    pub fn thread_packet(&mut self) -> Option<(usize, PacketMut<'_, T>)> {
        let per = 16 / core::mem::size_of::<T>();
        let start = global_linear_id().checked_mul(per)?;
        if start >= self.len {
            return None;
        }
        // SAFETY: `start < len`; the group `start..min(start+per, len)` belongs to this thread
        // alone (one-packet-per-thread rule), so one `&mut` to it is unique.
        unsafe {
            let p = self.ptr.add(start);
            if start + per <= self.len && (p as usize) % 16 == 0 {
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

    /// The `K` 16-byte groups this thread owns under the strided-packets rule: packets
    /// `id, id + T, .., id + (K-1)·T` for linear thread id `id` and `T` threads in the launch
    /// (each packet is `16 / size_of::<T>()` elements). Each access instruction of a warp stays
    /// fully coalesced, and a thread can have all `K` loads in flight before it computes. Entries
    /// past the end are `None`.
    #[inline(always)]
    pub fn thread_packets<const K: usize>(&mut self) -> [Option<(usize, PacketMut<'_, T>)>; K] {
        let per = 16 / core::mem::size_of::<T>();
        let (id, step) = (global_linear_id(), grid_linear_threads());
        let (ptr, len) = (self.ptr, self.len);
        core::array::from_fn(|k| {
            let start = id.checked_add(k.checked_mul(step)?)?.checked_mul(per)?;
            if start >= len {
                return None;
            }
            // SAFETY: `start < len`; packet `id + k·step` belongs to this thread alone (distinct
            // ids and distinct k give distinct packets), so the `&mut` are unique and disjoint.
            unsafe {
                let p = ptr.add(start);
                if start + per <= len && (p as usize) % 16 == 0 {
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
        })
    }

    /// Elements `i .. i + 16 / size_of::<T>()` as one [`Packet`](crate::vector::Packet) (a
    /// 16-byte vector store), or `None` when they are not all in bounds or not 16-byte aligned.
    ///
    /// # Safety
    /// As [`get_unchecked_mut`](Self::get_unchecked_mut), for all the packet's elements.
    #[inline(always)]
    pub unsafe fn packet_unchecked_mut(&mut self, i: usize) -> Option<&mut crate::vector::Packet> {
        let end = i.checked_add(16 / core::mem::size_of::<T>())?;
        if end > self.len {
            return None;
        }
        // SAFETY: `i < len`.
        let p = unsafe { self.ptr.add(i) };
        if (p as usize) % 16 != 0 {
            return None;
        }
        // SAFETY: in bounds and aligned; exclusivity is the caller's contract.
        Some(unsafe { &mut *(p as *mut crate::vector::Packet) })
    }

    /// Any element, by index. Bounds-checked (a panic traps the kernel).
    ///
    /// # Safety
    /// No other thread may read or write element `i` while the returned reference lives; the
    /// caller states the ownership rule that guarantees it (e.g. a tile this block owns).
    #[inline(always)]
    pub unsafe fn get_unchecked_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "OutSlice index out of bounds");
        // SAFETY: in bounds; exclusivity is the caller's contract.
        unsafe { &mut *self.ptr.add(i) }
    }

    /// Elements `i .. i + 4` as one [`Quad`] (a 16-byte vector store), or `None` when they are
    /// not all in bounds or not 16-byte aligned.
    ///
    /// # Safety
    /// As [`get_unchecked_mut`](Self::get_unchecked_mut), for all four elements.
    #[inline(always)]
    pub unsafe fn quad_unchecked_mut(&mut self, i: usize) -> Option<&mut Quad<T>> {
        let end = i.checked_add(4)?;
        if end > self.len {
            return None;
        }
        // SAFETY: `i + 4 <= len`.
        let p = unsafe { self.ptr.add(i) };
        if (p as usize) % 16 != 0 {
            return None;
        }
        // SAFETY: in bounds and aligned for `Quad<T>`; exclusivity is the caller's contract.
        Some(unsafe { &mut *(p as *mut Quad<T>) })
    }

    /// The output as an [`AtomicSlice`]: any thread may then update any element, atomically.
    ///
    /// # Safety
    /// For the rest of the launch, no thread accesses this output other than through atomic
    /// views (no [`thread_elem`](Self::thread_elem) etc. in some threads while others use
    /// atomics): mixing atomic and plain accesses to one element is a data race.
    #[inline(always)]
    pub unsafe fn as_atomic(&mut self) -> AtomicSlice<'_, T> {
        // SAFETY: the slice is valid global memory for the borrow; atomic-only access is the
        // caller's contract.
        unsafe { AtomicSlice::from_raw_parts(self.ptr, self.len) }
    }

    /// The `TH x TW` tile this thread owns in the output viewed as a row-major matrix of
    /// `cols` columns (`len / cols` rows): the thread with 2D global index `(x, y)`
    /// ([`crate::index::global_id_x`], [`crate::index::global_id_y`]) owns rows
    /// `y*TH .. y*TH+TH` and columns `x*TW .. x*TW+TW`, clipped to the matrix. `None` when that
    /// tile is empty, when `cols == 0`, or for threads with global z index > 0 (so 3D launches
    /// cannot give two threads the same tile).
    ///
    /// Ownership is disjoint as long as every thread of the launch uses the same `cols`, `TW`
    /// and `TH` (and no other ownership rule) on this output: pass them from kernel arguments
    /// or constants, not from per-thread values.
    #[inline(always)]
    pub fn thread_tile<const TW: usize, const TH: usize>(
        &mut self,
        cols: usize,
    ) -> Option<TileMut<'_, T>> {
        if cols == 0 || TW == 0 || TH == 0 || crate::index::global_id_z() != 0 {
            return None;
        }
        let rows = self.len / cols;
        let row0 = crate::index::global_id_y().checked_mul(TH)?;
        let col0 = crate::index::global_id_x().checked_mul(TW)?;
        if row0 >= rows || col0 >= cols {
            return None;
        }
        Some(TileMut {
            // SAFETY: `row0 * cols + col0 < rows * cols <= len`.
            ptr: unsafe { self.ptr.add(row0 * cols + col0) },
            stride: cols,
            rows: (rows - row0).min(TH),
            cols: (cols - col0).min(TW),
            origin: (row0, col0),
            _out: PhantomData,
        })
    }

    /// Raw pointer to element 0, for the device library's own audited primitives.
    #[inline(always)]
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr
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

    /// Rows of the tile inside the matrix (`TH` except at the bottom edge).
    #[inline(always)]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the tile inside the matrix (`TW` except at the right edge).
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
