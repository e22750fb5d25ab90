//! gpukit-runtime: the host runtime of gpukit, on its own.
//!
//! Layered as cudarc is:
//! - [`sys`]: raw driver bindings (cust's, plus the CUDA 12+ entry points they lack, declared
//!   in that one module);
//! - [`result`]: every driver result checked and turned into an [`Error`] that names the call
//!   and carries a typed [`CudaError`];
//! - the safe API: [`Gpu`] (a device and its primary context), [`Module`] and [`KernelFn`]
//!   (loading, launch checks, the raw launch under the typed launchers gpukit-builder
//!   generates), [`Stream`], [`Event`], device memory ([`DeviceBuffer`] and its borrowed view
//!   [`DeviceSlice`]), and around them [`pinned`] (page-locked host buffers, truly asynchronous
//!   copies), [`pool`] (stream-ordered allocation), [`unified`] (managed memory with prefetch
//!   and advice), [`graph`] (capture and replay of launch sequences), [`multi`] (several GPUs),
//!   [`panic`](mod@panic) (where a kernel panicked), [`timing`] and [`measure`].
//!
//! Every object that lives in a context holds it (an `Arc` of the [`Context`]), so objects can
//! be dropped in any order. Device memory is only ever reached through `&DeviceSlice` (read) and
//! `&mut DeviceSlice` (write) borrowed from the buffer that owns it, so an output can never
//! alias an input of the same launch and no view outlives its buffer.
#![warn(missing_docs)]

pub mod sys;

mod codes;
pub mod result;

pub mod context;
pub mod contract;
pub mod event;
pub mod fp8;
pub mod gpu;
pub mod graph;
pub mod launch;
pub mod measure;
pub mod memory;
pub mod module;
pub mod multi;
pub mod panic;
pub mod pinned;
pub mod pool;
pub mod stream;
pub mod tensor_map;
pub mod timing;
pub mod unified;

pub use context::Context;
pub use contract::Const;
pub use event::{Event, join, wait_event};
pub use fp8::{Fp8E4M3, Fp8E5M2};
pub use gpu::{DeviceProps, Gpu};
pub use graph::Graph;
pub use half;
pub use launch::{
    ClusterDims, FunctionAttrs, KernelFn, LaunchConfig, MAX_PORTABLE_CLUSTER, SliceArg,
    check_same_len, plan_elements, validate_cluster, validate_config,
};
pub use memory::{DeviceBuffer, DeviceCopy, DeviceSlice, copy_async, download, sync, zero_async};
pub use module::{ArchKernel, Module, ModuleImage, rank_images};
pub use multi::{DeviceInfo, MultiGpu, copy_peer_async, devices, split_ranges};
pub use pinned::{PinnedBuffer, copy_to_device_async, copy_to_host_async};
pub use pool::{MemPool, PoolBuffer};
pub use result::{Call, CudaError, DriverError, Error, Result};
pub use stream::Stream;
pub use tensor_map::{Swizzle, TensorElem, TensorMap, TiledView};
pub use unified::{Advice, Location, UnifiedBuffer};

/// Include the launchers gpukit-builder generated for the kernel crate `$name` (its package
/// name with `-` replaced by `_`), e.g. `gpukit_runtime::include_kernels!(my_kernels);`.
#[macro_export]
macro_rules! include_kernels {
    ($name:ident) => {
        include!(concat!(env!("OUT_DIR"), "/", stringify!($name), ".rs"));
    };
}
