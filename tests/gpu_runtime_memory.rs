//! GPU tests of the runtime's memory: copy/compute overlap on two streams, memory pools, unified
//! memory, and device memory unchanged after 10^5 buffers and launches. `#[ignore]`d without a
//! GPU. All tests take one lock: the timing tests want the GPU to themselves.
mod common;
use common::lock;
use gpukit::kernels::Kernels;
use gpukit::runtime::{
    self, Advice, DeviceSlice, Error, Gpu, Location, MemPool, Stream, UnifiedBuffer, measure,
};

fn setup() -> (Gpu, Kernels) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("module loads");
    (gpu, k)
}

/// Compute on a chunk: `reps` saxpys, so kernels take about as long as the copies.
fn compute<'a>(
    k: &'a Kernels,
    x: &'a DeviceSlice<f32>,
    reps: usize,
) -> impl FnMut(&Stream, &mut DeviceSlice<f32>) -> runtime::Result<()> + 'a {
    move |s, out| {
        for _ in 0..reps {
            k.saxpy.launch(s, 0.5, x, out)?;
        }
        Ok(())
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn copy_and_compute_on_two_streams_beat_serial() {
    let _l = lock();
    let (gpu, k) = setup();
    let chunk = 8 << 20;
    let x = gpu.upload(&vec![1.0f32; chunk]).unwrap();
    let mut f = compute(&k, &x, 20);
    let o = measure::copy_compute_overlap(&gpu, 8, chunk, &mut f).unwrap();
    println!("{o:?}");
    assert!(o.same_result);
    assert!(
        o.two_streams_ms < 0.85 * o.serial_ms,
        "no overlap: two streams {:.2} ms vs serial {:.2} ms",
        o.two_streams_ms,
        o.serial_ms
    );
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn pool_allocation_loop_does_not_grow_and_beats_cumemalloc() {
    let _l = lock();
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let n = 1 << 16;
    let a = gpu.upload(&vec![1.0f32; n]).unwrap();
    let b = gpu.upload(&vec![2.0f32; n]).unwrap();
    let mut launch = |s: &Stream, out: &mut DeviceSlice<f32>| k.vector_add.launch(s, &a, &b, out);
    let c = measure::alloc_loops(&gpu, &s, 100_000, n, 64 << 20, &mut launch).unwrap();
    println!("{c:?}");
    assert_eq!(c.pool_free_delta, 0, "{c:?}");
    assert!(c.pool_reserved_high < 64 << 20, "{c:?}");
    assert!(c.pool_s < c.malloc_s, "{c:?}");
    // Stream-ordered buffers are ordinary slices for typed launches, and correct.
    let pool = MemPool::default_for(&gpu, 0).unwrap();
    let mut out = pool.alloc_zeroed_async::<f32>(&s, n).unwrap();
    k.vector_add.launch(&s, &a, &b, &mut out).unwrap();
    runtime::sync(&s).unwrap();
    assert!(runtime::download(&out).unwrap().iter().all(|&v| v == 3.0));
    drop(out);
    runtime::sync(&s).unwrap();
    assert_eq!(pool.used_bytes().unwrap(), 0);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn unified_memory_prefetches_advises_and_refuses_oversized_requests() {
    let _l = lock();
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let n = 1 << 20;
    let x = UnifiedBuffer::from_slice(&gpu, &vec![1.0f32; n]).unwrap();
    let mut y = UnifiedBuffer::<f32>::zeroed(&gpu, n).unwrap();
    x.advise(Advice::ReadMostly).unwrap();
    y.advise(Advice::PreferredLocation(Location::Device(0)))
        .unwrap();
    y.advise(Advice::AccessedBy(Location::Host)).unwrap();
    x.prefetch_to_device(&s).unwrap();
    y.prefetch_to_device(&s).unwrap();
    k.saxpy.launch(&s, 3.0, &x, &mut y).unwrap();
    y.prefetch(Location::Host, &s).unwrap();
    assert!(y.host().unwrap().iter().all(|&v| v == 3.0));
    y.host().unwrap()[0] = 7.0;
    assert_eq!(runtime::download(&y[0..1]).unwrap(), vec![7.0]);
    let (free, _) = gpu.memory_info().unwrap();
    let e = UnifiedBuffer::<u8>::zeroed(&gpu, free + (1 << 30))
        .err()
        .unwrap();
    assert!(matches!(e, Error::OutOfMemory { .. }), "{e}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn hundred_thousand_buffers_and_launches_leave_device_memory_unchanged() {
    let _l = lock();
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let n = 1024;
    let a = gpu.upload(&vec![1.0f32; n]).unwrap();
    let b = gpu.upload(&vec![2.0f32; n]).unwrap();
    let mut launch = |s: &Stream, out: &mut DeviceSlice<f32>| k.vector_add.launch(s, &a, &b, out);
    let c = measure::churn(&gpu, &s, 100_000, n, &mut launch).unwrap();
    println!("{c:?}");
    assert_eq!(c.launches, 100_000);
    assert_eq!(c.free_delta(), 0, "{c:?}");
}
