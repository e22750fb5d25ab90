//! Checked driver calls: every `CUresult` becomes `Ok` or a typed [`Error`] that names the call,
//! and the one error type of the runtime.
pub use crate::codes::CudaError;
use crate::sys;
use std::fmt;

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed CUDA driver call: which call and the driver's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverError {
    /// The driver function that failed, e.g. `cuMemAlloc`.
    pub call: &'static str,
    /// What the driver returned.
    pub code: CudaError,
}

impl DriverError {
    /// A failure of `call` with the raw `CUresult` `raw` (which must not be `CUDA_SUCCESS`).
    pub fn new(call: &'static str, raw: u32) -> DriverError {
        DriverError {
            call,
            code: CudaError::from_raw(raw).unwrap_or(CudaError::Other(0)),
        }
    }

    /// CUDA's own name for the code, e.g. `CUDA_ERROR_ILLEGAL_ADDRESS`.
    pub fn name(&self) -> String {
        self.code.to_string()
    }

    /// CUDA's description of the code (from the driver, when it knows the code).
    pub fn description(&self) -> String {
        driver_description(self.code.raw()).unwrap_or_else(|| "unknown error".into())
    }

    /// Errors after which the context is unusable: every later call in it fails the same way,
    /// so the context must be recreated.
    pub fn is_sticky(&self) -> bool {
        use CudaError as E;
        matches!(
            self.code,
            E::EccUncorrectable
                | E::IllegalAddress
                | E::LaunchTimeout
                | E::Assert
                | E::HardwareStackError
                | E::IllegalInstruction
                | E::MisalignedAddress
                | E::InvalidAddressSpace
                | E::InvalidPc
                | E::LaunchFailed
        )
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {}: {}",
            self.call,
            self.code,
            self.description()
        )?;
        if self.is_sticky() {
            write!(f, "; the context is now unusable and must be recreated")?;
        }
        Ok(())
    }
}

impl std::error::Error for DriverError {}

/// `cuGetErrorString`: the driver's description of a code, when it knows the code.
fn driver_description(raw: u32) -> Option<String> {
    let mut ptr: *const std::os::raw::c_char = std::ptr::null();
    // SAFETY: the driver writes a pointer to a static NUL-terminated string, or returns an
    // error (for codes it does not know, or when it is not loaded).
    unsafe {
        if sys::cuGetErrorString(sys::CUresult(raw), &mut ptr) == sys::CUresult::CUDA_SUCCESS
            && !ptr.is_null()
        {
            return Some(std::ffi::CStr::from_ptr(ptr).to_string_lossy().into_owned());
        }
    }
    None
}

