//! GPU tests of gpukit-device's Hopper primitives (the sm_90a kernels of
//! `kernels/src/hopper.rs`) through their generated typed launchers, each against a CPU
//! reference on random data: the mbarrier pipeline (every phase bit), TMA 2-D and 3-D loads and
//! stores, multicast to a cluster, cluster ranks / barriers / distributed shared memory,
//! `elect.sync`, `stmatrix`, `setmaxnreg`, and wgmma for f16, bf16, fp8 e4m3 / e5m2 and tf32
//! with A from shared memory and from registers. They need an sm_90 GPU and are `#[ignore]`d.
//! A protocol mistake in these kernels hangs rather than fails: run them under `timeout`, one
//! test per process on a shared machine.
mod common;
use common::{get, rng, setup};
use gpukit_runtime::half::{bf16, f16};
use gpukit_runtime::tensor_map::{Swizzle, TensorMap, TiledView};
use gpukit_runtime::{ClusterDims, DeviceBuffer, Fp8E4M3, Fp8E5M2, Gpu, LaunchConfig};
use rand::Rng;

/// A launch of `grid` blocks of `block` threads with `shared` bytes of dynamic shared memory.
fn launch(grid: (u32, u32, u32), block: u32, shared: u32) -> LaunchConfig {
    LaunchConfig {
        grid,
        block: (block, 1, 1),
        shared_bytes: shared,
    }
}

/// `n` elements of `T` filled with the byte 0xF9 (a poison no kernel result equals by chance).
fn poisoned<T: gpukit_runtime::DeviceCopy>(gpu: &Gpu, n: usize) -> DeviceBuffer<T> {
    gpu.alloc_filled::<T>(n, 0xF9).unwrap()
}

/// The 2-D u32 view (`cols` × `rows`, row-major) with a `bc` × `br` box and 128-byte swizzle,
/// encoded by `encode` (`TensorMap::tiled` for a source, `tiled_mut` for a destination).
fn map_2d<'a>(
    (cols, rows): (usize, usize),
    (bc, br): (u32, u32),
    encode: impl FnOnce(&TiledView<'_>) -> gpukit_runtime::Result<TensorMap<'a>>,
) -> TensorMap<'a> {
    encode(&TiledView {
        dims: &[cols as u64, rows as u64],
        strides: &[cols as u64],
        boxes: &[bc, br],
        swizzle: Swizzle::B128,
    })
    .unwrap()
}

const BOX_SHARED: u32 = 32 * 128 + 1024 + 64;

