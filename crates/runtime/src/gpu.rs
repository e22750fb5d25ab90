//! A GPU: its device, its (primary) context and the limits launches are checked against.
use super::error::{Call, Error, Result};
use cust::context::{Context, CurrentContext};
use cust::device::{Device, DeviceAttribute};
use cust::memory::{DeviceBuffer, DeviceCopy};
use cust::stream::{Stream, StreamFlags};

/// What the runtime needs to know about a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProps {
    pub ordinal: u32,
    pub name: String,
    pub major: u32,
    pub minor: u32,
    pub sm_count: u32,
    pub max_threads_per_block: u32,
    pub max_block_dim: [u32; 3],
    pub max_grid_dim: [u32; 3],
    /// Shared memory a block gets without opting in (48 KiB).
    pub max_shared_per_block: u32,
    /// Shared memory a block can get after raising the function's attribute.
    pub max_shared_per_block_optin: u32,
    pub max_threads_per_sm: u32,
    pub total_memory: usize,
    pub l2_bytes: u32,
    pub clock_khz: u32,
    pub memory_clock_khz: u32,
    pub memory_bus_bits: u32,
    pub pci_bus_id: String,
}

impl DeviceProps {
    pub fn compute_capability(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// Theoretical DRAM bandwidth from the memory clock and bus width (double data rate).
    pub fn peak_memory_bandwidth(&self) -> f64 {
        2.0 * self.memory_clock_khz as f64 * 1e3 * self.memory_bus_bits as f64 / 8.0
    }
}

/// One GPU with its (primary) context, bound on the creating thread. `Send + Sync`: every method
/// binds the context on the calling thread itself, and so do kernel launches, so one `Gpu` can be
/// shared by many threads (each with its own streams) without any set-up per thread.
pub struct Gpu {
    device: Device,
    context: Context,
    props: DeviceProps,
}

fn attr(d: Device, a: DeviceAttribute) -> Result<u32> {
    Ok(d.get_attribute(a).call("cuDeviceGetAttribute")? as u32)
}

impl Gpu {
    /// Initialise the driver (once per process) and report how many devices there are.
    pub fn count() -> Result<u32> {
        init()?;
        Device::num_devices().call("cuDeviceGetCount")
    }

    /// Open GPU `ordinal` and make its primary context current on this thread.
    pub fn new(ordinal: u32) -> Result<Gpu> {
        let n = Gpu::count()?;
        if n == 0 {
            return Err(Error::NoDevice("the driver reports no devices".into()));
        }
        if ordinal >= n {
            return Err(Error::NoDevice(format!(
                "device {ordinal} requested but only {n} present (0..{})",
                n - 1
            )));
        }
        let device = Device::get_device(ordinal).call("cuDeviceGet")?;
        let context = Context::new(device).call("cuDevicePrimaryCtxRetain")?;
        CurrentContext::set_current(&context).call("cuCtxSetCurrent")?;
        let props = read_props(ordinal, device)?;
        Ok(Gpu {
            device,
            context,
            props,
        })
    }

