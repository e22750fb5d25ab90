//! A CPU reference of the same network in f64 (folded weights, NHWC), for the GPU tests: slow
//! and simple, meant for small images. [`forward_rounded`] emulates 16-bit storage the way
//! gpukit and torch's eager mode round, to compare their accuracy.
use super::weights::{BN_EPS, ConvSpec, FoldedConv, Tensor, fold, resnet18_convs};
use super::{CLASSES, MEAN, PADDED_CHANNELS, STD};
use std::collections::BTreeMap;

/// An NHWC f64 activation.
#[derive(Clone, Debug)]
pub struct Act {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f64>,
}

/// u8 RGB images → normalised, padded to [`PADDED_CHANNELS`].
pub fn input(images: &[u8], n: usize, size: usize) -> Act {
    let mut data = vec![0.0; n * size * size * PADDED_CHANNELS];
    for p in 0..n * size * size {
        for ch in 0..3 {
            data[p * PADDED_CHANNELS + ch] =
                (images[p * 3 + ch] as f64 / 255.0 - MEAN[ch] as f64) / STD[ch] as f64;
        }
    }
    Act {
        n,
        h: size,
        w: size,
        c: PADDED_CHANNELS,
        data,
    }
}

/// `relu?(conv(x) + bias + residual)`.
pub fn conv(x: &Act, f: &FoldedConv, residual: Option<&Act>, relu: bool) -> Act {
    let s = &f.spec;
    let (k, st, pad, co) = (s.kernel, s.stride, s.pad, s.out_channels);
    assert_eq!(x.c, f.in_padded);
    let oh = (x.h + 2 * pad - k) / st + 1;
    let ow = (x.w + 2 * pad - k) / st + 1;
    let mut data = vec![0.0; x.n * oh * ow * co];
    for img in 0..x.n {
        for oy in 0..oh {
            for ox in 0..ow {
                let o_base = ((img * oh + oy) * ow + ox) * co;
                for o in 0..co {
                    let mut acc = f.bias[o] as f64;
                    for ky in 0..k {
                        let iy = (oy * st + ky) as isize - pad as isize;
                        if iy < 0 || iy as usize >= x.h {
                            continue;
                        }
                        for kx in 0..k {
                            let ix = (ox * st + kx) as isize - pad as isize;
                            if ix < 0 || ix as usize >= x.w {
                                continue;
                            }
                            let xi = ((img * x.h + iy as usize) * x.w + ix as usize) * x.c;
                            let wi = ((o * k + ky) * k + kx) * x.c;
                            for c in 0..x.c {
                                acc += x.data[xi + c] * f.weights[wi + c];
                            }
                        }
                    }
                    if let Some(r) = residual {
                        acc += r.data[o_base + o];
                    }
                    data[o_base + o] = if relu && acc < 0.0 { 0.0 } else { acc };
                }
            }
        }
    }
    Act {
        n: x.n,
        h: oh,
        w: ow,
        c: co,
        data,
    }
}

/// 3×3 / stride 2 / padding 1 max pooling.
pub fn maxpool(x: &Act) -> Act {
    let (oh, ow) = ((x.h - 1) / 2 + 1, (x.w - 1) / 2 + 1);
    let mut data = vec![f64::NEG_INFINITY; x.n * oh * ow * x.c];
    for img in 0..x.n {
        for oy in 0..oh {
            for ox in 0..ow {
                for dy in 0..3 {
                    for dx in 0..3 {
                        let (iy, ix) = ((oy * 2 + dy) as isize - 1, (ox * 2 + dx) as isize - 1);
                        if iy < 0 || ix < 0 || iy as usize >= x.h || ix as usize >= x.w {
                            continue;
                        }
                        for c in 0..x.c {
                            let v =
                                x.data[((img * x.h + iy as usize) * x.w + ix as usize) * x.c + c];
                            let o = &mut data[((img * oh + oy) * ow + ox) * x.c + c];
                            *o = o.max(v);
                        }
                    }
                }
            }
        }
    }
    Act {
        n: x.n,
        h: oh,
        w: ow,
        c: x.c,
        data,
    }
}

/// Logits (n × [`CLASSES`]) of the whole network: `convs` in the order of
/// [`super::weights::resnet18_convs`], `fc_w` 1000 × 512, `fc_b` 1000.
pub fn forward(
    convs: &[FoldedConv],
    fc_w: &[f64],
    fc_b: &[f64],
    images: &[u8],
    n: usize,
    size: usize,
) -> Vec<f64> {
    let x = input(images, n, size);
    let mut x = maxpool(&conv(&x, &convs[0], None, true));
    let mut i = 1;
    while i < convs.len() {
        let name = convs[i].spec.conv.trim_end_matches(".conv1").to_string();
        let ds = i + 2 < convs.len() && convs[i + 2].spec.conv == format!("{name}.downsample.0");
        let t = conv(&x, &convs[i], None, true);
        let short = if ds {
            conv(&x, &convs[i + 2], None, false)
        } else {
            x.clone()
        };
        x = conv(&t, &convs[i + 1], Some(&short), true);
        i += if ds { 3 } else { 2 };
    }
    let hw = x.h * x.w;
    let mut logits = vec![0.0; n * CLASSES];
    for img in 0..n {
        let mut feat = vec![0.0; x.c];
        for p in 0..hw {
            let px = &x.data[(img * hw + p) * x.c..][..x.c];
            for (f, v) in feat.iter_mut().zip(px) {
                *f += v / hw as f64;
            }
        }
        for o in 0..CLASSES {
            logits[img * CLASSES + o] =
                fc_b[o] + (0..x.c).map(|c| fc_w[o * x.c + c] * feat[c]).sum::<f64>();
        }
    }
    logits
}

