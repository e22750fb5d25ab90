//! Raw CUDA driver API: the types, and the entry points the runtime uses, declared here and
//! nowhere else, with the exact C signatures of `cuda.h` (CUDA 13).
//!
//! Nothing links the driver at build time: [`load`] opens `libcuda.so.1` (the NVIDIA driver's
//! library) on first use with `dlopen`, as cudarc does, and each function below calls through
//! the address `dlsym` found. So a program using gpukit builds on a machine without the driver
//! or the CUDA toolkit, and when started without a driver it gets an error naming the missing
//! library from [`load`] (which [`crate::Gpu::new`] reports) instead of the dynamic loader's
//! message.
//!
//! Every function is `unsafe` and unchecked; [`crate::result`] turns the codes into typed
//! errors. When the library could not be loaded a function returns
//! `CUDA_ERROR_NOT_INITIALIZED`; when the driver lacks the symbol (an older driver than the
//! function needs), `CUDA_ERROR_NOT_SUPPORTED`. Symbol names are the driver's exported ones
//! (`cuMemAlloc_v2` is what `cuda.h` calls `cuMemAlloc`).
#![allow(non_camel_case_types, non_snake_case, missing_docs)]

mod enums;
pub use enums::*;

use std::ffi::{c_char, c_int, c_uchar, c_uint, c_ulonglong, c_void};
use std::sync::OnceLock;

/// `CUdevice`: a device ordinal handle.
pub type CUdevice = c_int;
/// `CUdeviceptr`: a device address.
pub type CUdeviceptr = c_ulonglong;
/// `cuuint32_t`.
pub type cuuint32_t = u32;
/// `cuuint64_t`.
pub type cuuint64_t = u64;

macro_rules! opaque_handles {
    ($($(#[$doc:meta])* $handle:ident = $st:ident;)*) => {$(
        #[repr(C)]
        #[doc(hidden)]
        pub struct $st {
            _private: [u8; 0],
        }
        $(#[$doc])*
        pub type $handle = *mut $st;
    )*};
}

opaque_handles! {
    /// `CUcontext`.
    CUcontext = CUctx_st;
    /// `CUmodule`.
    CUmodule = CUmod_st;
    /// `CUfunction`.
    CUfunction = CUfunc_st;
    /// `CUstream`.
    CUstream = CUstream_st;
    /// `CUevent`.
    CUevent = CUevent_st;
    /// `CUgraph`.
    CUgraph = CUgraph_st;
    /// `CUgraphNode`.
    CUgraphNode = CUgraphNode_st;
    /// `CUgraphExec`.
    CUgraphExec = CUgraphExec_st;
    /// `CUmemoryPool`.
    CUmemoryPool = CUmemPoolHandle_st;
}

/// `CUmemLocation` (the `id` member of its union; the other member is two bytes of it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CUmemLocation {
    pub type_: CUmemLocationType,
    pub id: c_int,
}

/// `CUmemPoolProps`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CUmemPoolProps {
    pub allocType: CUmemAllocationType,
    pub handleTypes: CUmemAllocationHandleType,
    pub location: CUmemLocation,
    pub win32SecurityAttributes: *mut c_void,
    pub maxSize: usize,
    pub usage: u16,
    pub gpuDirectRDMACapable: c_uchar,
    pub reserved: [c_uchar; 53],
}
const _: () = assert!(std::mem::size_of::<CUmemPoolProps>() == 88);

/// `CU_TENSOR_MAP_NUM_QWORDS`.
pub const CU_TENSOR_MAP_NUM_QWORDS: usize = 16;

/// `CUtensorMap`: an opaque 128-byte TMA descriptor. The driver requires 64-byte alignment;
/// CUDA 13's header declares `alignas(128)`, which this follows.
#[repr(C, align(128))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CUtensorMap {
    pub opaque: [cuuint64_t; CU_TENSOR_MAP_NUM_QWORDS],
}
const _: () = assert!(std::mem::size_of::<CUtensorMap>() == 128);
const _: () = assert!(std::mem::align_of::<CUtensorMap>().is_multiple_of(64));

/// The `clusterDim` member of `CUlaunchAttributeValue`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CUlaunchAttributeValue_clusterDim {
    pub x: c_uint,
    pub y: c_uint,
    pub z: c_uint,
}

