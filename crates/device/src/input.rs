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
        let start = q * T::LANES;
        let n = self.s.len();
        assert!(start < n, "input chunk out of bounds");
        let last = n - 1;
        let base = self.s.as_ptr();
        if self.vec_ok && start >= 1 && start + T::LANES < n {
            // Inside the input: one base address, the neighbours at constant offsets from it.
            // SAFETY: elements `start - 1 ..= start + L` are in bounds (checked just above), the
            // chunk is 16-byte aligned (`vec_ok`), all in global memory that no thread writes
            // during the launch.
            return unsafe {
                let p = base.add(start);
                (
                    load_elem(p.sub(1)),
                    load_chunk(p),
                    load_elem(p.add(T::LANES)),
                )
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
        (at(start.max(1) - 1), c, at((start + T::LANES).min(last)))
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
