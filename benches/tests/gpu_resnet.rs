//! Tests of the ResNet-18 path, for f16, bf16 and f32: the convolution kernels (every tile,
//! pipeline and split-K) and the pooling / input kernels against the f64 CPU reference on random
//! data at awkward shapes, the whole network at small image sizes against the CPU reference, and
//! (no GPU needed) the weights loader's checks and the shape/plan validation. GPU tests are `#[ignore]`d without a GPU.
use gpukit::Library;
use gpukit::ops::conv::{maxpool3s2_shape, normalized_len, stem_pairs_shape, stem_pairs_weights};
use gpukit::ops::{
    ConvActivation, ConvElem, ConvInputs, ConvLayer, ConvPipeline, ConvPlan, ConvShape, ConvTile,
    Nhwc, Window,
};
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{DeviceBuffer, Gpu, Stream, download};
use gpukit_bench::resnet::reference::{self, Act, Rounding};
use gpukit_bench::resnet::weights::{self, ConvSpec, FoldedConv, Tensor};
use gpukit_bench::resnet::{CLASSES, Forward, PADDED_CHANNELS, ResNet18, fold_all, rel_err, top_k};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

fn setup() -> (Gpu, Library, Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Library::load(&gpu).expect("kernels load");
    let s = gpu.stream().unwrap();
    (gpu, k, s)
}

fn uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Values rounded to `T` (so the CPU reference sees exactly what the GPU sees).
fn rounded<T: ConvElem>(v: &[f64]) -> (Vec<T>, Vec<f64>) {
    let t: Vec<T> = v.iter().map(|&x| T::from_f32(x as f32)).collect();
    let back = t.iter().map(|x| x.to_f32() as f64).collect();
    (t, back)
}

fn max_rel(got: &[f64], want: &[f64]) -> f64 {
    let num = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    num / want.iter().map(|b| b.abs()).fold(1e-30, f64::max)
}

/// (images, h, w, in, out, kernel, stride, pad): ResNet's own shapes at small sizes, odd sizes,
/// channel counts that are not multiples of the tiles, the linear layer, and two with more pixel
/// tiles than the resident tiles have blocks on an H200 (so that a block walks several tiles).
const CONV_SHAPES: [[usize; 8]; 9] = [
    [2, 30, 30, 8, 64, 7, 2, 3],
    [3, 13, 11, 24, 40, 3, 2, 1],
    [2, 14, 14, 64, 128, 1, 2, 0],
    [1, 7, 7, 512, 512, 3, 1, 1],
    [5, 1, 1, 512, 1000, 1, 1, 0],
    [4, 15, 15, 128, 136, 3, 1, 1],
    [1, 3, 5, 16, 8, 3, 1, 1],
    [64, 32, 32, 64, 64, 3, 1, 1],
    [96, 48, 48, 8, 64, 7, 2, 3],
];

/// Every tile shape.
const TILES: [ConvTile; 6] = [
    ConvTile::Big,
    ConvTile::C64,
    ConvTile::Small,
    ConvTile::W64,
    ConvTile::C64Resident,
    ConvTile::W64Resident,
];

/// Whether the kernel has an instance for `tile` × `pipeline` × `T` (f32 has no `C64` or `W64`,
/// `W64` no deep pipeline).
fn has_instance<T: ConvElem>(tile: ConvTile, pipeline: ConvPipeline) -> bool {
    let f32_ok = T::NAME != "f32" || !matches!(tile, ConvTile::C64 | ConvTile::W64);
    f32_ok && !(tile == ConvTile::W64 && pipeline == ConvPipeline::Deep)
}

/// Every plan of every tile and pipeline, at each of `splits`.
fn every_plan(splits: &'static [usize]) -> impl Iterator<Item = ConvPlan> {
    TILES.into_iter().flat_map(move |tile| {
        [ConvPipeline::Shallow, ConvPipeline::Deep]
            .into_iter()
            .flat_map(move |pipeline| {
                splits.iter().map(move |&splits| ConvPlan {
                    tile,
                    pipeline,
                    splits,
                })
            })
    })
}

