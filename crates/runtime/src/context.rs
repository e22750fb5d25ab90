//! The primary context of a device, shared by everything created in it.
//!
//! Every object that lives in a context (modules, kernels, streams, events, buffers, pools,
//! graphs, pinned and unified memory) holds an `Arc<Context>`, so the context is released only
//! after the last of them is gone: objects may be dropped in any order, and on any thread.
use crate::result::{Call, Result};
use crate::sys;

/// A retained primary context (`cuDevicePrimaryCtxRetain`), released when the last `Arc` drops.
///
/// Its flags are left as the driver (or another library in the process) set them: the default,
/// `CU_CTX_SCHED_AUTO`, spins in a synchronize while there are fewer active contexts than CPUs.
/// Measured on the H200 (docs/TUNING.md, round 8): the scheduling flag does not change the cost
/// of a launch, and a launch followed by its synchronize takes ≈ 10 µs under auto, spin or
/// yield but 27–30 µs under `CU_CTX_SCHED_BLOCKING_SYNC`.
#[derive(Debug)]
pub struct Context {
    raw: sys::CUcontext,
    device: sys::CUdevice,
}

// SAFETY: a CUcontext handle may be used from any thread; the runtime binds it on the calling
// thread before every use (`bind`).
unsafe impl Send for Context {}
// SAFETY: as above; the handle itself is never mutated.
unsafe impl Sync for Context {}

impl Context {
    /// Retain `device`'s primary context.
    pub(crate) fn retain_primary(device: sys::CUdevice) -> Result<Context> {
        let mut raw: sys::CUcontext = std::ptr::null_mut();
        // SAFETY: valid out-pointer; `device` came from cuDeviceGet.
        unsafe { sys::cuDevicePrimaryCtxRetain(&mut raw, device) }
            .call("cuDevicePrimaryCtxRetain")?;
        Ok(Context { raw, device })
    }

    /// The raw handle.
    pub fn raw(&self) -> sys::CUcontext {
        self.raw
    }

    /// The device the context belongs to.
    pub fn device(&self) -> sys::CUdevice {
        self.device
    }

    /// Make this context current on the calling thread (cheap when it already is, the usual
    /// case, so every entry point of the runtime calls it).
    pub fn bind(&self) -> Result<()> {
        bind_raw(self.raw)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // Unbind first when current, so this thread never holds a released context.
        let mut cur: sys::CUcontext = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        if unsafe { sys::cuCtxGetCurrent(&mut cur) } == sys::CUresult::CUDA_SUCCESS
            && cur == self.raw
        {
            // SAFETY: a null context unbinds.
            let _ = unsafe { sys::cuCtxSetCurrent(std::ptr::null_mut()) };
        }
        // SAFETY: retained once in `retain_primary`, released once here; every object of the
        // context held an Arc of it and is gone.
        let _ = unsafe { sys::cuDevicePrimaryCtxRelease_v2(self.device) };
    }
}

/// Make `ctx` current on this thread unless it already is.
pub(crate) fn bind_raw(ctx: sys::CUcontext) -> Result<()> {
    let mut cur: sys::CUcontext = std::ptr::null_mut();
    // SAFETY: valid out-pointer.
    unsafe { sys::cuCtxGetCurrent(&mut cur) }.call("cuCtxGetCurrent")?;
    if cur != ctx {
        // SAFETY: `ctx` is a live context: the caller holds an Arc of it.
        unsafe { sys::cuCtxSetCurrent(ctx) }.call("cuCtxSetCurrent")?;
    }
    Ok(())
}
