//! Stream-ordered allocation from a memory pool (`cuMemAllocAsync`).
//!
//! `cuMemAlloc`/`cuMemFree` are slow and `cuMemFree` synchronises the device; a pool hands out
//! and takes back memory in stream order, without synchronising, and keeps up to its *release
//! threshold* of freed memory reserved for reuse instead of returning it to the driver at every
//! synchronisation. An allocate-launch-free loop therefore reuses the same memory: no growth,
//! no driver round trips.
use crate::context::Context;
use crate::gpu::Gpu;
use crate::memory::{DeviceCopy, DeviceSlice, slice_of, slice_of_mut};
use crate::result::{Call, Result};
use crate::stream::Stream;
use crate::sys::{self, CUmemPool_attribute, CUmemoryPool};
use std::ffi::c_void;
use std::sync::Arc;

/// A device memory pool: the device's default pool or one owned by this handle. Keeps its
/// context alive.
pub struct MemPool {
    raw: CUmemoryPool,
    ctx: Arc<Context>,
    owned: bool,
}

// SAFETY: pool handles are usable from any thread; the driver synchronises internally.
unsafe impl Send for MemPool {}
// SAFETY: as above.
unsafe impl Sync for MemPool {}

impl MemPool {
    /// The device's default pool (what `cuMemAllocAsync` uses), with its release threshold set
    /// to `release_threshold` bytes.
    pub fn default_for(gpu: &Gpu, release_threshold: u64) -> Result<MemPool> {
        gpu.bind()?;
        let mut raw: CUmemoryPool = std::ptr::null_mut();
        // SAFETY: valid out-pointer and device.
        unsafe { sys::cuDeviceGetDefaultMemPool(&mut raw, gpu.device()) }
            .call("cuDeviceGetDefaultMemPool")?;
        let p = MemPool {
            raw,
            ctx: gpu.context().clone(),
            owned: false,
        };
        p.set_release_threshold(release_threshold)?;
        Ok(p)
    }

    /// A new pool of device memory on `gpu`, destroyed on drop.
    pub fn new(gpu: &Gpu, release_threshold: u64) -> Result<MemPool> {
        use sys::{
            CUmemAllocationHandleType, CUmemAllocationType, CUmemLocation, CUmemLocationType,
            CUmemPoolProps,
        };
        gpu.bind()?;
        // SAFETY: all-zero is a valid CUmemPoolProps (reserved bytes must be zero).
        let mut props: CUmemPoolProps = unsafe { std::mem::zeroed() };
        props.allocType = CUmemAllocationType::CU_MEM_ALLOCATION_TYPE_PINNED;
        props.handleTypes = CUmemAllocationHandleType::CU_MEM_HANDLE_TYPE_NONE;
        props.location = CUmemLocation {
            type_: CUmemLocationType::CU_MEM_LOCATION_TYPE_DEVICE,
            id: gpu.device(),
        };
        let mut raw: CUmemoryPool = std::ptr::null_mut();
        // SAFETY: valid props and out-pointer.
        unsafe { sys::cuMemPoolCreate(&mut raw, &props) }.call("cuMemPoolCreate")?;
        let p = MemPool {
            raw,
            ctx: gpu.context().clone(),
            owned: true,
        };
        p.set_release_threshold(release_threshold)?;
        Ok(p)
    }

    /// Freed memory the pool keeps reserved (instead of releasing it at synchronisation).
    pub fn set_release_threshold(&self, bytes: u64) -> Result<()> {
        let mut v = bytes;
        self.set(
            CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            &mut v,
        )
    }

    fn set(&self, a: CUmemPool_attribute, v: &mut u64) -> Result<()> {
        // SAFETY: the attributes used here take a u64 (cuuint64_t).
        unsafe { sys::cuMemPoolSetAttribute(self.raw, a, v as *mut u64 as *mut c_void) }
            .call("cuMemPoolSetAttribute")
    }

    fn get(&self, a: CUmemPool_attribute) -> Result<u64> {
        let mut v = 0u64;
        // SAFETY: the attributes used here are u64 values.
        unsafe { sys::cuMemPoolGetAttribute(self.raw, a, &mut v as *mut u64 as *mut c_void) }
            .call("cuMemPoolGetAttribute")?;
        Ok(v)
    }

    /// Bytes of device memory the pool holds from the driver now.
    pub fn reserved_bytes(&self) -> Result<u64> {
        self.get(CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT)
    }

    /// The most the pool has held since the last reset of the high-water mark.
    pub fn reserved_high_bytes(&self) -> Result<u64> {
        self.get(CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH)
    }

    /// Bytes handed out and not yet freed.
    pub fn used_bytes(&self) -> Result<u64> {
        self.get(CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_CURRENT)
    }