/// Runs one convolution with `plan` into a NaN-filled output and returns it widened, or the
/// launch's error.
fn run_plan<T: ConvElem>(
    k: &Library,
    s: &Stream,
    shape: ConvShape,
    plan: ConvPlan,
    inputs: &ConvInputs<'_, T>,
) -> Result<Vec<f64>, gpukit::runtime::Error> {
    let ctx = s.context();
    let layer = ConvLayer {
        shape,
        plan,
        activation: ConvActivation::Relu,
    };
    let nan = T::from_f32(f32::NAN);
    let mut out = DeviceBuffer::from_slice(ctx, &vec![nan; shape.output_len()]).unwrap();
    let mut ws =
        DeviceBuffer::<f32>::filled_bytes(ctx, plan.workspace_len(&shape).max(1), 0).unwrap();
    k.conv2d(s, &layer, inputs, &mut out, &mut ws)?;
    s.synchronize().unwrap();
    Ok(download(&out)
        .unwrap()
        .iter()
        .map(|v| v.to_f32() as f64)
        .collect())
}

fn conv_cases<T: ConvElem>(tol: f64) {
    let (gpu, k, s) = setup();
    let ctx = gpu.context();
    for (ci, &[n, h, w, c, co, ks, st, pad]) in CONV_SHAPES.iter().enumerate() {
        let shape = ConvShape {
            images: n,
            height: h,
            width: w,
            in_channels: c,
            out_channels: co,
            rows: Window::new(ks, st, pad),
            cols: Window::new(ks, st, pad),
        };
        let seed = 100 * ci as u64;
        let (x, xr) = rounded::<T>(&uniform(shape.input_len(), -1.0, 1.0, seed));
        let bound = (3.0 / shape.depth() as f64).sqrt();
        let (wt, wr) = rounded::<T>(&uniform(shape.weight_len(), -bound, bound, seed + 1));
        let bias: Vec<f32> = uniform(co, -0.5, 0.5, seed + 2)
            .iter()
            .map(|&b| b as f32)
            .collect();
        let (res, rr) = rounded::<T>(&uniform(shape.output_len(), -1.0, 1.0, seed + 3));
        let folded = FoldedConv {
            spec: ConvSpec {
                conv: "c".into(),
                bn: "b".into(),
                in_channels: c,
                out_channels: co,
                kernel: ks,
                stride: st,
                pad,
            },
            in_padded: c,
            weights: wr,
            bias: bias.clone(),
        };
        let xa = Act {
            n,
            h,
            w,
            c,
            data: xr,
        };
        let ra = Act {
            n,
            h: shape.out_height(),
            w: shape.out_width(),
            c: co,
            data: rr,
        };
        let want = reference::conv(&xa, &folded, Some(&ra), true);
        let dx = DeviceBuffer::from_slice(ctx, &x).unwrap();
        let dw = DeviceBuffer::from_slice(ctx, &wt).unwrap();
        let db = DeviceBuffer::from_slice(ctx, &bias).unwrap();
        let dr = DeviceBuffer::from_slice(ctx, &res).unwrap();
        let inputs = ConvInputs {
            x: &dx,
            weights: &dw,
            bias: &db,
            residual: Some(&dr),
        };
        for plan in every_plan(&[1, 3]) {
            let r = run_plan(&k, &s, shape, plan, &inputs);
            if !has_instance::<T>(plan.tile, plan.pipeline) || plan.check::<T>(&shape).is_err() {
                // No instance of that tile, or a resident tile whose weights do not fit or that
                // cannot split K: a clear error, nothing launched.
                let e = r.unwrap_err().to_string();
                assert!(
                    e.contains("no f32 instance")
                        || e.contains("only the shallow")
                        || e.contains("without split-K")
                        || e.contains("bytes of shared memory"),
                    "{e}"
                );
                continue;
            }
            let got = r.unwrap();
            assert!(
                got.iter().all(|v| v.is_finite()),
                "{plan:?} {shape:?}: NaN left"
            );
            let e = max_rel(&got, &want.data);
            assert!(e <= tol, "{} {plan:?} {shape:?}: rel err {e:.2e}", T::NAME);
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn conv_f16_every_tile_pipeline_and_split() {
    conv_cases::<f16>(2e-3);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn conv_bf16_every_tile_pipeline_and_split() {
    conv_cases::<bf16>(1e-2);
}

/// f32 storage through 3xTF32: f32-class accuracy (TF32 alone would be about 1e-3).
#[test]
#[ignore = "needs a CUDA GPU"]
fn conv_f32_every_tile_pipeline_and_split() {
    conv_cases::<f32>(1e-5);
}

/// The stem as the network runs it: 7 × 7 / 2 over 3-channel images held in 4 channels a pixel
/// and read as pixel pairs ([`stem_pairs_shape`], [`stem_pairs_weights`]), at an odd width (a
/// zero column pads the rows) and an even one, against the plain 7 × 7 reference, with every
/// tile, pipeline and split.
fn stem_pairs_cases<T: ConvElem>(tol: f64) {
    let (gpu, k, s) = setup();
    let ctx = gpu.context();
    // The last case has more pixel tiles (400) than the resident tiles have blocks on an H200.
    for (ci, &(n, h, w)) in [(2usize, 21usize, 27usize), (1, 30, 30), (128, 40, 40)]
        .iter()
        .enumerate()
    {
        let seed = 500 + 10 * ci as u64;
        let wp = w.next_multiple_of(2);
        // Input: 3 random channels and a zero 4th, in rows of `wp` pixels (zero pixel at the end
        // of odd rows) for the GPU, of `w` pixels for the reference.
        let vals = uniform(n * h * w * 3, -2.0, 2.0, seed);
        let mut x4 = vec![0.0; n * h * wp * 4];
        let mut xr = vec![0.0; n * h * w * 4];
        for p in 0..n * h * w {
            let (row, col) = (p / w, p % w);
            for ch in 0..3 {
                let v = T::from_f32(vals[3 * p + ch] as f32).to_f32() as f64;
                x4[(row * wp + col) * 4 + ch] = v;
                xr[p * 4 + ch] = v;
            }
        }
        let x4: Vec<T> = x4.iter().map(|&v| T::from_f32(v as f32)).collect();
        let bound = (3.0 / 147.0f64).sqrt();
        let (wt, wr) = rounded::<T>(&uniform(64 * 49 * 4, -bound, bound, seed + 1));
        let bias: Vec<f32> = uniform(64, -0.5, 0.5, seed + 2)
            .iter()
            .map(|&b| b as f32)
            .collect();
        let folded = FoldedConv {
            spec: ConvSpec {
                conv: "conv1".into(),
                bn: "bn1".into(),
                in_channels: 4,
                out_channels: 64,
                kernel: 7,
                stride: 2,
                pad: 3,
            },
            in_padded: 4,
            weights: wr,
            bias: bias.clone(),
        };
        let xa = Act {
            n,
            h,
            w,
            c: 4,
            data: xr,
        };
        let want = reference::conv(&xa, &folded, None, true);
        let shape = stem_pairs_shape(n, h, w, 64, 7);
        assert_eq!(
            (shape.out_height(), shape.out_width()),
            (want.h, want.w),
            "pair shape's output"
        );
        assert_eq!(shape.input_len(), x4.len());
        let pw = stem_pairs_weights(&wt, 64, 7, T::from_f32(0.0));
        assert_eq!(pw.len(), shape.weight_len());
        let dx = DeviceBuffer::from_slice(ctx, &x4).unwrap();
        let dw = DeviceBuffer::from_slice(ctx, &pw).unwrap();
        let db = DeviceBuffer::from_slice(ctx, &bias).unwrap();
        let inputs = ConvInputs {
            x: &dx,
            weights: &dw,
            bias: &db,
            residual: None,
        };
        for plan in every_plan(&[1, 2]) {
            if !has_instance::<T>(plan.tile, plan.pipeline) || plan.check::<T>(&shape).is_err() {
                continue;
            }
            let got = run_plan(&k, &s, shape, plan, &inputs).unwrap();
            let e = max_rel(&got, &want.data);
            assert!(
                e <= tol,
                "{} stem {n}x{h}x{w} {plan:?}: rel err {e:.2e}",
                T::NAME
            );
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn stem_pairs_f16() {
    stem_pairs_cases::<f16>(2e-3);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn stem_pairs_bf16() {
    stem_pairs_cases::<bf16>(1e-2);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn stem_pairs_f32() {
    stem_pairs_cases::<f32>(1e-5);
}

/// The convolution the kernel computes, on the CPU in f64: NHWC, any window per axis, no bias.
fn conv_any(x: &[f64], sh: &ConvShape, w: &[f64]) -> Vec<f64> {
    let (oh, ow, c, k) = (
        sh.out_height(),
        sh.out_width(),
        sh.in_channels,
        sh.out_channels,
    );
    let mut out = vec![0.0; sh.output_len()];
    for img in 0..sh.images {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..k {
                    let mut acc = 0.0;
                    for ty in 0..sh.rows.size {
                        let iy = (oy * sh.rows.stride + ty) as isize - sh.rows.pad as isize;
                        if iy < 0 || iy as usize >= sh.height {
                            continue;
                        }
                        for tx in 0..sh.cols.size {
                            let ix = (ox * sh.cols.stride + tx) as isize - sh.cols.pad as isize;
                            if ix < 0 || ix as usize >= sh.width {
                                continue;
                            }
                            let xb = ((img * sh.height + iy as usize) * sh.width + ix as usize) * c;
                            let wb = ((o * sh.rows.size + ty) * sh.cols.size + tx) * c;
                            acc += (0..c).map(|i| x[xb + i] * w[wb + i]).sum::<f64>();
                        }
                    }
                    out[((img * oh + oy) * ow + ox) * k + o] = acc;
                }
            }
        }
    }
    out
}

#[test]
fn stem_pairs_equal_the_plain_stem_on_the_cpu() {
    // The pair layout, shape and weights together compute the 7 × 7 / 2 convolution exactly,
    // at even and odd widths (no GPU: the kernel computes `conv_any`'s sum).
    for (n, h, w) in [(1usize, 9usize, 12usize), (2, 11, 13), (1, 8, 7)] {
        let wp = w.next_multiple_of(2);
        let vals = uniform(n * h * w * 3, -1.0, 1.0, 40 + w as u64);
        let mut x4 = vec![0.0; n * h * wp * 4];
        let mut xr = vec![0.0; n * h * w * 4];
        for p in 0..n * h * w {
            let (row, col) = (p / w, p % w);
            for ch in 0..3 {
                x4[(row * wp + col) * 4 + ch] = vals[3 * p + ch];
                xr[p * 4 + ch] = vals[3 * p + ch];
            }
        }
        let wt = uniform(5 * 49 * 4, -1.0, 1.0, 41);
        let plain = ConvShape {
            images: n,
            height: h,
            width: w,
            in_channels: 4,
            out_channels: 5,
            rows: Window::new(7, 2, 3),
            cols: Window::new(7, 2, 3),
        };
        let want = conv_any(&xr, &plain, &wt);
        let pairs = stem_pairs_shape(n, h, w, 5, 7);
        assert_eq!(
            (pairs.out_height(), pairs.out_width()),
            (plain.out_height(), plain.out_width())
        );
        let got = conv_any(&x4, &pairs, &stem_pairs_weights(&wt, 5, 7, 0.0));
        assert_eq!(got.len(), want.len());
        let e = max_rel(&got, &want);
        assert!(e < 1e-12, "{n}x{h}x{w}: {e:.2e}");
    }
}

#[test]
fn stem_pairs_weights_place_every_tap_once() {
    // Distinct weights: every original tap appears exactly once, the rest are zeros.
    let w: Vec<f64> = (0..2 * 49 * 4).map(|i| i as f64 + 1.0).collect();
    let p = stem_pairs_weights(&w, 2, 7, 0.0);
    assert_eq!(p.len(), 2 * 7 * 4 * 8);
    let mut seen: Vec<f64> = p.iter().copied().filter(|&v| v != 0.0).collect();
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen, w);
    // Output 0, row 0: pair tap 0's first half is column −1 (zero), its second half column 0.
    assert_eq!(&p[0..8], &[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    let sh = stem_pairs_shape(1, 224, 224, 64, 7);
    assert_eq!((sh.out_height(), sh.out_width(), sh.width), (112, 112, 112));
    let odd = stem_pairs_shape(1, 33, 33, 64, 7);
    assert_eq!((odd.out_height(), odd.out_width(), odd.width), (17, 17, 17));
}

fn pooling_cases<T: ConvElem>(tol: f64) {
    let (gpu, k, s) = setup();
    let ctx = gpu.context();
    // Max pooling at odd sizes.
    let shape = Nhwc {
        images: 3,
        height: 17,
        width: 13,
        channels: 64,
    };
    let (x, xr) = rounded::<T>(&uniform(shape.len(), -2.0, 2.0, 7));
    let os = maxpool3s2_shape(shape);
    let dx = DeviceBuffer::from_slice(ctx, &x).unwrap();
    let mut out = DeviceBuffer::<T>::filled_bytes(ctx, os.len(), 0).unwrap();
    k.maxpool3s2(&s, shape, &dx, &mut out).unwrap();
    s.synchronize().unwrap();
    let want = reference::maxpool(&Act {
        n: 3,
        h: 17,
        w: 13,
        c: 64,
        data: xr,
    });
    let got: Vec<f64> = download(&out)
        .unwrap()
        .iter()
        .map(|v| v.to_f32() as f64)
        .collect();
    assert_eq!(got, want.data, "maxpool is exact");
    // Average pooling.
    let shape = Nhwc {
        images: 5,
        height: 7,
        width: 7,
        channels: 512,
    };
    let (x, xr) = rounded::<T>(&uniform(shape.len(), -1.0, 1.0, 8));
    let dx = DeviceBuffer::from_slice(ctx, &x).unwrap();
    let mut out = DeviceBuffer::<T>::filled_bytes(ctx, 5 * 512, 0).unwrap();
    k.avgpool(&s, shape, &dx, &mut out).unwrap();
    s.synchronize().unwrap();
    let got: Vec<f64> = download(&out)
        .unwrap()
        .iter()
        .map(|v| v.to_f32() as f64)
        .collect();
    for i in 0..5 {
        for c in 0..512 {
            let m: f64 = (0..49).map(|p| xr[(i * 49 + p) * 512 + c]).sum::<f64>() / 49.0;
            let g = got[i * 512 + c];
            assert!(
                (g - m).abs() <= tol * (1.0 + m.abs()),
                "avgpool {i} {c}: {g} vs {m}"
            );
        }
    }
    // Input conversion: two 7 × 7 images.
    let pixels = 2 * 7 * 7;
    let img: Vec<u8> = (0..pixels * 3).map(|i| (i * 37 % 256) as u8).collect();
    let norm: Vec<f32> = gpukit_bench::resnet::MEAN
        .iter()
        .chain(gpukit_bench::resnet::STD.iter())
        .copied()
        .collect();
    let di = DeviceBuffer::from_slice(ctx, &img).unwrap();
    let dn = DeviceBuffer::from_slice(ctx, &norm).unwrap();
    // 4 channels a pixel, rows of 7 padded to 8 pixels with a zero pixel.
    assert_eq!(normalized_len(img.len(), 7), 2 * 7 * 8 * 4);
    let mut out = DeviceBuffer::<T>::filled_bytes(ctx, 2 * 7 * 8 * 4, 0xff).unwrap();
    let mut short = DeviceBuffer::<T>::filled_bytes(ctx, pixels * 4, 0).unwrap();
    assert!(k.normalize_u8(&s, &di, 7, &dn, &mut short).is_err());
    assert!(k.normalize_u8(&s, &di, 5, &dn, &mut out).is_err());
    k.normalize_u8(&s, &di, 7, &dn, &mut out).unwrap();
    s.synchronize().unwrap();
    let got = download(&out).unwrap();
    let want = reference::input(&img, 2, 7);
    for row in 0..2 * 7 {
        for x in 0..8 {
            for ch in 0..4 {
                let g = got[(row * 8 + x) * 4 + ch].to_f32() as f64;
                let w = if x < 7 && ch < 3 {
                    want.data[(row * 7 + x) * PADDED_CHANNELS + ch]
                } else {
                    0.0
                };
                assert!(
                    (g - w).abs() <= tol * (1.0 + w.abs()),
                    "input row {row} pixel {x} channel {ch}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn pooling_and_input_f16() {
    pooling_cases::<f16>(1e-3);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn pooling_and_input_bf16() {
    pooling_cases::<bf16>(8e-3);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn pooling_and_input_f32() {
    pooling_cases::<f32>(1e-6);
}

/// The whole network at `size` × `size` on random images against the f64 CPU reference.
fn network_case<T: ConvElem>(size: usize, batch: usize, pipeline: ConvPipeline, tol: f64) {
    let (gpu, k, s) = setup();
    let t = weights::synthetic(3);
    let net = ResNet18::<T>::upload(&gpu, &t).unwrap();
    let mut fwd = Forward::<T>::new(&gpu, &net, batch, size, pipeline).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let images: Vec<u8> = (0..fwd.input_len()).map(|_| rng.random::<u8>()).collect();
    let input = DeviceBuffer::from_slice(gpu.context(), &images).unwrap();
    fwd.run(&k, &s, &net, &input, None).unwrap();
    s.synchronize().unwrap();
    let got = download(&fwd.logits).unwrap();
    // The reference uses the weights as the GPU sees them (rounded to T).
    let mut convs = fold_all(&t);
    for c in &mut convs {
        for w in &mut c.weights {
            *w = T::from_f32(*w as f32).to_f32() as f64;
        }
    }
    let fc_w: Vec<f64> = t["fc.weight"]
        .data
        .iter()
        .map(|&w| T::from_f32(w as f32).to_f32() as f64)
        .collect();
    let want = reference::forward(&convs, &fc_w, &t["fc.bias"].data, &images, batch, size);
    for i in 0..batch {
        let g = &got[i * CLASSES..][..CLASSES];
        let w: Vec<f32> = want[i * CLASSES..][..CLASSES]
            .iter()
            .map(|&v| v as f32)
            .collect();
        let e = rel_err(g, &w);
        assert!(
            e <= tol,
            "{} {size}x{size} image {i}: logits rel err {e:.2e}",
            T::NAME
        );
        assert_eq!(top_k(g, 1)[0].0, top_k(&w, 1)[0].0, "image {i}: top-1");
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn network_f16_32x32_matches_cpu() {
    network_case::<f16>(32, 3, ConvPipeline::Shallow, 1e-2);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn network_f16_deep_pipeline_48x48_matches_cpu() {
    network_case::<f16>(48, 2, ConvPipeline::Deep, 1e-2);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn network_bf16_32x32_matches_cpu() {
    network_case::<bf16>(32, 2, ConvPipeline::Shallow, 3e-2);
}

/// f32 end to end (issue 13 asks for 1e-4 of torch's f32 logits; against f64 it is tighter).
#[test]
#[ignore = "needs a CUDA GPU"]
fn network_f32_deep_pipeline_48x48_matches_cpu() {
    network_case::<f32>(48, 2, ConvPipeline::Deep, 2e-5);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn network_f32_shallow_pipeline_32x32_matches_cpu() {
    network_case::<f32>(32, 3, ConvPipeline::Shallow, 2e-5);
}

#[test]
fn conv_shapes_are_validated() {
    // A shape whose channels are not a multiple of 8, then a kernel larger than the input.
    let bad = ConvShape {
        images: 1,
        height: 8,
        width: 8,
        in_channels: 3,
        out_channels: 8,
        rows: Window::new(3, 1, 1),
        cols: Window::new(3, 1, 1),
    };
    let e = bad.validate("conv2d").unwrap_err().to_string();
    assert!(e.contains("in_channels = 3"), "{e}");
    let big = ConvShape {
        in_channels: 8,
        cols: Window::new(9, 1, 0),
        ..bad
    };
    let e = big.validate("conv2d").unwrap_err().to_string();
    assert!(
        e.contains("cols: kernel 9 larger than the padded input"),
        "{e}"
    );
    let zero = ConvShape {
        in_channels: 8,
        rows: Window::new(3, 0, 1),
        ..bad
    };
    let e = zero.validate("conv2d").unwrap_err().to_string();
    assert!(e.contains("rows: kernel (3) and stride (0)"), "{e}");
}

#[test]
fn plans_cover_k_without_empty_splits() {
    for (m, co, depth) in [
        (49, 512, 4608),
        (1, 1000, 512),
        (3136, 64, 576),
        (784, 128, 1152),
    ] {
        let shape = ConvShape {
            images: m,
            height: 1,
            width: 1,
            in_channels: depth,
            out_channels: co,
            rows: Window::new(1, 1, 0),
            cols: Window::new(1, 1, 0),
        };
        for pipeline in [ConvPipeline::Shallow, ConvPipeline::Deep] {
            // K-slice bytes per row: 64 (shallow) or 128 (deep); f32 holds half the elements.
            let kb = if pipeline == ConvPipeline::Deep {
                128
            } else {
                64
            };
            for (p, elem) in [
                (ConvPlan::choose::<f16>(&shape, 132, pipeline), 2),
                (ConvPlan::choose::<f32>(&shape, 132, pipeline), 4),
            ] {
                let tiles = depth.div_ceil(kb / elem);
                let per = tiles.div_ceil(p.splits);
                assert!(
                    p.splits >= 1 && (p.splits - 1) * per < tiles,
                    "{p:?} for {shape:?}"
                );
            }
        }
    }
    let big = ConvShape {
        images: 256,
        height: 56,
        width: 56,
        in_channels: 64,
        out_channels: 64,
        rows: Window::new(3, 1, 1),
        cols: Window::new(3, 1, 1),
    };
    let p = ConvPlan::choose::<bf16>(&big, 132, ConvPipeline::Shallow);
    assert_eq!((p.tile, p.splits), (ConvTile::C64, 1));
    // On the deep pipeline, weights resident (64 × 576 halves fit beside the ring).
    let p = ConvPlan::choose::<f16>(&big, 132, ConvPipeline::Deep);
    assert_eq!(
        (p.tile, p.pipeline, p.splits),
        (ConvTile::C64Resident, ConvPipeline::Deep, 1)
    );
    // A 64-channel layer too deep for the slab (3 × 3 × 512) stays on C64.
    let deep = ConvShape {
        in_channels: 512,
        ..big
    };
    let p = ConvPlan::choose::<f16>(&deep, 132, ConvPipeline::Deep);
    assert_eq!((p.tile, p.pipeline), (ConvTile::C64, ConvPipeline::Deep));
    // The pixel-pair stem at batch 256: short depth, W64Resident with its only (shallow)
    // pipeline; f32 has no W64 and keeps Small.
    let stem = stem_pairs_shape(256, 224, 224, 64, 7);
    let p = ConvPlan::choose::<f16>(&stem, 132, ConvPipeline::Deep);
    assert_eq!(
        (p.tile, p.pipeline, p.splits),
        (ConvTile::W64Resident, ConvPipeline::Shallow, 1)
    );
    let p = ConvPlan::choose::<f32>(&stem, 132, ConvPipeline::Deep);
    assert_eq!((p.tile, p.pipeline), (ConvTile::Small, ConvPipeline::Deep));
}

fn write_st(path: &std::path::Path, t: &BTreeMap<String, Tensor>, skip: &str, reshape: &str) {
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = t
        .iter()
        .filter(|(n, _)| n.as_str() != skip)
        .map(|(n, v)| {
            let mut shape = v.shape.clone();
            if n == reshape {
                shape[0] += 1;
            }
            let n_el: usize = shape.iter().product();
            let mut bytes = Vec::with_capacity(n_el * 4);
            for i in 0..n_el {
                bytes.extend((*v.data.get(i).unwrap_or(&0.0) as f32).to_le_bytes());
            }
            (n.clone(), shape, bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bufs
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, &None, path).unwrap();
}

#[test]
fn loader_accepts_complete_weights_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let t = weights::synthetic(1);
    let ok = dir.path().join("ok.safetensors");
    write_st(&ok, &t, "", "");
    let back = weights::load(&ok).unwrap();
    assert_eq!(back.len(), 102);
    assert!((back["fc.bias"].data[3] - t["fc.bias"].data[3]).abs() < 1e-6);

    let bad = dir.path().join("bad.safetensors");
    write_st(
        &bad,
        &t,
        "layer3.1.bn2.running_var",
        "layer2.0.downsample.0.weight",
    );
    let e = weights::load(&bad).unwrap_err().to_string();
    assert!(e.contains("missing layer3.1.bn2.running_var"), "{e}");
    assert!(
        e.contains("layer2.0.downsample.0.weight: shape [129, 64, 1, 1], expected [128, 64, 1, 1]"),
        "{e}"
    );
    assert!(e.contains("2 problems"), "{e}");

    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    let e = weights::load(&junk).unwrap_err().to_string();
    assert!(e.contains("not a safetensors file"), "{e}");
}

#[test]
fn image_files_are_resized_and_centre_cropped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.png");
    // 400 × 300: left half red, right half blue, a green square in the middle.
    let img = image::RgbImage::from_fn(400, 300, |x, y| {
        if (180..220).contains(&x) && (130..170).contains(&y) {
            image::Rgb([0, 255, 0])
        } else if x < 200 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    img.save(&p).unwrap();
    let v = gpukit_bench::resnet::load_image(&p, 224).unwrap();
    assert_eq!(v.len(), 224 * 224 * 3);
    let px = |x: usize, y: usize| &v[(y * 224 + x) * 3..][..3];
    assert_eq!(px(112, 112), [0, 255, 0], "centre stays the green square");
    assert_eq!(px(5, 112), [255, 0, 0]);
    assert_eq!(px(218, 112), [0, 0, 255]);
    let e = gpukit_bench::resnet::load_image(&dir.path().join("none.png"), 224).unwrap_err();
    assert!(e.contains("none.png"), "{e}");
}

/// Max over images of max |got − exact| / max |exact| (the metric of the torch comparison).
fn logits_err(got: &[f64], exact: &[f64]) -> f64 {
    got.chunks(CLASSES)
        .zip(exact.chunks(CLASSES))
        .map(|(g, e)| max_rel(g, e))
        .fold(0.0, f64::max)
}

#[test]
fn folded_single_rounding_is_closer_to_exact_than_torch_eager_rounding() {
    // No GPU: the CPU reference with 16-bit storage emulated, gpukit's rounding (batch norm
    // folded, one rounding per convolution, f32 logits) against torch eager's (convolution,
    // batch norm and residual sum each rounded, 16-bit logits), both against exact f64.
    let t = weights::synthetic(5);
    let (n, size) = (3, 32);
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let images: Vec<u8> = (0..n * size * size * 3)
        .map(|_| rng.random::<u8>())
        .collect();
    let fc_w = &t["fc.weight"].data;
    let exact = reference::forward(&fold_all(&t), fc_w, &t["fc.bias"].data, &images, n, size);
    let bf: fn(f64) -> f64 = |v| bf16::from_f32(v as f32).to_f32() as f64;
    let hf: fn(f64) -> f64 = |v| f16::from_f32(v as f32).to_f32() as f64;
    for (name, round) in [("bf16", bf), ("f16", hf)] {
        let err = |s| {
            logits_err(
                &reference::forward_rounded(&t, &images, n, size, round, s),
                &exact,
            )
        };
        let (ours, torch) = (err(Rounding::Folded), err(Rounding::TorchEager));
        println!("{name}: folded {ours:.2e}, torch eager {torch:.2e} (logits vs exact f64)");
        assert!(
            ours < torch,
            "{name}: folded {ours:.2e} vs torch eager {torch:.2e}"
        );
    }
}
