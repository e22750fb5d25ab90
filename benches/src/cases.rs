//! The suite's cases. Add a kernel by pushing a case onto the list in [`all`].
use super::case::{Case, Ctx, Dtype, Element, Prepared, Work};
use super::elementwise::Elementwise;
use super::matrix::{GemvCase, SgemmCase, SoftmaxCase, TransposeCase};
use super::readme_cases::{LayerNormCase, StencilCase};
use super::reduce::{ReduceCase, ReduceOp, ScanCase};
use super::rows::{CrossEntropyCase, IntScanCase, RowCase, RowOp};
use super::{Sizes, data, verify};
use gpukit::ops::{Accuracy, Activation, Binary, MapElem, ScanKind, SoftmaxKind};
use gpukit::runtime::{self, DeviceBuffer, Stream};
use half::{bf16, f16};

/// Every case at `sizes`, in table order. The names (or [`Case::cupy_op`]) and sizes must match
/// the ops of `benches/baseline.py` for the CuPy column to be filled.
pub fn all(sizes: &Sizes) -> Vec<Box<dyn Case>> {
    let n = sizes.vector;
    let mut cases: Vec<Box<dyn Case>> = vec![
        Box::new(CopyCase { n }),
        Box::new(
            Elementwise::<f32>::new("vector_add", n, 2)
                .launch(|lib, s, ins, out| lib.kernels().vector_add.launch(s, ins[0], ins[1], out))
                .reference(|ins, i| (ins[0][i] + ins[1][i]) as f64)
                .tol(0.0),
        ),
        Box::new(
            Elementwise::<f32>::new("saxpy", n, 1)
                .in_place()
                .launch(|lib, s, ins, y| lib.kernels().saxpy.launch(s, SAXPY_ALPHA, ins[0], y))
                .reference(|ins, i| SAXPY_ALPHA.mul_add(ins[0][i], ins[1][i]) as f64)
                .tol(0.0),
        ),
    ];
    // Element-wise f32: exact (one rounding, as the CPU's f32 arithmetic).
    cases.push(Box::new(
        Elementwise::<f32>::new("add", n, 2)
            .launch(|lib, s, ins, out| lib.binary(s, Binary::Add, ins[0], ins[1], out))
            .reference(|ins, i| (ins[0][i] + ins[1][i]) as f64)
            .tol(0.0),
    ));
    cases.push(Box::new(
        Elementwise::<f32>::new("sub", n, 2)
            .launch(|lib, s, ins, out| lib.binary(s, Binary::Sub, ins[0], ins[1], out))
            .reference(|ins, i| (ins[0][i] - ins[1][i]) as f64)
            .tol(0.0),
    ));
    cases.push(Box::new(
        Elementwise::<f32>::new("mul", n, 2)
            .launch(|lib, s, ins, out| lib.binary(s, Binary::Mul, ins[0], ins[1], out))
            .reference(|ins, i| (ins[0][i] * ins[1][i]) as f64)
            .tol(0.0),
    ));
    cases.push(Box::new(
        Elementwise::<f32>::new("div", n, 2)
            .input_range(1, 0.5, 1.5)
            .launch(|lib, s, ins, out| lib.binary(s, Binary::Div, ins[0], ins[1], out))
            .reference(|ins, i| (ins[0][i] / ins[1][i]) as f64)
            .tol(0.0),
    ));
    cases.push(Box::new(
        Elementwise::<f32>::new("scale", n, 1)
            .launch(|lib, s, ins, out| lib.scale(s, SAXPY_ALPHA, ins[0], out))
            .reference(|ins, i| (SAXPY_ALPHA * ins[0][i]) as f64)
            .tol(0.0),
    ));
    cases.push(Box::new(
        Elementwise::<f32>::new("fill", n, 0)
            .launch(|lib, s, _, out| lib.fill(s, FILL_VALUE, out))
            .reference(|_, _| FILL_VALUE as f64)
            .tol(0.0),
    ));
    // out = alpha x + y (the CuPy op updates y in place: the same three vectors of traffic).
    cases.push(Box::new(
        Elementwise::<f32>::new("axpy", n, 2)
            .launch(|lib, s, ins, out| lib.axpy(s, SAXPY_ALPHA, ins[0], ins[1], out))
            .reference(|ins, i| SAXPY_ALPHA.mul_add(ins[0][i], ins[1][i]) as f64)
            .tol(0.0),
    ));
    cases.push(Box::new(
        Elementwise::<f64>::new("axpy", n, 2)
            .launch(|lib, s, ins, out| lib.axpy(s, SAXPY_ALPHA as f64, ins[0], ins[1], out))
            .reference(|ins, i| (SAXPY_ALPHA as f64).mul_add(ins[0][i], ins[1][i]))
            .tol(0.0),
    ));
    // Activation maps, each in f32, f16 and bf16 (table order as the CuPy script: by op).
    for &(name, act) in &MAPS {
        cases.push(Box::new(map_case::<f32>(name, act, n)));
        cases.push(Box::new(map_case::<f16>(name, act, n)));
        cases.push(Box::new(map_case::<bf16>(name, act, n)));
    }
    // The f32 SFU approximations (Accuracy::Fast), named `<op>_fast`; the baselines have one
    // (accurate) way to write each and time it again under that key.
    for &(name, act) in &MAPS[1..] {
        cases.push(Box::new(fast_map_case(name, act, n)));
    }
    for op in [
        ReduceOp::Sum,
        ReduceOp::Min,
        ReduceOp::Max,
        ReduceOp::Argmax,
        ReduceOp::Dot,
        ReduceOp::L2Norm,
    ] {
        cases.push(Box::new(ReduceCase { op, n }));
    }
    for kind in [ScanKind::Inclusive, ScanKind::Exclusive] {
        cases.push(Box::new(ScanCase { kind, n }));
        cases.push(Box::new(IntScanCase::<i32>::new(kind, n)));
        cases.push(Box::new(IntScanCase::<u32>::new(kind, n)));
    }
    for (rows, cols) in [sizes.rows, sizes.vocab] {
        for kind in [SoftmaxKind::Softmax, SoftmaxKind::LogSoftmax] {
            cases.push(Box::new(SoftmaxCase::<f32>::new(kind, rows, cols)));
            cases.push(Box::new(SoftmaxCase::<bf16>::new(kind, rows, cols)));
        }
    }
    let (rows, cols) = sizes.rows;
    for op in RowOp::ALL {
        cases.push(Box::new(RowCase::<f32>::new(op, rows, cols)));
        cases.push(Box::new(RowCase::<bf16>::new(op, rows, cols)));
    }
    let (vocab_rows, vocab) = sizes.vocab;
    cases.push(Box::new(CrossEntropyCase::<f32>::new(vocab_rows, vocab)));
    cases.push(Box::new(CrossEntropyCase::<bf16>::new(vocab_rows, vocab)));
    cases.push(Box::new(TransposeCase::square(sizes.transpose)));
    // A tall matrix: the any-shape transpose (65536 × 4096 at full size).
    cases.push(Box::new(TransposeCase { rows, cols }));
    // The README's kernels, written the way it teaches (rows × cols as the softmax rows).
    cases.push(Box::new(LayerNormCase { rows, cols }));
    cases.push(Box::new(StencilCase { n: sizes.stencil }));
    cases.push(Box::new(GemvCase {
        m: sizes.gemv,
        n: sizes.gemv,
    }));
    let g = sizes.gemm;
    cases.push(Box::new(SgemmCase { m: g, n: g, k: g }));
    cases.extend(super::gemm_cases::all(sizes));
    cases.extend(super::hopper_cases::all());
    cases
}

