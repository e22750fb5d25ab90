//! Device memory: the owned [`DeviceBuffer`], the borrowed [`DeviceSlice`] every buffer derefs
//! to, and copies between host and device.
//!
//! `DeviceSlice<T>` is to device memory what `[T]` is to host memory: it is only ever seen
//! behind a reference (`&DeviceSlice<T>` to read, `&mut DeviceSlice<T>` to write), borrowed
//! from the buffer that owns the memory. So the borrow checker enforces what the typed
//! launchers promise: a view cannot outlive its buffer, an output (`&mut`) cannot alias an
//! input (`&`), and a writable view can only be taken from a buffer held mutably.
//!
//! ```
//! # fn demo(gpu: &gpukit_runtime::Gpu) -> gpukit_runtime::Result<()> {
//! let mut buf = gpu.upload(&[1.0f32, 2.0, 3.0, 4.0])?;
//! let head: &gpukit_runtime::DeviceSlice<f32> = &buf[..2];
//! let (lo, hi) = buf.split_at_mut(2); // two disjoint writable halves
//! # let _ = (lo, hi);
//! # Ok(()) }
//! ```
use crate::context::Context;
use crate::result::{Call, Error, Result};
use crate::stream::Stream;
use crate::sys;
use std::marker::PhantomData;
use std::ops::{Bound, Deref, DerefMut, Index, IndexMut, RangeBounds};
use std::sync::Arc;

/// Plain data that may be copied to and from the device byte for byte. Implemented for the
/// numbers, `half::f16`/`bf16` and arrays of them.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid value, and there is no
/// padding: a download writes whatever bytes the device holds.
pub unsafe trait DeviceCopy: Copy + Send + Sync + 'static {}

macro_rules! device_copy {
    ($($t:ty),*) => {$(
        // SAFETY: a number: no padding, every bit pattern valid.
        unsafe impl DeviceCopy for $t {}
    )*};
}
device_copy!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    half::f16,
    half::bf16
);
// SAFETY: arrays of such values have no padding between elements.
unsafe impl<T: DeviceCopy, const N: usize> DeviceCopy for [T; N] {}

/// A borrowed range of device memory holding `T`s: the device counterpart of `[T]`.
///
/// Never owned, only borrowed from a buffer ([`DeviceBuffer`], [`crate::PoolBuffer`],
/// [`crate::UnifiedBuffer`]) through `Deref`, indexing (`&buf[a..b]`, `&mut buf[a..b]`) or
/// [`DeviceSlice::split_at_mut`]. The reference carries the device address and the length; it
/// covers no host memory (its size is zero), so nothing on the host ever reads through it.
#[repr(transparent)]
pub struct DeviceSlice<T> {
    _elem: PhantomData<T>,
    /// Zero-sized elements: the slice's address is the device address, its length the length.
    marker: [()],
}

impl<T: DeviceCopy> DeviceSlice<T> {
    /// # Safety
    /// `ptr..ptr + len * size_of::<T>()` must be device memory that stays valid, and is not
    /// written through another view, for `'a`.
    unsafe fn from_raw<'a>(ptr: sys::CUdeviceptr, len: usize) -> &'a DeviceSlice<T> {
        let raw = std::ptr::slice_from_raw_parts(view_addr::<T>(ptr, len), len);
        // SAFETY: `DeviceSlice<T>` is a transparent wrapper of `[()]` (PhantomData is
        // zero-sized), so the cast keeps the metadata; the reference spans zero bytes at a
        // non-null address, which is always valid to form.
        unsafe { &*(raw as *const DeviceSlice<T>) }
    }

    /// # Safety
    /// As [`DeviceSlice::from_raw`], and no other view of the range may exist for `'a`.
    unsafe fn from_raw_mut<'a>(ptr: sys::CUdeviceptr, len: usize) -> &'a mut DeviceSlice<T> {
        let raw = std::ptr::slice_from_raw_parts_mut(view_addr::<T>(ptr, len) as *mut (), len);
        // SAFETY: as in `from_raw`; uniqueness is the caller's contract.
        unsafe { &mut *(raw as *mut DeviceSlice<T>) }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.marker.len()
    }

