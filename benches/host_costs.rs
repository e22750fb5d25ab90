//! Host-side costs of gpukit: argument validation and suite helpers (no GPU needed), and, on a
//! machine with a GPU, a typed launch, launch configuration, graph replay, buffer allocation
//! and small end-to-end operations.
//!
//! `cargo bench -p gpukit-bench --bench host_costs`; without a GPU the GPU benches print that they are skipped.
use criterion::{Criterion, criterion_group, criterion_main};
use gpukit::kernels::Kernels;
use gpukit::runtime::{self, Gpu, Graph};
use gpukit_bench::{baseline, verify};
use std::hint::black_box;

/// Costs that need no GPU.
fn cpu(c: &mut Criterion) {
    let mut g = c.benchmark_group("validate");
    let n = 1 << 20;
    g.bench_function("check_same_len ok (3 slices)", |b| {
        b.iter(|| {
            runtime::check_same_len("vector_add", black_box(&[("a", n), ("b", n), ("out", n)]))
        })
    });
    g.bench_function("check_same_len mismatch (error built)", |b| {
        b.iter(|| {
            runtime::check_same_len(
                "vector_add",
                black_box(&[("a", n), ("b", n - 1), ("out", n)]),
            )
            .is_err()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("suite");
    g.sample_size(10);
    g.bench_function("sample_indices 2^28", |b| {
        b.iter(|| verify::sample_indices(black_box(1 << 28), 1).len())
    });
    g.bench_function("random f32 2^20", |b| {
        b.iter(|| gpukit_bench::data::random::<f32>(black_box(1 << 20), 1).len())
    });
    let text = r#"{"cupy_version": "14.2.0", "results": [
        {"op": "vector_add", "size": "268435456", "dtype": "f32", "median_ms": 0.7,
         "min_ms": 0.69, "max_ms": 0.72}]}"#;
    g.bench_function("parse CuPy JSON", |b| {
        b.iter(|| baseline::CupyBaseline::parse(black_box(text)).unwrap())
    });
    g.finish();
}

/// Costs that need a GPU; skipped (with a message) without one.
fn gpu(c: &mut Criterion) {
    let gpu = match Gpu::new(0) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("host_costs: GPU benches skipped: {e}");
            return;
        }
    };
    let k = Kernels::load(&gpu).expect("load the kernel module");
    let stream = gpu.stream().expect("a stream");
    let n = 4096;
    let a = gpu.upload(&vec![1.0f32; n]).unwrap();
    let bb = gpu.upload(&vec![2.0f32; n]).unwrap();
    let mut out = gpu.alloc_filled::<f32>(n, 0).unwrap();

    let mut g = c.benchmark_group("launch");
    g.bench_function("vector_add config (4096)", |b| {
        b.iter(|| k.vector_add.config(&a, &bb, &out).unwrap())
    });
    g.bench_function("vector_add typed launch (4096, enqueue)", |b| {
        b.iter(|| k.vector_add.launch(&stream, &a, &bb, &mut out).unwrap());
        runtime::sync(&stream).unwrap();
    });
    g.bench_function("vector_add launch + sync (4096)", |b| {
        b.iter(|| {
            k.vector_add.launch(&stream, &a, &bb, &mut out).unwrap();
            runtime::sync(&stream).unwrap();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("graph");
    // SAFETY: a, bb and out outlive the graph (dropped at the end of this function, after it).
    let graph = unsafe {
        Graph::capture(&stream, |s| {
            for _ in 0..10 {
                k.vector_add.launch(s, &a, &bb, &mut out)?;
            }
            Ok(())
        })
    };
    match graph {
        Ok(graph) => {
            g.bench_function("replay 10 launches + sync", |b| {
                b.iter(|| {
                    graph.launch(&stream).unwrap();
                    runtime::sync(&stream).unwrap();
                })
            });
            g.bench_function("10 typed launches + sync", |b| {
                b.iter(|| {
                    for _ in 0..10 {
                        k.vector_add.launch(&stream, &a, &bb, &mut out).unwrap();
                    }
                    runtime::sync(&stream).unwrap();
                })
            });
        }
        Err(e) => eprintln!("host_costs: graph benches skipped: {e}"),
    }
    g.finish();

    let mut g = c.benchmark_group("alloc");
    for bytes in [4096usize, 1 << 20, 64 << 20] {
        g.bench_function(format!("alloc_filled + free {} KiB", bytes >> 10), |b| {
            b.iter(|| drop(gpu.alloc_filled::<u8>(bytes, 0).unwrap()))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("end_to_end");
    let host = vec![0.5f32; n];
    g.bench_function("upload 2 + vector_add + download (4096)", |b| {
        b.iter(|| {
            let x = gpu.upload(&host).unwrap();
            let y = gpu.upload(&host).unwrap();
            let mut o = gpu.alloc_filled::<f32>(n, 0).unwrap();
            k.vector_add.launch(&stream, &x, &y, &mut o).unwrap();
            runtime::sync(&stream).unwrap();
            runtime::download(&o).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, cpu, gpu);
criterion_main!(benches);
