//! A GPU: its device, its (primary) context and the limits launches are checked against.
use crate::context::Context;
use crate::event::Event;
use crate::memory::{DeviceBuffer, DeviceCopy};
use crate::result::{Call, CudaError, Error, Result};
use crate::stream::Stream;
use crate::sys;
use std::sync::Arc;

/// What the runtime needs to know about a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProps {
    /// Device ordinal (index among the devices the driver lists).
    pub ordinal: u32,
    /// The device's name, e.g. `NVIDIA H200`.
    pub name: String,
    /// Compute capability, major.
    pub major: u32,
    /// Compute capability, minor.
    pub minor: u32,
    /// Streaming multiprocessors.
    pub sm_count: u32,
    /// Most threads a block may have.
    pub max_threads_per_block: u32,
    /// Largest block, per axis.
    pub max_block_dim: [u32; 3],
    /// Largest grid, per axis.
    pub max_grid_dim: [u32; 3],
    /// Shared memory a block gets without opting in (48 KiB).
    pub max_shared_per_block: u32,
    /// Shared memory a block can get after raising the function's attribute.
    pub max_shared_per_block_optin: u32,
    /// Most resident threads per SM.
    pub max_threads_per_sm: u32,
    /// Device memory in bytes.
    pub total_memory: usize,
    /// L2 cache in bytes.
    pub l2_bytes: u32,
    /// SM clock in kHz.
    pub clock_khz: u32,
    /// Memory clock in kHz.
    pub memory_clock_khz: u32,
    /// Memory bus width in bits.
    pub memory_bus_bits: u32,
    /// PCI bus id, e.g. `0000:19:00.0`.
    pub pci_bus_id: String,
}

impl DeviceProps {
    /// `(major, minor)`.
    pub fn compute_capability(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// Theoretical DRAM bandwidth from the memory clock and bus width (double data rate).
    pub fn peak_memory_bandwidth(&self) -> f64 {
        2.0 * self.memory_clock_khz as f64 * 1e3 * self.memory_bus_bits as f64 / 8.0
    }
}

/// One GPU with its (primary) context. Cheap to clone (the context is shared), and `Send +
/// Sync`: every method binds the context on the calling thread itself, and so do kernel
/// launches, so one `Gpu` can be shared by many threads (each with its own streams) without any
/// set-up per thread. Everything created from it keeps the context alive, so a `Gpu` may be
/// dropped before the modules, buffers and streams made with it.
#[derive(Clone, Debug)]
pub struct Gpu {
    ctx: Arc<Context>,
    props: Arc<DeviceProps>,
}

fn attr(d: sys::CUdevice, a: sys::CUdevice_attribute) -> Result<u32> {
    let mut v = 0i32;
    // SAFETY: `v` is a valid out-pointer; `d` is a device handle from the driver.
    unsafe { sys::cuDeviceGetAttribute(&mut v, a, d) }.call("cuDeviceGetAttribute")?;
    Ok(v as u32)
}

/// The device handle of ordinal `ordinal` (the driver is initialised).
pub(crate) fn device_handle(ordinal: u32) -> Result<sys::CUdevice> {
    let mut d: sys::CUdevice = 0;
    // SAFETY: valid out-pointer.
    unsafe { sys::cuDeviceGet(&mut d, ordinal as i32) }.call("cuDeviceGet")?;
    Ok(d)
}

impl Gpu {
    /// Initialise the driver (once per process) and report how many devices there are.
    pub fn count() -> Result<u32> {
        init()?;
        let mut n = 0i32;
        // SAFETY: valid out-pointer; the driver is initialised.
        unsafe { sys::cuDeviceGetCount(&mut n) }.call("cuDeviceGetCount")?;
        Ok(n as u32)
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
        let device = device_handle(ordinal)?;
        let ctx = Arc::new(Context::retain_primary(device)?);
        ctx.bind()?;
        let props = Arc::new(read_props(ordinal, device)?);
        Ok(Gpu { ctx, props })
    }

    /// The device's properties and limits.
    pub fn props(&self) -> &DeviceProps {
        &self.props
    }

    /// The raw device handle.
    pub fn device(&self) -> sys::CUdevice {
        self.ctx.device()
    }

    /// The shared context.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Make this GPU's context current on the calling thread. Cheap when it already is (the
    /// usual case), so every runtime entry point calls it.
    pub fn bind(&self) -> Result<()> {
        self.ctx.bind()
    }

    /// The raw driver context.
    pub fn raw_context(&self) -> sys::CUcontext {
        self.ctx.raw()
    }

    /// Recover from a sticky error ([`Error::is_sticky`]): destroy the faulted primary context
    /// and open a fresh one on the same device.
    ///
    /// Current drivers refuse this: on the H200 with driver 580.159 (CUDA 13.0) every new
    /// context of the process fails with the sticky error after a trap, whatever the order of
    /// reset and release (and `cuCtxCreate` fails too), so this returns that error. There the
    /// way to keep working is a new process: run work that may trap in a child process (the
    /// tests do); the error comes back as a value either way.
    ///
    /// Everything created in the old context (buffers, streams, events, modules, kernels,
    /// pools, graphs) is invalid afterwards, so it must all be dropped first: this returns
    /// [`Error::InvalidArgument`] while anything else still holds the context (a buffer freed
    /// later could free an address the new context handed out again).
    pub fn recover(self) -> Result<Gpu> {
        let others = Arc::strong_count(&self.ctx) - 1;
        if others > 0 {
            return Err(Error::InvalidArgument {
                op: "Gpu::recover".into(),
                reason: format!(
                    "{others} other object(s) (GPU handles, modules, streams, buffers, ...) still use the faulted context; drop them first"
                ),
            });
        }
        let ordinal = self.props.ordinal;
        // SAFETY: resetting is allowed while the context is retained; nothing else uses it
        // (checked above) and the handle is consumed.
        unsafe { sys::cuDevicePrimaryCtxReset_v2(self.device()) }
            .call("cuDevicePrimaryCtxReset")?;
        drop(self);
        Gpu::new(ordinal)
    }