    /// True when the slice has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.len() * std::mem::size_of::<T>()
    }

    /// The device address of the first element (meaningless, though non-zero, when empty).
    pub fn device_ptr(&self) -> sys::CUdeviceptr {
        self.marker.as_ptr().addr() as sys::CUdeviceptr
    }

    /// `(start, end)` of `range` in this slice, when in bounds.
    fn checked_bounds(&self, range: &impl RangeBounds<usize>) -> Option<(usize, usize)> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1)?,
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.len(),
        };
        (start <= end && end <= self.len()).then_some((start, end))
    }

    fn bounds(&self, range: impl RangeBounds<usize> + std::fmt::Debug) -> (usize, usize) {
        match self.checked_bounds(&range) {
            Some(b) => b,
            None => panic!(
                "device slice range {range:?} out of bounds for length {}",
                self.len()
            ),
        }
    }

    fn offset(&self, i: usize) -> sys::CUdeviceptr {
        self.device_ptr() + (i * std::mem::size_of::<T>()) as sys::CUdeviceptr
    }

    /// The elements in `range`, or `None` when it is out of bounds.
    pub fn get(&self, range: impl RangeBounds<usize>) -> Option<&DeviceSlice<T>> {
        let (s, e) = self.checked_bounds(&range)?;
        // SAFETY: a sub-range of `self`, borrowed for as long as `self` is.
        Some(unsafe { DeviceSlice::from_raw(self.offset(s), e - s) })
    }

    /// Two disjoint writable views: `[0, mid)` and `[mid, len)`. Panics when `mid > len`.
    pub fn split_at_mut(&mut self, mid: usize) -> (&mut DeviceSlice<T>, &mut DeviceSlice<T>) {
        assert!(
            mid <= self.len(),
            "split at {mid} out of bounds for length {}",
            self.len()
        );
        let (p, n) = (self.device_ptr(), self.len());
        let q = self.offset(mid);
        // SAFETY: two disjoint sub-ranges of `self`, which is borrowed mutably for both.
        unsafe {
            (
                DeviceSlice::from_raw_mut(p, mid),
                DeviceSlice::from_raw_mut(q, n - mid),
            )
        }
    }

    /// Disjoint writable views of `chunk` elements each (the last may be shorter).
    pub fn chunks_mut(&mut self, chunk: usize) -> Vec<&mut DeviceSlice<T>> {
        assert!(chunk > 0, "chunk size must be non-zero");
        let mut out = Vec::new();
        let mut rest = self;
        while !rest.is_empty() {
            let n = chunk.min(rest.len());
            let (head, tail) = rest.split_at_mut(n);
            out.push(head);
            rest = tail;
        }
        out
    }
}

/// The address a view of `len` `T`s at `ptr` is formed at: the device address itself, or for
/// an empty view (which may have no allocation) a dangling, non-zero one.
fn view_addr<T>(ptr: sys::CUdeviceptr, len: usize) -> *const () {
    let addr = if ptr == 0 {
        debug_assert_eq!(len, 0, "a null device pointer with elements");
        std::mem::align_of::<T>()
    } else {
        ptr as usize
    };
    std::ptr::without_provenance(addr)
}

impl<T: DeviceCopy, R: RangeBounds<usize> + std::fmt::Debug> Index<R> for DeviceSlice<T> {
    type Output = DeviceSlice<T>;
    fn index(&self, range: R) -> &DeviceSlice<T> {
        let (s, e) = self.bounds(range);
        // SAFETY: a sub-range of `self`, borrowed for as long as `self` is.
        unsafe { DeviceSlice::from_raw(self.offset(s), e - s) }
    }
}

impl<T: DeviceCopy, R: RangeBounds<usize> + std::fmt::Debug> IndexMut<R> for DeviceSlice<T> {
    fn index_mut(&mut self, range: R) -> &mut DeviceSlice<T> {
        let (s, e) = self.bounds(range);
        // SAFETY: a sub-range of `self`, which is borrowed mutably for the result's lifetime.
        unsafe { DeviceSlice::from_raw_mut(self.offset(s), e - s) }
    }
}

impl<T: DeviceCopy> std::fmt::Debug for DeviceSlice<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSlice")
            .field("ptr", &format_args!("{:#x}", self.device_ptr()))
            .field("len", &self.len())
            .finish()
    }
}

/// Owned device memory for `len` values of `T` (`cuMemAlloc`; freed on drop). Derefs to
/// [`DeviceSlice`]. Keeps its context alive.
pub struct DeviceBuffer<T: DeviceCopy> {
    ptr: sys::CUdeviceptr,
    len: usize,
    ctx: Arc<Context>,
    _elem: PhantomData<T>,
}