/// The `alpha` of saxpy, axpy and scale (the CuPy script uses the same).
pub const SAXPY_ALPHA: f32 = 1.5;

/// The value of fill (the CuPy script's `FILL_VALUE`).
pub const FILL_VALUE: f32 = 0.5;

/// The activation maps: name (the CuPy op) and kernel.
const MAPS: [(&str, Activation); 5] = [
    ("relu", Activation::Relu),
    ("gelu", Activation::Gelu),
    ("sigmoid", Activation::Sigmoid),
    ("exp", Activation::Exp),
    ("tanh", Activation::Tanh),
];

/// The exact value of an activation (gelu: its tanh approximation, which the kernels compute).
pub fn activation_ref(act: Activation, v: f64) -> f64 {
    match act {
        Activation::Relu => v.max(0.0),
        Activation::Gelu => {
            0.5 * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
        }
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        Activation::Exp => v.exp(),
        Activation::Tanh => v.tanh(),
    }
}

/// Tolerance of an activation map in [`verify::close`]'s terms (`tol * max(|want|, 1)`), from
/// the bounds of tests/gpu_elementwise.rs: relu is exact; f32 maps are the fast approximations (exp
/// 2^-16, sigmoid 2^-15, tanh 2^-10, gelu 2^-8); f16 and bf16 round once from f32 math
/// (2^-9 and 2^-7).
pub fn activation_tol(act: Activation, dtype: Dtype) -> f64 {
    match (act, dtype) {
        (Activation::Relu, _) => 0.0,
        (Activation::Exp, Dtype::F32) => 2f64.powi(-16),
        (Activation::Sigmoid, Dtype::F32) => 2f64.powi(-15),
        (Activation::Tanh, Dtype::F32) => 2f64.powi(-10),
        (Activation::Gelu, Dtype::F32) => 2f64.powi(-8),
        (_, Dtype::F16) => 2f64.powi(-9),
        _ => 2f64.powi(-7),
    }
}