/// `CUlaunchAttributeValue`: a 64-byte union; the members gpukit uses are named, the others are
/// reached through `pad`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union CUlaunchAttributeValue {
    pub pad: [c_char; 64],
    pub cooperative: c_int,
    pub clusterDim: CUlaunchAttributeValue_clusterDim,
    pub clusterSchedulingPolicyPreference: CUclusterSchedulingPolicy,
    pub programmaticStreamSerializationAllowed: c_int,
}
const _: () = assert!(std::mem::size_of::<CUlaunchAttributeValue>() == 64);

/// `CUlaunchAttribute`: the id, padding to 8 bytes, then the value.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CUlaunchAttribute {
    pub id: CUlaunchAttributeID,
    pub pad: [c_char; 8 - std::mem::size_of::<CUlaunchAttributeID>()],
    pub value: CUlaunchAttributeValue,
}
const _: () = assert!(std::mem::size_of::<CUlaunchAttribute>() == 72);

/// `CUlaunchConfig`: the extensible launch configuration of `cuLaunchKernelEx`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CUlaunchConfig {
    pub gridDimX: c_uint,
    pub gridDimY: c_uint,
    pub gridDimZ: c_uint,
    pub blockDimX: c_uint,
    pub blockDimY: c_uint,
    pub blockDimZ: c_uint,
    pub sharedMemBytes: c_uint,
    pub hStream: CUstream,
    pub attrs: *mut CUlaunchAttribute,
    pub numAttrs: c_uint,
}

/// The file names tried, in order, for the driver library.
pub const DRIVER_LIBRARIES: &[&str] = &["libcuda.so.1", "libcuda.so"];

#[cfg(unix)]
mod dl {
    use std::ffi::{c_char, c_int, c_void};
    pub const RTLD_NOW: c_int = 2;
    #[cfg_attr(target_os = "linux", link(name = "dl"))]
    unsafe extern "C" {
        pub fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
        pub fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
        pub fn dlerror() -> *mut c_char;
    }
}

/// Open the first of [`DRIVER_LIBRARIES`] that loads; `Err` names what was tried and why it
/// failed.
#[cfg(unix)]
fn open_driver() -> Result<*mut c_void, String> {
    let mut why = Vec::new();
    for name in DRIVER_LIBRARIES {
        let c = std::ffi::CString::new(*name).expect("no NUL in library names");
        // SAFETY: a NUL-terminated file name; loading the driver library runs its initialisers,
        // which is what linking it would do too.
        let lib = unsafe { dl::dlopen(c.as_ptr(), dl::RTLD_NOW) };
        if !lib.is_null() {
            return Ok(lib);
        }
        // SAFETY: dlerror returns null or a NUL-terminated message owned by libc.
        let err = unsafe { dl::dlerror() };
        why.push(if err.is_null() {
            format!("{name}: not found")
        } else {
            // SAFETY: non-null, NUL-terminated (above).
            unsafe { std::ffi::CStr::from_ptr(err) }
                .to_string_lossy()
                .into_owned()
        });
    }
    Err(format!(
        "cannot load the NVIDIA driver library ({}); is the NVIDIA driver installed?",
        why.join("; ")
    ))
}

#[cfg(not(unix))]
fn open_driver() -> Result<*mut c_void, String> {
    Err("gpukit-runtime loads the NVIDIA driver with dlopen, which this platform lacks".into())
}

/// The address of `name` (NUL-terminated) in `lib`, as a function pointer of type `F`.
///
/// # Safety
/// `lib` is a live library handle and `F` the function pointer type of the symbol's C
/// signature.
#[cfg(unix)]
unsafe fn symbol<F: Copy>(lib: *mut c_void, name: &str) -> Option<F> {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
    // SAFETY: `name` is NUL-terminated (the macro appends it); `lib` is live.
    let p = unsafe { dl::dlsym(lib, name.as_ptr() as *const c_char) };
    // SAFETY: a non-null symbol address of a function with signature `F` (caller's contract);
    // fn pointers and data pointers have the same size and representation on these targets.
    (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) })
}

#[cfg(not(unix))]
unsafe fn symbol<F: Copy>(_lib: *mut c_void, _name: &str) -> Option<F> {
    None
}

