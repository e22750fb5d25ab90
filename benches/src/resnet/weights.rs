//! ResNet-18 weights from a safetensors file with torchvision's parameter names, checked against
//! the architecture (every name present, every shape right, a float dtype), then batch norm
//! folded into the convolutions on the host in f64.
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Batch-norm epsilon of torchvision's resnet18.
pub const BN_EPS: f64 = 1e-5;

/// A host tensor: shape and values widened to f64.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// What is wrong with a weights file; every problem found is listed.
#[derive(Debug)]
pub enum WeightsError {
    Io(String, std::io::Error),
    Format(String, String),
    Mismatch(String, Vec<String>),
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsError::Io(p, e) => write!(f, "{p}: {e}"),
            WeightsError::Format(p, e) => write!(f, "{p}: not a safetensors file: {e}"),
            WeightsError::Mismatch(p, problems) => {
                write!(
                    f,
                    "{p}: not ResNet-18 weights with torchvision's names ({} problem{}):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for q in problems {
                    write!(f, "\n  {q}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for WeightsError {}

/// One convolution of the network as the file describes it.
#[derive(Clone, Debug)]
pub struct ConvSpec {
    /// Prefix of the convolution's weight (`layer2.0.conv1`, `layer2.0.downsample.0`).
    pub conv: String,
    /// Prefix of its batch norm (`layer2.0.bn1`, `layer2.0.downsample.1`).
    pub bn: String,
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
}

/// The 20 convolutions of ResNet-18 in forward order: the stem, then per basic block `conv1`,
/// `conv2` and (first block of layers 2–4) the 1×1 downsample.
pub fn resnet18_convs() -> Vec<ConvSpec> {
    let spec = |conv: String, bn: String, cin, cout, kernel, stride, pad| ConvSpec {
        conv,
        bn,
        in_channels: cin,
        out_channels: cout,
        kernel,
        stride,
        pad,
    };
    let mut v = vec![spec("conv1".into(), "bn1".into(), 3, 64, 7, 2, 3)];
    let mut cin = 64;
    for (i, cout) in [64usize, 128, 256, 512].into_iter().enumerate() {
        for j in 0..2 {
            let p = format!("layer{}.{j}", i + 1);
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            let c_in = if j == 0 { cin } else { cout };
            v.push(spec(
                format!("{p}.conv1"),
                format!("{p}.bn1"),
                c_in,
                cout,
                3,
                stride,
                1,
            ));
            v.push(spec(
                format!("{p}.conv2"),
                format!("{p}.bn2"),
                cout,
                cout,
                3,
                1,
                1,
            ));
            if stride != 1 || c_in != cout {
                v.push(spec(
                    format!("{p}.downsample.0"),
                    format!("{p}.downsample.1"),
                    c_in,
                    cout,
                    1,
                    stride,
                    0,
                ));
            }
        }
        cin = cout;
    }
    v
}

/// Every tensor ResNet-18 needs, with its shape.
pub fn expected_tensors() -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    for c in resnet18_convs() {
        v.push((
            format!("{}.weight", c.conv),
            vec![c.out_channels, c.in_channels, c.kernel, c.kernel],
        ));
        for p in ["weight", "bias", "running_mean", "running_var"] {
            v.push((format!("{}.{p}", c.bn), vec![c.out_channels]));
        }
    }
    v.push(("fc.weight".into(), vec![1000, 512]));
    v.push(("fc.bias".into(), vec![1000]));
    v
}

fn to_f64(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f64>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f64())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f64())
            .collect(),
        _ => return None,
    })
}

