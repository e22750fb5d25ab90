//! Page-locked (pinned) host buffers and asynchronous host↔device copies.
//!
//! Only copies from and to pinned memory are truly asynchronous (DMA by a copy engine while
//! kernels run); from pageable memory the driver stages through its own buffer and the copy
//! blocks. A pending asynchronous copy is tracked with an event inside the buffer: every host
//! access (and the drop) waits for it first, so the host can never read a half-written buffer
//! or free memory a copy engine still uses.
use crate::context::Context;
use crate::event::Event;
use crate::gpu::Gpu;
use crate::memory::{DeviceCopy, DeviceSlice};
use crate::result::{Call, Result};
use crate::stream::Stream;
use crate::sys;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

/// `CU_MEMHOSTALLOC_PORTABLE`: pinned for every context, so any GPU's streams can use it.
const PORTABLE: u32 = 0x1;

/// A pinned host buffer of `len` values of `T` (freed with `cuMemFreeHost` on drop). Keeps the
/// context it was allocated in alive.
pub struct PinnedBuffer<T: DeviceCopy> {
    ptr: *mut T,
    len: usize,
    ctx: Arc<Context>,
    /// The last asynchronous copy that uses this buffer.
    pending: Mutex<Option<Event>>,
}

// SAFETY: the buffer owns its memory like a Box<[T]>; the pending event is behind a Mutex.
unsafe impl<T: DeviceCopy> Send for PinnedBuffer<T> {}
// SAFETY: as above; shared access only reads.
unsafe impl<T: DeviceCopy> Sync for PinnedBuffer<T> {}

impl<T: DeviceCopy> PinnedBuffer<T> {
    /// A pinned copy of `data`.
    pub fn from_slice(gpu: &Gpu, data: &[T]) -> Result<PinnedBuffer<T>> {
        let b = PinnedBuffer::<T>::alloc(gpu, data.len())?;
        // SAFETY: `b` has room for exactly `data.len()` values and does not overlap `data`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), b.ptr, data.len()) };
        Ok(b)
    }

    /// `len` copies of `value`.
    pub fn filled(gpu: &Gpu, len: usize, value: T) -> Result<PinnedBuffer<T>> {
        let b = PinnedBuffer::<T>::alloc(gpu, len)?;
        for i in 0..len {
            // SAFETY: in bounds of a fresh allocation of `len` values.
            unsafe { b.ptr.add(i).write(value) };
        }
        Ok(b)
    }

    fn alloc(gpu: &Gpu, len: usize) -> Result<PinnedBuffer<T>> {
        gpu.bind()?;
        let bytes = len * std::mem::size_of::<T>();
        let mut p: *mut c_void = std::ptr::null_mut();
        if bytes > 0 {
            // SAFETY: valid out-pointer; the memory is initialised by the callers before use.
            unsafe { sys::cuMemHostAlloc(&mut p, bytes, PORTABLE) }.call("cuMemHostAlloc")?;
        } else {
            p = std::ptr::NonNull::<T>::dangling().as_ptr() as *mut c_void;
        }
        Ok(PinnedBuffer {
            ptr: p as *mut T,
            len,
            ctx: gpu.context().clone(),
            pending: Mutex::new(None),
        })
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Wait for the pending asynchronous copy, if any.
    pub fn wait(&self) -> Result<()> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = p.take() {
            e.synchronize()?;
        }
        Ok(())
    }

    fn wait_quietly(&self) {
        // If waiting fails the context is broken and no copy engine touches the buffer any more.
        let _ = self.wait();
    }

    /// The contents, after any pending copy completed.
    pub fn as_slice(&self) -> &[T] {
        self.wait_quietly();
        // SAFETY: `ptr` holds `len` initialised values; no copy is in flight (waited above) and
        // starting one needs `&self`/`&mut self` borrows that this borrow excludes for writes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The contents, writable, after any pending copy completed.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.wait_quietly();
        // SAFETY: as above, and `&mut self` is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    fn set_pending(&self, stream: &Stream) -> Result<()> {
        let e = Event::new(stream.context(), false)?;
        e.record(stream)?;
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
        Ok(())
    }
}

impl<T: DeviceCopy> std::ops::Deref for PinnedBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: DeviceCopy> std::ops::DerefMut for PinnedBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T: DeviceCopy> Drop for PinnedBuffer<T> {
    fn drop(&mut self) {
        self.wait_quietly();
        if self.len > 0 && std::mem::size_of::<T>() > 0 {
            let _ = self.ctx.bind();
            // SAFETY: allocated by cuMemHostAlloc, freed once, no copy in flight.
            unsafe {
                sys::cuMemFreeHost(self.ptr as *mut c_void);
            }
        }
    }
}

fn same_len(op: &str, dst: usize, src: usize) -> Result<()> {
    crate::check_same_len(op, &[("dst", dst), ("src", src)])
}

/// Queue a copy of `src` (pinned host) into `dst` (device) on `stream`; returns at once.
/// `src` stays readable; writing to it waits until the copy is done.
pub fn copy_to_device_async<T: DeviceCopy>(
    stream: &Stream,
    dst: &mut DeviceSlice<T>,
    src: &PinnedBuffer<T>,
) -> Result<()> {
    same_len("copy_to_device_async", dst.len(), src.len())?;
    if src.is_empty() {
        return Ok(());
    }
    src.wait()?; // an earlier device-to-host copy into `src` must land first
    stream.context().bind()?;
    // SAFETY: equal lengths checked; `src` is pinned and stays alive until the pending event
    // (recorded below) completes, because its drop waits for that event.
    unsafe {
        sys::cuMemcpyHtoDAsync_v2(
            dst.device_ptr(),
            src.ptr as *const c_void,
            src.len * std::mem::size_of::<T>(),
            stream.raw(),
        )
    }
    .call("cuMemcpyHtoDAsync")?;
    src.set_pending(stream)
}

/// Queue a copy of `src` (device) into `dst` (pinned host) on `stream`; returns at once.
/// Reading `dst` waits until the copy is done.
pub fn copy_to_host_async<T: DeviceCopy>(
    stream: &Stream,
    dst: &mut PinnedBuffer<T>,
    src: &DeviceSlice<T>,
) -> Result<()> {
    same_len("copy_to_host_async", dst.len(), src.len())?;
    if src.is_empty() {
        return Ok(());
    }
    dst.wait()?;
    stream.context().bind()?;
    // SAFETY: equal lengths; `dst` is pinned, and every host access or drop of it waits for
    // the event recorded below.
    unsafe {
        sys::cuMemcpyDtoHAsync_v2(
            dst.ptr as *mut c_void,
            src.device_ptr(),
            src.len() * std::mem::size_of::<T>(),
            stream.raw(),
        )
    }
    .call("cuMemcpyDtoHAsync")?;
    dst.set_pending(stream)
}

impl<T: DeviceCopy> std::fmt::Debug for PinnedBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedBuffer")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}