macro_rules! driver_api {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?);)*) => {
        /// The driver's entry points, resolved once.
        struct Api {
            $($name: Option<unsafe extern "C" fn($($ty),*) -> CUresult>,)*
        }

        impl Api {
            /// # Safety
            /// `lib` is the driver library, loaded and never unloaded.
            unsafe fn resolve(lib: *mut c_void) -> Api {
                Api {
                    // SAFETY: each type below is the symbol's C signature (the caller's
                    // contract for `symbol`).
                    $($name: unsafe { symbol(lib, concat!(stringify!($name), "\0")) },)*
                }
            }

            fn missing(&self) -> Vec<&'static str> {
                let mut v = Vec::new();
                $(if self.$name.is_none() { v.push(stringify!($name)); })*
                v
            }
        }

        $(
            $(#[$doc])*
            ///
            /// # Safety
            /// As the C function: pointers valid for what the driver reads and writes, live
            /// handles of the current context.
            #[inline]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn $name($($arg: $ty),*) -> CUresult {
                match api() {
                    Some(api) => match api.$name {
                        // SAFETY: the caller's contract is the C function's.
                        Some(f) => unsafe { f($($arg),*) },
                        None => CUresult::CUDA_ERROR_NOT_SUPPORTED,
                    },
                    None => CUresult::CUDA_ERROR_NOT_INITIALIZED,
                }
            }
        )*
    };
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

fn loaded() -> &'static Result<Api, String> {
    API.get_or_init(|| {
        let lib = open_driver()?;
        // SAFETY: `lib` is the driver library, never closed.
        Ok(unsafe { Api::resolve(lib) })
    })
}

fn api() -> Option<&'static Api> {
    loaded().as_ref().ok()
}

/// Load the driver library (once per process). `Err` says which library is missing and why;
/// [`crate::Gpu::new`] reports it as `Error::NoDevice`.
pub fn load() -> Result<(), &'static str> {
    loaded().as_ref().map(|_| ()).map_err(String::as_str)
}

/// Entry points declared here that the loaded driver does not export (an older driver);
/// empty when the library is not loaded.
pub fn missing_entry_points() -> Vec<&'static str> {
    api().map(Api::missing).unwrap_or_default()
}

