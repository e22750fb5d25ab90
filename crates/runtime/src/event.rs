//! CUDA events: timing device work and ordering one stream after another without blocking the
//! host. cust's own `Stream::wait_event` consumes the event; these take it by reference, so
//! one event can gate several streams and be recorded again.
use crate::context::Context;
use crate::result::{Call, Result};
use crate::stream::Stream;
use crate::sys::{self, CUevent};
use std::sync::Arc;

/// An owned CUDA event (destroyed on drop). Keeps its context alive.
#[derive(Debug)]
pub struct Event {
    raw: CUevent,
    ctx: Arc<Context>,
}

// SAFETY: an event handle may be used from any thread; the driver synchronises internally.
unsafe impl Send for Event {}
// SAFETY: as above.
unsafe impl Sync for Event {}

/// `CU_EVENT_DISABLE_TIMING`.
const DISABLE_TIMING: u32 = 0x2;

impl Event {
    /// A new event in `ctx`; `timing: false` makes record/wait cheaper (no timestamp) and is
    /// what dependencies between streams want. Usually made with [`crate::Gpu::event`].
    pub fn new(ctx: &Arc<Context>, timing: bool) -> Result<Event> {
        ctx.bind()?;
        let mut raw: CUevent = std::ptr::null_mut();
        let flags = if timing { 0 } else { DISABLE_TIMING };
        // SAFETY: valid out-pointer; the context is current.
        unsafe { sys::cuEventCreate(&mut raw, flags) }.call("cuEventCreate")?;
        Ok(Event {
            raw,
            ctx: ctx.clone(),
        })
    }

    /// Capture the work queued on `stream` so far.
    pub fn record(&self, stream: &Stream) -> Result<()> {
        // SAFETY: both handles are live.
        unsafe { sys::cuEventRecord(self.raw, stream.raw()) }.call("cuEventRecord")
    }

    /// Block the host until the recorded work is done.
    pub fn synchronize(&self) -> Result<()> {
        // SAFETY: live handle.
        unsafe { sys::cuEventSynchronize(self.raw) }.call("cuEventSynchronize")
    }

    /// True when the recorded work is done (never blocks).
    pub fn is_done(&self) -> Result<bool> {
        // SAFETY: live handle.
        match unsafe { sys::cuEventQuery(self.raw) } {
            sys::CUresult::CUDA_SUCCESS => Ok(true),
            sys::CUresult::CUDA_ERROR_NOT_READY => Ok(false),
            other => other.call("cuEventQuery").map(|_| false),
        }
    }

    /// Milliseconds of device time from `start` to this event (both recorded with timing).
    pub fn elapsed_ms(&self, start: &Event) -> Result<f32> {
        let mut ms = 0f32;
        // SAFETY: valid out-pointer and handles.
        unsafe { sys::cuEventElapsedTime(&mut ms, start.raw, self.raw) }
            .call("cuEventElapsedTime")?;
        Ok(ms)
    }

    /// The raw handle.
    pub fn raw(&self) -> CUevent {
        self.raw
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let _ = self.ctx.bind();
        // SAFETY: owned handle, destroyed once. Destroying a recorded event whose work is still
        // pending is allowed: the driver releases it when the work completes.
        unsafe {
            sys::cuEventDestroy_v2(self.raw);
        }
    }
}

/// Make all later work on `stream` wait for `event` (device-side; the host does not block).
pub fn wait_event(stream: &Stream, event: &Event) -> Result<()> {
    // SAFETY: both handles are live; flags must be 0.
    unsafe { sys::cuStreamWaitEvent(stream.raw(), event.raw, 0) }.call("cuStreamWaitEvent")
}

/// Record an event on `before` and make `after` wait for it: everything queued on `before` so
/// far happens before anything queued on `after` from now on.
pub fn join(after: &Stream, before: &Stream) -> Result<Event> {
    let e = Event::new(after.context(), false)?;
    e.record(before)?;
    wait_event(after, &e)?;
    Ok(e)
}
