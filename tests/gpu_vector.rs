//! GPU tests of the foundation kernels against CPU references on random data. They need a CUDA
//! GPU and are `#[ignore]`d; run them with `--include-ignored` on a GPU machine.
use gpukit::kernels::Kernels;
use gpukit::runtime::{self, Error, Gpu};
use gpukit_test_support::reference::{self, first_mismatch, random_f32};

const SIZES: [usize; 5] = [0, 1, 1000, (1 << 20) + 3, 1 << 26];

/// [`SIZES`] up to `GPUKIT_TEST_MAX_ELEMS` when set (the sanitizer runs cap them).
fn sizes() -> Vec<usize> {
    let cap = std::env::var("GPUKIT_TEST_MAX_ELEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    SIZES.iter().copied().filter(|&n| n <= cap).collect()
}

fn setup() -> (Gpu, Kernels) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("module loads");
    (gpu, k)
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn vector_add_matches_cpu_at_awkward_sizes() {
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    for (seed, &n) in sizes().iter().enumerate() {
        let a = random_f32(n, 10 + seed as u64);
        let b = random_f32(n, 20 + seed as u64);
        let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
        // Poisoned output (NaN bytes): an unwritten element fails the comparison.
        let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
        k.vector_add.launch(&s, &da, &db, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&out).unwrap();
        assert_eq!(
            first_mismatch(&got, &reference::vector_add(&a, &b), 0.0),
            None,
            "n={n}"
        );
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn saxpy_matches_cpu_at_awkward_sizes() {
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    for (seed, &n) in sizes().iter().enumerate() {
        let alpha = 0.75 + seed as f32;
        let x = random_f32(n, 30 + seed as u64);
        let y = random_f32(n, 40 + seed as u64);
        let dx = gpu.upload(&x).unwrap();
        let mut dy = gpu.upload(&y).unwrap();
        k.saxpy.launch(&s, alpha, &dx, &mut dy).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&dy).unwrap();
        assert_eq!(
            first_mismatch(&got, &reference::saxpy(alpha, &x, &y), 0.0),
            None,
            "n={n}"
        );
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn saxpy_handles_misaligned_subslices() {
    // Sub-slices starting at odd offsets take the element-wise path of the four-per-thread
    // kernel; the result must be the same.
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let n = 4099;
    let x = random_f32(n + 3, 5);
    let y = random_f32(n + 1, 6);
    let dx = gpu.upload(&x).unwrap();
    let mut dy = gpu.upload(&y).unwrap();
    k.saxpy
        .launch(&s, 2.0, &dx[3..n + 3], &mut dy[1..n + 1])
        .unwrap();
    runtime::sync(&s).unwrap();
    let got = runtime::download(&dy).unwrap();
    let want: Vec<f32> = std::iter::once(y[0])
        .chain(reference::saxpy(2.0, &x[3..], &y[1..]))
        .collect();
    assert_eq!(first_mismatch(&got, &want, 0.0), None);
    drop(dy);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn length_mismatch_is_an_error_and_leaves_output_untouched() {
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let a = random_f32(1000, 1);
    let b = random_f32(999, 2);
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    let before = random_f32(1000, 3);
    let mut out = gpu.upload(&before).unwrap();
    let e = k.vector_add.launch(&s, &da, &db, &mut out).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    assert!(e.to_string().contains("a=1000, b=999, out=1000"), "{e}");
    let e = k.saxpy.launch(&s, 1.0, &db, &mut out).unwrap_err();
    assert!(e.to_string().contains("kernel `saxpy`"), "{e}");
    runtime::sync(&s).unwrap();
    assert_eq!(runtime::download(&out).unwrap(), before);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn explicit_configs_are_checked_against_device_limits() {
    use gpukit::runtime::LaunchConfig;
    let (gpu, k) = setup();
    let s = gpu.stream().unwrap();
    let a = gpu.upload(&random_f32(256, 1)).unwrap();
    let b = gpu.upload(&random_f32(256, 2)).unwrap();
    let mut out = gpu.alloc_filled::<f32>(256, 0).unwrap();
    let bad = LaunchConfig::linear(1, 2048);
    let e = k
        .vector_add
        .launch_with(&s, &bad, &a, &b, &mut out)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e}");
    let p = gpu.props();
    assert!((p.major, p.minor) >= (5, 2));
    // A too-small explicit grid covers only part of the output (32 threads of four elements
    // each); the rest stays as it was.
    let cfg = LaunchConfig::linear(1, 32);
    k.vector_add
        .launch_with(&s, &cfg, &a, &b, &mut out)
        .unwrap();
    runtime::sync(&s).unwrap();
    let got = runtime::download(&out).unwrap();
    assert!(got[..128].iter().all(|&v| v != 0.0));
    assert!(got[128..].iter().all(|&v| v == 0.0));
}