impl<T: DeviceCopy> DeviceBuffer<T> {
    /// `len` values of uninitialised device memory.
    ///
    /// # Safety
    /// The contents are unspecified bytes: write them (a kernel, a copy) before reading them.
    pub unsafe fn uninitialized(ctx: &Arc<Context>, len: usize) -> Result<DeviceBuffer<T>> {
        let bytes =
            len.checked_mul(std::mem::size_of::<T>())
                .ok_or_else(|| Error::InvalidArgument {
                    op: "DeviceBuffer".into(),
                    reason: format!("{len} elements overflow the address space"),
                })?;
        ctx.bind()?;
        let mut ptr: sys::CUdeviceptr = 0;
        if bytes > 0 {
            // SAFETY: valid out-pointer; the context is current.
            unsafe { sys::cuMemAlloc_v2(&mut ptr, bytes) }.call("cuMemAlloc")?;
        }
        Ok(DeviceBuffer {
            ptr,
            len,
            ctx: ctx.clone(),
            _elem: PhantomData,
        })
    }

    /// A device copy of `data`.
    pub fn from_slice(ctx: &Arc<Context>, data: &[T]) -> Result<DeviceBuffer<T>> {
        // SAFETY: fully written by the copy below before it is handed out.
        let mut b = unsafe { DeviceBuffer::uninitialized(ctx, data.len()) }?;
        b.copy_from_host(data)?;
        Ok(b)
    }

    /// `len` values with every byte set to `byte`.
    pub fn filled_bytes(ctx: &Arc<Context>, len: usize, byte: u8) -> Result<DeviceBuffer<T>> {
        // SAFETY: every byte is written by the memset below before the buffer is handed out;
        // T is plain data, so any byte pattern is a valid value.
        let b = unsafe { DeviceBuffer::<T>::uninitialized(ctx, len) }?;
        if b.size_bytes() > 0 {
            // SAFETY: the range is exactly the allocation; the context is current.
            unsafe { sys::cuMemsetD8_v2(b.ptr, byte, b.size_bytes()) }.call("cuMemsetD8")?;
            crate::stream::finish_legacy_stream()?;
        }
        Ok(b)
    }

    /// The context the memory belongs to.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Free the memory now and report the driver's answer (dropping frees it too, silently).
    pub fn free(mut self) -> Result<()> {
        let ptr = std::mem::replace(&mut self.ptr, 0);
        if ptr == 0 {
            return Ok(());
        }
        self.ctx.bind()?;
        // SAFETY: allocated by cuMemAlloc and freed once: the drop that follows sees a null
        // pointer and frees nothing.
        unsafe { sys::cuMemFree_v2(ptr) }.call("cuMemFree")
    }
}

impl<T: DeviceCopy> DeviceSlice<T> {
    /// Copy `src` (equal length) from the host into this memory; synchronous.
    pub fn copy_from_host(&mut self, src: &[T]) -> Result<()> {
        crate::check_same_len("copy_from_host", &[("dst", self.len()), ("src", src.len())])?;
        if self.is_empty() {
            return Ok(());
        }
        // SAFETY: equal lengths; `&mut self` is the only view of the range; the call returns
        // after the driver has read `src` (staged or copied), so `src` outlives it. The
        // context of the pointer is found by the driver from the address (unified addressing).
        unsafe {
            sys::cuMemcpyHtoD_v2(
                self.device_ptr(),
                src.as_ptr() as *const std::ffi::c_void,
                self.size_bytes(),
            )
        }
        .call("cuMemcpyHtoD")?;
        // From pageable memory the DMA may still be in flight: finish it, so that work on any
        // stream sees the data.
        crate::stream::finish_legacy_stream()
    }

    /// Copy this memory into `dst` (equal length) on the host; synchronous. It does not wait
    /// for kernels queued on a [`Stream`]: synchronize that stream first.
    pub fn copy_to_host(&self, dst: &mut [T]) -> Result<()> {
        crate::check_same_len("copy_to_host", &[("dst", dst.len()), ("src", self.len())])?;
        if self.is_empty() {
            return Ok(());
        }
        // SAFETY: equal lengths; `dst` is unique host memory; T is plain data, so any bytes
        // the device holds are valid values.
        unsafe {
            sys::cuMemcpyDtoH_v2(
                dst.as_mut_ptr() as *mut std::ffi::c_void,
                self.device_ptr(),
                self.size_bytes(),
            )
        }
        .call("cuMemcpyDtoH")
    }
}