#[test]
#[ignore = "needs an sm_90 GPU"]
fn mbarrier_pipeline_passes_every_phase() {
    let (gpu, k, s) = setup();
    let mut r = rng(10);
    let x: Vec<u32> = (0..32 * 1000).map(|_| r.random()).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = poisoned::<u32>(&gpu, x.len());
    k.mbarrier_pipeline
        .launch_with(
            &s,
            &launch((1, 1, 1), 64, 1024 + 4 * 128 + 64),
            &dx,
            &mut out,
        )
        .unwrap();
    let got = get(&s, &out);
    for (i, (g, v)) in got.iter().zip(&x).enumerate() {
        assert_eq!(*g, v.wrapping_mul(3).wrapping_add(1), "element {i}");
    }
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn tma_2d_load_and_store_round_trip_with_edges() {
    let (gpu, k, s) = setup();
    let mut r = rng(11);
    let (rows, cols) = (100usize, 68usize);
    let src: Vec<u32> = (0..rows * cols)
        .map(|_| r.random_range(0..1 << 30))
        .collect();
    let dsrc = gpu.upload(&src).unwrap();
    let mut dst = poisoned::<u32>(&gpu, rows * cols);
    let (ms, md) = (
        map_2d((cols, rows), (32, 32), |v| TensorMap::tiled(&dsrc, v)),
        map_2d((cols, rows), (32, 32), |v| {
            TensorMap::tiled_mut(&mut dst, v)
        }),
    );
    let grid = (cols.div_ceil(32) as u32, rows.div_ceil(32) as u32, 1);
    k.tma_roundtrip
        .launch_with(&s, &launch(grid, 128, BOX_SHARED), &ms, &md)
        .unwrap();
    let got = get(&s, &dst);
    for (i, (g, v)) in got.iter().zip(&src).enumerate() {
        assert_eq!(*g, v + 1, "row {} col {}", i / cols, i % cols);
    }
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn tma_3d_load_and_store_round_trip_per_batch() {
    let (gpu, k, s) = setup();
    let mut r = rng(12);
    let (batches, rows, cols) = (3usize, 40usize, 68usize);
    let n = batches * rows * cols;
    let src: Vec<u32> = (0..n).map(|_| r.random_range(0..1 << 30)).collect();
    let dsrc = gpu.upload(&src).unwrap();
    let mut dst = poisoned::<u32>(&gpu, n);
    let view = TiledView {
        dims: &[cols as u64, rows as u64, batches as u64],
        strides: &[cols as u64, (rows * cols) as u64],
        boxes: &[32, 32, 1],
        swizzle: Swizzle::B128,
    };
    let ms = TensorMap::tiled(&dsrc, &view).unwrap();
    let md = TensorMap::tiled_mut(&mut dst, &view).unwrap();
    let grid = (
        cols.div_ceil(32) as u32,
        rows.div_ceil(32) as u32,
        batches as u32,
    );
    k.tma_roundtrip_3d
        .launch_with(&s, &launch(grid, 128, BOX_SHARED), &ms, &md)
        .unwrap();
    let got = get(&s, &dst);
    for (i, (g, v)) in got.iter().zip(&src).enumerate() {
        let z = (i / (rows * cols)) as u32;
        assert_eq!(*g, v + z + 1, "element {i}");
    }
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn tma_multicast_fills_both_ctas_of_a_cluster() {
    let (gpu, k, s) = setup();
    let mut r = rng(13);
    let (rows, cols) = (64usize, 96usize);
    let src: Vec<u32> = (0..rows * cols)
        .map(|_| r.random_range(0..1 << 30))
        .collect();
    let dsrc = gpu.upload(&src).unwrap();
    let mut dst = poisoned::<u32>(&gpu, 2 * rows * cols);
    let ms = map_2d((cols, rows), (32, 16), |v| TensorMap::tiled(&dsrc, v));
    let md = map_2d((cols, 2 * rows), (32, 32), |v| {
        TensorMap::tiled_mut(&mut dst, v)
    });
    let grid = (2 * (cols / 32) as u32, (rows / 32) as u32, 1);
    k.tma_multicast_roundtrip
        .launch_cluster(
            &s,
            &launch(grid, 128, BOX_SHARED),
            ClusterDims(2, 1, 1),
            &ms,
            &md,
            rows as u32,
        )
        .unwrap();
    let got = get(&s, &dst);
    for (i, v) in src.iter().enumerate() {
        assert_eq!(got[i], *v, "rank 0 copy, element {i}");
        assert_eq!(got[rows * cols + i], v + 1, "rank 1 copy, element {i}");
    }
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn cluster_ranks_barriers_and_distributed_shared_memory() {
    let (gpu, k, s) = setup();
    for size in [2u32, 4] {
        let blocks = 4 * size;
        let mut out = poisoned::<u32>(&gpu, 4 * blocks as usize);
        k.cluster_exchange
            .launch_cluster(
                &s,
                &launch((blocks, 1, 1), 32, 1024 + 64),
                ClusterDims(size, 1, 1),
                &mut out,
            )
            .unwrap();
        let got = get(&s, &out);
        for b in 0..blocks {
            let rank = b % size;
            let next = (rank + 1) % size;
            let want = [rank, size, 1000 * next + (b - rank + next), 1];
            assert_eq!(
                &got[4 * b as usize..4 * b as usize + 4],
                &want,
                "cluster size {size}, block {b}"
            );
        }
    }
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn elect_picks_the_lowest_active_lane() {
    let (gpu, k, s) = setup();
    let mut out = poisoned::<u32>(&gpu, 8);
    k.elect_lanes
        .launch_with(&s, &launch((2, 1, 1), 128, 0), &mut out)
        .unwrap();
    let got = get(&s, &out);
    let want: Vec<u32> = (0..8)
        .map(|w| if w % 2 == 0 { 1000 } else { 1001 })
        .collect();
    assert_eq!(got, want);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn stmatrix_stores_fragments_in_matrix_order() {
    let (gpu, k, s) = setup();
    let mut r = rng(14);
    let x: Vec<u32> = (0..128).map(|_| r.random()).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = poisoned::<u16>(&gpu, 1024);
    k.stmatrix_layout
        .launch_with(&s, &launch((1, 1, 1), 32, 3072), &dx, &mut out)
        .unwrap();
    let got = get(&s, &out);
    let mut want = [0u16; 1024];
    for l in 0..32 {
        for j in 0..4 {
            let w = x[4 * l + j];
            let (lo, hi) = (w as u16, (w >> 16) as u16);
            let (row, c) = (l / 4, 2 * (l % 4));
            want[64 * j + 8 * row + c] = lo;
            want[64 * j + 8 * row + c + 1] = hi;
            // `.trans`: element (row, c) of matrix j lands at (c, row).
            want[512 + 64 * j + 8 * c + row] = lo;
            want[512 + 64 * j + 8 * (c + 1) + row] = hi;
        }
    }
    // The kernel copies out all 2048 bytes of its shared buffer, but the stores fill only the
    // first 512 bytes of each half: the rest is whatever shared memory held before.
    for half in [0..256, 512..768] {
        assert_eq!(got[half.clone()], want[half.clone()], "u16 range {half:?}");
    }
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn setmaxnreg_warpgroups_keep_their_results() {
    let (gpu, k, s) = setup();
    let mut r = rng(15);
    let n = 1000usize;
    let x: Vec<u32> = (0..n).map(|_| r.random()).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = poisoned::<u32>(&gpu, 2 * n);
    let grid = (n.div_ceil(128) as u32, 1, 1);
    k.setmaxnreg_roles
        .launch_with(&s, &launch(grid, 256, 0), &dx, &mut out)
        .unwrap();
    let got = get(&s, &out);
    for i in 0..n {
        assert_eq!(got[i], x[i].wrapping_add(1), "warpgroup 0, element {i}");
        let want = (0..32u32).fold(0u32, |acc, j| {
            acc.wrapping_add((j + 1).wrapping_mul(x[(i + 7 * j as usize) % n]))
        });
        assert_eq!(got[n + i], want, "warpgroup 1, element {i}");
    }
}

/// wgmma operand types: how one 128-byte row of K is drawn at random and decoded.
#[derive(Clone, Copy, Debug)]
enum Ty {
    Bf16,
    F16,
    E4m3,
    E5m2,
    Tf32,
}

impl Ty {
    /// A row of K (32 words) and its values.
    fn row(self, r: &mut impl Rng) -> (Vec<u32>, Vec<f64>) {
        let mut words = Vec::with_capacity(32);
        let mut vals = Vec::new();
        for _ in 0..32 {
            let w = match self {
                Ty::Bf16 | Ty::F16 => {
                    let h: [u16; 2] = std::array::from_fn(|_| {
                        let v: f32 = r.random_range(-2.0..2.0);
                        match self {
                            Ty::Bf16 => bf16::from_f32(v).to_bits(),
                            _ => f16::from_f32(v).to_bits(),
                        }
                    });
                    for b in h {
                        vals.push(match self {
                            Ty::Bf16 => bf16::from_bits(b).to_f64(),
                            _ => f16::from_bits(b).to_f64(),
                        });
                    }
                    h[0] as u32 | (h[1] as u32) << 16
                }
                Ty::E4m3 | Ty::E5m2 => {
                    let b: [u8; 4] = std::array::from_fn(|_| {
                        let v: f32 = r.random_range(-4.0..4.0);
                        match self {
                            Ty::E4m3 => Fp8E4M3::from_f32(v).0,
                            _ => Fp8E5M2::from_f32(v).0,
                        }
                    });
                    for c in b {
                        vals.push(match self {
                            Ty::E4m3 => Fp8E4M3(c).to_f32() as f64,
                            _ => Fp8E5M2(c).to_f32() as f64,
                        });
                    }
                    u32::from_le_bytes(b)
                }
                Ty::Tf32 => {
                    let v: f32 = r.random_range(-2.0..2.0);
                    // tf32: the tensor cores read the top 19 bits.
                    let bits = v.to_bits() & !0x1fff;
                    vals.push(f32::from_bits(bits) as f64);
                    bits
                }
            };
            words.push(w);
        }
        (words, vals)
    }
}

/// Runs one wgmma test kernel (`64 × n` accumulator, A 64 rows, B `n` rows of 128 bytes of K)
/// and compares D = A·Bᵀ with a float64 reference through the documented fragment layout.
fn check_wgmma(
    name: &str,
    ta: Ty,
    tb: Ty,
    n: usize,
    seed: u64,
    launch_kernel: impl FnOnce(
        &gpukit_device_tests::Kernels,
        &gpukit_runtime::Stream,
        &LaunchConfig,
        &DeviceBuffer<u32>,
        &DeviceBuffer<u32>,
        &mut DeviceBuffer<f32>,
    ) -> gpukit_runtime::Result<()>,
) {
    let (gpu, k, s) = setup();
    let mut r = rng(seed);
    let (mut a, mut av, mut b, mut bv) = (vec![], vec![], vec![], vec![]);
    for _ in 0..64 {
        let (w, v) = ta.row(&mut r);
        a.extend(w);
        av.push(v);
    }
    for _ in 0..n {
        let (w, v) = tb.row(&mut r);
        b.extend(w);
        bv.push(v);
    }
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    let regs = n / 2;
    let mut d = poisoned::<f32>(&gpu, 128 * regs);
    let cfg = launch((1, 1, 1), 128, 1024 + 64 * 128 + n as u32 * 128);
    launch_kernel(&k, &s, &cfg, &da, &db, &mut d).unwrap();
    let got = get(&s, &d);
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for t in 0..128 {
        for i in 0..regs {
            let row = 16 * (t / 32) + (t % 32) / 4 + 8 * ((i / 2) % 2);
            let col = 8 * (i / 4) + 2 * (t % 4) + i % 2;
            let want: f64 = av[row].iter().zip(&bv[col]).map(|(x, y)| x * y).sum();
            let g = got[t * regs + i] as f64;
            assert!(g.is_finite(), "{name}: D[{row}][{col}] = {g}");
            num += (g - want) * (g - want);
            den += want * want;
        }
    }
    let err = (num / den).sqrt();
    // Products of these inputs are exact in f32; 16-bit and tf32 sums measured 6e-8 .. 1e-7.
    // fp8 products are summed with fewer accumulator bits on Hopper (measured 1.1e-4).
    let fp8 = matches!(ta, Ty::E4m3 | Ty::E5m2) || matches!(tb, Ty::E4m3 | Ty::E5m2);
    let tol = if fp8 { 1e-3 } else { 1e-5 };
    assert!(err <= tol, "{name}: relative error {err:e} > {tol:e}");
    eprintln!("{name}: relative error {err:e}");
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn wgmma_bf16_shared_a_n8_n64_n256() {
    check_wgmma("bf16 n8", Ty::Bf16, Ty::Bf16, 8, 20, |k, s, c, a, b, d| {
        k.wgmma_bf16_n8.launch_with(s, c, a, b, d)
    });
    check_wgmma(
        "bf16 n64",
        Ty::Bf16,
        Ty::Bf16,
        64,
        21,
        |k, s, c, a, b, d| k.wgmma_bf16_n64.launch_with(s, c, a, b, d),
    );
    check_wgmma(
        "bf16 n256",
        Ty::Bf16,
        Ty::Bf16,
        256,
        22,
        |k, s, c, a, b, d| k.wgmma_bf16_n256.launch_with(s, c, a, b, d),
    );
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn wgmma_f16_shared_a_and_a_from_registers() {
    check_wgmma("f16 n64", Ty::F16, Ty::F16, 64, 23, |k, s, c, a, b, d| {
        k.wgmma_f16_n64.launch_with(s, c, a, b, d)
    });
    check_wgmma(
        "f16 n64 rs",
        Ty::F16,
        Ty::F16,
        64,
        24,
        |k, s, c, a, b, d| k.wgmma_f16_n64_rs.launch_with(s, c, a, b, d),
    );
    check_wgmma(
        "bf16 n128 rs",
        Ty::Bf16,
        Ty::Bf16,
        128,
        25,
        |k, s, c, a, b, d| k.wgmma_bf16_n128_rs.launch_with(s, c, a, b, d),
    );
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn wgmma_fp8_e4m3_and_e5m2() {
    check_wgmma(
        "e4m3 n64",
        Ty::E4m3,
        Ty::E4m3,
        64,
        26,
        |k, s, c, a, b, d| k.wgmma_e4m3_n64.launch_with(s, c, a, b, d),
    );
    check_wgmma(
        "e4m3 x e5m2 n128",
        Ty::E4m3,
        Ty::E5m2,
        128,
        27,
        |k, s, c, a, b, d| k.wgmma_e4m3_e5m2_n128.launch_with(s, c, a, b, d),
    );
    check_wgmma(
        "e5m2 n32",
        Ty::E5m2,
        Ty::E5m2,
        32,
        28,
        |k, s, c, a, b, d| k.wgmma_e5m2_n32.launch_with(s, c, a, b, d),
    );
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn wgmma_tf32() {
    check_wgmma(
        "tf32 n32",
        Ty::Tf32,
        Ty::Tf32,
        32,
        29,
        |k, s, c, a, b, d| k.wgmma_tf32_n32.launch_with(s, c, a, b, d),
    );
}
