//! Input views: 16-byte reads with the alignment decided once, and several loads in flight.
//!
//! Kernel inputs are `&[T]`, read with bounds checks. For bandwidth, [`Input`] reads them in
//! 16-byte chunks (one `ld.global.nc.v4` each) at the same positions the output views hand out
//! ([`crate::out::RowMut::owned`], [`crate::out::Items`]), and [`Input::for_each_chunk`] keeps
//! several of those loads in flight before using any. Whether a chunk can be one vector load
//! (aligned start, rows of whole chunks) is decided when the view is made, which in a kernel is
//! the same for every thread of the launch, so the loops carry no per-access alignment test.
use crate::elem::{Element, load_chunk, load_elem};
use crate::out::Owned;

/// A kernel input (or one row of it) read in 16-byte chunks.
#[derive(Clone, Copy)]
pub struct Input<'a, T> {
    s: &'a [T],
    vec_ok: bool,
}

impl<'a, T: Element> Input<'a, T> {
    /// The whole slice.
    #[inline(always)]
    pub fn new(s: &'a [T]) -> Input<'a, T> {
        Input {
            s,
            vec_ok: (s.as_ptr() as usize).is_multiple_of(16),
        }
    }

    /// The underlying slice.
    #[inline(always)]
    pub fn as_slice(&self) -> &'a [T] {
        self.s
    }