    pub fn props(&self) -> &DeviceProps {
        &self.props
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Make this GPU's context current on the calling thread. Cheap when it already is (the
    /// usual case), so every runtime entry point calls it.
    pub fn bind(&self) -> Result<()> {
        ensure_current(self.context.as_raw())
    }

    /// The raw driver context.
    pub fn raw_context(&self) -> cust::sys::CUcontext {
        self.context.as_raw()
    }

    /// Recover from a sticky error ([`Error::is_sticky`]): destroy the faulted primary context
    /// and open a fresh one on the same device.
    ///
    /// Current drivers refuse this: on the H200 with driver 580.159 (CUDA 13.0) every new
    /// context of the process fails with the sticky error after a trap, whatever the order of
    /// reset and release (and `cuCtxCreate` fails too), so this returns that error. There the
    /// way to keep working is a new process: run work that may trap in a child process (the
    /// tests do, see `tests/common`); the error comes back as a value either way.
    ///
    /// Everything created in the old context (buffers, streams, events, modules, kernels,
    /// pools, graphs) is invalid afterwards and must be dropped *before* calling this: a buffer
    /// dropped later would free an address that the new context may have handed out again.
    /// Taking `self` by value makes the old handle unusable.
    pub fn recover(self) -> Result<Gpu> {
        let ordinal = self.props.ordinal;
        let device = self.device;
        // SAFETY: resetting is allowed while the context is retained; the old handle is consumed
        // and the caller has dropped every object of the old context (documented contract).
        unsafe { cust::sys::cuDevicePrimaryCtxReset_v2(device.as_raw()) }
            .call("cuDevicePrimaryCtxReset")?;
        forget_current();
        drop(self);
        Gpu::new(ordinal)
    }

    /// A new non-blocking stream.
    pub fn stream(&self) -> Result<Stream> {
        self.bind()?;
        Stream::new(StreamFlags::NON_BLOCKING, None).call("cuStreamCreate")
    }

    /// A new event in this GPU's context (`timing: false` for pure dependencies).
    pub fn event(&self, timing: bool) -> Result<super::event::Event> {
        self.bind()?;
        super::event::Event::new(timing)
    }

    /// Wait for all work in the context.
    pub fn synchronize(&self) -> Result<()> {
        self.bind()?;
        CurrentContext::synchronize().call("cuCtxSynchronize")
    }

    /// Copy `data` to a new device buffer.
    pub fn upload<T: DeviceCopy>(&self, data: &[T]) -> Result<DeviceBuffer<T>> {
        self.bind()?;
        DeviceBuffer::from_slice(data).call("cuMemcpyHtoD")
    }

    /// A device buffer of `len` elements with every byte set to `byte`.
    pub fn alloc_filled<T: DeviceCopy>(&self, len: usize, byte: u8) -> Result<DeviceBuffer<T>> {
        self.bind()?;
        // SAFETY: every byte is written by the memset below before the buffer is handed out;
        // T: DeviceCopy is plain data.
        let buf = unsafe { DeviceBuffer::<T>::uninitialized(len) }.call("cuMemAlloc")?;
        if len > 0 {
            // SAFETY: the range is exactly the allocation.
            unsafe {
                cust::sys::cuMemsetD8_v2(
                    buf.as_device_ptr().as_raw(),
                    byte,
                    len * std::mem::size_of::<T>(),
                )
            }
            .call("cuMemsetD8")?;
        }
        Ok(buf)
    }

    /// Free and total device memory in bytes.
    pub fn memory_info(&self) -> Result<(usize, usize)> {
        self.bind()?;
        cust::memory::mem_get_info().call("cuMemGetInfo")
    }
}

/// Attributes cust's enum does not name.
fn raw_attr(d: Device, a: cust::sys::CUdevice_attribute) -> Result<u32> {
    let mut v = 0i32;
    // SAFETY: `v` is a valid out-pointer; `d` is a device handle from the driver.
    unsafe { cust::sys::cuDeviceGetAttribute(&mut v, a, d.as_raw()) }
        .call("cuDeviceGetAttribute")?;
    Ok(v as u32)
}

fn init() -> Result<()> {
    use std::sync::OnceLock;
    static INIT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        cust::init(cust::CudaFlags::empty()).map_err(|e| {
            let name = super::error::error_name(e as u32);
            match e {
                cust::error::CudaError::NoDevice => {
                    format!("cuInit: {name} (no NVIDIA GPU is visible on this machine)")
                }
                _ => format!("cuInit: {name} ({e}); is the NVIDIA driver installed and loaded?"),
            }
        })
    })
    .clone()
    .map_err(Error::NoDevice)
}

/// Make `ctx` current on this thread unless it already is.
pub(crate) fn ensure_current(ctx: cust::sys::CUcontext) -> Result<()> {
    let mut cur: cust::sys::CUcontext = std::ptr::null_mut();
    // SAFETY: valid out-pointer.
    unsafe { cust::sys::cuCtxGetCurrent(&mut cur) }.call("cuCtxGetCurrent")?;
    if cur != ctx {
        // SAFETY: `ctx` is a live context handle owned by the caller's object.
        unsafe { cust::sys::cuCtxSetCurrent(ctx) }.call("cuCtxSetCurrent")?;
    }
    Ok(())
}

/// Unbind whatever context is current on this thread (after it was reset).
fn forget_current() {
    // SAFETY: a null context is allowed and unbinds.
    let _ = unsafe { cust::sys::cuCtxSetCurrent(std::ptr::null_mut()) };
}

pub(crate) fn read_props(ordinal: u32, d: Device) -> Result<DeviceProps> {
    use DeviceAttribute as A;
    let mut bus = [0 as std::os::raw::c_char; 32];
    // SAFETY: the buffer is 32 bytes and the driver writes a NUL-terminated id into it.
    unsafe { cust::sys::cuDeviceGetPCIBusId(bus.as_mut_ptr(), bus.len() as i32, d.as_raw()) }
        .call("cuDeviceGetPCIBusId")?;
    // SAFETY: NUL-terminated by the driver.
    let pci_bus_id = unsafe { std::ffi::CStr::from_ptr(bus.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Ok(DeviceProps {
        ordinal,
        name: d.name().call("cuDeviceGetName")?,
        major: attr(d, A::ComputeCapabilityMajor)?,
        minor: attr(d, A::ComputeCapabilityMinor)?,
        sm_count: attr(d, A::MultiprocessorCount)?,
        max_threads_per_block: attr(d, A::MaxThreadsPerBlock)?,
        max_block_dim: [
            attr(d, A::MaxBlockDimX)?,
            attr(d, A::MaxBlockDimY)?,
            attr(d, A::MaxBlockDimZ)?,
        ],
        max_grid_dim: [
            attr(d, A::MaxGridDimX)?,
            attr(d, A::MaxGridDimY)?,
            attr(d, A::MaxGridDimZ)?,
        ],
        max_shared_per_block: attr(d, A::MaxSharedMemoryPerBlock)?,
        max_shared_per_block_optin: raw_attr(
            d,
            cust::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
        )?,
        max_threads_per_sm: attr(d, A::MaxThreadsPerMultiprocessor)?,
        total_memory: d.total_memory().call("cuDeviceTotalMem")?,
        l2_bytes: attr(d, A::L2CacheSize)?,
        clock_khz: attr(d, A::ClockRate)?,
        memory_clock_khz: attr(d, A::MemoryClockRate)?,
        memory_bus_bits: attr(d, A::GlobalMemoryBusWidth)?,
        pci_bus_id,
    })
}
