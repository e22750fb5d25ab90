//! GPU tests of the host runtime: recovery from a trapped kernel, launch errors, threads,
//! streams and events, pinned memory, devices and several GPUs. They need a CUDA GPU and are
//! `#[ignore]`d; run them with `cargo test --test gpu_runtime -- --include-ignored`. Memory pools,
//! unified memory and leaks are in `gpu_runtime_memory.rs`, graphs in `gpu_runtime_graphs.rs`.
//!
//! All tests take one lock: the timing tests want the GPU to themselves. The trap test makes the
//! kernel trap in a child process (see `gpukit_test_support::child`).
mod common;
use common::lock;
use gpukit::kernels::Kernels;
use gpukit::runtime::{
    self, Error, Event, Gpu, Graph, LaunchConfig, MemPool, Module, MultiGpu, PinnedBuffer,
    UnifiedBuffer,
};
use gpukit_test_support::child;
use gpukit_test_support::reference::{self, first_mismatch, random_f32};
use std::sync::Arc;

fn setup() -> (Gpu, Kernels) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("module loads");
    (gpu, k)
}

/// A kernel that executes `trap`: written by hand, loaded as raw PTX.
const TRAP_PTX: &str = "
.version 7.0
.target sm_52
.address_size 64
.visible .entry boom()
{
    trap;
    ret;
}
";