    /// Number of elements.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.s.len()
    }

    /// True when there are no elements.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// Element `i` (bounds-checked), through the read-only data path.
    #[inline(always)]
    pub fn get(&self, i: usize) -> T {
        let e = &self.s[i];
        // SAFETY: a reference into a kernel input: aligned, in global memory, and not written
        // during the launch (outputs are borrowed mutably by the host launcher).
        unsafe { load_elem(e) }
    }

    /// Element `i`, or `None` past the end (for stencils' borders).
    #[inline(always)]
    pub fn try_get(&self, i: usize) -> Option<T> {
        self.s.get(i).map(|e| {
            // SAFETY: as in `get`.
            unsafe { load_elem(e) }
        })
    }

    /// Chunk `q` with its neighbours `(x[s - 1], x[s .. s + L], x[s + L])` for `s = q * L`,
    /// positions outside the input clamped to its first or last element: what an
    /// edge-replicating stencil reads around a chunk (lanes past the end of a partial last
    /// chunk repeat the last element too). One bounds test, then one 16-byte load and two
    /// scalar loads through the read-only path when the chunk is whole and aligned. A `q` past
    /// the end panics.
    #[inline(always)]
    pub fn chunk_with_halo(&self, q: usize) -> (T, T::Chunk, T) {
        let h = self.halo_at(q * T::LANES);
        (h.left, h.chunk, h.right)
    }

    /// The `L = T::LANES` elements from `start` with one neighbour on each side
    /// (`x[start - 1 ..= start + L]`), positions outside the input clamped to its first or last
    /// element (see [`chunk_with_halo`](Self::chunk_with_halo), which is this at `q * L`). One
    /// 16-byte load and two scalar loads when `start` is a chunk boundary inside the input.
    /// A `start` past the end panics.
    #[inline(always)]
    pub fn halo_at(&self, start: usize) -> HaloChunk<T> {
        let n = self.s.len();
        assert!(start < n, "input chunk out of bounds");
        let last = n - 1;
        let base = self.s.as_ptr();
        if self.vec_ok && start.is_multiple_of(T::LANES) && start >= 1 && start + T::LANES < n {
            // Inside the input: one base address, the neighbours at constant offsets from it.
            // SAFETY: elements `start - 1 ..= start + L` are in bounds (checked just above), the
            // chunk is 16-byte aligned (`vec_ok`, and `start` is a chunk boundary), all in global
            // memory that no thread writes during the launch.
            return unsafe {
                let p = base.add(start);
                HaloChunk {
                    left: load_elem(p.sub(1)),
                    chunk: load_chunk(p),
                    right: load_elem(p.add(T::LANES)),
                }
            };
        }
        // At the edges (or unaligned): every position clamped to `last`. Every index below is
        // at most `last < n` (asserted above), so each pointer is in bounds, aligned for `T`, in
        // global memory not written during the launch.
        let at = |i: usize| {
            // SAFETY: `i <= last < n` at every call (see above).
            unsafe { load_elem(base.add(i)) }
        };
        let mut c = T::splat(T::ZERO);
        for k in 0..T::LANES {
            c[k] = at((start + k).min(last));
        }
        HaloChunk {
            left: at(start.max(1) - 1),
            chunk: c,
            right: at((start + T::LANES).min(last)),
        }
    }

    /// Chunks in the input (the last may be partial).
    #[inline(always)]
    pub fn chunk_count(&self) -> usize {
        self.s.len().div_ceil(T::LANES)
    }

    /// Chunk `q`: elements `q*L .. q*L + L` (`L = T::LANES`), one 16-byte load when aligned and
    /// whole; lanes past the end read as zero. A `q` past the end panics.
    #[inline(always)]
    pub fn chunk(&self, q: usize) -> T::Chunk {
        let start = q * T::LANES;
        if self.vec_ok && start + T::LANES <= self.s.len() {
            // SAFETY: in bounds, 16-byte aligned (the view's start is, and so is every chunk),
            // in global memory, and inputs are not written during the launch (outputs are
            // borrowed mutably by the host launcher, so they cannot alias an input).
            return unsafe { load_chunk(self.s.as_ptr().add(start)) };
        }
        // Element by element (inline: an out-of-line function returning an array would give
        // every caller a stack frame).
        assert!(start < self.s.len(), "input chunk out of bounds");
        let mut c = T::splat(T::ZERO);
        for k in 0..T::LANES {
            if let Some(v) = self.try_get(start + k) {
                c[k] = v;
            }
        }
        c
    }

    /// Whole chunks (those a single 16-byte load can read).
    #[inline(always)]
    fn whole_chunks(&self) -> usize {
        self.s.len() / T::LANES
    }

    /// `N` elements from `start` (as the [`crate::out::Items`] of a `PerThread<N>` output):
    /// 16-byte loads when the group is whole and aligned, else element by element; elements
    /// past the end read as zero.
    #[inline(always)]
    pub fn items<const N: usize>(&self, start: usize) -> [T; N] {
        let mut v = [T::ZERO; N];
        if self.vec_ok
            && (N * core::mem::size_of::<T>()).is_multiple_of(16)
            && start.checked_add(N).is_some_and(|e| e <= self.s.len())
        {
            let mut k = 0;
            while k < N {
                // SAFETY: in bounds; `start * size` and `k * size` are multiples of 16 (the
                // group size is, and groups start at multiples of it), so the load is aligned.
                let c = unsafe { load_chunk(self.s.as_ptr().add(start + k)) };
                crate::unroll::each::<16>(|l| {
                    if l < T::LANES {
                        v[k + l] = c[l];
                    }
                });
                k += T::LANES;
            }
            return v;
        }
        for (k, x) in v.iter_mut().enumerate() {
            if let Some(e) = self.s.get(start + k) {
                *x = *e;
            }
        }
        v
    }

    /// Call `f(q, chunk)` for every chunk index `q` of `owned` (a row's [`RowMut::owned`]),
    /// issuing `K` loads before using any of them, so that `K` 16-byte loads per thread are in
    /// flight: the way to reach full bandwidth when each thread reads only a few chunks.
    ///
    /// [`RowMut::owned`]: crate::out::RowMut::owned
    #[inline(always)]
    pub fn for_each_chunk<const K: usize>(&self, owned: Owned, mut f: impl FnMut(usize, T::Chunk)) {
        let (step, end) = (owned.step(), owned.end().min(self.chunk_count()));
        let whole = self.whole_chunks();
        let mut q = owned.first();
        // Unrolled by construction (`crate::unroll`): the K chunks stay in registers.
        while q < end {
            let mut vs = [T::splat(T::ZERO); K];
            if self.vec_ok && q + (K - 1) * step < whole {
                // All K chunks whole and aligned: K straight-line vector loads.
                crate::unroll::each::<K>(|j| {
                    // SAFETY: chunk `q + j*step < whole` lies inside the slice, 16-byte aligned
                    // (`vec_ok`), in global memory that no thread writes during the launch.
                    vs[j] = unsafe { load_chunk(self.s.as_ptr().add((q + j * step) * T::LANES)) };
                });
            } else {
                crate::unroll::each::<K>(|j| {
                    if q + j * step < end {
                        vs[j] = self.chunk(q + j * step);
                    }
                });
            }
            crate::unroll::each::<K>(|j| {
                if q + j * step < end {
                    f(q + j * step, vs[j]);
                }
            });
            q += K * step;
        }
    }
}

