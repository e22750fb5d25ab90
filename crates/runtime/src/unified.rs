//! Unified (managed) memory: one address valid on the host and on the device, migrated by
//! pages on demand. Prefetching moves it ahead of use (no page faults inside kernels); advice
//! tells the driver how it is used. Allocations larger than the device's free memory are
//! refused up front: managed memory would oversubscribe and thrash instead of failing.
use crate::context::Context;
use crate::gpu::Gpu;
use crate::memory::{DeviceCopy, DeviceSlice, slice_of, slice_of_mut};
use crate::result::{Call, Error, Result};
use crate::stream::Stream;
use crate::sys::{self, CUdevice, CUmem_advise};
use std::sync::Arc;

/// `CU_MEM_ATTACH_GLOBAL`: accessible from any stream on any device.
const ATTACH_GLOBAL: u32 = 0x1;
/// `CU_DEVICE_CPU`: the host as a prefetch target or preferred location.
const CPU: CUdevice = -1;

/// Where memory should live or be prefetched to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The host (CPU) memory.
    Host,
    /// A device by ordinal.
    Device(u32),
}

impl Location {
    fn raw(self) -> CUdevice {
        match self {
            Location::Host => CPU,
            Location::Device(d) => d as CUdevice,
        }
    }
}

/// Hints to the driver about how a managed range is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// Mostly read: the driver may keep read-only copies on every processor that reads it.
    ReadMostly,
    /// Keep the pages at this location; other processors map them rather than migrate them.
    PreferredLocation(Location),
    /// This processor accesses the range: keep it mapped there to avoid faults.
    AccessedBy(Location),
}

/// A managed buffer of `len` values, zero-initialised. Derefs to a [`DeviceSlice`] for
/// launches; host access goes through [`UnifiedBuffer::host`], which waits for the device
/// first. Keeps its context alive.
pub struct UnifiedBuffer<T: DeviceCopy> {
    ptr: sys::CUdeviceptr,
    len: usize,
    ctx: Arc<Context>,
    device: u32,
    _elem: std::marker::PhantomData<T>,
}

// SAFETY: owns its allocation like a Box<[T]>; host access requires `&mut self` and a context
// synchronisation.
unsafe impl<T: DeviceCopy> Send for UnifiedBuffer<T> {}
// SAFETY: as above; shared access never touches the memory from the host.
unsafe impl<T: DeviceCopy> Sync for UnifiedBuffer<T> {}

/// `Err` when `bytes` exceed `free` (checked before allocating; separate for tests).
pub fn check_fits(op: &str, bytes: usize, free: usize) -> Result<()> {
    if bytes > free {
        return Err(Error::OutOfMemory {
            op: op.to_string(),
            requested: bytes,
            free,
        });
    }
    Ok(())
}

impl<T: DeviceCopy> UnifiedBuffer<T> {
    /// `len` zeroed values of managed memory associated with `gpu`. Refused with
    /// [`Error::OutOfMemory`] when larger than the device's free memory.
    pub fn zeroed(gpu: &Gpu, len: usize) -> Result<UnifiedBuffer<T>> {
        let bytes =
            len.checked_mul(std::mem::size_of::<T>())
                .ok_or_else(|| Error::InvalidArgument {
                    op: "UnifiedBuffer::zeroed".into(),
                    reason: format!("{len} elements overflow the address space"),
                })?;
        let (free, _) = gpu.memory_info()?;
        check_fits("UnifiedBuffer::zeroed", bytes, free)?;
        let mut ptr: sys::CUdeviceptr = 0;
        if bytes > 0 {
            // SAFETY: valid out-pointer.
            unsafe { sys::cuMemAllocManaged(&mut ptr, bytes, ATTACH_GLOBAL) }
                .call("cuMemAllocManaged")?;
            // SAFETY: the range is exactly the allocation. The memset is asynchronous to the
            // host: it is finished before the buffer is handed out (host reads follow).
            let zeroed = unsafe { sys::cuMemsetD8_v2(ptr, 0, bytes) }
                .call("cuMemsetD8")
                .and_then(|()| crate::stream::finish_legacy_stream());
            if let Err(e) = zeroed {
                // SAFETY: allocated above and not handed out.
                unsafe { sys::cuMemFree_v2(ptr) };
                return Err(e);
            }
        }
        Ok(UnifiedBuffer {
            ptr,
            len,
            ctx: gpu.context().clone(),
            device: gpu.props().ordinal,
            _elem: std::marker::PhantomData,
        })
    }