impl<T: DeviceCopy> Deref for DeviceBuffer<T> {
    type Target = DeviceSlice<T>;
    fn deref(&self) -> &DeviceSlice<T> {
        // SAFETY: the whole allocation, borrowed for as long as the buffer is.
        unsafe { DeviceSlice::from_raw(self.ptr, self.len) }
    }
}

impl<T: DeviceCopy> DerefMut for DeviceBuffer<T> {
    fn deref_mut(&mut self) -> &mut DeviceSlice<T> {
        // SAFETY: the whole allocation, borrowed mutably with the buffer.
        unsafe { DeviceSlice::from_raw_mut(self.ptr, self.len) }
    }
}

impl<T: DeviceCopy> Drop for DeviceBuffer<T> {
    fn drop(&mut self) {
        if self.ptr == 0 {
            return;
        }
        let _ = self.ctx.bind();
        // SAFETY: allocated by cuMemAlloc, freed once; no view outlives the buffer. cuMemFree
        // waits for work using the memory.
        let _ = unsafe { sys::cuMemFree_v2(self.ptr) };
    }
}

impl<T: DeviceCopy> std::fmt::Debug for DeviceBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceBuffer")
            .field("ptr", &format_args!("{:#x}", self.ptr))
            .field("len", &self.len)
            .finish()
    }
}

/// Copy a device slice to a new host vector (synchronous; as [`DeviceSlice::copy_to_host`], it
/// does not wait for work queued on a stream).
pub fn download<T: DeviceCopy>(src: &DeviceSlice<T>) -> Result<Vec<T>> {
    // SAFETY: all-zero bytes are a valid `T` (DeviceCopy's contract).
    let mut v = vec![unsafe { std::mem::zeroed::<T>() }; src.len()];
    src.copy_to_host(&mut v)?;
    Ok(v)
}

/// Wait for everything queued on `stream`.
pub fn sync(stream: &Stream) -> Result<()> {
    stream.synchronize()
}

/// Queue a device-to-device copy of all of `src` into `dst` (equal lengths) on `stream`.
pub fn copy_async<T: DeviceCopy>(
    stream: &Stream,
    dst: &mut DeviceSlice<T>,
    src: &DeviceSlice<T>,
) -> Result<()> {
    crate::check_same_len("copy_async", &[("dst", dst.len()), ("src", src.len())])?;
    if src.is_empty() {
        return Ok(());
    }
    stream.context().bind()?;
    // SAFETY: both ranges are whole device slices of equal length; `&mut dst` and `&src` cannot
    // overlap; both outlive the call and cuMemFree of either waits for the copy.
    unsafe {
        sys::cuMemcpyDtoDAsync_v2(
            dst.device_ptr(),
            src.device_ptr(),
            src.size_bytes(),
            stream.raw(),
        )
    }
    .call("cuMemcpyDtoDAsync")
}

/// Queue setting every byte of `dst` to zero on `stream`.
pub fn zero_async<T: DeviceCopy>(stream: &Stream, dst: &mut DeviceSlice<T>) -> Result<()> {
    if dst.size_bytes() == 0 {
        return Ok(());
    }
    stream.context().bind()?;
    // SAFETY: the range is exactly the slice, which `&mut` makes ours for the call.
    unsafe { sys::cuMemsetD8Async(dst.device_ptr(), 0, dst.size_bytes(), stream.raw()) }
        .call("cuMemsetD8Async")
}

/// A device slice made from a raw allocation by the runtime's other buffer types.
///
/// # Safety
/// As [`DeviceSlice::from_raw`].
pub(crate) unsafe fn slice_of<'a, T: DeviceCopy>(
    ptr: sys::CUdeviceptr,
    len: usize,
) -> &'a DeviceSlice<T> {
    // SAFETY: the caller's contract.
    unsafe { DeviceSlice::from_raw(ptr, len) }
}

/// The writable counterpart of [`slice_of`].
///
/// # Safety
/// As [`DeviceSlice::from_raw_mut`].
pub(crate) unsafe fn slice_of_mut<'a, T: DeviceCopy>(
    ptr: sys::CUdeviceptr,
    len: usize,
) -> &'a mut DeviceSlice<T> {
    // SAFETY: the caller's contract.
    unsafe { DeviceSlice::from_raw_mut(ptr, len) }
}
