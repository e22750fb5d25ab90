//! GPU tests of gpukit-device's atomics: exact results under contention for every operation,
//! scope and ordering. They need a CUDA GPU and are `#[ignore]`d.
#![allow(clippy::needless_range_loop)]
mod common;
use common::{cfg, get, rng, setup, zeros};
use rand::Rng;

#[test]
#[ignore = "needs a CUDA GPU"]
fn atomics_are_exact_under_contention() {
    let (gpu, k, s) = setup();
    let mut r = rng(4);
    // Histogram: 10^7 updates, exact counts (global red.add and shared-memory variant).
    let n = 10_000_000;
    let x: Vec<u32> = (0..n).map(|_| r.random()).collect();
    let dx = gpu.upload(&x).unwrap();
    for nbins in [7usize, 256] {
        let mut want = vec![0u32; nbins];
        for &v in &x {
            want[(v % nbins as u32) as usize] += 1;
        }
        let mut bins = zeros::<u32>(&gpu, nbins);
        k.histogram.launch(&s, &dx, &mut bins).unwrap();
        assert_eq!(get(&s, &bins), want, "global histogram, {nbins} bins");
        if nbins == 256 {
            let mut bins = zeros::<u32>(&gpu, 256);
            k.histogram_shared.launch(&s, &dx, &mut bins).unwrap();
            assert_eq!(get(&s, &bins), want, "shared-memory histogram");
        }
    }

    // Integer operations with every ordering and scope.
    let n: usize = 200_003;
    let block = 256usize;
    let blocks = n.div_ceil(block);
    let x: Vec<u32> = (0..n).map(|_| r.random_range(1..1 << 20)).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut init = vec![0u32; 9 + blocks];
    init[1] = u32::MAX;
    let mut out = gpu.upload(&init).unwrap();
    k.atomic_ops_u32
        .launch_with(&s, &cfg(n, block as u32), &dx, &mut out)
        .unwrap();
    let got = get(&s, &out);
    assert_eq!(
        got[0],
        x.iter().fold(0u32, |a, &b| a.wrapping_add(b)),
        "fetch_add"
    );
    assert_eq!(got[1], *x.iter().min().unwrap(), "fetch_min");
    assert_eq!(got[2], *x.iter().max().unwrap(), "fetch_max");
    assert_eq!(got[3], n as u32, "compare_exchange loop");
    assert_eq!(
        got[4],
        x.iter().fold(0u32, |a, &v| a | 1 << (v % 32)),
        "fetch_or"
    );
    assert_eq!(
        got[5],
        x.iter().fold(0u32, |a, &v| a ^ v),
        "fetch_xor (system scope)"
    );
    assert_eq!(got[6], n as u32, "seq_cst system-scope fetch_add");
    assert_eq!(
        (got[7], got[8]),
        (1, 1),
        "swap: exactly one thread saw the initial 0"
    );
    for b in 0..blocks {
        let want = (n - b * block).min(block) as u32;
        assert_eq!(got[9 + b], want, "block-scope counter of block {b}");
    }

    // Release/acquire message passing: no reader may see the flag without the data.
    let mut mp = zeros::<u32>(&gpu, 4);
    k.message_passing
        .launch_with(&s, &cfg(1 << 20, 256), 1 << 20, &mut mp)
        .unwrap();
    let got = get(&s, &mp);
    assert_eq!(
        got,
        vec![1, 42, 0, 7],
        "flag, data, violations, seq_cst store"
    );

    // Float adds: small integers make any summation order exact.
    let n = 1_000_003;
    let xf: Vec<f32> = (0..n).map(|_| r.random_range(0..16) as f32).collect();
    let want: f64 = xf.iter().map(|&v| v as f64).sum();
    let dxf = gpu.upload(&xf).unwrap();
    let mut outf = zeros::<f32>(&gpu, 2);
    k.atomic_add_f32
        .launch_with(&s, &cfg(n / 8, 256), &dxf, &mut outf)
        .unwrap();
    let got = get(&s, &outf);
    assert!(want < (1u64 << 24) as f64);
    assert_eq!(
        got,
        vec![want as f32, want as f32],
        "atom/red.global.add.f32"
    );
    let xd: Vec<f64> = xf.iter().map(|&v| v as f64 * 0.25).collect();
    let dxd = gpu.upload(&xd).unwrap();
    let mut outd = zeros::<f64>(&gpu, 2);
    k.atomic_add_f64
        .launch_with(&s, &cfg(n / 8, 256), &dxd, &mut outd)
        .unwrap();
    assert_eq!(
        get(&s, &outd),
        vec![want * 0.25, want * 0.25],
        "atom.global.add.f64"
    );

    let xl: Vec<i64> = (0..n)
        .map(|_| r.random_range(-(1i64 << 40)..1i64 << 40))
        .collect();
    let dxl = gpu.upload(&xl).unwrap();
    let mut outl = gpu.upload(&[0i64, i64::MAX, i64::MIN]).unwrap();
    k.atomic_ops_i64
        .launch_with(&s, &cfg(n / 4, 256), &dxl, &mut outl)
        .unwrap();
    let want = vec![
        xl.iter().sum::<i64>(),
        *xl.iter().min().unwrap(),
        *xl.iter().max().unwrap(),
    ];
    assert_eq!(get(&s, &outl), want, "i64 add/min/max");
}
