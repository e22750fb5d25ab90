//! GPU tests of gpukit-device's indices, grid-stride loops, barriers and shared memory, through
//! the test kernels of `crates/device-tests/kernels` on random inputs. They need a CUDA GPU and
//! are `#[ignore]`d; run them with `--include-ignored` on a GPU machine.
#![allow(clippy::needless_range_loop)]
mod common;
use common::{cfg, get, rng, setup, zeros};
use gpukit_runtime::LaunchConfig;
use gpukit_runtime::half::bf16;
use rand::Rng;

#[test]
#[ignore = "needs a CUDA GPU"]
fn indices_grid_stride_and_2d_tiles() {
    let (gpu, k, s) = setup();
    // 3D launch: grid (3, 2, 2) of blocks (4, 2, 3).
    let c = LaunchConfig {
        grid: (3, 2, 2),
        block: (4, 2, 3),
        shared_bytes: 0,
    };
    let n = 3 * 2 * 2 * 4 * 2 * 3;
    let mut out = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
    k.index_3d.launch_with(&s, &c, &mut out).unwrap();
    let got = get(&s, &out);
    let mut want = vec![0u32; n];
    for (bz, by, bx) in itertools3(2, 2, 3) {
        for (tz, ty, tx) in itertools3(3, 2, 4) {
            let block = (bz * 2 + by) * 3 + bx;
            let lin = block * 24 + (tz * 2 + ty) * 4 + tx;
            let (x, y, z) = (bx * 4 + tx, by * 2 + ty, bz * 3 + tz);
            want[lin] = (x | y << 10 | z << 20) as u32;
        }
    }
    assert_eq!(got, want);

    // Grid-stride: 7 blocks of 64 threads over 100_003 elements.
    let n = 100_003;
    let mut out = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
    k.grid_stride_fill
        .launch_with(&s, &LaunchConfig::linear(7, 64), &mut out)
        .unwrap();
    assert!(
        get(&s, &out)
            .iter()
            .enumerate()
            .all(|(i, &v)| v == i as u32)
    );

    // 2D tiles of 4x2 over a 37x45 matrix (edges partial), 2D grid of 8x8 blocks.
    let (rows, cols) = (37usize, 45usize);
    let mut out = gpu.alloc_filled::<u32>(rows * cols, 0xff).unwrap();
    let c = LaunchConfig {
        grid: (cols.div_ceil(4 * 8) as u32, rows.div_ceil(2 * 8) as u32, 1),
        block: (8, 8, 1),
        shared_bytes: 0,
    };
    k.tile_fill.launch_with(&s, &c, &mut out, cols).unwrap();
    let got = get(&s, &out);
    let bad = got.iter().enumerate().find(|&(i, &v)| v != i as u32);
    assert_eq!(
        bad, None,
        "tile ownership left a hole or wrote a wrong value"
    );
}

fn itertools3(a: usize, b: usize, c: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..a).flat_map(move |i| (0..b).flat_map(move |j| (0..c).map(move |k| (i, j, k))))
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn barriers_with_predicates() {
    let (gpu, k, s) = setup();
    let mut r = rng(1);
    for &(n, block) in &[(1000usize, 256u32), (4096, 1024), (77, 64)] {
        // Mostly-even data, some all-odd and all-even blocks.
        let mut x: Vec<u32> = (0..n).map(|_| r.random::<u32>()).collect();
        for v in x.iter_mut().take(block as usize) {
            *v |= 1;
        }
        let dx = gpu.upload(&x).unwrap();
        let blocks = n.div_ceil(block as usize);
        let mut out = zeros::<u32>(&gpu, blocks * 3);
        k.barrier_votes
            .launch_with(&s, &cfg(n, block), &dx, &mut out)
            .unwrap();
        let got = get(&s, &out);
        for b in 0..blocks {
            let lo = b * block as usize;
            let hi = lo + block as usize;
            let preds: Vec<bool> = (lo..hi).map(|i| i < n && x[i] & 1 != 0).collect();
            let want = [
                preds.iter().filter(|&&p| p).count() as u32,
                preds.iter().all(|&p| p) as u32,
                preds.iter().any(|&p| p) as u32,
            ];
            assert_eq!(&got[b * 3..b * 3 + 3], &want, "n={n} block={block} b={b}");
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn shared_memory_tiles_round_trip() {
    let (gpu, k, s) = setup();
    let mut r = rng(5);
    for &n in &[256usize, 1000, 65_537] {
        let x: Vec<f32> = (0..n).map(|_| r.random_range(-1e3..1e3)).collect();
        let dx = gpu.upload(&x).unwrap();
        let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
        let mut out_b = gpu.alloc_filled::<bf16>(n, 0xff).unwrap();
        k.shared_reverse
            .launch_with(&s, &cfg(n, 256), &dx, &mut out, &mut out_b)
            .unwrap();
        let got = get(&s, &out);
        let got_b = get(&s, &out_b);
        for i in 0..n {
            let (base, t) = (i - i % 256, i % 256);
            let src = base + 255 - t;
            if src < n {
                assert_eq!(
                    got[i].to_bits(),
                    x[src].to_bits(),
                    "static tile n={n} i={i}"
                );
                assert_eq!(got_b[i], bf16::from_f32(x[src]), "bf16 tile n={n} i={i}");
            }
        }
        for block in [32u32, 96, 1024] {
            let xu: Vec<u32> = (0..n).map(|_| r.random()).collect();
            let dxu = gpu.upload(&xu).unwrap();
            let mut outu = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
            let c = cfg(n, block).with_shared(block * 4);
            k.dynamic_reverse
                .launch_with(&s, &c, &dxu, &mut outu)
                .unwrap();
            let got = get(&s, &outu);
            let b = block as usize;
            for i in 0..n {
                let (base, t) = (i - i % b, i % b);
                let src = base + b - 1 - t;
                if src < n {
                    assert_eq!(got[i], xu[src], "dynamic n={n} block={block} i={i}");
                }
            }
        }
    }
}