    /// Return reserved memory beyond `keep` bytes to the driver.
    pub fn trim_to(&self, keep: usize) -> Result<()> {
        // SAFETY: live pool.
        unsafe { sys::cuMemPoolTrimTo(self.raw, keep) }.call("cuMemPoolTrimTo")
    }

    /// The raw pool handle.
    pub fn raw(&self) -> CUmemoryPool {
        self.raw
    }

    /// Allocate `len` values in stream order on `stream`; the memory is freed, again in order
    /// on `stream`, when the returned buffer drops. Work on other streams that uses it must be
    /// ordered with events ([`crate::join`]).
    ///
    /// # Safety
    /// The contents are uninitialised: write them (a kernel, a copy) before reading them.
    pub unsafe fn alloc_async<'s, T: DeviceCopy>(
        &self,
        stream: &'s Stream,
        len: usize,
    ) -> Result<PoolBuffer<'s, T>> {
        self.ctx.bind()?;
        let bytes = len * std::mem::size_of::<T>();
        let mut ptr: sys::CUdeviceptr = 0;
        if bytes > 0 {
            // SAFETY: valid out-pointer, pool and stream.
            unsafe { sys::cuMemAllocFromPoolAsync(&mut ptr, bytes, self.raw, stream.raw()) }
                .call("cuMemAllocFromPoolAsync")?;
        }
        Ok(PoolBuffer {
            ptr,
            len,
            stream,
            ctx: self.ctx.clone(),
            _elem: std::marker::PhantomData,
        })
    }

    /// Like [`MemPool::alloc_async`], with every byte set to zero (in stream order).
    pub fn alloc_zeroed_async<'s, T: DeviceCopy>(
        &self,
        stream: &'s Stream,
        len: usize,
    ) -> Result<PoolBuffer<'s, T>> {
        // SAFETY: initialised by the memset right below, queued before any later work.
        let b = unsafe { self.alloc_async::<T>(stream, len) }?;
        let bytes = len * std::mem::size_of::<T>();
        if bytes > 0 {
            // SAFETY: the range is exactly the allocation.
            unsafe { sys::cuMemsetD8Async(b.ptr, 0, bytes, stream.raw()) }
                .call("cuMemsetD8Async")?;
        }
        Ok(b)
    }
}

impl Drop for MemPool {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.ctx.bind();
            // SAFETY: owned pool, destroyed once. Outstanding allocations keep it alive until
            // they are freed (driver semantics); buffers borrow a stream, not the pool.
            unsafe {
                sys::cuMemPoolDestroy(self.raw);
            }
        }
    }
}

/// Device memory from a [`MemPool`], freed in stream order on its stream when dropped. Derefs
/// to a [`DeviceSlice`], so typed launchers take it like any device buffer. Borrows its stream
/// (which must outlive it) and keeps the context alive.
pub struct PoolBuffer<'s, T: DeviceCopy> {
    ptr: sys::CUdeviceptr,
    len: usize,
    stream: &'s Stream,
    ctx: Arc<Context>,
    _elem: std::marker::PhantomData<T>,
}

impl<T: DeviceCopy> PoolBuffer<'_, T> {
    /// The stream the buffer is allocated and freed on.
    pub fn stream(&self) -> &Stream {
        self.stream
    }
}

impl<T: DeviceCopy> std::ops::Deref for PoolBuffer<'_, T> {
    type Target = DeviceSlice<T>;
    fn deref(&self) -> &DeviceSlice<T> {
        // SAFETY: the whole allocation, borrowed for as long as the buffer is.
        unsafe { slice_of(self.ptr, self.len) }
    }
}

impl<T: DeviceCopy> std::ops::DerefMut for PoolBuffer<'_, T> {
    fn deref_mut(&mut self) -> &mut DeviceSlice<T> {
        // SAFETY: the whole allocation, borrowed mutably with the buffer.
        unsafe { slice_of_mut(self.ptr, self.len) }
    }
}

impl<T: DeviceCopy> Drop for PoolBuffer<'_, T> {
    fn drop(&mut self) {
        if self.ptr == 0 {
            return;
        }
        let _ = self.ctx.bind();
        // SAFETY: allocated by cuMemAllocFromPoolAsync, freed once, after all work queued on
        // the stream so far.
        unsafe {
            sys::cuMemFreeAsync(self.ptr, self.stream.raw());
        }
    }
}

impl std::fmt::Debug for MemPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemPool")
            .field("raw", &self.raw)
            .field("owned", &self.owned)
            .finish()
    }
}

impl<T: DeviceCopy> std::fmt::Debug for PoolBuffer<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolBuffer")
            .field("ptr", &format_args!("{:#x}", self.ptr))
            .field("len", &self.len)
            .finish()
    }
}