/// Reads and checks `path`: all of [`expected_tensors`] with their shapes and a float dtype
/// (f32, f64, f16 or bf16). Extra tensors (e.g. `num_batches_tracked`) are ignored.
pub fn load(path: &Path) -> Result<BTreeMap<String, Tensor>, WeightsError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| WeightsError::Io(p.clone(), e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| WeightsError::Format(p.clone(), e.to_string()))?;
    let mut problems = Vec::new();
    let mut out = BTreeMap::new();
    for (name, shape) in expected_tensors() {
        match st.tensor(&name) {
            Err(_) => problems.push(format!("missing {name} (expected shape {shape:?})")),
            Ok(t) => {
                if t.shape() != shape.as_slice() {
                    problems.push(format!("{name}: shape {:?}, expected {shape:?}", t.shape()));
                    continue;
                }
                match to_f64(t.dtype(), t.data()) {
                    None => problems.push(format!(
                        "{name}: dtype {:?}, expected a float type (F32, F64, F16, BF16)",
                        t.dtype()
                    )),
                    Some(data) => {
                        if let Some(bad) = data.iter().position(|v| !v.is_finite()) {
                            problems.push(format!("{name}: element {bad} is not finite"));
                        }
                        if name.ends_with("running_var")
                            && let Some(neg) = data.iter().position(|v| *v < 0.0)
                        {
                            problems.push(format!("{name}: element {neg} is negative"));
                        }
                        out.insert(name, Tensor { shape, data });
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(WeightsError::Mismatch(p, problems))
    }
}

/// A convolution with its batch norm folded in: weights `out × k × k × in_padded` (NHWC order,
/// input channels zero-padded to `in_padded`) and an f32 bias per output channel.
#[derive(Clone, Debug)]
pub struct FoldedConv {
    pub spec: ConvSpec,
    pub in_padded: usize,
    pub weights: Vec<f64>,
    pub bias: Vec<f32>,
}

/// `w' = w · γ / √(σ² + ε)`, `b' = β − μ · γ / √(σ² + ε)`, in f64; weights reordered from
/// torch's `out × in × k × k` to `out × k × k × in_padded`.
pub fn fold(t: &BTreeMap<String, Tensor>, spec: &ConvSpec, in_padded: usize) -> FoldedConv {
    let get = |n: String| &t[&n].data;
    let w = get(format!("{}.weight", spec.conv));
    let gamma = get(format!("{}.weight", spec.bn));
    let beta = get(format!("{}.bias", spec.bn));
    let mean = get(format!("{}.running_mean", spec.bn));
    let var = get(format!("{}.running_var", spec.bn));
    let (co, ci, k) = (spec.out_channels, spec.in_channels, spec.kernel);
    let mut weights = vec![0.0; co * k * k * in_padded];
    let mut bias = vec![0.0f32; co];
    for o in 0..co {
        let s = gamma[o] / (var[o] + BN_EPS).sqrt();
        bias[o] = (beta[o] - mean[o] * s) as f32;
        for i in 0..ci {
            for y in 0..k {
                for x in 0..k {
                    weights[((o * k + y) * k + x) * in_padded + i] =
                        w[((o * ci + i) * k + y) * k + x] * s;
                }
            }
        }
    }
    FoldedConv {
        spec: spec.clone(),
        in_padded,
        weights,
        bias,
    }
}

/// Seeded random weights with the right names and shapes, for tests and timing without a file:
/// convolutions uniform with He variance (2 / fan-in), batch-norm scales in [0.8, 1.2], shifts
/// and means in [-0.1, 0.1], variances in [0.8, 1.25] (so activations keep their scale), the
/// final layer uniform in ±1/√512.
pub fn synthetic(seed: u64) -> BTreeMap<String, Tensor> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut uni = |n: usize, lo: f64, hi: f64| -> Vec<f64> {
        (0..n).map(|_| rng.random_range(lo..hi)).collect()
    };
    let mut out = BTreeMap::new();
    for (name, shape) in expected_tensors() {
        let n: usize = shape.iter().product();
        let data = if name == "fc.weight" {
            let b = 1.0 / 512f64.sqrt();
            uni(n, -b, b)
        } else if name == "fc.bias" {
            uni(n, -0.1, 0.1)
        } else if shape.len() == 4 {
            // Uniform on ±b has variance b² / 3 = 2 / fan-in.
            let fan_in = (shape[1] * shape[2] * shape[3]) as f64;
            let b = (6.0 / fan_in).sqrt();
            uni(n, -b, b)
        } else if name.ends_with("running_var") {
            uni(n, 0.8, 1.25)
        } else if name.ends_with(".weight") {
            uni(n, 0.8, 1.2)
        } else {
            uni(n, -0.1, 0.1)
        };
        out.insert(name, Tensor { shape, data });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_architecture_has_20_convolutions_and_102_tensors() {
        assert_eq!(resnet18_convs().len(), 20);
        assert_eq!(expected_tensors().len(), 20 * 5 + 2);
    }

    #[test]
    fn folding_matches_batch_norm_after_convolution() {
        // One 1×1 convolution, 2 in / 2 out: fold, then compare with conv → BN on a pixel.
        let spec = ConvSpec {
            conv: "c".into(),
            bn: "b".into(),
            in_channels: 2,
            out_channels: 2,
            kernel: 1,
            stride: 1,
            pad: 0,
        };
        let mut t = BTreeMap::new();
        let mut put = |n: &str, shape: Vec<usize>, data: Vec<f64>| {
            t.insert(n.to_string(), Tensor { shape, data });
        };
        put("c.weight", vec![2, 2, 1, 1], vec![0.5, -1.25, 2.0, 0.75]);
        put("b.weight", vec![2], vec![1.5, 0.5]);
        put("b.bias", vec![2], vec![0.1, -0.2]);
        put("b.running_mean", vec![2], vec![0.3, -0.7]);
        put("b.running_var", vec![2], vec![2.0, 0.25]);
        let f = fold(&t, &spec, 8);
        let x = [0.9, -0.4];
        for o in 0..2 {
            let conv = t["c.weight"].data[o * 2] * x[0] + t["c.weight"].data[o * 2 + 1] * x[1];
            let bn = (conv - t["b.running_mean"].data[o])
                / (t["b.running_var"].data[o] + BN_EPS).sqrt()
                * t["b.weight"].data[o]
                + t["b.bias"].data[o];
            let folded = f.weights[o * 8] * x[0] + f.weights[o * 8 + 1] * x[1] + f.bias[o] as f64;
            assert!((bn - folded).abs() < 1e-6, "{bn} vs {folded}");
            assert!(f.weights[o * 8 + 2..o * 8 + 8].iter().all(|&w| w == 0.0));
        }
    }
}
