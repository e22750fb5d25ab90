//! Launch configurations, their checks, and the raw launch under the typed launchers.
use crate::gpu::DeviceProps;
use crate::memory::{DeviceCopy, DeviceSlice};
use crate::module::Module;
use crate::result::{Call, DriverError, Error, Result, check};
use crate::stream::Stream;
use crate::sys::{self, CUfunction, CUfunction_attribute};
use std::ffi::c_void;
use std::sync::Arc;

/// Grid, block and dynamic shared memory of one launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchConfig {
    /// Blocks per axis.
    pub grid: (u32, u32, u32),
    /// Threads per block, per axis.
    pub block: (u32, u32, u32),
    /// Dynamic shared memory per block, in bytes.
    pub shared_bytes: u32,
}

impl LaunchConfig {
    /// A 1D launch.
    pub fn linear(grid: u32, block: u32) -> LaunchConfig {
        LaunchConfig {
            grid: (grid, 1, 1),
            block: (block, 1, 1),
            shared_bytes: 0,
        }
    }

    /// The same configuration with `bytes` of dynamic shared memory per block.
    pub fn with_shared(mut self, bytes: u32) -> LaunchConfig {
        self.shared_bytes = bytes;
        self
    }

    /// Total blocks; zero means there is nothing to launch.
    pub fn blocks(&self) -> u64 {
        self.grid.0 as u64 * self.grid.1 as u64 * self.grid.2 as u64
    }

    /// Threads in one block.
    pub fn threads_per_block(&self) -> u64 {
        self.block.0 as u64 * self.block.1 as u64 * self.block.2 as u64
    }
}

/// A kernel's attributes as the driver reports them after loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionAttrs {
    /// The most threads per block this kernel can launch with (registers limit it).
    pub max_threads_per_block: u32,
    /// Registers per thread.
    pub registers: u32,
    /// Statically declared shared memory per block.
    pub static_shared_bytes: u32,
    /// Local memory (spills, stack) per thread.
    pub local_bytes: u32,
}

/// A loaded kernel with what is needed to check its launches.
pub struct KernelFn {
    raw: CUfunction,
    name: &'static str,
    attrs: FunctionAttrs,
    limits: DeviceProps,
    /// Resident blocks per SM by block size, without dynamic shared memory (see
    /// [`OccupancyCache`]): grid-stride launches and launch plans need it on every call.
    occupancy: OccupancyCache,
    _module: Arc<Module>,
}

/// A few `(block size, resident blocks per SM)` answers of the driver's occupancy calculator,
/// which depend only on the kernel, the device and the block size. Lock-free: a slot holds
/// `block << 32 | blocks`, and two threads racing to fill one write the same answer.
#[derive(Default)]
struct OccupancyCache([std::sync::atomic::AtomicU64; 4]);

impl OccupancyCache {
    fn get(&self, block: u32) -> Option<u32> {
        use std::sync::atomic::Ordering::Relaxed;
        self.0.iter().find_map(|slot| {
            let v = slot.load(Relaxed);
            (v >> 32 == block as u64 && v != 0).then_some(v as u32)
        })
    }

    /// Into a free slot (or the block size's own), else over the slot its power of two picks
    /// (128, 256, 512 and 1024 threads get different ones).
    fn put(&self, block: u32, blocks: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        let slot = self
            .0
            .iter()
            .find(|s| {
                let v = s.load(Relaxed);
                v == 0 || v >> 32 == block as u64
            })
            .unwrap_or(&self.0[block.trailing_zeros() as usize % self.0.len()]);
        slot.store((block as u64) << 32 | blocks as u64, Relaxed);
    }
}

// SAFETY: a CUfunction is a driver handle usable from any thread with its context current; the
// module it belongs to is kept alive by `_module`.
unsafe impl Send for KernelFn {}
// SAFETY: as above; the handle is never mutated (attributes are set by the driver, which
// synchronises internally).
unsafe impl Sync for KernelFn {}

fn func_attr(f: CUfunction, a: CUfunction_attribute) -> Result<u32> {
    let mut v = 0i32;
    // SAFETY: valid out-pointer and function handle.
    unsafe { sys::cuFuncGetAttribute(&mut v, a, f) }.call("cuFuncGetAttribute")?;
    Ok(v as u32)
}