/// A chunk of `L = T::LANES` elements with one neighbour on each side, `x[s - 1 ..= s + L]`:
/// what a 3-wide stencil reads around the chunk it computes ([`Input::halo_at`],
/// [`Rows::halo_chunk`]).
#[derive(Clone, Copy)]
pub struct HaloChunk<T: Element> {
    /// `x[s - 1]`
    pub left: T,
    /// `x[s .. s + L]`
    pub chunk: T::Chunk,
    /// `x[s + L]`
    pub right: T,
}

impl<T: Element> HaloChunk<T> {
    /// Element `k` of `x[s - 1 ..= s + L]` (`k = 0` is the left neighbour, `k = L + 1` the
    /// right one; a constant `k` costs nothing). A `k` past `L + 1` panics.
    #[inline(always)]
    pub fn at(&self, k: usize) -> T {
        if k == 0 {
            self.left
        } else if k <= T::LANES {
            self.chunk[k - 1]
        } else {
            assert!(k == T::LANES + 1, "halo index out of range");
            self.right
        }
    }
}

impl<T: Element> Default for HaloChunk<T> {
    #[inline(always)]
    fn default() -> Self {
        HaloChunk {
            left: T::ZERO,
            chunk: T::splat(T::ZERO),
            right: T::ZERO,
        }
    }
}

/// A row-major matrix input of `cols` columns, read row by row in chunks.
#[derive(Clone, Copy)]
pub struct Rows<'a, T> {
    s: &'a [T],
    cols: usize,
    vec_ok: bool,
}

impl<'a, T: Element> Rows<'a, T> {
    /// `s` as rows of `cols` elements (the last row may be partial). Rows can be read with
    /// 16-byte loads when `s` starts aligned and a row is a whole number of chunks.
    #[inline(always)]
    pub fn new(s: &'a [T], cols: usize) -> Rows<'a, T> {
        Rows {
            s,
            cols,
            vec_ok: (s.as_ptr() as usize).is_multiple_of(16)
                && (cols * core::mem::size_of::<T>()).is_multiple_of(16),
        }
    }

    /// The whole input.
    #[inline(always)]
    pub(crate) fn as_slice(&self) -> &'a [T] {
        self.s
    }

    /// Whether rows can be read in 16-byte chunks (aligned base, rows of whole chunks).
    #[inline(always)]
    pub(crate) fn vec_ok(&self) -> bool {
        self.vec_ok
    }

    /// Columns per row.
    #[inline(always)]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of rows (a last, partial row counts).
    #[inline(always)]
    pub fn rows(&self) -> usize {
        if self.cols == 0 {
            0
        } else {
            self.s.len().div_ceil(self.cols)
        }
    }

    /// Row `r` (bounds-checked: a row past the end panics).
    #[inline(always)]
    pub fn row(&self, r: usize) -> Input<'a, T> {
        let start = r * self.cols;
        let end = (start + self.cols).min(self.s.len());
        Input {
            s: &self.s[start..end],
            vec_ok: self.vec_ok,
        }
    }

    /// Row `r`, or `None` past the last row.
    #[inline(always)]
    pub fn try_row(&self, r: usize) -> Option<Input<'a, T>> {
        let start = r.checked_mul(self.cols)?;
        if start >= self.s.len() {
            return None;
        }
        let end = start.saturating_add(self.cols).min(self.s.len());
        Some(Input {
            s: self.s.get(start..end)?,
            vec_ok: self.vec_ok,
        })
    }

    /// The `L` elements of row `r` from column `c` with one neighbour on each side
    /// ([`Input::halo_at`]), rows and columns outside the matrix clamped to its edge: an
    /// edge-replicating stencil's read around a chunk. A matrix with no rows, or `c` past the
    /// row, panics.
    #[inline(always)]
    pub fn halo_chunk(&self, r: isize, c: usize) -> HaloChunk<T> {
        let rows = self.rows();
        assert!(rows > 0, "halo of an empty matrix");
        self.row(r.clamp(0, rows as isize - 1) as usize).halo_at(c)
    }

    /// The halo chunks at column `c` of rows `r, r + 1, ..` (`count` of them), read downwards
    /// with every bound checked here, once: `Some` when those rows are whole rows of the
    /// input, `c` is a chunk boundary with `1 <= c` and `c + L < cols` (both neighbours inside
    /// the row), and rows can be read in 16-byte loads. Each [`HaloColumn::next`] is then one
    /// 16-byte and two scalar loads at constant offsets from one pointer.
    #[inline(always)]
    pub fn halo_column(&self, r: usize, c: usize, count: usize) -> Option<HaloColumn<'a, T>> {
        let end_row = r.checked_add(count)?;
        let inside = self.vec_ok
            && c.is_multiple_of(T::LANES)
            && c >= 1
            && c.checked_add(T::LANES)? < self.cols
            && end_row.checked_mul(self.cols)? <= self.s.len();
        if !inside {
            return None;
        }
        Some(HaloColumn {
            // In bounds whenever count > 0 (checked above); one past the last row otherwise.
            p: self.s.as_ptr().wrapping_add(r * self.cols + c),
            stride: self.cols,
            left: count,
            _s: core::marker::PhantomData,
        })
    }

    /// Element `(r, c)` (bounds-checked against the slice and the row).
    #[inline(always)]
    pub fn get(&self, r: usize, c: usize) -> T {
        assert!(c < self.cols, "column out of bounds");
        self.s[r * self.cols + c]
    }

    /// Element `(r, c)`, or `None` outside the matrix (for stencils' borders).
    #[inline(always)]
    pub fn try_get(&self, r: usize, c: usize) -> Option<T> {
        if c >= self.cols {
            return None;
        }
        self.s
            .get(r.checked_mul(self.cols)?.checked_add(c)?)
            .copied()
    }
}

