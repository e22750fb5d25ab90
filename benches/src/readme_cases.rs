//! Cases of the README's kernels (`gpu-kernels/src/readme.rs`), written as a user would write
//! them: the row-per-block layer norm and the 3×3 stencil, both measured against the copy
//! bandwidth (target ≥ 80%). No CuPy counterpart.
use super::case::{Case, Ctx, Dtype, Prepared, Work};
use super::{data, verify};
use gpukit::Library;
use gpukit::runtime::{self, DeviceBuffer, Stream};

/// Rows (or stencil rows) checked against the f64 reference.
const CHECK_ROWS: usize = 32;

/// `y = layer_norm(x) * gamma + beta` over the rows of a `rows × cols` f32 matrix.
pub struct LayerNormCase {
    pub rows: usize,
    pub cols: usize,
}

impl Case for LayerNormCase {
    fn name(&self) -> &str {
        "readme_layer_norm"
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.rows, self.cols]
    }
    fn work(&self) -> Work {
        Work::Bytes((2 * self.rows * self.cols * 4) as f64)
    }
    fn cupy_op(&self) -> Option<&str> {
        None
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let n = self.rows * self.cols;
        let mut sets = Vec::new();
        let mut host = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let x: Vec<f32> = data::random(n, data::mix(ctx.seed, set as u64));
            sets.push((ctx.gpu.upload(&x)?, ctx.gpu.alloc_filled::<f32>(n, 0xff)?));
            if set == 0 {
                host = x;
            }
        }
        let gamma: Vec<f32> = data::uniform(self.cols, data::mix(ctx.seed, 1000), 0.5, 1.5);
        let beta: Vec<f32> = data::random(self.cols, data::mix(ctx.seed, 1001));
        Ok(Box::new(LayerNormRun {
            case: self,
            lib: ctx.lib,
            dg: ctx.gpu.upload(&gamma)?,
            db: ctx.gpu.upload(&beta)?,
            gamma,
            beta,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct LayerNormRun<'a> {
    case: &'a LayerNormCase,
    lib: &'a Library,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    dg: DeviceBuffer<f32>,
    db: DeviceBuffer<f32>,
    host: Vec<f32>,
    sets: Vec<(DeviceBuffer<f32>, DeviceBuffer<f32>)>,
    seed: u64,
}

/// The eps of the layer norm runs.
const EPS: f32 = 1e-5;

impl Prepared for LayerNormRun<'_> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (x, y) = &mut self.sets[k];
        let c = self.case;
        self.lib.kernels().layer_norm.launch(
            stream,
            x,
            &self.dg,
            &self.db,
            c.rows as u32,
            c.cols as u32,
            EPS,
            y,
        )
    }

    fn verify(&mut self) -> Result<(), String> {
        let cols = self.case.cols;
        for r in verify::sample_rows(self.case.rows, CHECK_ROWS, self.seed) {
            let got = runtime::download(&self.sets[0].1[r * cols..(r + 1) * cols])
                .map_err(|e| e.to_string())?;
            let row = &self.host[r * cols..(r + 1) * cols];
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / cols as f64;
            let inv = 1.0 / (var + EPS as f64).sqrt();
            for c in 0..cols {
                let want =
                    (row[c] as f64 - mean) * inv * self.gamma[c] as f64 + self.beta[c] as f64;
                let g = got[c] as f64;
                if g.is_nan() || (g - want).abs() > 2e-4 * (1.0 + want.abs()) {
                    return Err(format!("y[{r}, {c}] = {g} but the reference is {want}"));
                }
            }
        }
        Ok(())
    }
}

/// `y = 3×3 stencil of x` (edges clamped) on an `n × n` f32 matrix.
pub struct StencilCase {
    pub n: usize,
}

/// The stencil's weights (a normalised blur with a sharpened centre).
const WEIGHTS: [f32; 9] = [0.05, 0.1, 0.05, 0.1, 0.4, 0.1, 0.05, 0.1, 0.05];

impl Case for StencilCase {
    fn name(&self) -> &str {
        "readme_stencil3x3"
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.n, self.n]
    }
    fn work(&self) -> Work {
        Work::Bytes((2 * self.n * self.n * 4) as f64)
    }
    fn cupy_op(&self) -> Option<&str> {
        None
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let n = self.n * self.n;
        let mut sets = Vec::new();
        let mut host = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let x: Vec<f32> = data::random(n, data::mix(ctx.seed, set as u64));
            sets.push((ctx.gpu.upload(&x)?, ctx.gpu.alloc_filled::<f32>(n, 0xff)?));
            if set == 0 {
                host = x;
            }
        }
        Ok(Box::new(StencilRun {
            case: self,
            lib: ctx.lib,
            dw: ctx.gpu.upload(&WEIGHTS)?,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct StencilRun<'a> {
    case: &'a StencilCase,
    lib: &'a Library,
    dw: DeviceBuffer<f32>,
    host: Vec<f32>,
    sets: Vec<(DeviceBuffer<f32>, DeviceBuffer<f32>)>,
    seed: u64,
}

impl Prepared for StencilRun<'_> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (x, y) = &mut self.sets[k];
        let n = self.case.n as u32;
        self.lib
            .kernels()
            .stencil3x3
            .launch(stream, x, &self.dw, n, n, y)
    }

    fn verify(&mut self) -> Result<(), String> {
        let n = self.case.n;
        let at = |r: isize, c: isize| {
            let r = r.clamp(0, n as isize - 1) as usize;
            let c = c.clamp(0, n as isize - 1) as usize;
            self.host[r * n + c] as f64
        };
        for r in verify::sample_rows(n, CHECK_ROWS, self.seed) {
            let got = runtime::download(&self.sets[0].1[r * n..(r + 1) * n])
                .map_err(|e| e.to_string())?;
            for (c, &g) in got.iter().enumerate() {
                let mut want = 0.0;
                for di in 0..3isize {
                    for dj in 0..3isize {
                        want += WEIGHTS[(3 * di + dj) as usize] as f64
                            * at(r as isize + di - 1, c as isize + dj - 1);
                    }
                }
                let g = g as f64;
                if g.is_nan() || (g - want).abs() > 1e-5 * (1.0 + want.abs()) {
                    return Err(format!("y[{r}, {c}] = {g} but the reference is {want}"));
                }
            }
        }
        Ok(())
    }
}