impl KernelFn {
    pub(crate) fn new(
        raw: CUfunction,
        name: &'static str,
        module: Arc<Module>,
        limits: &DeviceProps,
    ) -> Result<KernelFn> {
        use CUfunction_attribute as F;
        let attrs = FunctionAttrs {
            max_threads_per_block: func_attr(raw, F::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
            registers: func_attr(raw, F::CU_FUNC_ATTRIBUTE_NUM_REGS)?,
            static_shared_bytes: func_attr(raw, F::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)?,
            local_bytes: func_attr(raw, F::CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES)?,
        };
        Ok(KernelFn {
            raw,
            name,
            attrs,
            limits: limits.clone(),
            occupancy: OccupancyCache::default(),
            _module: module,
        })
    }

    /// The kernel's entry name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The kernel's attributes.
    pub fn attrs(&self) -> FunctionAttrs {
        self.attrs
    }

    /// The limits of the device the kernel was loaded on.
    pub fn device_props(&self) -> &DeviceProps {
        &self.limits
    }

    /// The raw function handle.
    pub fn raw(&self) -> CUfunction {
        self.raw
    }

    /// The module this kernel belongs to.
    pub fn module(&self) -> &Arc<Module> {
        &self._module
    }

    /// The default 1D configuration for `n` elements at `items_per_thread` per thread with
    /// `block` threads per block (lowered to what this kernel allows). With `grid_stride` the
    /// grid is capped at what fills the device, since the kernel loops over the rest.
    pub fn config_for_elements(
        &self,
        n: usize,
        items_per_thread: u32,
        block: u32,
        grid_stride: bool,
    ) -> Result<LaunchConfig> {
        let mut cfg = plan_elements(
            self.name,
            n,
            items_per_thread,
            block,
            grid_stride,
            &self.limits,
            self.attrs.max_threads_per_block,
        )?;
        if grid_stride && cfg.blocks() > 0 {
            // Registers and shared memory may allow fewer resident blocks than threads do: a
            // grid beyond one resident wave would only add a tail.
            let per_sm = self.occupancy(cfg.block.0, 0)?.max(1);
            cfg.grid.0 = cfg.grid.0.min(per_sm * self.limits.sm_count);
        }
        Ok(cfg)
    }

    /// Blocks of `block` threads (with `shared_bytes` of dynamic shared memory) that fit on one
    /// SM at once, as the driver computes it from this kernel's registers and shared memory.
    /// Answers without dynamic shared memory are cached per kernel (launch plans ask on every
    /// call). Above 48 KiB it first opts the kernel in to that much (as a launch would), so the
    /// answer counts the shared memory the launch will really have.
    pub fn occupancy(&self, block: u32, shared_bytes: u32) -> Result<u32> {
        if shared_bytes == 0
            && let Some(n) = self.occupancy.get(block)
        {
            return Ok(n);
        }
        let mut n = 0i32;
        self._module.context().bind()?;
        if shared_bytes > self.limits.max_shared_per_block
            && shared_bytes as u64 + self.attrs.static_shared_bytes as u64
                <= self.limits.max_shared_per_block_optin as u64
        {
            self.opt_in_shared(shared_bytes).map_err(Error::Driver)?;
        }
        // SAFETY: valid out-pointer and function handle.
        unsafe {
            sys::cuOccupancyMaxActiveBlocksPerMultiprocessor(
                &mut n,
                self.raw,
                block as i32,
                shared_bytes as usize,
            )
        }
        .call("cuOccupancyMaxActiveBlocksPerMultiprocessor")?;
        if shared_bytes == 0 {
            self.occupancy.put(block, n as u32);
        }
        Ok(n as u32)
    }

    /// Check `cfg` against the device's and this kernel's limits.
    pub fn validate(&self, cfg: &LaunchConfig) -> Result<()> {
        validate_config(self.name, cfg, &self.limits, &self.attrs)
    }

    /// Launch with raw parameters. A configuration with zero blocks launches nothing.
    ///
    /// # Safety
    /// `params` must point to one value per kernel parameter, each with the layout the PTX
    /// `.entry` expects, and every pointer inside must be valid for the kernel's accesses.
    pub unsafe fn launch(
        &self,
        stream: &Stream,
        cfg: &LaunchConfig,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        self.validate(cfg)?;
        if cfg.blocks() == 0 {
            return Ok(());
        }
        // Any thread may launch: bind the module's context here (a no-op when it is current).
        self._module.context().bind()?;
        self.opt_in_shared(cfg.shared_bytes)
            .map_err(|d| self.launch_error(cfg, d))?;
        // SAFETY: the caller guarantees `params`; the configuration was validated above.
        check(unsafe {
            sys::cuLaunchKernel(
                self.raw,
                cfg.grid.0,
                cfg.grid.1,
                cfg.grid.2,
                cfg.block.0,
                cfg.block.1,
                cfg.block.2,
                cfg.shared_bytes,
                stream.raw(),
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        })
        .map_err(|code| {
            let call = "cuLaunchKernel";
            self.launch_error(cfg, DriverError { call, code })
        })
    }
}

/// The CTAs per cluster of a cluster launch, per axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterDims(pub u32, pub u32, pub u32);

/// Largest portable cluster (CTAs); larger ones need the non-portable opt-in.
pub const MAX_PORTABLE_CLUSTER: u32 = 8;

/// Checks a cluster shape against a launch: every axis at least 1, the grid a whole number of
/// clusters, at most [`MAX_PORTABLE_CLUSTER`] CTAs per cluster. Separate so it can be tested
/// without a GPU.
pub fn validate_cluster(kernel: &str, cfg: &LaunchConfig, c: ClusterDims) -> Result<()> {
    let bad = |reason: String| Error::InvalidConfig {
        kernel: kernel.to_string(),
        reason,
    };
    if c.0 == 0 || c.1 == 0 || c.2 == 0 {
        return Err(bad(format!(
            "cluster {c:?}: every axis needs at least one CTA"
        )));
    }
    let ctas = c.0 as u64 * c.1 as u64 * c.2 as u64;
    if ctas > MAX_PORTABLE_CLUSTER as u64 {
        return Err(bad(format!(
            "cluster {c:?} has {ctas} CTAs; at most {MAX_PORTABLE_CLUSTER} are portable"
        )));
    }
    let g = cfg.grid;
    if !g.0.is_multiple_of(c.0) || !g.1.is_multiple_of(c.1) || !g.2.is_multiple_of(c.2) {
        return Err(bad(format!(
            "grid {g:?} is not a whole number of clusters {c:?}"
        )));
    }
    Ok(())
}

impl KernelFn {
    /// The most clusters of shape `cluster` that fit on the device at once with `cfg`'s block
    /// and shared memory (`cuOccupancyMaxActiveClusters`); 0 when one does not fit.
    pub fn max_active_clusters(&self, cfg: &LaunchConfig, cluster: ClusterDims) -> Result<u32> {
        self.opt_in_shared(cfg.shared_bytes)
            .map_err(Error::Driver)?;
        let mut attr = cluster_attr(cluster);
        let raw = raw_config(cfg, std::ptr::null_mut(), &mut attr);
        let mut n = 0;
        // SAFETY: valid function handle; the configuration and its attribute outlive the call.
        unsafe { sys::cuOccupancyMaxActiveClusters(&mut n, self.raw, &raw) }
            .call("cuOccupancyMaxActiveClusters")?;
        Ok(n as u32)
    }

    /// Launch as clusters of `cluster` CTAs (`cuLaunchKernelEx` with
    /// `CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION`), after checking the shape
    /// ([`validate_cluster`]) and that at least one such cluster fits on the device.
    ///
    /// # Safety
    /// As [`KernelFn::launch`].
    pub unsafe fn launch_cluster(
        &self,
        stream: &Stream,
        cfg: &LaunchConfig,
        cluster: ClusterDims,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        self.validate(cfg)?;
        validate_cluster(self.name, cfg, cluster)?;
        if cfg.blocks() == 0 {
            return Ok(());
        }
        self._module.context().bind()?;
        if self.max_active_clusters(cfg, cluster)? == 0 {
            return Err(Error::InvalidConfig {
                kernel: self.name.to_string(),
                reason: format!(
                    "no cluster {cluster:?} of {} shared bytes per CTA fits on this device",
                    cfg.shared_bytes
                ),
            });
        }
        // SAFETY: the caller guarantees `params`; configuration and cluster were validated.
        unsafe { self.launch_ex(stream, cfg, cluster_attr(cluster), params) }
    }

    /// The most blocks of `block` threads with `shared_bytes` of dynamic shared memory that can
    /// be resident on the device at once: the largest grid [`KernelFn::launch_cooperative`]
    /// accepts (the driver's occupancy for one SM times the SM count).
    pub fn max_cooperative_blocks(&self, block: u32, shared_bytes: u32) -> Result<u32> {
        self.opt_in_shared(shared_bytes).map_err(Error::Driver)?;
        Ok(self.occupancy(block, shared_bytes)? * self.limits.sm_count)
    }

    /// Launch cooperatively (`cuLaunchKernelEx` with `CU_LAUNCH_ATTRIBUTE_COOPERATIVE`): the
    /// driver runs the whole grid at once or not at all, so blocks may wait for each other
    /// (grid-wide barriers, persistent blocks that consume each other's results). A grid larger
    /// than can be resident ([`KernelFn::max_cooperative_blocks`], less where other work or an
    /// MPS limit holds SMs) fails with [`CudaError::CooperativeLaunchTooLarge`] before
    /// anything runs; see [`Error::is_cooperative_too_large`].
    ///
    /// # Safety
    /// As [`KernelFn::launch`].
    ///
    /// [`CudaError::CooperativeLaunchTooLarge`]: crate::CudaError::CooperativeLaunchTooLarge
    pub unsafe fn launch_cooperative(
        &self,
        stream: &Stream,
        cfg: &LaunchConfig,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        self.validate(cfg)?;
        if cfg.blocks() == 0 {
            return Ok(());
        }
        self._module.context().bind()?;
        // SAFETY: the caller guarantees `params`; the configuration was validated.
        unsafe { self.launch_ex(stream, cfg, cooperative_attr(), params) }
    }

    /// `cuLaunchKernelEx` with one launch attribute, after raising the shared memory limit.
    ///
    /// # Safety
    /// As [`KernelFn::launch`]; `cfg` validated and the context bound.
    unsafe fn launch_ex(
        &self,
        stream: &Stream,
        cfg: &LaunchConfig,
        mut attr: sys::CUlaunchAttribute,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        self.opt_in_shared(cfg.shared_bytes)
            .map_err(|d| self.launch_error(cfg, d))?;
        let raw = raw_config(cfg, stream.raw(), &mut attr);
        // SAFETY: the caller's contract; `raw` and its attribute outlive the call.
        check(unsafe {
            sys::cuLaunchKernelEx(&raw, self.raw, params.as_mut_ptr(), std::ptr::null_mut())
        })
        .map_err(|code| {
            let call = "cuLaunchKernelEx";
            self.launch_error(cfg, DriverError { call, code })
        })
    }

    /// Raises the function's dynamic shared memory limit when `bytes` is more than 48 KiB: above
    /// that a block gets dynamic shared memory only after opting in.
    fn opt_in_shared(&self, bytes: u32) -> std::result::Result<(), DriverError> {
        if bytes <= self.limits.max_shared_per_block {
            return Ok(());
        }
        // SAFETY: valid function handle; launches check `bytes` against the opt-in limit first.
        check(unsafe {
            sys::cuFuncSetAttribute(
                self.raw,
                CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                bytes as i32,
            )
        })
        .map_err(|code| DriverError {
            call: "cuFuncSetAttribute",
            code,
        })
    }

    /// A failed driver call of a launch with `cfg`, naming the kernel and the configuration.
    fn launch_error(&self, cfg: &LaunchConfig, source: DriverError) -> Error {
        Error::Launch {
            kernel: self.name.to_string(),
            grid: cfg.grid,
            block: cfg.block,
            shared_bytes: cfg.shared_bytes,
            source,
        }
    }
}

fn cluster_attr(c: ClusterDims) -> sys::CUlaunchAttribute {
    let mut value = sys::CUlaunchAttributeValue { pad: [0; 64] };
    value.clusterDim = sys::CUlaunchAttributeValue_clusterDim {
        x: c.0,
        y: c.1,
        z: c.2,
    };
    sys::CUlaunchAttribute {
        id: sys::CUlaunchAttributeID::CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION,
        pad: [0; 8 - std::mem::size_of::<sys::CUlaunchAttributeID>()],
        value,
    }
}

/// `CU_LAUNCH_ATTRIBUTE_COOPERATIVE` set.
fn cooperative_attr() -> sys::CUlaunchAttribute {
    let mut value = sys::CUlaunchAttributeValue { pad: [0; 64] };
    value.cooperative = 1;
    sys::CUlaunchAttribute {
        id: sys::CUlaunchAttributeID::CU_LAUNCH_ATTRIBUTE_COOPERATIVE,
        pad: [0; 8 - std::mem::size_of::<sys::CUlaunchAttributeID>()],
        value,
    }
}

fn raw_config(
    cfg: &LaunchConfig,
    stream: sys::CUstream,
    attr: &mut sys::CUlaunchAttribute,
) -> sys::CUlaunchConfig {
    sys::CUlaunchConfig {
        gridDimX: cfg.grid.0,
        gridDimY: cfg.grid.1,
        gridDimZ: cfg.grid.2,
        blockDimX: cfg.block.0,
        blockDimY: cfg.block.1,
        blockDimZ: cfg.block.2,
        sharedMemBytes: cfg.shared_bytes,
        hStream: stream,
        attrs: attr,
        numAttrs: 1,
    }
}

/// See [`KernelFn::config_for_elements`]; separate so it can be tested without a GPU.
pub fn plan_elements(
    kernel: &str,
    n: usize,
    items_per_thread: u32,
    block: u32,
    grid_stride: bool,
    limits: &DeviceProps,
    kernel_max_threads: u32,
) -> Result<LaunchConfig> {
    let invalid = |reason: String| Error::InvalidConfig {
        kernel: kernel.to_string(),
        reason,
    };
    let max_block = limits.max_threads_per_block.min(kernel_max_threads);
    let mut block = block.min(max_block);
    if block >= 32 {
        block -= block % 32;
    }
    if block == 0 || items_per_thread == 0 {
        return Err(invalid(
            "block size and items per thread must be at least 1".into(),
        ));
    }
    let threads = n.div_ceil(items_per_thread as usize);
    let mut blocks = threads.div_ceil(block as usize) as u64;
    if grid_stride {
        let per_sm = (limits.max_threads_per_sm / block).max(1) as u64;
        blocks = blocks.min(limits.sm_count as u64 * per_sm);
    }
    if blocks > limits.max_grid_dim[0] as u64 {
        return Err(invalid(format!(
            "{n} elements need {blocks} blocks of {block} threads, more than the device's grid limit of {}",
            limits.max_grid_dim[0]
        )));
    }
    Ok(LaunchConfig::linear(blocks as u32, block))
}

/// Check a configuration against the device's limits and the kernel's attributes.
pub fn validate_config(
    kernel: &str,
    cfg: &LaunchConfig,
    limits: &DeviceProps,
    attrs: &FunctionAttrs,
) -> Result<()> {
    let invalid = |reason: String| {
        Err(Error::InvalidConfig {
            kernel: kernel.to_string(),
            reason,
        })
    };
    let b = [cfg.block.0, cfg.block.1, cfg.block.2];
    let g = [cfg.grid.0, cfg.grid.1, cfg.grid.2];
    if b.contains(&0) {
        return invalid(format!("block {:?} has a zero dimension", cfg.block));
    }
    for (axis, (&v, &max)) in ["x", "y", "z"]
        .iter()
        .zip(b.iter().zip(&limits.max_block_dim))
    {
        if v > max {
            return invalid(format!("block.{axis} = {v} exceeds the device limit {max}"));
        }
    }
    let threads = cfg.threads_per_block();
    let max_threads = limits
        .max_threads_per_block
        .min(attrs.max_threads_per_block);
    if threads > max_threads as u64 {
        return invalid(format!(
            "{threads} threads per block exceed this kernel's limit of {max_threads} (device {}, kernel uses {} registers per thread)",
            limits.max_threads_per_block, attrs.registers
        ));
    }
    for (axis, (&v, &max)) in ["x", "y", "z"]
        .iter()
        .zip(g.iter().zip(&limits.max_grid_dim))
    {
        if v > max {
            return invalid(format!("grid.{axis} = {v} exceeds the device limit {max}"));
        }
    }
    let shared = cfg.shared_bytes as u64 + attrs.static_shared_bytes as u64;
    if shared > limits.max_shared_per_block_optin as u64 {
        return invalid(format!(
            "{} B dynamic + {} B static shared memory exceed the device limit of {} B per block",
            cfg.shared_bytes, attrs.static_shared_bytes, limits.max_shared_per_block_optin
        ));
    }
    Ok(())
}

/// A slice parameter as the PTX `.entry` receives it: `{ptr: u64, len: u64}`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceArg {
    /// Device address of the first element.
    pub ptr: u64,
    /// Number of elements.
    pub len: u64,
}

impl SliceArg {
    /// For inputs.
    pub fn of<T: DeviceCopy>(s: &DeviceSlice<T>) -> SliceArg {
        SliceArg {
            ptr: s.device_ptr(),
            len: s.len() as u64,
        }
    }