/// `map_f32` with [`Accuracy::Fast`], named `<op>_fast`, checked against the f64 activation
/// within the fast bounds of [`activation_tol`] (exp 2^-16, sigmoid 2^-15, tanh 2^-10, GELU
/// 2^-8).
fn fast_map_case(name: &str, act: Activation, n: usize) -> Elementwise<f32> {
    Elementwise::<f32>::new(&format!("{name}_fast"), n, 1)
        .launch(move |lib, s, ins, out| lib.map_f32(s, act, Accuracy::Fast, ins[0], out))
        .reference(move |ins, i| activation_ref(act, ins[0][i] as f64))
        .tol(activation_tol(act, Dtype::F32))
}

fn map_case<T: Element + MapElem>(name: &str, act: Activation, n: usize) -> Elementwise<T> {
    Elementwise::<T>::new(name, n, 1)
        .launch(move |lib, s, ins, out| lib.map(s, act, ins[0], out))
        .reference(move |ins, i| activation_ref(act, ins[0][i].to_f64()))
        .tol(activation_tol(act, T::DTYPE))
}

/// The device-to-device copy (`cuMemcpyDtoDAsync`) of `n` f32: the memory-bandwidth ceiling of
/// the memory-bound cases, and an example of a [`Case`] written by hand.
pub struct CopyCase {
    pub n: usize,
}

