//! GPU tests of gpukit-device's warp shuffles, votes and reductions and its block reductions,
//! on random inputs at awkward sizes. They need a CUDA GPU and are `#[ignore]`d.
#![allow(clippy::needless_range_loop)]
mod common;
use common::{cfg, get, rng, setup, zeros};
use gpukit_runtime::half::{bf16, f16};
use rand::Rng;

#[test]
#[ignore = "needs a CUDA GPU"]
fn warp_shuffles_votes_and_reductions() {
    let (gpu, k, s) = setup();
    let mut r = rng(2);
    let n = 32 * 40;
    let mut x: Vec<u32> = (0..n).map(|_| r.random_range(1..1_000_000)).collect();
    x[97] = 97 * 5; // one multiple of 97 somewhere
    x[3 * 32 + 4] = 0; // warp 3 has a zero: all(v != 0) false there
    let dx = gpu.upload(&x).unwrap();
    let mut out = zeros::<u32>(&gpu, n * 12);
    k.warp_u32
        .launch_with(&s, &cfg(n, 128), &dx, &mut out)
        .unwrap();
    let got = get(&s, &out);
    for w in 0..n / 32 {
        let v = &x[w * 32..w * 32 + 32];
        let ballot = (0..32).fold(0u32, |m, l| m | ((v[l] & 1) << l));
        for l in 0..32 {
            let g = &got[(w * 32 + l) * 12..(w * 32 + l) * 12 + 12];
            let want = [
                if l + 1 < 32 { v[l + 1] } else { v[l] },
                if l >= 3 { v[l - 3] } else { v[l] },
                v[l ^ 5],
                v[7],
                ballot,
                v.iter().any(|&a| a % 97 == 0) as u32,
                v.iter().all(|&a| a != 0) as u32,
                if l < 20 { 0x000f_ffff } else { 0 },
                l as u32,
                v.iter().fold(0u32, |a, &b| a.wrapping_add(b)),
                *v.iter().min().unwrap(),
                *v.iter().max().unwrap(),
            ];
            assert_eq!(g, &want, "warp {w} lane {l}");
        }
    }

    let xi: Vec<i32> = (0..n).map(|_| r.random_range(-1000..1000)).collect();
    let dxi = gpu.upload(&xi).unwrap();
    let mut outi = zeros::<i32>(&gpu, n * 4);
    k.warp_i32
        .launch_with(&s, &cfg(n, 256), &dxi, &mut outi)
        .unwrap();
    let got = get(&s, &outi);
    for w in 0..n / 32 {
        let v = &xi[w * 32..w * 32 + 32];
        for l in 0..32 {
            let g = &got[(w * 32 + l) * 4..(w * 32 + l) * 4 + 4];
            let want = [
                v.iter().sum::<i32>(),
                *v.iter().min().unwrap(),
                *v.iter().max().unwrap(),
                v[..=l].iter().sum::<i32>(),
            ];
            assert_eq!(g, &want, "i32 warp {w} lane {l}");
        }
    }

    // Small integers: f32 sums are exact in any order.
    let xf: Vec<f32> = (0..n)
        .map(|_| r.random_range(-64i32..64) as f32 * 0.5)
        .collect();
    let dxf = gpu.upload(&xf).unwrap();
    let mut outf = zeros::<f32>(&gpu, n * 7);
    k.warp_f32
        .launch_with(&s, &cfg(n, 64), &dxf, &mut outf)
        .unwrap();
    let got = get(&s, &outf);
    for w in 0..n / 32 {
        let v = &xf[w * 32..w * 32 + 32];
        for l in 0..32 {
            let g = &got[(w * 32 + l) * 7..(w * 32 + l) * 7 + 7];
            let p = v[l ^ 1];
            let want = [
                if l + 2 < 32 { v[l + 2] } else { v[l] },
                v[l ^ 16],
                if l >= 1 { v[l - 1] } else { v[l] },
                v.iter().sum::<f32>(),
                v.iter().cloned().fold(f32::MIN, f32::max),
                v.iter().cloned().fold(f32::MAX, f32::min),
                f16::from_f32(p).to_f32() + bf16::from_f32(-p).to_f32(),
            ];
            assert_eq!(g, &want, "f32 warp {w} lane {l}");
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn block_reductions_at_awkward_sizes() {
    let (gpu, k, s) = setup();
    let mut r = rng(3);
    for &n in &[1usize, 31, 33, 1000, 1025, 100_003] {
        for &block in &[64u32, 256, 1024] {
            let blocks = n.div_ceil(block as usize);
            let b = block as usize;
            // f32: small integers, exact sums.
            let x: Vec<f32> = (0..n)
                .map(|_| r.random_range(-100i32..100) as f32)
                .collect();
            let dx = gpu.upload(&x).unwrap();
            let mut out = zeros::<f32>(&gpu, blocks * 4);
            k.block_reduce_f32
                .launch_with(&s, &cfg(n, block), &dx, &mut out)
                .unwrap();
            let got = get(&s, &out);
            for bi in 0..blocks {
                let v = &x[bi * b..((bi + 1) * b).min(n)];
                let want = [
                    v.iter().sum::<f32>(),
                    v.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
                    v.iter().cloned().fold(f32::INFINITY, f32::min),
                    v[0],
                ];
                assert_eq!(
                    &got[bi * 4..bi * 4 + 4],
                    &want,
                    "f32 n={n} block={block} b={bi}"
                );
            }
            let xi: Vec<i32> = (0..n).map(|_| r.random()).collect();
            let dxi = gpu.upload(&xi).unwrap();
            let mut outi = zeros::<i32>(&gpu, blocks * 4);
            k.block_reduce_i32
                .launch_with(&s, &cfg(n, block), &dxi, &mut outi)
                .unwrap();
            let got = get(&s, &outi);
            for bi in 0..blocks {
                let v = &xi[bi * b..((bi + 1) * b).min(n)];
                let want = [
                    v.iter().fold(0i32, |a, &c| a.wrapping_add(c)),
                    *v.iter().min().unwrap(),
                    *v.iter().max().unwrap(),
                    v[0],
                ];
                assert_eq!(
                    &got[bi * 4..bi * 4 + 4],
                    &want,
                    "i32 n={n} block={block} b={bi}"
                );
            }
            let xu: Vec<u32> = (0..n).map(|_| r.random()).collect();
            let dxu = gpu.upload(&xu).unwrap();
            let mut outu = zeros::<u32>(&gpu, blocks * 4);
            k.block_reduce_u32
                .launch_with(&s, &cfg(n, block), &dxu, &mut outu)
                .unwrap();
            let got = get(&s, &outu);
            for bi in 0..blocks {
                let v = &xu[bi * b..((bi + 1) * b).min(n)];
                let want = [
                    v.iter().fold(0u32, |a, &c| a.wrapping_add(c)),
                    *v.iter().min().unwrap(),
                    *v.iter().max().unwrap(),
                    v.len() as u32,
                ];
                assert_eq!(
                    &got[bi * 4..bi * 4 + 4],
                    &want,
                    "u32 n={n} block={block} b={bi}"
                );
            }
        }
    }
}