    /// For outputs: taking `&mut` makes the borrow checker reject a launch that passes the
    /// same buffer as an input too.
    pub fn of_mut<T: DeviceCopy>(s: &mut DeviceSlice<T>) -> SliceArg {
        SliceArg::of(s)
    }
}

/// `Err` unless every named length is equal.
pub fn check_same_len(kernel: &str, lens: &[(&str, usize)]) -> Result<()> {
    if lens.windows(2).all(|w| w[0].1 == w[1].1) {
        return Ok(());
    }
    Err(Error::LengthMismatch {
        kernel: kernel.to_string(),
        lens: lens.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
    })
}

#[cfg(test)]
pub(crate) mod tests {

    #[test]
    fn cluster_shapes_are_checked() {
        let cfg = LaunchConfig::linear(132, 384);
        assert!(validate_cluster("k", &cfg, ClusterDims(2, 1, 1)).is_ok());
        let e = |c| validate_cluster("k", &cfg, c).unwrap_err().to_string();
        assert!(e(ClusterDims(5, 1, 1)).contains("whole number of clusters"));
        assert!(e(ClusterDims(16, 1, 1)).contains("portable"));
        assert!(e(ClusterDims(0, 1, 1)).contains("at least one CTA"));
    }

    use super::*;

    #[test]
    fn cooperative_attribute_is_cuda_h_s() {
        let a = cooperative_attr();
        assert_eq!(a.id.0, 2);
        // SAFETY: the member `cooperative_attr` wrote.
        assert_eq!(unsafe { a.value.cooperative }, 1);
        // The rest of the 64-byte value stays zero.
        // SAFETY: every byte of the union was initialised (`pad` first).
        assert!(unsafe { a.value.pad }[4..].iter().all(|&b| b == 0));
    }

