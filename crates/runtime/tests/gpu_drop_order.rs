//! Every object that lives in a context keeps it alive, so objects can be dropped in any order
//! (and on any thread). These run on the GPU (ignored without one) and are also run under
//! compute-sanitizer, which reports any driver call that fails on a dead context or handle.
//!
//! This file holds one test per process on purpose: it checks the primary context's state,
//! which other tests in the same process would change.
use gpukit_runtime::{
    self as runtime, DeviceSlice, Gpu, Graph, KernelFn, LaunchConfig, MemPool, Module, SliceArg,
    Stream, UnifiedBuffer, panic::PanicBuffer, pinned::PinnedBuffer, sys,
};
use std::ffi::c_void;
use std::sync::Arc;

/// `out[i] = value`, one element per thread (hand-written PTX: this crate builds no kernels).
const FILL_PTX: &str = include_str!("fill.ptx");

/// Whether `device`'s primary context is alive (retained by someone).
fn primary_active(device: sys::CUdevice) -> bool {
    let (mut flags, mut active) = (0u32, 0i32);
    // SAFETY: valid out-pointers and device handle.
    let r = unsafe { sys::cuDevicePrimaryCtxGetState(device, &mut flags, &mut active) };
    assert_eq!(r, sys::CUresult::CUDA_SUCCESS);
    active != 0
}

fn fill(k: &KernelFn, s: &Stream, out: &mut DeviceSlice<f32>, value: f32) -> runtime::Result<()> {
    let SliceArg { mut ptr, mut len } = SliceArg::of_mut(out);
    let mut value = value;
    let mut params = [
        &mut ptr as *mut u64 as *mut c_void,
        &mut len as *mut u64 as *mut c_void,
        &mut value as *mut f32 as *mut c_void,
    ];
    let cfg = LaunchConfig::linear((out.len() as u32).div_ceil(256), 256);
    // SAFETY: the parameters match fill's `.entry` (u64 pointer, u64 length, f32) and the
    // kernel writes only `out[..len]`, which `&mut out` holds for the launch.
    unsafe { k.launch(s, &cfg, &mut params) }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn any_drop_order_is_safe() {
    let n = 10_000;
    let gpu = Gpu::new(0).unwrap();
    let device = gpu.device();
    let module = Arc::new(Module::from_ptx(&gpu, "fill", FILL_PTX).unwrap());
    let kernel = module.function("fill").unwrap();
    let stream = gpu.stream().unwrap();
    let event = gpu.event(true).unwrap();
    let mut buf = gpu.alloc_zeroed::<f32>(n).unwrap();
    let mut other = gpu.alloc_zeroed::<f32>(n).unwrap();
    let mut pinned = PinnedBuffer::filled(&gpu, n, 0.0f32).unwrap();
    let mut unified = UnifiedBuffer::<f32>::zeroed(&gpu, n).unwrap();
    let pool = MemPool::new(&gpu, 1 << 20).unwrap();
    // SAFETY: written by the fill below before anything reads it.
    let mut pooled = unsafe { pool.alloc_async::<f32>(&stream, n) }.unwrap();
    let panics = PanicBuffer::new(&gpu).unwrap();
    // SAFETY: `other` and the module outlive every replay of the graph (it is dropped first).
    let graph = unsafe { Graph::capture(&stream, |s| fill(&kernel, s, &mut other, 5.0)) }.unwrap();
    let clone = gpu.clone();

    // The worst order: the GPU handles first, then the module handle...
    drop(gpu);
    drop(clone);
    assert!(primary_active(device), "the objects keep the context");
    drop(module);
    // ... and everything still works: the kernel keeps its module, the stream its context.
    graph.launch(&stream).unwrap();
    fill(&kernel, &stream, &mut buf, 1.0).unwrap();
    fill(&kernel, &stream, &mut pooled, 2.0).unwrap();
    fill(&kernel, &stream, &mut unified, 3.0).unwrap();
    runtime::copy_to_host_async(&stream, &mut pinned, &buf).unwrap();
    event.record(&stream).unwrap();
    event.synchronize().unwrap();
    assert!(pinned.iter().all(|&v| v == 1.0));
    assert!(
        runtime::download(&pooled)
            .unwrap()
            .iter()
            .all(|&v| v == 2.0)
    );
    assert!(unified.host().unwrap().iter().all(|&v| v == 3.0));
    assert!(runtime::download(&other).unwrap().iter().all(|&v| v == 5.0));
    assert_eq!(panics.take(), None);

    // Then the kernel (unloading the module) while buffers, streams and the pool live on; the
    // graph goes first since it launches the kernel.
    drop(graph);
    drop(kernel);
    drop(pool); // before the memory allocated from it
    drop(event);
    // Buffers dropped on another thread, where no context is current.
    std::thread::spawn(move || {
        drop(buf);
        drop(unified);
        drop(pinned);
        drop(panics);
    })
    .join()
    .unwrap();
    drop(pooled); // freed in order on its stream
    drop(stream);
    assert!(primary_active(device), "`other` still holds the context");
    drop(other);
    assert!(
        !primary_active(device),
        "the last object released the context"
    );

    // A fresh GPU afterwards works.
    let gpu = Gpu::new(0).unwrap();
    let module = Arc::new(Module::from_ptx(&gpu, "fill", FILL_PTX).unwrap());
    let kernel = module.function("fill").unwrap();
    let s = gpu.stream().unwrap();
    let mut out = gpu.alloc_zeroed::<f32>(n).unwrap();
    fill(&kernel, &s, &mut out, 4.0).unwrap();
    s.synchronize().unwrap();
    assert!(runtime::download(&out).unwrap().iter().all(|&v| v == 4.0));
}