    /// A new non-blocking stream.
    pub fn stream(&self) -> Result<Stream> {
        Stream::new(&self.ctx)
    }

    /// A new event in this GPU's context (`timing: false` for pure dependencies).
    pub fn event(&self, timing: bool) -> Result<Event> {
        Event::new(&self.ctx, timing)
    }

    /// Wait for all work in the context.
    pub fn synchronize(&self) -> Result<()> {
        self.bind()?;
        // SAFETY: no arguments; the context is current.
        unsafe { sys::cuCtxSynchronize() }.call("cuCtxSynchronize")
    }

    /// Copy `data` to a new device buffer.
    pub fn upload<T: DeviceCopy>(&self, data: &[T]) -> Result<DeviceBuffer<T>> {
        DeviceBuffer::from_slice(&self.ctx, data)
    }

    /// A device buffer of `len` elements with every byte set to `byte`.
    pub fn alloc_filled<T: DeviceCopy>(&self, len: usize, byte: u8) -> Result<DeviceBuffer<T>> {
        DeviceBuffer::filled_bytes(&self.ctx, len, byte)
    }

    /// A device buffer of `len` zeroed elements.
    pub fn alloc_zeroed<T: DeviceCopy>(&self, len: usize) -> Result<DeviceBuffer<T>> {
        DeviceBuffer::filled_bytes(&self.ctx, len, 0)
    }

    /// Free and total device memory in bytes.
    pub fn memory_info(&self) -> Result<(usize, usize)> {
        self.bind()?;
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: valid out-pointers; the context is current.
        unsafe { sys::cuMemGetInfo_v2(&mut free, &mut total) }.call("cuMemGetInfo")?;
        Ok((free, total))
    }
}

/// `cuInit`, once per process; the error says what is missing.
fn init() -> Result<()> {
    use std::sync::OnceLock;
    static INIT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        sys::load().map_err(str::to_string)?;
        // SAFETY: flags must be 0.
        crate::result::check(unsafe { sys::cuInit(0) }).map_err(|e| match e {
            CudaError::NoDevice => {
                format!("cuInit: {e} (no NVIDIA GPU is visible on this machine)")
            }
            CudaError::StubLibrary => {
                format!("cuInit: {e} (this libcuda is a link stub, not the NVIDIA driver)")
            }
            _ => format!("cuInit: {e}; is the NVIDIA driver installed and loaded?"),
        })
    })
    .clone()
    .map_err(Error::NoDevice)
}

pub(crate) fn read_props(ordinal: u32, d: sys::CUdevice) -> Result<DeviceProps> {
    use sys::CUdevice_attribute as A;
    let mut bus = [0 as std::os::raw::c_char; 32];
    // SAFETY: the buffer is 32 bytes and the driver writes a NUL-terminated id into it.
    unsafe { sys::cuDeviceGetPCIBusId(bus.as_mut_ptr(), bus.len() as i32, d) }
        .call("cuDeviceGetPCIBusId")?;
    // SAFETY: NUL-terminated by the driver.
    let pci_bus_id = unsafe { std::ffi::CStr::from_ptr(bus.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let mut name = [0 as std::os::raw::c_char; 256];
    // SAFETY: the buffer is 256 bytes and the driver writes a NUL-terminated name into it.
    unsafe { sys::cuDeviceGetName(name.as_mut_ptr(), name.len() as i32, d) }
        .call("cuDeviceGetName")?;
    // SAFETY: NUL-terminated by the driver.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let mut total_memory = 0usize;
    // SAFETY: valid out-pointer and device.
    unsafe { sys::cuDeviceTotalMem_v2(&mut total_memory, d) }.call("cuDeviceTotalMem")?;
    Ok(DeviceProps {
        ordinal,
        name,
        major: attr(d, A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
        minor: attr(d, A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
        sm_count: attr(d, A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
        max_threads_per_block: attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
        max_block_dim: [
            attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X)?,
            attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y)?,
            attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z)?,
        ],
        max_grid_dim: [
            attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X)?,
            attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y)?,
            attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z)?,
        ],
        max_shared_per_block: attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)?,
        max_shared_per_block_optin: attr(
            d,
            A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
        )?,
        max_threads_per_sm: attr(d, A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR)?,
        total_memory,
        l2_bytes: attr(d, A::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)?,
        clock_khz: attr(d, A::CU_DEVICE_ATTRIBUTE_CLOCK_RATE)?,
        memory_clock_khz: attr(d, A::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE)?,
        memory_bus_bits: attr(d, A::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)?,
        pci_bus_id,
    })
}