impl Case for CopyCase {
    fn name(&self) -> &str {
        "copy"
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.n]
    }
    fn work(&self) -> Work {
        Work::Bytes(2.0 * 4.0 * self.n as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let src: Vec<f32> = data::random(self.n, data::mix(ctx.seed, set as u64));
            sets.push((
                ctx.gpu.upload(&src)?,
                ctx.gpu.alloc_filled::<f32>(self.n, 0xff)?,
            ));
            if set == 0 {
                host = src;
            }
        }
        Ok(Box::new(CopyRun {
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct CopyRun {
    host: Vec<f32>,
    sets: Vec<(DeviceBuffer<f32>, DeviceBuffer<f32>)>,
    seed: u64,
}

impl Prepared for CopyRun {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (src, dst) = &mut self.sets[k];
        runtime::copy_async(stream, dst, src)
    }

    fn verify(&mut self) -> Result<(), String> {
        let got = runtime::download(&self.sets[0].1).map_err(|e| e.to_string())?;
        verify::check_sampled(
            "dst",
            self.host.len(),
            self.seed,
            |i| got[i] as f64,
            |i| self.host[i] as f64,
            0.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size_label;
    use std::collections::HashSet;

    /// `(op, size, dtype)` of every op the CuPy script plans at the given flags, from its
    /// `--list` mode (no CuPy or GPU needed), or `None` when there is no `python3`.
    fn cupy_plan(args: &[&str]) -> Option<HashSet<(String, String, String)>> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/baseline.py");
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg("--list")
            .args(args)
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        Some(
            text.lines()
                .map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    assert_eq!(f.len(), 3, "bad --list line {l:?}");
                    (f[0].to_string(), f[1].to_string(), f[2].to_string())
                })
                .collect(),
        )
    }

    #[test]
    fn every_case_has_a_cupy_counterpart_at_the_same_size() {
        for (flags, sizes) in [
            (vec![], Sizes::DEFAULT),
            (vec!["--quick"], Sizes::QUICK),
            (
                vec!["--quick", "--size", "4096"],
                Sizes::select(true, Some(4096)),
            ),
        ] {
            let Some(plan) = cupy_plan(&flags) else {
                eprintln!("python3 not found: skipping the CuPy plan comparison");
                return;
            };
            for c in all(&sizes) {
                let Some(op) = c.cupy_op() else { continue };
                let key = (
                    op.to_string(),
                    size_label(&c.shape()),
                    c.dtype().name().to_string(),
                );
                assert!(
                    plan.contains(&key),
                    "{key:?} ({flags:?}) is not in the CuPy script's plan"
                );
            }
        }
    }

    #[test]
    fn cases_are_unique_and_describe_their_work() {
        let cases = all(&Sizes::QUICK);
        let mut seen = HashSet::new();
        for c in &cases {
            assert!(
                seen.insert((c.name().to_string(), c.shape(), c.dtype())),
                "{}",
                c.name()
            );
            match c.work() {
                Work::Bytes(b) => assert!(b > 0.0),
                Work::Flops { flops, .. } => assert!(flops > 0.0),
            }
        }
        let add = cases.iter().find(|c| c.name() == "vector_add").unwrap();
        assert_eq!(add.work(), Work::Bytes(12.0 * (1 << 24) as f64));
        let saxpy = cases.iter().find(|c| c.name() == "saxpy").unwrap();
        assert_eq!(saxpy.work(), Work::Bytes(12.0 * (1 << 24) as f64));
        assert_eq!(saxpy.working_set_bytes(), 12 << 24);
    }

    #[test]
    fn every_library_kernel_has_a_case_with_its_work() {
        let s = Sizes::QUICK;
        let cases = all(&s);
        let v = (1usize << 24) as f64;
        let find = |name: &str, dtype: Dtype| {
            cases
                .iter()
                .find(|c| c.name() == name && c.dtype() == dtype)
                .unwrap_or_else(|| panic!("no {name} {dtype} case"))
        };
        for (name, vectors) in [
            ("add", 3.0),
            ("sub", 3.0),
            ("mul", 3.0),
            ("div", 3.0),
            ("scale", 2.0),
            ("fill", 1.0),
            ("axpy", 3.0),
            ("sum", 1.0),
            ("min", 1.0),
            ("max", 1.0),
            ("argmax", 1.0),
            ("l2_norm", 1.0),
            ("dot", 2.0),
            ("inclusive_scan", 2.0),
            ("exclusive_scan", 2.0),
        ] {
            assert_eq!(
                find(name, Dtype::F32).work(),
                Work::Bytes(vectors * 4.0 * v)
            );
        }
        assert_eq!(find("axpy", Dtype::F64).work(), Work::Bytes(3.0 * 8.0 * v));
        for (name, _) in MAPS {
            assert_eq!(find(name, Dtype::F32).work(), Work::Bytes(2.0 * 4.0 * v));
            assert_eq!(find(name, Dtype::F16).work(), Work::Bytes(2.0 * 2.0 * v));
            assert_eq!(find(name, Dtype::Bf16).work(), Work::Bytes(2.0 * 2.0 * v));
        }
        let (r, c) = s.rows;
        for name in ["softmax", "log_softmax"] {
            assert_eq!(find(name, Dtype::F32).shape(), vec![r, c]);
            assert_eq!(
                find(name, Dtype::Bf16).work(),
                Work::Bytes((2 * r * c * 2) as f64)
            );
        }
        let t = s.transpose;
        assert_eq!(
            find("transpose", Dtype::F32).work(),
            Work::Bytes((2 * t * t * 4) as f64)
        );
        let g = s.gemv;
        assert_eq!(
            find("gemv", Dtype::F32).work(),
            Work::Bytes(((g * g + 2 * g) * 4) as f64)
        );
        let sgemm = find("sgemm", Dtype::F32);
        assert_eq!(sgemm.shape(), vec![s.gemm; 3]);
        assert_eq!(
            sgemm.work(),
            Work::Flops {
                flops: 2.0 * (s.gemm as f64).powi(3),
                peak: crate::Peak::Fp32
            }
        );
        assert_eq!(sgemm.working_set_bytes(), usize::MAX);
    }

    #[test]
    fn activation_references_and_tolerances() {
        assert_eq!(activation_ref(Activation::Relu, -0.5), 0.0);
        assert_eq!(activation_ref(Activation::Relu, 0.25), 0.25);
        assert!((activation_ref(Activation::Sigmoid, 0.0) - 0.5).abs() < 1e-15);
        assert!((activation_ref(Activation::Gelu, 1.0) - 0.841_191_990_607_477_2).abs() < 1e-12);
        assert_eq!(activation_ref(Activation::Exp, 0.0), 1.0);
        assert_eq!(activation_tol(Activation::Relu, Dtype::Bf16), 0.0);
        assert_eq!(activation_tol(Activation::Exp, Dtype::F32), 2f64.powi(-16));
        assert_eq!(activation_tol(Activation::Tanh, Dtype::F16), 2f64.powi(-9));
        assert_eq!(activation_tol(Activation::Gelu, Dtype::Bf16), 2f64.powi(-7));
    }
}