    /// The H200's limits, for tests that need no GPU.
    pub(crate) fn h200() -> DeviceProps {
        DeviceProps {
            ordinal: 0,
            name: "NVIDIA H200".into(),
            major: 9,
            minor: 0,
            sm_count: 132,
            max_threads_per_block: 1024,
            max_block_dim: [1024, 1024, 64],
            max_grid_dim: [2147483647, 65535, 65535],
            max_shared_per_block: 48 * 1024,
            max_shared_per_block_optin: 227 * 1024,
            max_threads_per_sm: 2048,
            total_memory: 143_771 << 20,
            l2_bytes: 60 << 20,
            clock_khz: 1_980_000,
            memory_clock_khz: 3_201_000,
            memory_bus_bits: 6144,
            pci_bus_id: "0000:00:00.0".into(),
        }
    }

    fn attrs(max: u32) -> FunctionAttrs {
        FunctionAttrs {
            max_threads_per_block: max,
            registers: 32,
            static_shared_bytes: 1024,
            local_bytes: 0,
        }
    }

    #[test]
    fn element_plans_cover_every_element() {
        let d = h200();
        for &(n, ipt, block) in &[
            (0usize, 1u32, 256u32),
            (1, 1, 256),
            (1000, 1, 256),
            ((1 << 20) + 3, 4, 256),
            (1 << 26, 4, 256),
            (12345, 3, 100),
        ] {
            let c = plan_elements("k", n, ipt, block, false, &d, 1024).unwrap();
            let threads = c.blocks() * c.threads_per_block();
            assert!(threads * ipt as u64 >= n as u64, "{n}: {c:?}");
            // Not more than one block too many.
            assert!(
                (c.blocks().saturating_sub(1)) * c.threads_per_block() * (ipt as u64)
                    < n.max(1) as u64
            );
            assert_eq!(c.block.0 % 32, 0);
        }
        assert_eq!(
            plan_elements("k", 0, 1, 256, false, &d, 1024)
                .unwrap()
                .blocks(),
            0
        );
    }