driver_api! {
    /// `CUresult cuGetErrorString(CUresult error, const char **pStr)`
    fn cuGetErrorString(error: CUresult, pStr: *mut *const c_char);
    /// `CUresult cuGetErrorName(CUresult error, const char **pStr)`
    fn cuGetErrorName(error: CUresult, pStr: *mut *const c_char);
    /// `CUresult cuInit(unsigned int Flags)`
    fn cuInit(Flags: c_uint);
    /// `CUresult cuDriverGetVersion(int *driverVersion)`
    fn cuDriverGetVersion(driverVersion: *mut c_int);

    /// `CUresult cuDeviceGet(CUdevice *device, int ordinal)`
    fn cuDeviceGet(device: *mut CUdevice, ordinal: c_int);
    /// `CUresult cuDeviceGetCount(int *count)`
    fn cuDeviceGetCount(count: *mut c_int);
    /// `CUresult cuDeviceGetName(char *name, int len, CUdevice dev)`
    fn cuDeviceGetName(name: *mut c_char, len: c_int, dev: CUdevice);
    /// `CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev)`
    fn cuDeviceTotalMem_v2(bytes: *mut usize, dev: CUdevice);
    /// `CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)`
    fn cuDeviceGetAttribute(pi: *mut c_int, attrib: CUdevice_attribute, dev: CUdevice);
    /// `CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)`
    fn cuDeviceGetPCIBusId(pciBusId: *mut c_char, len: c_int, dev: CUdevice);
    /// `CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)`
    fn cuDeviceCanAccessPeer(canAccessPeer: *mut c_int, dev: CUdevice, peerDev: CUdevice);
    /// `CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)`
    fn cuDeviceGetDefaultMemPool(pool_out: *mut CUmemoryPool, dev: CUdevice);

    /// `CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)`
    fn cuDevicePrimaryCtxRetain(pctx: *mut CUcontext, dev: CUdevice);
    /// `CUresult cuDevicePrimaryCtxRelease(CUdevice dev)`
    fn cuDevicePrimaryCtxRelease_v2(dev: CUdevice);
    /// `CUresult cuDevicePrimaryCtxReset(CUdevice dev)`
    fn cuDevicePrimaryCtxReset_v2(dev: CUdevice);
    /// `CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)`
    fn cuDevicePrimaryCtxGetState(dev: CUdevice, flags: *mut c_uint, active: *mut c_int);
    /// `CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)` (the
    /// `CU_CTX_SCHED_*` flags: how a synchronize waits)
    fn cuDevicePrimaryCtxSetFlags_v2(dev: CUdevice, flags: c_uint);
    /// `CUresult cuCtxGetCurrent(CUcontext *pctx)`
    fn cuCtxGetCurrent(pctx: *mut CUcontext);
    /// `CUresult cuCtxSetCurrent(CUcontext ctx)`
    fn cuCtxSetCurrent(ctx: CUcontext);
    /// `CUresult cuCtxSynchronize(void)`
    fn cuCtxSynchronize();
    /// `CUresult cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags)`
    fn cuCtxEnablePeerAccess(peerContext: CUcontext, Flags: c_uint);

    /// `CUresult cuModuleLoadData(CUmodule *module, const void *image)`
    fn cuModuleLoadData(module: *mut CUmodule, image: *const c_void);
    /// `CUresult cuModuleUnload(CUmodule hmod)`
    fn cuModuleUnload(hmod: CUmodule);
    /// `CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)`
    fn cuModuleGetFunction(hfunc: *mut CUfunction, hmod: CUmodule, name: *const c_char);
    /// `CUresult cuModuleGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const
    /// char *name)`
    fn cuModuleGetGlobal_v2(
        dptr: *mut CUdeviceptr,
        bytes: *mut usize,
        hmod: CUmodule,
        name: *const c_char,
    );
    /// `CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)`
    fn cuFuncGetAttribute(pi: *mut c_int, attrib: CUfunction_attribute, hfunc: CUfunction);
    /// `CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)`
    /// (also the cluster attributes of CUDA 12: `CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_*`,
    /// `CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED`, ...)
    fn cuFuncSetAttribute(hfunc: CUfunction, attrib: CUfunction_attribute, value: c_int);
    /// `CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc)`
    fn cuFuncGetModule(hmod: *mut CUmodule, hfunc: CUfunction);
    /// `CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
    /// unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int
    /// blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void
    /// **extra)`
    fn cuLaunchKernel(
        f: CUfunction,
        gridDimX: c_uint,
        gridDimY: c_uint,
        gridDimZ: c_uint,
        blockDimX: c_uint,
        blockDimY: c_uint,
        blockDimZ: c_uint,
        sharedMemBytes: c_uint,
        hStream: CUstream,
        kernelParams: *mut *mut c_void,
        extra: *mut *mut c_void,
    );
    /// `CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void
    /// **kernelParams, void **extra)` (CUDA 12.0)
    fn cuLaunchKernelEx(
        config: *const CUlaunchConfig,
        f: CUfunction,
        kernelParams: *mut *mut c_void,
        extra: *mut *mut c_void,
    );
    /// `CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func,
    /// int blockSize, size_t dynamicSMemSize)`
    fn cuOccupancyMaxActiveBlocksPerMultiprocessor(
        numBlocks: *mut c_int,
        func: CUfunction,
        blockSize: c_int,
        dynamicSMemSize: usize,
    );
    /// `CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const
    /// CUlaunchConfig *config)` (CUDA 12.0)
    fn cuOccupancyMaxActiveClusters(
        numClusters: *mut c_int,
        func: CUfunction,
        config: *const CUlaunchConfig,
    );
    /// `CUresult cuTensorMapEncodeTiled(CUtensorMap *tensorMap, CUtensorMapDataType
    /// tensorDataType, cuuint32_t tensorRank, void *globalAddress, const cuuint64_t
    /// *globalDim, const cuuint64_t *globalStrides, const cuuint32_t *boxDim, const cuuint32_t
    /// *elementStrides, CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
    /// CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill)` (CUDA 12.0)
    fn cuTensorMapEncodeTiled(
        tensorMap: *mut CUtensorMap,
        tensorDataType: CUtensorMapDataType,
        tensorRank: cuuint32_t,
        globalAddress: *mut c_void,
        globalDim: *const cuuint64_t,
        globalStrides: *const cuuint64_t,
        boxDim: *const cuuint32_t,
        elementStrides: *const cuuint32_t,
        interleave: CUtensorMapInterleave,
        swizzle: CUtensorMapSwizzle,
        l2Promotion: CUtensorMapL2promotion,
        oobFill: CUtensorMapFloatOOBfill,
    );

    /// `CUresult cuMemGetInfo(size_t *free, size_t *total)`
    fn cuMemGetInfo_v2(free: *mut usize, total: *mut usize);
    /// `CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytesize)`
    fn cuMemAlloc_v2(dptr: *mut CUdeviceptr, bytesize: usize);
    /// `CUresult cuMemFree(CUdeviceptr dptr)`
    fn cuMemFree_v2(dptr: CUdeviceptr);
    /// `CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)`
    fn cuMemAllocManaged(dptr: *mut CUdeviceptr, bytesize: usize, flags: c_uint);
    /// `CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)`
    fn cuMemHostAlloc(pp: *mut *mut c_void, bytesize: usize, Flags: c_uint);
    /// `CUresult cuMemFreeHost(void *p)`
    fn cuMemFreeHost(p: *mut c_void);
    /// `CUresult cuMemHostGetDevicePointer(CUdeviceptr *pdptr, void *p, unsigned int Flags)`
    fn cuMemHostGetDevicePointer_v2(pdptr: *mut CUdeviceptr, p: *mut c_void, Flags: c_uint);
    /// `CUresult cuMemcpyHtoD(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)`
    fn cuMemcpyHtoD_v2(dstDevice: CUdeviceptr, srcHost: *const c_void, ByteCount: usize);
    /// `CUresult cuMemcpyDtoH(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)`
    fn cuMemcpyDtoH_v2(dstHost: *mut c_void, srcDevice: CUdeviceptr, ByteCount: usize);
    /// `CUresult cuMemcpyHtoDAsync(CUdeviceptr dstDevice, const void *srcHost, size_t
    /// ByteCount, CUstream hStream)`
    fn cuMemcpyHtoDAsync_v2(
        dstDevice: CUdeviceptr,
        srcHost: *const c_void,
        ByteCount: usize,
        hStream: CUstream,
    );
    /// `CUresult cuMemcpyDtoHAsync(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
    /// CUstream hStream)`
    fn cuMemcpyDtoHAsync_v2(
        dstHost: *mut c_void,
        srcDevice: CUdeviceptr,
        ByteCount: usize,
        hStream: CUstream,
    );
    /// `CUresult cuMemcpyDtoDAsync(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t
    /// ByteCount, CUstream hStream)`
    fn cuMemcpyDtoDAsync_v2(
        dstDevice: CUdeviceptr,
        srcDevice: CUdeviceptr,
        ByteCount: usize,
        hStream: CUstream,
    );
    /// `CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr
    /// srcDevice, CUcontext srcContext, size_t ByteCount, CUstream hStream)`
    fn cuMemcpyPeerAsync(
        dstDevice: CUdeviceptr,
        dstContext: CUcontext,
        srcDevice: CUdeviceptr,
        srcContext: CUcontext,
        ByteCount: usize,
        hStream: CUstream,
    );
    /// `CUresult cuMemsetD8(CUdeviceptr dstDevice, unsigned char uc, size_t N)`
    fn cuMemsetD8_v2(dstDevice: CUdeviceptr, uc: c_uchar, N: usize);
    /// `CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream
    /// hStream)`
    fn cuMemsetD8Async(dstDevice: CUdeviceptr, uc: c_uchar, N: usize, hStream: CUstream);
    /// `CUresult cuMemPrefetchAsync(CUdeviceptr devPtr, size_t count, CUdevice dstDevice,
    /// CUstream hStream)` (the CUDA 11/12 form the driver still exports under this name)
    fn cuMemPrefetchAsync(devPtr: CUdeviceptr, count: usize, dstDevice: CUdevice, hStream: CUstream);
    /// `CUresult cuMemAdvise(CUdeviceptr devPtr, size_t count, CUmem_advise advice, CUdevice
    /// device)` (the CUDA 11/12 form the driver still exports under this name)
    fn cuMemAdvise(devPtr: CUdeviceptr, count: usize, advice: CUmem_advise, device: CUdevice);

    /// `CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)`
    fn cuMemPoolCreate(pool: *mut CUmemoryPool, poolProps: *const CUmemPoolProps);
    /// `CUresult cuMemPoolDestroy(CUmemoryPool pool)`
    fn cuMemPoolDestroy(pool: CUmemoryPool);
    /// `CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void
    /// *value)`
    fn cuMemPoolSetAttribute(pool: CUmemoryPool, attr: CUmemPool_attribute, value: *mut c_void);
    /// `CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void
    /// *value)`
    fn cuMemPoolGetAttribute(pool: CUmemoryPool, attr: CUmemPool_attribute, value: *mut c_void);
    /// `CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)`
    fn cuMemPoolTrimTo(pool: CUmemoryPool, minBytesToKeep: usize);
    /// `CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool
    /// pool, CUstream hStream)`
    fn cuMemAllocFromPoolAsync(
        dptr: *mut CUdeviceptr,
        bytesize: usize,
        pool: CUmemoryPool,
        hStream: CUstream,
    );
    /// `CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)`
    fn cuMemFreeAsync(dptr: CUdeviceptr, hStream: CUstream);

    /// `CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)`
    fn cuStreamCreate(phStream: *mut CUstream, Flags: c_uint);
    /// `CUresult cuStreamDestroy(CUstream hStream)`
    fn cuStreamDestroy_v2(hStream: CUstream);
    /// `CUresult cuStreamSynchronize(CUstream hStream)`
    fn cuStreamSynchronize(hStream: CUstream);
    /// `CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)`
    fn cuStreamWaitEvent(hStream: CUstream, hEvent: CUevent, Flags: c_uint);
    /// `CUresult cuStreamBeginCapture(CUstream hStream, CUstreamCaptureMode mode)`
    fn cuStreamBeginCapture_v2(hStream: CUstream, mode: CUstreamCaptureMode);
    /// `CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)`
    fn cuStreamEndCapture(hStream: CUstream, phGraph: *mut CUgraph);

    /// `CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)`
    fn cuEventCreate(phEvent: *mut CUevent, Flags: c_uint);
    /// `CUresult cuEventDestroy(CUevent hEvent)`
    fn cuEventDestroy_v2(hEvent: CUevent);
    /// `CUresult cuEventRecord(CUevent hEvent, CUstream hStream)`
    fn cuEventRecord(hEvent: CUevent, hStream: CUstream);
    /// `CUresult cuEventQuery(CUevent hEvent)`
    fn cuEventQuery(hEvent: CUevent);
    /// `CUresult cuEventSynchronize(CUevent hEvent)`
    fn cuEventSynchronize(hEvent: CUevent);
    /// `CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)` (the
    /// form the driver exports under this name since CUDA 2.0)
    fn cuEventElapsedTime(pMilliseconds: *mut f32, hStart: CUevent, hEnd: CUevent);

    /// `CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
    /// unsigned long long flags)`
    fn cuGraphInstantiateWithFlags(
        phGraphExec: *mut CUgraphExec,
        hGraph: CUgraph,
        flags: c_ulonglong,
    );
    /// `CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes)`
    fn cuGraphGetNodes(hGraph: CUgraph, nodes: *mut CUgraphNode, numNodes: *mut usize);
    /// `CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)`
    fn cuGraphLaunch(hGraphExec: CUgraphExec, hStream: CUstream);
    /// `CUresult cuGraphExecUpdate(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphNode
    /// *hErrorNode_out, CUgraphExecUpdateResult *updateResult_out)` (the CUDA 11 form the
    /// driver still exports under this name; CUDA 12 headers call `cuGraphExecUpdate_v2`)
    fn cuGraphExecUpdate(
        hGraphExec: CUgraphExec,
        hGraph: CUgraph,
        hErrorNode_out: *mut CUgraphNode,
        updateResult_out: *mut CUgraphExecUpdateResult,
    );
    /// `CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)`
    fn cuGraphExecDestroy(hGraphExec: CUgraphExec);
    /// `CUresult cuGraphDestroy(CUgraph hGraph)`
    fn cuGraphDestroy(hGraph: CUgraph);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_cuda_h() {
        assert_eq!(std::mem::size_of::<CUtensorMap>(), 128);
        assert_eq!(std::mem::align_of::<CUtensorMap>(), 128);
        assert_eq!(std::mem::size_of::<CUlaunchAttribute>(), 72);
        assert_eq!(std::mem::offset_of!(CUlaunchAttribute, value), 8);
        // gridDim/blockDim (6 × 4 B) + sharedMemBytes (4 B), then the 8-byte aligned stream.
        assert_eq!(std::mem::offset_of!(CUlaunchConfig, hStream), 32);
        assert_eq!(std::mem::offset_of!(CUlaunchConfig, attrs), 40);
        assert_eq!(std::mem::offset_of!(CUlaunchConfig, numAttrs), 48);
        assert_eq!(std::mem::size_of::<CUlaunchConfig>(), 56);
        assert_eq!(std::mem::size_of::<CUmemPoolProps>(), 88);
        assert_eq!(
            std::mem::offset_of!(CUmemPoolProps, win32SecurityAttributes),
            16
        );
        assert_eq!(std::mem::size_of::<CUresult>(), 4);
    }
}
