//! CUDA events: timing device work and ordering one stream after another without blocking the
//! host. cust's own `Stream::wait_event` consumes the event; these take it by reference, so
//! one event can gate several streams and be recorded again.
use super::error::{Call, Result};
use cust::stream::Stream;
use cust::sys::CUevent;

/// An owned CUDA event (destroyed on drop).
#[derive(Debug)]
pub struct Event {
    raw: CUevent,
}

// SAFETY: an event handle may be used from any thread; the driver synchronises internally.
unsafe impl Send for Event {}
unsafe impl Sync for Event {}

/// `CU_EVENT_DISABLE_TIMING`.
const DISABLE_TIMING: u32 = 0x2;

impl Event {
    /// A new event; `timing: false` makes record/wait cheaper (no timestamp) and is what
    /// dependencies between streams want. The current context must be the one the streams
    /// belong to (use [`super::Gpu::event`]).
    pub fn new(timing: bool) -> Result<Event> {
        let mut raw: CUevent = std::ptr::null_mut();
        let flags = if timing { 0 } else { DISABLE_TIMING };
        // SAFETY: valid out-pointer.
        unsafe { cust::sys::cuEventCreate(&mut raw, flags) }.call("cuEventCreate")?;
        Ok(Event { raw })
    }

    /// Capture the work queued on `stream` so far.
    pub fn record(&self, stream: &Stream) -> Result<()> {
        // SAFETY: both handles are live.
        unsafe { cust::sys::cuEventRecord(self.raw, stream.as_inner()) }.call("cuEventRecord")
    }

    /// Block the host until the recorded work is done.
    pub fn synchronize(&self) -> Result<()> {
        // SAFETY: live handle.
        unsafe { cust::sys::cuEventSynchronize(self.raw) }.call("cuEventSynchronize")
    }

    /// True when the recorded work is done (never blocks).
    pub fn is_done(&self) -> Result<bool> {
        // SAFETY: live handle.
        match unsafe { cust::sys::cuEventQuery(self.raw) } {
            cust::sys::CUresult::CUDA_SUCCESS => Ok(true),
            cust::sys::CUresult::CUDA_ERROR_NOT_READY => Ok(false),
            other => other.call("cuEventQuery").map(|_| false),
        }
    }

    /// Milliseconds of device time from `start` to this event (both recorded with timing).
    pub fn elapsed_ms(&self, start: &Event) -> Result<f32> {
        let mut ms = 0f32;
        // SAFETY: valid out-pointer and handles.
        unsafe { cust::sys::cuEventElapsedTime(&mut ms, start.raw, self.raw) }
            .call("cuEventElapsedTime")?;
        Ok(ms)
    }

    pub fn raw(&self) -> CUevent {
        self.raw
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: owned handle, destroyed once. Destroying a recorded event whose work is still
        // pending is allowed: the driver releases it when the work completes.
        unsafe {
            cust::sys::cuEventDestroy_v2(self.raw);
        }
    }
}

/// Make all later work on `stream` wait for `event` (device-side; the host does not block).
pub fn wait_event(stream: &Stream, event: &Event) -> Result<()> {
    // SAFETY: both handles are live; flags must be 0.
    unsafe { cust::sys::cuStreamWaitEvent(stream.as_inner(), event.raw, 0) }
        .call("cuStreamWaitEvent")
}

/// Record an event on `before` and make `after` wait for it: everything queued on `before` so
/// far happens before anything queued on `after` from now on.
pub fn join(after: &Stream, before: &Stream) -> Result<Event> {
    let e = Event::new(false)?;
    e.record(before)?;
    wait_event(after, &e)?;
    Ok(e)
}
