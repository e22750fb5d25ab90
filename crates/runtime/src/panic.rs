//! Host side of device panic reporting.
//!
//! `gpukit-device`'s panic handler writes where the first panicking thread panicked (file, line,
//! column, static message, block and thread) into a record in pinned, device-mapped host memory
//! whose device address the host stored in the module global `GPUKIT_PANIC_RECORD`, then traps.
//! The trap kills the context (a sticky error), but host memory stays readable, so the host can
//! name the kernel *and* the source location.
//!
//! ```ignore
//! let panics = PanicBuffer::new(&gpu)?;
//! panics.attach(k.my_kernel.function())?;          // once per loaded module
//! let r = k.my_kernel.launch(&s, ..).and_then(|_| runtime::sync(&s));
//! panics.check("my_kernel", r)?;                  // Err(KernelFailure) names kernel + file:line
//! ```
//! Read the record ([`PanicBuffer::take`] / [`PanicBuffer::check`]) and drop the buffer before
//! [`crate::Gpu::recover`]: the pinned memory belongs to the old context.
use crate::context::Context;
use crate::gpu::Gpu;
use crate::launch::KernelFn;
use crate::result::{Call, CudaError, Error, Result};
use crate::sys;
use std::ffi::c_void;
use std::fmt;
use std::sync::Arc;

/// Name of the device global holding the record's device address (see gpukit-device's panic.rs).
pub const PANIC_RECORD_SYMBOL: &str = "GPUKIT_PANIC_RECORD";
const FILE_BYTES: usize = 160;
const MESSAGE_BYTES: usize = 96;

/// Mirror of `gpukit_device::panic::PanicRecord` (304 bytes).
#[repr(C)]
struct RawRecord {
    state: u32,
    line: u32,
    column: u32,
    file_len: u32,
    message_len: u32,
    block: [u32; 3],
    thread: [u32; 3],
    _pad: u32,
    file: [u8; FILE_BYTES],
    message: [u8; MESSAGE_BYTES],
}
const _: () = assert!(std::mem::size_of::<RawRecord>() == 304);

/// Where and how a kernel panicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePanic {
    /// Source file as rustc saw it (relative to the kernel crate, or absolute for dependencies).
    pub file: String,
    /// Line of the panic.
    pub line: u32,
    /// Column of the panic.
    pub column: u32,
    /// The message when it was a static string (`panic!("literal")`, `expect("..")`); `None`
    /// for formatted messages such as bounds-check failures.
    pub message: Option<String>,
    /// Block index of the panicking thread.
    pub block: [u32; 3],
    /// Thread index within its block.
    pub thread: [u32; 3],
}

impl fmt::Display for DevicePanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked at {}:{}:{}", self.file, self.line, self.column)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        write!(
            f,
            " (block ({}, {}, {}), thread ({}, {}, {}))",
            self.block[0],
            self.block[1],
            self.block[2],
            self.thread[0],
            self.thread[1],
            self.thread[2]
        )
    }
}

/// A failed launch or synchronisation, with the kernel's name and, when the kernel panicked,
/// where.
#[derive(Debug)]
pub struct KernelFailure {
    /// The kernel that failed.
    pub kernel: String,
    /// Where it panicked, when the panic was recorded.
    pub panic: Option<DevicePanic>,
    /// The launch or synchronisation error.
    pub source: Error,
}

impl fmt::Display for KernelFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.panic {
            Some(p) => write!(f, "kernel `{}` {p}: {}", self.kernel, self.source),
            None => write!(f, "kernel `{}` failed: {}", self.kernel, self.source),
        }
    }
}

impl std::error::Error for KernelFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl KernelFailure {
    /// True when the context must be recreated ([`Gpu::recover`]).
    pub fn is_sticky(&self) -> bool {
        self.source.is_sticky()
    }
}

/// A pinned, device-mapped panic record shared by the modules it is attached to. Keeps its
/// context alive.
pub struct PanicBuffer {
    host: *mut RawRecord,
    device: u64,
    ctx: Arc<Context>,
}

// SAFETY: the record is plain memory owned by this handle; host reads are volatile and the
// device writes it only while a kernel panics.
unsafe impl Send for PanicBuffer {}
// SAFETY: as above; `take` may race only with itself, and both read a complete record.
unsafe impl Sync for PanicBuffer {}