/// How a 16-bit inference rounds, for accuracy studies on the CPU (every sum in f64; a
/// `round` function stands for the storage type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// gpukit: batch norm folded into the weights before they are rounded; each convolution's
    /// output rounded once, after bias, residual and ReLU; pooled features rounded; logits
    /// not rounded (the linear layer writes f32).
    Folded,
    /// torch's eager inference after `model.to(dtype)`: weights and batch-norm parameters
    /// rounded; each convolution's output rounded, then batch norm's, then the residual sum;
    /// pooled features rounded; the linear layer's output (logits) rounded.
    TorchEager,
}

/// Weights of `spec` reordered to `out × k × k × in_padded` without batch norm, each passed
/// through `round`.
fn raw_conv(
    t: &BTreeMap<String, Tensor>,
    spec: &ConvSpec,
    in_padded: usize,
    round: fn(f64) -> f64,
) -> FoldedConv {
    let w = &t[&format!("{}.weight", spec.conv)].data;
    let (co, ci, k) = (spec.out_channels, spec.in_channels, spec.kernel);
    let mut weights = vec![0.0; co * k * k * in_padded];
    for o in 0..co {
        for i in 0..ci {
            for y in 0..k {
                for x in 0..k {
                    weights[((o * k + y) * k + x) * in_padded + i] =
                        round(w[((o * ci + i) * k + y) * k + x]);
                }
            }
        }
    }
    FoldedConv {
        spec: spec.clone(),
        in_padded,
        weights,
        bias: vec![0.0; co],
    }
}

/// Eval-mode batch norm as torch computes it in a 16-bit dtype: parameters rounded, output
/// rounded, then `residual` added and rounded, then ReLU.
fn torch_bn(
    x: &Act,
    t: &BTreeMap<String, Tensor>,
    bn: &str,
    residual: Option<&Act>,
    relu: bool,
    round: fn(f64) -> f64,
) -> Act {
    let p = |n: &str| -> Vec<f64> {
        t[&format!("{bn}.{n}")]
            .data
            .iter()
            .map(|&v| round(v))
            .collect()
    };
    let (g, b, m, v) = (p("weight"), p("bias"), p("running_mean"), p("running_var"));
    let mut y = x.clone();
    for (i, o) in y.data.iter_mut().enumerate() {
        let c = i % x.c;
        let mut z = round((*o - m[c]) / (v[c] + BN_EPS).sqrt() * g[c] + b[c]);
        if let Some(r) = residual {
            z = round(z + r.data[i]);
        }
        *o = if relu && z < 0.0 { 0.0 } else { z };
    }
    y
}

/// Logits of the network with 16-bit storage emulated by `round` under `scheme` (see
/// [`Rounding`]); [`forward`] with unrounded folded weights is the exact answer to compare with.
pub fn forward_rounded(
    t: &BTreeMap<String, Tensor>,
    images: &[u8],
    n: usize,
    size: usize,
    round: fn(f64) -> f64,
    scheme: Rounding,
) -> Vec<f64> {
    let specs = resnet18_convs();
    let rnd = |mut a: Act| {
        a.data.iter_mut().for_each(|v| *v = round(*v));
        a
    };
    let pad = |s: &ConvSpec| {
        if s.in_channels.is_multiple_of(8) {
            s.in_channels
        } else {
            PADDED_CHANNELS
        }
    };
    // One convolution + batch norm (+ residual, ReLU) under the scheme.
    let layer = |x: &Act, s: &ConvSpec, res: Option<&Act>, relu: bool| -> Act {
        match scheme {
            Rounding::Folded => {
                let mut f = fold(t, s, pad(s));
                f.weights.iter_mut().for_each(|w| *w = round(*w));
                rnd(conv(x, &f, res, relu))
            }
            Rounding::TorchEager => {
                let c = rnd(conv(x, &raw_conv(t, s, pad(s), round), None, false));
                torch_bn(&c, t, &s.bn, res, relu, round)
            }
        }
    };
    let x = rnd(input(images, n, size));
    let mut x = maxpool(&layer(&x, &specs[0], None, true));
    let mut i = 1;
    while i < specs.len() {
        let name = specs[i].conv.trim_end_matches(".conv1").to_string();
        let ds = i + 2 < specs.len() && specs[i + 2].conv == format!("{name}.downsample.0");
        let h = layer(&x, &specs[i], None, true);
        let short = if ds {
            layer(&x, &specs[i + 2], None, false)
        } else {
            x.clone()
        };
        x = layer(&h, &specs[i + 1], Some(&short), true);
        i += if ds { 3 } else { 2 };
    }
    let hw = x.h * x.w;
    let fc_w: Vec<f64> = t["fc.weight"].data.iter().map(|&w| round(w)).collect();
    let fc_b = &t["fc.bias"].data;
    let mut logits = vec![0.0; n * CLASSES];
    for img in 0..n {
        let feat: Vec<f64> = (0..x.c)
            .map(|c| {
                round(
                    (0..hw)
                        .map(|p| x.data[(img * hw + p) * x.c + c])
                        .sum::<f64>()
                        / hw as f64,
                )
            })
            .collect();
        for o in 0..CLASSES {
            let y: f64 = (0..x.c).map(|c| fc_w[o * x.c + c] * feat[c]).sum();
            logits[img * CLASSES + o] = match scheme {
                Rounding::Folded => y + fc_b[o] as f32 as f64,
                Rounding::TorchEager => round(y + round(fc_b[o])),
            };
        }
    }
    logits
}
