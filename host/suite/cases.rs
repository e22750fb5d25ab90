//! The suite's cases. Add a kernel by pushing a case onto the list in [`all`].
use super::case::{Case, Ctx, Dtype, Prepared, Work};
use super::elementwise::Elementwise;
use super::{Sizes, data, verify};
use crate::runtime::{self, DeviceBuffer, Stream};

/// Every case at `sizes`, in table order. The names (or [`Case::cupy_op`]) and sizes must match
/// the ops of `benches/cupy_baseline.py` for the CuPy column to be filled.
pub fn all(sizes: &Sizes) -> Vec<Box<dyn Case>> {
    let n = sizes.vector;
    vec![
        Box::new(CopyCase { n }),
        Box::new(
            Elementwise::<f32>::new("vector_add", n, 2)
                .launch(|k, s, ins, out| k.vector_add.launch(s, ins[0], ins[1], out))
                .reference(|ins, i| (ins[0][i] + ins[1][i]) as f64)
                .tol(0.0),
        ),
        Box::new(
            Elementwise::<f32>::new("saxpy", n, 1)
                .in_place()
                .launch(|k, s, ins, y| k.saxpy.launch(s, SAXPY_ALPHA, ins[0], y))
                .reference(|ins, i| SAXPY_ALPHA.mul_add(ins[0][i], ins[1][i]) as f64)
                .tol(0.0),
        ),
    ]
}

/// The `alpha` of saxpy and axpy (the CuPy script uses the same).
pub const SAXPY_ALPHA: f32 = 1.5;

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
    use crate::suite::size_label;
    use std::collections::HashSet;

    /// `(op, size, dtype)` of every op the CuPy script plans at the given flags, from its
    /// `--list` mode (no CuPy or GPU needed), or `None` when there is no `python3`.
    fn cupy_plan(args: &[&str]) -> Option<HashSet<(String, String, String)>> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/cupy_baseline.py");
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
                seen.insert((c.name().to_string(), c.dtype())),
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
}