impl PanicBuffer {
    /// Allocate the record (zeroed) in `gpu`'s context.
    pub fn new(gpu: &Gpu) -> Result<PanicBuffer> {
        gpu.bind()?;
        let mut p: *mut c_void = std::ptr::null_mut();
        // CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP
        // SAFETY: valid out-pointer; size of one record.
        unsafe { sys::cuMemHostAlloc(&mut p, std::mem::size_of::<RawRecord>(), 0x1 | 0x2) }
            .call("cuMemHostAlloc")?;
        // SAFETY: `p` is a fresh allocation of one record; all-zero is a valid (empty) record.
        unsafe { std::ptr::write_bytes(p as *mut u8, 0, std::mem::size_of::<RawRecord>()) };
        let mut d: sys::CUdeviceptr = 0;
        // SAFETY: `p` was allocated with DEVICEMAP above.
        let r = unsafe { sys::cuMemHostGetDevicePointer_v2(&mut d, p, 0) }
            .call("cuMemHostGetDevicePointer");
        if let Err(e) = r {
            // SAFETY: `p` came from cuMemHostAlloc and is not used afterwards.
            unsafe { sys::cuMemFreeHost(p) };
            return Err(e);
        }
        Ok(PanicBuffer {
            host: p as *mut RawRecord,
            device: d,
            ctx: gpu.context().clone(),
        })
    }

    /// Point the module that holds `kernel` at this record. `Ok(false)` when the module has no
    /// `GPUKIT_PANIC_RECORD` global (it was not built with gpukit-device's panic reporting).
    pub fn attach(&self, kernel: &KernelFn) -> Result<bool> {
        let mut m: sys::CUmodule = std::ptr::null_mut();
        self.ctx.bind()?;
        // SAFETY: valid out-pointer and live function handle.
        unsafe { sys::cuFuncGetModule(&mut m, kernel.raw()) }.call("cuFuncGetModule")?;
        let (mut dptr, mut bytes): (sys::CUdeviceptr, usize) = (0, 0);
        let name = std::ffi::CString::new(PANIC_RECORD_SYMBOL).expect("no NUL");
        // SAFETY: valid out-pointers, live module, NUL-terminated name.
        let r = crate::result::check(unsafe {
            sys::cuModuleGetGlobal_v2(&mut dptr, &mut bytes, m, name.as_ptr())
        });
        match r {
            Err(CudaError::NotFound) => return Ok(false),
            Err(code) => {
                return Err(Error::Driver(crate::DriverError {
                    call: "cuModuleGetGlobal",
                    code,
                }));
            }
            Ok(()) => {}
        }
        if bytes != 8 {
            return Err(Error::InvalidArgument {
                op: "PanicBuffer::attach".into(),
                reason: format!("{PANIC_RECORD_SYMBOL} has {bytes} bytes, expected 8"),
            });
        }
        // SAFETY: copies 8 bytes from a live u64 to the 8-byte global.
        unsafe { sys::cuMemcpyHtoD_v2(dptr, &self.device as *const u64 as *const c_void, 8) }
            .call("cuMemcpyHtoD")?;
        crate::stream::finish_legacy_stream()?;
        Ok(true)
    }

    /// The recorded panic, if a kernel completed one; clears the record.
    pub fn take(&self) -> Option<DevicePanic> {
        let r = self.host;
        // SAFETY: `host` is a live record; the device may write it concurrently, hence volatile
        // reads, and the fields are read only once `state` says the record is complete.
        unsafe {
            if std::ptr::read_volatile(&raw const (*r).state) != 2 {
                return None;
            }
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            let rec = std::ptr::read_volatile(r);
            let file_len = (rec.file_len as usize).min(FILE_BYTES);
            let message = (rec.message_len != u32::MAX).then(|| {
                let n = (rec.message_len as usize).min(MESSAGE_BYTES);
                String::from_utf8_lossy(&rec.message[..n]).into_owned()
            });
            std::ptr::write_volatile(&raw mut (*r).state, 0);
            Some(DevicePanic {
                file: String::from_utf8_lossy(&rec.file[..file_len]).into_owned(),
                line: rec.line,
                column: rec.column,
                message,
                block: rec.block,
                thread: rec.thread,
            })
        }
    }

    /// Turn the result of a launch (and/or the synchronisation after it) into one that names
    /// `kernel` and, when it panicked, the panic's location.
    #[allow(clippy::result_large_err)]
    pub fn check<T>(&self, kernel: &str, r: Result<T>) -> std::result::Result<T, KernelFailure> {
        r.map_err(|source| KernelFailure {
            kernel: kernel.to_string(),
            panic: self.take(),
            source,
        })
    }
}

impl Drop for PanicBuffer {
    fn drop(&mut self) {
        let _ = self.ctx.bind();
        // SAFETY: `host` came from cuMemHostAlloc and is freed once. A failure (the context is
        // faulted) leaves nothing to do.
        unsafe { sys::cuMemFreeHost(self.host as *mut c_void) };
    }
}
