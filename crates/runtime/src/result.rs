//! The one error type of the host runtime.
use cust::error::CudaError;
use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed CUDA driver call: which call, CUDA's code, name and description for the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverError {
    pub call: &'static str,
    /// The raw `CUresult`.
    pub code: u32,
}

/// Codes after which a context is unusable (CUDA's "sticky" errors).
const STICKY: &[u32] = &[
    214, // CUDA_ERROR_ECC_UNCORRECTABLE
    700, // CUDA_ERROR_ILLEGAL_ADDRESS
    702, // CUDA_ERROR_LAUNCH_TIMEOUT
    710, // CUDA_ERROR_ASSERT
    714, // CUDA_ERROR_HARDWARE_STACK_ERROR
    715, // CUDA_ERROR_ILLEGAL_INSTRUCTION
    716, // CUDA_ERROR_MISALIGNED_ADDRESS
    717, // CUDA_ERROR_INVALID_ADDRESS_SPACE
    718, // CUDA_ERROR_INVALID_PC
    719, // CUDA_ERROR_LAUNCH_FAILED
];

impl DriverError {
    pub fn new(call: &'static str, code: u32) -> DriverError {
        DriverError { call, code }
    }

    /// CUDA's own name for the code, e.g. `CUDA_ERROR_ILLEGAL_ADDRESS`.
    pub fn name(&self) -> String {
        error_name(self.code)
    }

    /// CUDA's description of the code.
    pub fn description(&self) -> String {
        driver_string(self.code, cust::sys::cuGetErrorString)
            .unwrap_or_else(|| "unknown error".into())
    }

    /// Errors after which the context is unusable: every later call in it fails the same way,
    /// so the context must be recreated.
    pub fn is_sticky(&self) -> bool {
        STICKY.contains(&self.code)
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {}: {}",
            self.call,
            self.name(),
            self.description()
        )?;
        if self.is_sticky() {
            write!(f, "; the context is now unusable and must be recreated")?;
        }
        Ok(())
    }
}

impl std::error::Error for DriverError {}

type ErrorStringFn = unsafe extern "C" fn(
    cust::sys::CUresult,
    *mut *const std::os::raw::c_char,
) -> cust::sys::CUresult;

fn driver_string(code: u32, f: ErrorStringFn) -> Option<String> {
    if !(KNOWN_CODES.contains(&code)) {
        return None;
    }
    let mut ptr: *const std::os::raw::c_char = std::ptr::null();
    // SAFETY: `code` is one of CUresult's declared values (checked above), so the transmute
    // yields a valid enum; the driver returns a static NUL-terminated string or an error.
    unsafe {
        let raw: cust::sys::CUresult = std::mem::transmute(code);
        if f(raw, &mut ptr) == cust::sys::CUresult::CUDA_SUCCESS && !ptr.is_null() {
            return Some(std::ffi::CStr::from_ptr(ptr).to_string_lossy().into_owned());
        }
    }
    None
}

/// CUDA's name for an error code, from the driver (`cuGetErrorName`).
pub fn error_name(code: u32) -> String {
    driver_string(code, cust::sys::cuGetErrorName).unwrap_or_else(|| format!("CUDA error {code}"))
}

/// The values `CUresult` declares in the bindings cust uses.
const KNOWN_CODES: &[u32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 34, 46, 100, 101, 102, 200, 201, 202, 205, 206, 207, 208, 209, 210,
    211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 300, 301, 302, 303,
    304, 400, 401, 500, 600, 700, 701, 702, 703, 704, 705, 708, 709, 710, 711, 712, 713, 714, 715,
    716, 717, 718, 719, 720, 800, 801, 802, 803, 804, 805, 806, 807, 808, 900, 901, 902, 903, 904,
    905, 906, 907, 908, 909, 910, 999,
];

/// Everything that can go wrong on the host side.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable GPU: no driver, no device, or the ordinal is out of range.
    #[error("no CUDA device: {0}")]
    NoDevice(String),
    #[error("{0}")]
    Driver(DriverError),
    /// A launch the driver rejected, or whose kernel failed.
    #[error(
        "launch of kernel `{kernel}` (grid {grid:?}, block {block:?}, {shared_bytes} B shared) failed: {source}"
    )]
    Launch {
        kernel: String,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        shared_bytes: u32,
        source: DriverError,
    },
    /// Argument lengths that break the kernel's contract; nothing was launched.
    #[error("kernel `{kernel}`: lengths must match: {}", .lens.iter().map(|(n, l)| format!("{n}={l}")).collect::<Vec<_>>().join(", "))]
    LengthMismatch {
        kernel: String,
        lens: Vec<(String, usize)>,
    },
    /// A shape or argument outside what an operation accepts; nothing was launched.
    #[error("{op}: {reason}")]
    InvalidArgument { op: String, reason: String },
    /// A launch configuration outside the device's or the kernel's limits; nothing was launched.
    #[error("kernel `{kernel}`: invalid launch configuration: {reason}")]
    InvalidConfig { kernel: String, reason: String },
    /// A request for more device memory than is free; nothing was allocated.
    #[error("{op}: {requested} B requested but only {free} B of device memory are free")]
    OutOfMemory {
        op: String,
        requested: usize,
        free: usize,
    },
    /// No compiled image of a module can run on this device.
    #[error(
        "module `{module}` has no image for compute capability {major}.{minor} (built for: {built}); rebuild with GPUKIT_ARCH=sm_{major}{minor}"
    )]
    NoImage {
        module: String,
        major: u32,
        minor: u32,
        built: String,
    },
}

impl Error {
    /// True when the context that produced this error must be recreated.
    pub fn is_sticky(&self) -> bool {
        match self {
            Error::Driver(d) | Error::Launch { source: d, .. } => d.is_sticky(),
            _ => false,
        }
    }

    /// The raw `CUresult` of a driver failure, if this is one.
    pub fn driver_code(&self) -> Option<u32> {
        match self {
            Error::Driver(d) | Error::Launch { source: d, .. } => Some(d.code),
            _ => None,
        }
    }
}

/// Attach the call's name to a driver result.
pub(crate) trait Call<T> {
    fn call(self, call: &'static str) -> Result<T>;
}

impl<T> Call<T> for std::result::Result<T, CudaError> {
    fn call(self, call: &'static str) -> Result<T> {
        self.map_err(|code| Error::Driver(DriverError::new(call, code as u32)))
    }
}

impl Call<()> for cust::sys::CUresult {
    fn call(self, call: &'static str) -> Result<()> {
        check(self).map_err(|code| Error::Driver(DriverError::new(call, code)))
    }
}

/// `Ok` for `CUDA_SUCCESS`, else the raw code.
pub fn check(r: cust::sys::CUresult) -> std::result::Result<(), u32> {
    match r {
        cust::sys::CUresult::CUDA_SUCCESS => Ok(()),
        other => Err(other as u32),
    }
}