/// Everything that can go wrong on the host side.
#[derive(Debug)]
pub enum Error {
    /// No usable GPU: no driver, no device, or the ordinal is out of range.
    NoDevice(String),
    /// A driver call failed.
    Driver(DriverError),
    /// A launch the driver rejected, or whose kernel failed.
    Launch {
        /// The kernel's name.
        kernel: String,
        /// Grid of the launch, in blocks.
        grid: (u32, u32, u32),
        /// Block of the launch, in threads.
        block: (u32, u32, u32),
        /// Dynamic shared memory per block.
        shared_bytes: u32,
        /// The driver's error.
        source: DriverError,
    },
    /// Argument lengths that break the kernel's contract; nothing was launched.
    LengthMismatch {
        /// The kernel (or operation) whose contract was broken.
        kernel: String,
        /// Each argument's name and length.
        lens: Vec<(String, usize)>,
    },
    /// A launch contract (a length relation of the kernel's `#[kernel(..)]`) that the arguments
    /// break; nothing was launched.
    Contract {
        /// The kernel.
        kernel: String,
        /// The parameter the relation is about (its first `len(..)`).
        param: String,
        /// The relation as written, e.g. `len(x) == rows * cols`.
        relation: String,
        /// The values it read.
        values: String,
    },
    /// A shape or argument outside what an operation accepts; nothing was launched.
    InvalidArgument {
        /// The operation.
        op: String,
        /// What is wrong.
        reason: String,
    },
    /// A launch configuration outside the device's or the kernel's limits; nothing was launched.
    InvalidConfig {
        /// The kernel.
        kernel: String,
        /// Which limit the configuration breaks.
        reason: String,
    },
    /// A request for more device memory than is free; nothing was allocated.
    OutOfMemory {
        /// The operation.
        op: String,
        /// Bytes requested.
        requested: usize,
        /// Bytes free on the device.
        free: usize,
    },
    /// No compiled image of a module can run on this device.
    NoImage {
        /// The module (kernel crate) name.
        module: String,
        /// The device's compute capability, major.
        major: u32,
        /// The device's compute capability, minor.
        minor: u32,
        /// The architectures the module was built for.
        built: String,
    },
    /// An architecture-specific kernel (`#[kernel(arch = "sm_90a")]`) that the image loaded
    /// for this device does not contain; nothing was launched.
    KernelUnavailable {
        /// The kernel's entry.
        kernel: String,
        /// The architecture it was built for.
        arch: String,
        /// The device's compute capability, major.
        major: u32,
        /// The device's compute capability, minor.
        minor: u32,
        /// The image that was loaded, e.g. `sm_80 PTX`.
        loaded: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoDevice(why) => write!(f, "no CUDA device: {why}"),
            Error::Driver(d) => write!(f, "{d}"),
            Error::Launch {
                kernel,
                grid,
                block,
                shared_bytes,
                source,
            } => write!(
                f,
                "launch of kernel `{kernel}` (grid {grid:?}, block {block:?}, {shared_bytes} B shared) failed: {source}"
            ),
            Error::LengthMismatch { kernel, lens } => {
                write!(f, "kernel `{kernel}`: lengths must match: ")?;
                for (i, (name, len)) in lens.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{name}={len}")?;
                }
                Ok(())
            }
            Error::Contract {
                kernel,
                param,
                relation,
                values,
            } => write!(
                f,
                "kernel `{kernel}`: contract `{relation}` does not hold for `{param}`: {values}"
            ),
            Error::InvalidArgument { op, reason } => write!(f, "{op}: {reason}"),
            Error::InvalidConfig { kernel, reason } => {
                write!(
                    f,
                    "kernel `{kernel}`: invalid launch configuration: {reason}"
                )
            }
            Error::OutOfMemory {
                op,
                requested,
                free,
            } => write!(
                f,
                "{op}: {requested} B requested but only {free} B of device memory are free"
            ),
            Error::NoImage {
                module,
                major,
                minor,
                built,
            } => write!(
                f,
                "module `{module}` has no image for compute capability {major}.{minor} (built for: {built}); rebuild with GPUKIT_ARCH=sm_{major}{minor}"
            ),
            Error::KernelUnavailable {
                kernel,
                arch,
                major,
                minor,
                loaded,
            } => write!(
                f,
                "kernel `{kernel}` exists only for {arch} GPUs; this device has compute capability {major}.{minor} and loaded the {loaded} image, which does not contain it: use a portable kernel here"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.driver_error()
            .map(|d| d as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// True when the context that produced this error must be recreated.
    pub fn is_sticky(&self) -> bool {
        self.driver_error().is_some_and(DriverError::is_sticky)
    }

    /// The driver's code, if this is a driver failure.
    pub fn driver_code(&self) -> Option<CudaError> {
        self.driver_error().map(|d| d.code)
    }

    /// True when a cooperative launch asked for more blocks than can be resident at once
    /// (`CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE`): nothing ran, a smaller grid or a kernel
    /// that needs no co-residency may be launched instead.
    pub fn is_cooperative_too_large(&self) -> bool {
        self.driver_code() == Some(CudaError::CooperativeLaunchTooLarge)
    }

    fn driver_error(&self) -> Option<&DriverError> {
        match self {
            Error::Driver(d) | Error::Launch { source: d, .. } => Some(d),
            _ => None,
        }
    }
}

/// Attach the call's name to a driver result.
pub trait Call<T> {
    /// `Ok` on success, else [`Error::Driver`] naming `call`.
    fn call(self, call: &'static str) -> Result<T>;
}

impl Call<()> for sys::CUresult {
    fn call(self, call: &'static str) -> Result<()> {
        check(self).map_err(|code| Error::Driver(DriverError { call, code }))
    }
}

/// `Ok` for `CUDA_SUCCESS`, else the typed code.
pub fn check(r: sys::CUresult) -> std::result::Result<(), CudaError> {
    match CudaError::from_raw(r.0) {
        None => Ok(()),
        Some(code) => Err(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_name_themselves() {
        assert_eq!(CudaError::from_raw(0), None);
        for raw in [1, 2, 100, 209, 222, 700, 719, 912, 999, 123_456] {
            let c = CudaError::from_raw(raw).unwrap();
            assert_eq!(c.raw(), raw);
        }
        assert_eq!(CudaError::from_raw(700), Some(CudaError::IllegalAddress));
        assert_eq!(
            CudaError::InvalidClusterSize.name(),
            "CUDA_ERROR_INVALID_CLUSTER_SIZE"
        );
        assert_eq!(
            CudaError::from_raw(123_456),
            Some(CudaError::Other(123_456))
        );
        assert_eq!(CudaError::Other(123_456).to_string(), "CUDA error 123456");
        let d = DriverError::new("cuLaunchKernel", 719);
        assert!(d.is_sticky());
        assert!(!DriverError::new("cuMemAlloc", 2).is_sticky());
        assert_eq!(
            Error::Driver(d).driver_code(),
            Some(CudaError::LaunchFailed)
        );
    }
}
