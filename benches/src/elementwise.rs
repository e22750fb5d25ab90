//! A generic [`Case`] for element-wise kernels: give it a launch and a per-element reference.
//!
//! ```ignore
//! // out = a + b
//! Elementwise::<f32>::new("vector_add", n, 2)
//!     .launch(|lib, s, ins, out| lib.binary(s, Binary::Add, ins[0], ins[1], out))
//!     .reference(|ins, i| ins[0][i] as f64 + ins[1][i] as f64);
//! // y = 1.5 x + y, in place: the reference sees y's initial values as the last input
//! Elementwise::<f32>::new("saxpy", n, 1)
//!     .in_place()
//!     .launch(|lib, s, ins, y| lib.kernels().saxpy.launch(s, 1.5, ins[0], y))
//!     .reference(|ins, i| 1.5f32.mul_add(ins[0][i], ins[1][i]) as f64);
//! ```
use super::case::{Case, Ctx, Dtype, Element, Prepared, Work};
use super::{data, verify};
use gpukit::Library;
use gpukit::runtime::{self, DeviceBuffer, DeviceSlice, Stream};

type LaunchFn<T> =
    dyn Fn(&Library, &Stream, &[&DeviceSlice<T>], &mut DeviceSlice<T>) -> runtime::Result<()>;
type ReferenceFn<T> = dyn Fn(&[&[T]], usize) -> f64;

/// An element-wise case over `n` elements of `T`: `inputs` read-only random vectors and one
/// output (which, [`in_place`](Elementwise::in_place), starts random and is read too).
pub struct Elementwise<T: Element> {
    name: String,
    n: usize,
    inputs: usize,
    in_place: bool,
    tol: f64,
    ranges: Vec<(f32, f32)>,
    cupy_op: Option<String>,
    launch: Box<LaunchFn<T>>,
    reference: Box<ReferenceFn<T>>,
}

impl<T: Element> Elementwise<T> {
    /// A case named `name` over `n` elements with `inputs` read-only inputs, uniform in
    /// `[-1, 1)`; the tolerance defaults to [`Dtype::default_tol`]. Set the launch and the
    /// reference before running it.
    pub fn new(name: &str, n: usize, inputs: usize) -> Self {
        Elementwise {
            name: name.to_string(),
            n,
            inputs,
            in_place: false,
            tol: T::DTYPE.default_tol(),
            ranges: vec![(-1.0, 1.0); inputs + 1],
            cupy_op: Some(name.to_string()),
            launch: Box::new(|_, _, _, _| {
                Err(runtime::Error::InvalidArgument {
                    op: "Elementwise".into(),
                    reason: "no launch given".into(),
                })
            }),
            reference: Box::new(|_, _| f64::NAN),
        }
    }

    /// The output starts with random values and the kernel reads it (e.g. `y += a * x`); the
    /// reference gets those initial values as input number `inputs`.
    pub fn in_place(mut self) -> Self {
        self.in_place = true;
        self
    }

    /// Queue the kernel: `ins` are the read-only inputs, `out` the output.
    pub fn launch(
        mut self,
        f: impl Fn(&Library, &Stream, &[&DeviceSlice<T>], &mut DeviceSlice<T>) -> runtime::Result<()>
        + 'static,
    ) -> Self {
        self.launch = Box::new(f);
        self
    }

    /// The expected value of element `i` from the host inputs (computed in f64 or in the
    /// kernel's own precision; compared with [`verify::close`]).
    pub fn reference(mut self, f: impl Fn(&[&[T]], usize) -> f64 + 'static) -> Self {
        self.reference = Box::new(f);
        self
    }

    /// Relative tolerance (see [`verify::close`]).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Draw input `index` (the in-place output's initial values are index `inputs`) uniformly
    /// from `[lo, hi)` instead of `[-1, 1)`, e.g. to keep divisors away from zero.
    pub fn input_range(mut self, index: usize, lo: f32, hi: f32) -> Self {
        self.ranges[index] = (lo, hi);
        self
    }

    /// Compare with another CuPy op, or with none.
    pub fn cupy(mut self, op: Option<&str>) -> Self {
        self.cupy_op = op.map(str::to_string);
        self
    }

    fn host_inputs(&self, seed: u64, set: usize) -> Vec<Vec<T>> {
        let count = self.inputs + usize::from(self.in_place);
        (0..count)
            .map(|j| {
                let (lo, hi) = self.ranges[j];
                data::uniform(self.n, data::mix(seed, (set * 64 + j) as u64), lo, hi)
            })
            .collect()
    }
}

impl<T: Element> Case for Elementwise<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn dtype(&self) -> Dtype {
        T::DTYPE
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.n]
    }
    fn work(&self) -> Work {
        let vectors = self.inputs + 1 + usize::from(self.in_place);
        Work::Bytes((vectors * self.n * std::mem::size_of::<T>()) as f64)
    }
    fn cupy_op(&self) -> Option<&str> {
        self.cupy_op.as_deref()
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let mut host = Vec::new();
        let mut sets = Vec::with_capacity(ctx.copies);
        for set in 0..ctx.copies.max(1) {
            let h = self.host_inputs(ctx.seed, set);
            let ins = h[..self.inputs]
                .iter()
                .map(|v| ctx.gpu.upload(v))
                .collect::<runtime::Result<Vec<_>>>()?;
            let out = if self.in_place {
                ctx.gpu.upload(&h[self.inputs])?
            } else {
                // NaN for floats: an element the kernel skips cannot pass the check.
                ctx.gpu.alloc_filled::<T>(self.n, 0xff)?
            };
            sets.push((ins, out));
            if set == 0 {
                host = h;
            }
        }
        Ok(Box::new(ElementwiseRun {
            case: self,
            lib: ctx.lib,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct ElementwiseRun<'a, T: Element> {
    case: &'a Elementwise<T>,
    lib: &'a Library,
    /// Set 0's host inputs (and the in-place output's initial values).
    host: Vec<Vec<T>>,
    sets: Vec<(Vec<DeviceBuffer<T>>, DeviceBuffer<T>)>,
    seed: u64,
}

impl<T: Element> Prepared for ElementwiseRun<'_, T> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (ins, out) = &mut self.sets[k];
        let refs: Vec<&DeviceSlice<T>> = ins.iter().map(|b| &**b).collect();
        (self.case.launch)(self.lib, stream, &refs, out)
    }

    fn verify(&mut self) -> Result<(), String> {
        let got = runtime::download(&self.sets[0].1).map_err(|e| e.to_string())?;
        let host: Vec<&[T]> = self.host.iter().map(|v| &v[..]).collect();
        verify::check_sampled(
            "out",
            self.case.n,
            self.seed,
            |i| got[i].to_f64(),
            |i| (self.case.reference)(&host, i),
            self.case.tol,
        )
    }
}