    #[test]
    fn plans_respect_kernel_and_grid_stride_limits() {
        let d = h200();
        // A kernel whose registers allow only 384 threads gets a smaller block.
        let c = plan_elements("k", 1 << 20, 1, 1024, false, &d, 384).unwrap();
        assert_eq!(c.block.0, 384);
        // Grid-stride kernels get at most a device-full of blocks.
        let c = plan_elements("k", 1 << 30, 1, 256, true, &d, 1024).unwrap();
        assert_eq!(c.blocks(), 132 * 8);
        // More blocks than grid.x allows is an error, not a truncated launch.
        let mut small = d.clone();
        small.max_grid_dim[0] = 10;
        let e = plan_elements("k", 1 << 20, 1, 256, false, &small, 1024).unwrap_err();
        assert!(e.to_string().contains("grid limit"), "{e}");
    }

    #[test]
    fn validation_names_the_broken_limit() {
        let d = h200();
        let a = attrs(1024);
        let ok = LaunchConfig::linear(100, 256);
        assert!(validate_config("k", &ok, &d, &a).is_ok());
        let cases = [
            (
                LaunchConfig::linear(1, 2048),
                "exceeds the device limit 1024",
            ),
            (LaunchConfig::linear(1, 0), "zero dimension"),
            (
                LaunchConfig {
                    grid: (1, 70000, 1),
                    block: (32, 1, 1),
                    shared_bytes: 0,
                },
                "grid.y = 70000",
            ),
            (
                LaunchConfig {
                    grid: (1, 1, 1),
                    block: (32, 32, 2),
                    shared_bytes: 0,
                },
                "2048 threads per block",
            ),
            (
                LaunchConfig::linear(1, 32).with_shared(227 * 1024),
                "shared memory exceed",
            ),
        ];
        for (cfg, msg) in cases {
            let e = validate_config("k", &cfg, &d, &a).unwrap_err().to_string();
            assert!(e.contains(msg), "{cfg:?}: {e}");
            assert!(e.contains("kernel `k`"), "{e}");
        }
        let e = validate_config("k", &LaunchConfig::linear(1, 512), &d, &attrs(256))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kernel's limit of 256"), "{e}");
    }

    #[test]
    fn occupancy_cache_keeps_answers_per_block_size() {
        let c = OccupancyCache::default();
        assert_eq!(c.get(256), None);
        c.put(256, 8);
        c.put(1024, 2);
        assert_eq!(
            (c.get(256), c.get(1024), c.get(512)),
            (Some(8), Some(2), None)
        );
        c.put(128, 12);
        c.put(512, 4);
        assert_eq!(
            (c.get(128), c.get(512), c.get(256)),
            (Some(12), Some(4), Some(8))
        );
        // Full: a fifth size replaces one slot; the answer it displaced is asked again later.
        c.put(96, 16);
        assert_eq!(c.get(96), Some(16));
        let kept = [128, 256, 512, 1024]
            .iter()
            .filter(|&&b| c.get(b).is_some())
            .count();
        assert_eq!(kept, 3);
    }

    #[test]
    fn length_contracts() {
        assert!(check_same_len("k", &[("a", 3), ("b", 3), ("c", 3)]).is_ok());
        let e = check_same_len("saxpy", &[("x", 3), ("y", 4)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "kernel `saxpy`: lengths must match: x=3, y=4"
        );
    }
}