#[test]
#[ignore = "needs a CUDA GPU"]
fn trapped_kernel_is_reported_as_sticky_and_a_fresh_context_works() {
    const NAME: &str = "trapped_kernel_is_reported_as_sticky_and_a_fresh_context_works";
    if child::child_arg().is_some() {
        // The child: trap, and get the error back as a value.
        let (gpu, _k) = setup();
        let module = Arc::new(Module::from_ptx(&gpu, "trap", TRAP_PTX).unwrap());
        let boom = module.function("boom").unwrap();
        let s = gpu.stream().unwrap();
        // SAFETY: `boom` takes no parameters.
        let launched = unsafe { boom.launch(&s, &LaunchConfig::linear(1, 1), &mut []) };
        let err = launched.and_then(|_| runtime::sync(&s)).unwrap_err();
        println!("REPORT {err}");
        assert!(err.is_sticky(), "{err}");
        // In-process recovery is refused by current drivers; it must say so, not pretend.
        drop((s, boom, module, _k));
        match gpu.recover() {
            Ok(_) => println!("RECOVER in-process recovery worked"),
            Err(e) => println!("RECOVER refused: {e}"),
        }
        return;
    }
    let _l = lock();
    let (ok, text) = child::run_child(NAME, "1");
    println!("{text}");
    assert!(ok, "child failed:\n{text}");
    assert!(text.contains("REPORT"), "{text}");
    assert!(text.contains("CUDA_ERROR_"), "{text}");
    assert!(text.contains("must be recreated"), "{text}");
    // This process, which watched the child fail, works on a fresh context.
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let a = random_f32(1000, 1);
    let b = random_f32(1000, 2);
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    let mut out = gpu.alloc_filled::<f32>(1000, 0xff).unwrap();
    k.vector_add.launch(&s, &da, &db, &mut out).unwrap();
    runtime::sync(&s).unwrap();
    let got = runtime::download(&out).unwrap();
    assert_eq!(
        first_mismatch(&got, &reference::vector_add(&a, &b), 0.0),
        None
    );
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn launch_errors_name_kernel_and_config_and_limits_are_checked_first() {
    let _l = lock();
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let a = gpu.upload(&random_f32(64, 1)).unwrap();
    let b = gpu.upload(&random_f32(64, 2)).unwrap();
    let mut out = gpu.alloc_filled::<f32>(64, 0).unwrap();
    let too_much_shared = LaunchConfig::linear(1, 64).with_shared(16 << 20);
    let e = k
        .vector_add
        .launch_with(&s, &too_much_shared, &a, &b, &mut out)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e}");
    assert!(e.to_string().contains("shared memory"), "{e}");
    assert!(!e.is_sticky());
    let big_grid = LaunchConfig {
        grid: (1, 1 << 20, 1),
        block: (32, 1, 1),
        shared_bytes: 0,
    };
    let e = k
        .vector_add
        .launch_with(&s, &big_grid, &a, &b, &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("grid.y"), "{e}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn eight_threads_launch_1000_kernels_each_on_their_own_streams() {
    let _l = lock();
    let (gpu, k) = setup();
    let n = 4096;
    std::thread::scope(|sc| {
        for t in 0..8u32 {
            let (gpu, k) = (&gpu, &k);
            sc.spawn(move || {
                // No bind here: the runtime binds the context on this thread by itself.
                let s = gpu.stream().unwrap();
                let x = gpu.upload(&vec![(t + 1) as f32; n]).unwrap();
                let mut y = gpu.alloc_filled::<f32>(n, 0).unwrap();
                for _ in 0..1000 {
                    k.saxpy.launch(&s, 1.0, &x, &mut y).unwrap();
                }
                runtime::sync(&s).unwrap();
                let got = runtime::download(&y).unwrap();
                let want = 1000.0 * (t + 1) as f32;
                assert!(got.iter().all(|&v| v == want), "thread {t}: {}", got[0]);
            });
        }
    });
}

#[test]
fn gpu_and_kernels_are_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Gpu>();
    both::<Kernels>();
    both::<Event>();
    both::<MemPool>();
    both::<Graph>();
    both::<PinnedBuffer<f32>>();
    both::<UnifiedBuffer<f32>>();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn events_time_work_and_order_streams() {
    let _l = lock();
    let (gpu, k) = setup();
    let (s1, s2) = (gpu.stream().unwrap(), gpu.stream().unwrap());
    let n = 1 << 22;
    let x = gpu.upload(&vec![1.0f32; n]).unwrap();
    let mut y = gpu.alloc_filled::<f32>(n, 0).unwrap();
    let mut z = gpu.alloc_filled::<f32>(n, 0).unwrap();
    let (start, end) = (gpu.event(true).unwrap(), gpu.event(true).unwrap());
    start.record(&s1).unwrap();
    for _ in 0..50 {
        k.saxpy.launch(&s1, 1.0, &x, &mut y).unwrap();
    }
    end.record(&s1).unwrap();
    // s2 copies y only after s1's 50 kernels: without the dependency it would copy zeros.
    runtime::join(&s2, &s1).unwrap();
    runtime::copy_async(&s2, &mut z, &y).unwrap();
    runtime::sync(&s2).unwrap();
    assert!(end.is_done().unwrap());
    let ms = end.elapsed_ms(&start).unwrap();
    assert!(ms > 0.0, "{ms}");
    let got = runtime::download(&z).unwrap();
    assert!(got.iter().all(|&v| v == 50.0), "{}", got[0]);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn pinned_buffers_round_trip_asynchronously() {
    let _l = lock();
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let n = (1 << 20) + 7;
    let x = random_f32(n, 1);
    let y = random_f32(n, 2);
    let hx = PinnedBuffer::from_slice(&gpu, &x).unwrap();
    let hy = PinnedBuffer::from_slice(&gpu, &y).unwrap();
    let mut out = PinnedBuffer::filled(&gpu, n, f32::NAN).unwrap();
    let mut dx = gpu.alloc_filled::<f32>(n, 0).unwrap();
    let mut dy = gpu.alloc_filled::<f32>(n, 0).unwrap();
    runtime::copy_to_device_async(&s, &mut dx, &hx).unwrap();
    runtime::copy_to_device_async(&s, &mut dy, &hy).unwrap();
    k.saxpy.launch(&s, 2.0, &dx, &mut dy).unwrap();
    runtime::copy_to_host_async(&s, &mut out, &dy).unwrap();
    // Reading `out` waits for the copy by itself.
    assert_eq!(
        first_mismatch(&out, &reference::saxpy(2.0, &x, &y), 0.0),
        None
    );
    let e = runtime::copy_to_host_async(&s, &mut out, &dx[1..]).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }));
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn devices_are_enumerated_with_peer_access() {
    let _l = lock();
    let devs = runtime::devices().unwrap();
    assert_eq!(devs.len() as u32, Gpu::count().unwrap());
    for d in &devs {
        println!("{}", d.summary());
        assert!(!d.props.name.is_empty());
        assert!(d.props.sm_count > 0 && d.props.total_memory > 0);
        assert!(d.props.pci_bus_id.contains(':'));
        assert!(!d.peers.contains(&d.props.ordinal));
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn vector_job_split_across_all_gpus_equals_single_gpu_result() {
    let _l = lock();
    let n = (1 << 24) + 13;
    let a = random_f32(n, 7);
    let b = random_f32(n, 8);
    // Single GPU.
    let (gpu0, k0) = setup();
    let s0 = gpu0.stream().unwrap();
    let (da, db) = (gpu0.upload(&a).unwrap(), gpu0.upload(&b).unwrap());
    let mut single = gpu0.alloc_filled::<f32>(n, 0xff).unwrap();
    k0.vector_add.launch(&s0, &da, &db, &mut single).unwrap();
    let single = {
        runtime::sync(&s0).unwrap();
        runtime::download(&single).unwrap()
    };
    // All GPUs: each computes its range; the parts are gathered on GPU 0 with peer copies.
    let multi = MultiGpu::all().unwrap();
    let parts = multi
        .split(n, |_, gpu, r| {
            let k = Kernels::load(gpu)?;
            let s = gpu.stream()?;
            let pa = gpu.upload(&a[r.clone()])?;
            let pb = gpu.upload(&b[r.clone()])?;
            let mut out = gpu.alloc_filled::<f32>(r.len(), 0xff)?;
            k.vector_add.launch(&s, &pa, &pb, &mut out)?;
            runtime::sync(&s)?;
            Ok((r, out))
        })
        .unwrap();
    let g0 = &multi.gpus()[0];
    let s = g0.stream().unwrap();
    let mut gathered = g0.alloc_filled::<f32>(n, 0xff).unwrap();
    for (i, (r, out)) in parts.iter().enumerate() {
        let dst = &mut gathered[r.clone()];
        runtime::copy_peer_async(&s, dst, g0, out, &multi.gpus()[i]).unwrap();
    }
    runtime::sync(&s).unwrap();
    let got = runtime::download(&gathered).unwrap();
    assert_eq!(first_mismatch(&got, &single, 0.0), None);
    assert_eq!(
        first_mismatch(&got, &reference::vector_add(&a, &b), 0.0),
        None
    );
}