    /// A managed copy of `data`.
    pub fn from_slice(gpu: &Gpu, data: &[T]) -> Result<UnifiedBuffer<T>> {
        let mut b = UnifiedBuffer::zeroed(gpu, data.len())?;
        b.host()?.copy_from_slice(data);
        Ok(b)
    }

    fn bytes(&self) -> usize {
        self.len * std::mem::size_of::<T>()
    }

    /// Host view of the contents. Synchronises the context first, so no kernel is still
    /// writing the memory while the host reads or writes it.
    pub fn host(&mut self) -> Result<&mut [T]> {
        self.ctx.bind()?;
        // SAFETY: no arguments.
        unsafe { sys::cuCtxSynchronize() }.call("cuCtxSynchronize")?;
        if self.len == 0 {
            return Ok(&mut []);
        }
        // SAFETY: managed memory is host-addressable at the same address; `len` initialised
        // values (zeroed at allocation); the device is idle and `&mut self` is unique.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr as usize as *mut T, self.len) })
    }

    /// Queue a migration of the whole buffer to `to` on `stream`.
    pub fn prefetch(&self, to: Location, stream: &Stream) -> Result<()> {
        if self.bytes() == 0 {
            return Ok(());
        }
        self.ctx.bind()?;
        // SAFETY: the range is exactly the allocation.
        unsafe { sys::cuMemPrefetchAsync(self.ptr, self.bytes(), to.raw(), stream.raw()) }
            .call("cuMemPrefetchAsync")
    }

    /// Prefetch to the device the buffer was allocated for.
    pub fn prefetch_to_device(&self, stream: &Stream) -> Result<()> {
        self.prefetch(Location::Device(self.device), stream)
    }

    /// Give the driver a usage hint for the whole buffer.
    pub fn advise(&self, advice: Advice) -> Result<()> {
        if self.bytes() == 0 {
            return Ok(());
        }
        let (a, loc) = match advice {
            Advice::ReadMostly => (CUmem_advise::CU_MEM_ADVISE_SET_READ_MOSTLY, 0),
            Advice::PreferredLocation(l) => {
                (CUmem_advise::CU_MEM_ADVISE_SET_PREFERRED_LOCATION, l.raw())
            }
            Advice::AccessedBy(l) => (CUmem_advise::CU_MEM_ADVISE_SET_ACCESSED_BY, l.raw()),
        };
        self.ctx.bind()?;
        // SAFETY: the range is exactly the allocation.
        unsafe { sys::cuMemAdvise(self.ptr, self.bytes(), a, loc) }.call("cuMemAdvise")
    }
}

impl<T: DeviceCopy> std::ops::Deref for UnifiedBuffer<T> {
    type Target = DeviceSlice<T>;
    fn deref(&self) -> &DeviceSlice<T> {
        // SAFETY: the whole allocation, borrowed for as long as the buffer is.
        unsafe { slice_of(self.ptr, self.len) }
    }
}

impl<T: DeviceCopy> std::ops::DerefMut for UnifiedBuffer<T> {
    fn deref_mut(&mut self) -> &mut DeviceSlice<T> {
        // SAFETY: the whole allocation, borrowed mutably with the buffer.
        unsafe { slice_of_mut(self.ptr, self.len) }
    }
}

impl<T: DeviceCopy> Drop for UnifiedBuffer<T> {
    fn drop(&mut self) {
        if self.bytes() == 0 {
            return;
        }
        let _ = self.ctx.bind();
        // SAFETY: allocated by cuMemAllocManaged, freed once.
        unsafe {
            sys::cuMemFree_v2(self.ptr);
        }
    }
}

impl<T: DeviceCopy> std::fmt::Debug for UnifiedBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnifiedBuffer")
            .field("ptr", &format_args!("{:#x}", self.ptr))
            .field("len", &self.len)
            .field("device", &self.device)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_more_than_free_memory() {
        assert!(check_fits("op", 100, 100).is_ok());
        let e = check_fits("UnifiedBuffer::zeroed", 101, 100).unwrap_err();
        assert!(matches!(
            e,
            Error::OutOfMemory {
                requested: 101,
                free: 100,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "UnifiedBuffer::zeroed: 101 B requested but only 100 B of device memory are free"
        );
        assert_eq!(Location::Host.raw(), -1);
        assert_eq!(Location::Device(3).raw(), 3);
    }
}