/// Rows of one column position read downwards (see [`Rows::halo_column`]): the bounds were
/// checked when it was made, so each row costs one count test and three loads.
pub struct HaloColumn<'a, T> {
    p: *const T,
    stride: usize,
    left: usize,
    _s: core::marker::PhantomData<&'a [T]>,
}

impl<T: Element> HaloColumn<'_, T> {
    /// Rows not read yet.
    #[inline(always)]
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// The next row's halo chunk. Panics once all `count` rows were read.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> HaloChunk<T> {
        assert!(self.left > 0, "halo column read past its rows");
        self.left -= 1;
        let p = self.p;
        self.p = p.wrapping_add(self.stride);
        // SAFETY: `Rows::halo_column` checked that each of the `count` rows from `p` is a whole
        // row inside the input, that `p - 1 ..= p + L` lies inside it (1 <= c, c + L < cols),
        // and that `p` is 16-byte aligned (aligned base, rows and `c` of whole chunks); this is
        // one of those rows (`left > 0`). Inputs are global memory no thread writes during the
        // launch.
        unsafe {
            HaloChunk {
                left: load_elem(p.sub(1)),
                chunk: load_chunk(p),
                right: load_elem(p.add(T::LANES)),
            }
        }
    }
}

/// An input slice viewed as its whole 16-byte chunks plus the elements after them, when it
/// starts 16-byte aligned (always true for a whole device allocation): reading chunk `q` is one
/// `ld.global.nc.v4` with only a bounds check, so grid-stride loops over it carry no alignment
/// branches. [`crate::Quads`] for any [`Element`].
#[derive(Clone, Copy)]
pub struct Chunks<'a, T> {
    s: &'a [T],
    n: usize,
}

impl<'a, T: Element> Chunks<'a, T> {
    /// `None` when `s` does not start on a 16-byte boundary.
    #[inline(always)]
    pub fn new(s: &'a [T]) -> Option<Chunks<'a, T>> {
        if !(s.as_ptr() as usize).is_multiple_of(16) {
            return None;
        }
        Some(Chunks {
            s,
            n: s.len() / T::LANES,
        })
    }

    /// Number of whole chunks.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when there is no whole chunk.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Chunk `q` (elements `q*L .. q*L + L`), bounds-checked: a `q` past the whole chunks
    /// panics.
    #[inline(always)]
    pub fn get(&self, q: usize) -> T::Chunk {
        assert!(q < self.n, "input chunk out of bounds");
        // SAFETY: chunk `q` is whole and inside the slice (`q < len / L`), 16-byte aligned (the
        // slice starts aligned and chunks are 16 bytes), in global memory that no thread writes
        // during the launch (outputs are borrowed mutably by the host launcher).
        unsafe { load_chunk(self.s.as_ptr().add(q * T::LANES)) }
    }

    /// The elements after the last whole chunk (fewer than `L`).
    #[inline(always)]
    pub fn tail(&self) -> &'a [T] {
        &self.s[self.n * T::LANES..]
    }
}
