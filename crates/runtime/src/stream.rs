//! Streams: ordered queues of device work.
use crate::context::Context;
use crate::result::{Call, Result};
use crate::sys;
use std::sync::Arc;

/// A non-blocking CUDA stream (destroyed on drop, after its queued work completes). Keeps its
/// context alive.
///
/// Every stream the runtime creates is `CU_STREAM_NON_BLOCKING`: work on it is ordered only
/// with work on the same stream (and events waited on), never implicitly with the legacy
/// default stream (stream 0, which other CUDA code in the process may use). Code that needs
/// such ordering must ask for it (an event, or a synchronize). The runtime's own operations on
/// the legacy stream (synchronous uploads and memsets) are complete when they return. It is
/// also the cheapest kind of stream to launch into: on the H200 (docs/TUNING.md, round 8) a
/// default-flag stream cost 0.08 µs more per launch, the per-thread stream 0.13 and the legacy
/// stream 0.16 (medians over 10 processes; single processes ranged from −0.17 to +0.36).
#[derive(Debug)]
pub struct Stream {
    raw: sys::CUstream,
    ctx: Arc<Context>,
}

// SAFETY: a stream handle may be used from any thread; the driver serialises work on it.
unsafe impl Send for Stream {}
// SAFETY: as above.
unsafe impl Sync for Stream {}

/// `CU_STREAM_NON_BLOCKING`: no implicit synchronisation with the legacy default stream.
const NON_BLOCKING: u32 = 0x1;

/// Waits for the work queued on the legacy default stream of the current context.
///
/// The driver's "synchronous" copies and memsets (`cuMemcpyHtoD` from pageable memory,
/// `cuMemsetD8`) run on the legacy stream and may return before the device memory holds the
/// result (after staging the host data, or at once for a memset). Our streams are non-blocking,
/// so they do not wait for the legacy stream: without this, a kernel launched right after an
/// upload can read the tail of the buffer before its last chunk lands, and a memset can land on
/// top of a kernel's output. Calling this makes those operations complete on return.
pub(crate) fn finish_legacy_stream() -> Result<()> {
    // SAFETY: the null handle is the legacy default stream of the current context, which the
    // callers made current.
    unsafe { sys::cuStreamSynchronize(std::ptr::null_mut()) }.call("cuStreamSynchronize")
}

impl Stream {
    /// A new non-blocking stream in `ctx`.
    pub(crate) fn new(ctx: &Arc<Context>) -> Result<Stream> {
        ctx.bind()?;
        let mut raw: sys::CUstream = std::ptr::null_mut();
        // SAFETY: valid out-pointer; the context is current.
        unsafe { sys::cuStreamCreate(&mut raw, NON_BLOCKING) }.call("cuStreamCreate")?;
        Ok(Stream {
            raw,
            ctx: ctx.clone(),
        })
    }

    /// Block the host until everything queued so far is done.
    pub fn synchronize(&self) -> Result<()> {
        self.ctx.bind()?;
        // SAFETY: live stream.
        unsafe { sys::cuStreamSynchronize(self.raw) }.call("cuStreamSynchronize")
    }

    /// The raw handle.
    pub fn raw(&self) -> sys::CUstream {
        self.raw
    }

    /// The context the stream belongs to.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.ctx.bind();
        // SAFETY: owned handle, destroyed once; the driver lets queued work finish first.
        let _ = unsafe { sys::cuStreamDestroy_v2(self.raw) };
    }
}
