//! ResNet-18 inference from gpukit's own kernels: weights from a safetensors file (torchvision's
//! names; `benches/resnet18_torch.py weights` writes one), images from PNG/JPEG files (resized so
//! the shorter side is 256, centre-cropped to 224) or random, top-5 classes per image; with
//! `--compare` the logits against torch's (`benches/resnet18_torch.py reference`), with
//! `--layers` every block's output against torch's, with `--bench` latency and throughput.
//!
//! Run: `cargo run --release -p gpukit-bench --bin resnet18 -- --weights W.safetensors [IMAGES..]`
use clap::{Parser, ValueEnum};
use gpukit::Library;
use gpukit::ops::{ConvElem, ConvPipeline, ConvTile};
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{
    self, DeviceBuffer, DeviceSlice, Gpu, Graph, PinnedBuffer, Stream, copy_to_device_async,
    copy_to_host_async, wait_event,
};
use gpukit_bench::resnet::{
    self, CLASSES, Forward, Planning, ResNet18, STEPS, rel_err, top_k, weights,
};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Side of the network's input images.
const SIZE: usize = 224;
const IMAGE_BYTES: usize = SIZE * SIZE * 3;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Dtype {
    F16,
    Bf16,
    /// f32 storage; convolutions as 3xTF32 on the tensor cores (f32-class accuracy).
    F32,
}

/// Tile of the 64-out-channel convolutions (stem, layer 1).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Tile64 {
    /// `ConvPlan::choose`'s (`W64Resident` for the stem, `C64` for layer 1).
    Auto,
    /// 128 × 64 with 32 × 32 warp tiles, the chosen pipeline.
    C64,
    /// 128 × 64 with 64 × 32 warp tiles, three blocks an SM, shallow pipeline (16-bit only).
    W64,
    /// `C64` with the weights resident in shared memory and persistent blocks (the chosen
    /// pipeline; the deep one keeps a 2-stage ring).
    C64r,
    /// `W64` with the weights resident and persistent blocks.
    W64r,
}

impl Tile64 {
    fn tile(self) -> Option<ConvTile> {
        match self {
            Tile64::Auto => None,
            Tile64::C64 => Some(ConvTile::C64),
            Tile64::W64 => Some(ConvTile::W64),
            Tile64::C64r => Some(ConvTile::C64Resident),
            Tile64::W64r => Some(ConvTile::W64Resident),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Pipeline {
    /// 32-deep K slices, 4 stages.
    Shallow,
    /// 64-deep K slices, 3 stages.
    Deep,
}

#[derive(Parser, Debug)]
#[command(
    about = "ResNet-18 inference from gpukit's kernels: top-5, comparison with torch, timings"
)]
struct Args {
    /// Weights (safetensors with torchvision's resnet18 names and shapes).
    #[arg(long)]
    weights: PathBuf,
    /// Images per forward.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Storage type of weights and activations (f32 arithmetic inside).
    #[arg(long, value_enum, default_value = "f16")]
    dtype: Dtype,
    /// PNG or JPEG files to classify.
    images: Vec<PathBuf>,
    /// Classify this many seeded random images instead (default: one batch).
    #[arg(long)]
    random: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Class names, one per line, to print beside the indices.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// A reference file from `benches/resnet18_torch.py reference`: classify its images and
    /// compare the logits with torch's.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// With --compare: every block's output against torch's, on the reference's first images.
    #[arg(long)]
    layers: bool,
    /// Time the forward: CUDA-graph replay, host wall per batch, pipelined throughput, layers.
    #[arg(long)]
    bench: bool,
    /// Timed repetitions for --bench.
    #[arg(long, default_value_t = 200)]
    iters: usize,
    #[arg(long, value_enum, default_value = "deep")]
    pipeline: Pipeline,
    #[arg(long, value_enum, default_value = "auto")]
    tile64: Tile64,
    /// The stem's tile (`auto`: as --tile64).
    #[arg(long, value_enum, default_value = "auto")]
    stem_tile: Tile64,
    /// Print the top-5 of at most this many images.
    #[arg(long, default_value_t = 8)]
    show: usize,
    #[arg(long, default_value_t = 0)]
    device: u32,
}

/// Failures with their exit status: 1 a comparison failed, 2 bad input, 3 no usable GPU.
enum Fail {
    Compare(String),
    Input(String),
    Gpu(runtime::Error),
}

impl From<runtime::Error> for Fail {
    fn from(e: runtime::Error) -> Fail {
        Fail::Gpu(e)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let r = match args.dtype {
        Dtype::F16 => run::<f16>(&args),
        Dtype::Bf16 => run::<bf16>(&args),
        Dtype::F32 => run::<f32>(&args),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Compare(m)) => {
            eprintln!("comparison FAILED: {m}");
            ExitCode::from(1)
        }
        Err(Fail::Input(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Fail::Gpu(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

/// A reference file's tensors as raw bytes with dtype and shape.
struct Reference {
    tensors: BTreeMap<String, (safetensors::Dtype, Vec<usize>, Vec<u8>)>,
}

impl Reference {
    fn load(p: &Path) -> Result<Reference, Fail> {
        let bytes = std::fs::read(p).map_err(|e| Fail::Input(format!("{}: {e}", p.display())))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| Fail::Input(format!("{}: {e}", p.display())))?;
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, (t.dtype(), t.shape().to_vec(), t.data().to_vec())))
            .collect();
        Ok(Reference { tensors })
    }

    fn f32s(&self, name: &str) -> Option<(Vec<usize>, Vec<f32>)> {
        let (dt, shape, data) = self.tensors.get(name)?;
        if *dt != safetensors::Dtype::F32 {
            return None;
        }
        let v = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Some((shape.clone(), v))
    }

    fn images(&self) -> Result<(usize, Vec<u8>), Fail> {
        match self.tensors.get("images") {
            Some((safetensors::Dtype::U8, shape, data))
                if shape.len() == 4 && shape[1..] == [SIZE, SIZE, 3] =>
            {
                Ok((shape[0], data.clone()))
            }
            _ => Err(Fail::Input(
                "reference has no u8 tensor `images` of shape [n, 224, 224, 3]".into(),
            )),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Everything that lives on the GPU for one run: the network, the planned forward, two input
/// slots (so that an upload overlaps the previous forward) with their pinned host buffers,
/// pinned logits, streams.
struct Session<T: ConvElem> {
    gpu: Gpu,
    lib: Library,
    net: ResNet18<T>,
    fwd: Forward<T>,
    inputs: [DeviceBuffer<u8>; 2],
    host_in: [PinnedBuffer<u8>; 2],
    host_out: [PinnedBuffer<f32>; 2],
    compute: Stream,
    copy: Stream,
}

fn run<T: ConvElem>(args: &Args) -> Result<(), Fail> {
    if args.batch == 0 {
        return Err(Fail::Input("--batch must be at least 1".into()));
    }
    let t = weights::load(&args.weights).map_err(|e| Fail::Input(e.to_string()))?;
    let gpu = Gpu::new(args.device)?;
    let lib = Library::load(&gpu)?;
    let net = ResNet18::<T>::upload(&gpu, &t)?;
    let pipeline = match args.pipeline {
        Pipeline::Shallow => ConvPipeline::Shallow,
        Pipeline::Deep => ConvPipeline::Deep,
    };
    let planning = Planning {
        pipeline,
        tile64: args.tile64.tile(),
        stem: args.stem_tile.tile(),
    };
    let fwd = Forward::new(&gpu, &net, args.batch, SIZE, planning)?;
    let bytes = fwd.input_len();
    let z = || DeviceBuffer::<u8>::filled_bytes(gpu.context(), bytes, 0);
    let pin_in = || PinnedBuffer::<u8>::filled(&gpu, bytes, 0);
    let pin_out = || PinnedBuffer::<f32>::filled(&gpu, args.batch * CLASSES, 0.0);
    let mut s = Session {
        inputs: [z()?, z()?],
        host_in: [pin_in()?, pin_in()?],
        host_out: [pin_out()?, pin_out()?],
        compute: gpu.stream()?,
        copy: gpu.stream()?,
        gpu,
        lib,
        net,
        fwd,
    };
    println!(
        "resnet18 {} batch {} on {} ({} SMs), conv pipeline {:?}, 64-channel tile {:?}, stem {:?}",
        T::NAME,
        args.batch,
        s.gpu.props().name,
        s.gpu.props().sm_count,
        args.pipeline,
        args.tile64,
        args.stem_tile
    );

    let reference = args.compare.as_deref().map(Reference::load).transpose()?;
    let (n, images) = if let Some(r) = &reference {
        r.images()?
    } else if !args.images.is_empty() {
        let mut v = Vec::new();
        for p in &args.images {
            v.extend(resnet::load_image(p, SIZE).map_err(Fail::Input)?);
        }
        (args.images.len(), v)
    } else {
        let n = args.random.unwrap_or(args.batch);
        let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
        (
            n,
            (0..n * IMAGE_BYTES).map(|_| rng.random::<u8>()).collect(),
        )
    };
    let labels: Option<Vec<String>> = match &args.labels {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| Fail::Input(format!("{}: {e}", p.display())))?
                .lines()
                .map(str::to_string)
                .collect(),
        ),
        None => None,
    };

    let logits = classify(&mut s, &images, n)?;
    for i in 0..n.min(args.show) {
        let top = top_k(&logits[i * CLASSES..(i + 1) * CLASSES], 5);
        let cells: Vec<String> = top
            .iter()
            .map(|(c, v)| match labels.as_ref().and_then(|l| l.get(*c)) {
                Some(name) => format!("{c} {name} ({v:.3})"),
                None => format!("{c} ({v:.3})"),
            })
            .collect();
        println!("image {i}: top-5 {}", cells.join(", "));
    }
    if n > args.show {
        println!("({} more images not shown)", n - args.show);
    }

    let mut verdict = Ok(());
    if let Some(r) = &reference {
        verdict = compare(&logits, n, r, T::NAME);
        if args.layers {
            layers(&mut s, &images, r)?;
        }
    }
    if args.bench {
        bench(&mut s, &images, n, args.iters)?;
    }
    verdict
}

/// Logits of all `n` images, one batch at a time through the CUDA graph (the last batch padded
/// with zero images whose logits are dropped).
fn classify<T: ConvElem>(s: &mut Session<T>, images: &[u8], n: usize) -> Result<Vec<f32>, Fail> {
    let bytes = s.fwd.input_len();
    // One eager forward first: kernels that need more than 48 KiB of shared memory get their
    // attribute raised at their first launch, which is better done outside a capture.
    s.fwd.run(&s.lib, &s.compute, &s.net, &s.inputs[0], None)?;
    s.compute.synchronize()?;
    // SAFETY: the graph uses the forward's buffers, the network's weights, input slot 0 and the
    // kernels, all owned by `s`, which outlives the graph (dropped at the end of this function).
    let graph = unsafe {
        Graph::capture(&s.compute, |st| {
            s.fwd.run(&s.lib, st, &s.net, &s.inputs[0], None)
        })
    }?;
    let mut out = Vec::with_capacity(n * CLASSES);
    for chunk in images.chunks(bytes) {
        let host = s.host_in[0].as_mut_slice();
        host[..chunk.len()].copy_from_slice(chunk);
        host[chunk.len()..].fill(0);
        copy_to_device_async(&s.compute, &mut s.inputs[0], &s.host_in[0])?;
        graph.launch(&s.compute)?;
        copy_to_host_async(&s.compute, &mut s.host_out[0], &s.fwd.logits)?;
        let got = s.host_out[0].as_slice();
        let imgs = chunk.len() / IMAGE_BYTES;
        out.extend_from_slice(&got[..imgs * CLASSES]);
    }
    debug_assert_eq!(out.len(), n * CLASSES);
    Ok(out)
}

/// Logits against torch's: per image max |Δ| / max |torch|, top-1 and top-5 agreement.
fn compare(logits: &[f32], n: usize, r: &Reference, dtype: &str) -> Result<(), Fail> {
    let mut verdict = Ok(());
    let rdts: &[&str] = if dtype == "f32" {
        &["f32"]
    } else {
        &[dtype, "f32"]
    };
    for &rdt in rdts {
        let Some((shape, want)) = r.f32s(&format!("logits.{rdt}")) else {
            println!("reference has no logits.{rdt}");
            continue;
        };
        if shape != [n, CLASSES] {
            return Err(Fail::Input(format!(
                "logits.{rdt} has shape {shape:?}, expected [{n}, {CLASSES}]"
            )));
        }
        let mut errs = Vec::new();
        let (mut top1, mut top5) = (0, 0usize);
        for i in 0..n {
            let (g, w) = (
                &logits[i * CLASSES..][..CLASSES],
                &want[i * CLASSES..][..CLASSES],
            );
            errs.push(rel_err(g, w));
            let (tg, tw) = (top_k(g, 5), top_k(w, 5));
            top1 += (tg[0].0 == tw[0].0) as usize;
            top5 += tg
                .iter()
                .filter(|(c, _)| tw.iter().any(|(d, _)| d == c))
                .count();
        }
        let max = errs.iter().copied().fold(0.0, f64::max);
        let med = median(errs);
        println!(
            "compare vs torch {rdt}: {n} images, logits max rel err {max:.2e} (median {med:.2e}), \
             top-1 agree {top1}/{n}, top-5 overlap {:.1}%",
            100.0 * top5 as f64 / (5 * n) as f64
        );
        // The criteria of issue 13: within 1e-2 (16-bit storage) or 1e-4 (f32) of torch and the
        // same top-1 on at least 99% of the images, against torch in the same dtype or in f32
        // (torch's f32 reference is computed without TF32).
        let tol = if dtype == "f32" { 1e-4 } else { 1e-2 };
        let ok = max <= tol && top1 * 100 >= 99 * n;
        if rdt == dtype && !ok {
            verdict = Err(Fail::Compare(format!(
                "vs torch {rdt}: max rel {max:.2e}, top-1 {top1}/{n}"
            )));
        } else if rdt == "f32" && ok {
            verdict = Ok(());
        }
    }
    verdict
}

/// Every step's output against the reference's `act.<dtype>.<step>` and `act.f32.<step>`.
fn layers<T: ConvElem>(s: &mut Session<T>, images: &[u8], r: &Reference) -> Result<(), Fail> {
    let first = format!("act.f32.{}", STEPS[0]);
    let Some((shape, _)) = r.f32s(&first) else {
        println!("reference has no per-layer activations ({first})");
        return Ok(());
    };
    let m = shape[0].min(s.fwd.batch);
    let bytes = s.fwd.input_len();
    let mut batch_in = vec![0u8; bytes];
    batch_in[..m * IMAGE_BYTES].copy_from_slice(&images[..m * IMAGE_BYTES]);
    s.inputs[0].copy_from_host(&batch_in)?;
    let mut got: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    {
        let mut keep = |name: &str, st: &Stream, out: &DeviceSlice<T>| -> runtime::Result<()> {
            st.synchronize()?;
            let v = runtime::download(out)?;
            got.insert(name.to_string(), v.iter().map(|x| x.to_f32()).collect());
            Ok(())
        };
        let (fwd, lib, net, inp) = (&mut s.fwd, &s.lib, &s.net, &s.inputs[0]);
        fwd.run(lib, &s.compute, net, inp, Some(&mut keep))?;
    }
    s.compute.synchronize()?;
    got.insert("fc".into(), runtime::download(&s.fwd.logits)?);
    println!("per-layer max |Δ| / max |torch| on {m} image(s):");
    // f32 runs have one reference column, the 16-bit ones their own dtype's and f32's.
    let refs: &[&str] = if T::NAME == "f32" {
        &["f32"]
    } else {
        &[T::NAME, "f32"]
    };
    let head: Vec<String> = refs
        .iter()
        .map(|r| format!("{:>12}", format!("vs {r}")))
        .collect();
    println!("{:<10} {}", "layer", head.join(" "));
    for step in STEPS.iter().filter(|s| **s != "input") {
        let mine = &got[*step];
        let cell = |rdt: &str| match r.f32s(&format!("act.{rdt}.{step}")) {
            Some((sh, want)) => {
                let per = want.len() / sh[0];
                format!("{:.2e}", rel_err(&mine[..m * per], &want[..m * per]))
            }
            None => "-".into(),
        };
        let cells: Vec<String> = refs.iter().map(|r| format!("{:>12}", cell(r))).collect();
        println!("{step:<10} {}", cells.join(" "));
    }
    Ok(())
}

/// Graph-replay latency (CUDA events), host wall per batch (fill pinned, upload, forward,
/// download, wait), pipelined throughput (two input slots, uploads on a second stream
/// overlapping the previous forward), eager forward, and per-layer times.
fn bench<T: ConvElem>(
    s: &mut Session<T>,
    images: &[u8],
    n: usize,
    iters: usize,
) -> Result<(), Fail> {
    let batch = s.fwd.batch;
    let iters = iters.max(1);
    // Fill both pinned inputs with real images (repeated when fewer than a batch).
    for h in s.host_in.iter_mut() {
        let dst = h.as_mut_slice();
        for (i, chunk) in dst.chunks_mut(IMAGE_BYTES).enumerate() {
            let j = i % n.max(1);
            chunk.copy_from_slice(&images[j * IMAGE_BYTES..(j + 1) * IMAGE_BYTES]);
        }
    }
    for slot in 0..2 {
        copy_to_device_async(&s.compute, &mut s.inputs[slot], &s.host_in[slot])?;
    }
    s.compute.synchronize()?;
    // SAFETY: both graphs use only buffers owned by `s` (forward, network, input slots) and its
    // kernels; `s` outlives them (they are dropped at the end of this function).
    let graphs = unsafe {
        [
            Graph::capture(&s.compute, |st| {
                s.fwd.run(&s.lib, st, &s.net, &s.inputs[0], None)
            })?,
            Graph::capture(&s.compute, |st| {
                s.fwd.run(&s.lib, st, &s.net, &s.inputs[1], None)
            })?,
        ]
    };
    let ev = |t| s.gpu.event(t);
    let (a, b) = (ev(true)?, ev(true)?);
    for _ in 0..20 {
        graphs[0].launch(&s.compute)?;
    }
    s.compute.synchronize()?;
    let mut replay = Vec::new();
    for _ in 0..iters {
        a.record(&s.compute)?;
        graphs[0].launch(&s.compute)?;
        b.record(&s.compute)?;
        b.synchronize()?;
        replay.push(b.elapsed_ms(&a)? as f64);
    }
    let replay = median(replay);

    // Eager forward (every kernel launched from the host).
    let mut eager = Vec::new();
    for i in 0..iters.min(50) + 5 {
        a.record(&s.compute)?;
        let (fwd, lib, net, inp) = (&mut s.fwd, &s.lib, &s.net, &s.inputs[0]);
        fwd.run(lib, &s.compute, net, inp, None)?;
        b.record(&s.compute)?;
        b.synchronize()?;
        if i >= 5 {
            eager.push(b.elapsed_ms(&a)? as f64);
        }
    }
    let eager = median(eager);

    // Host wall per batch, one at a time: fill pinned input, upload, replay, download, wait.
    let mut wall = Vec::new();
    let one = images[..IMAGE_BYTES.min(images.len())].to_vec();
    for _ in 0..iters {
        let t0 = Instant::now();
        let h = s.host_in[0].as_mut_slice();
        for chunk in h.chunks_mut(IMAGE_BYTES) {
            chunk[..one.len()].copy_from_slice(&one);
        }
        copy_to_device_async(&s.compute, &mut s.inputs[0], &s.host_in[0])?;
        graphs[0].launch(&s.compute)?;
        copy_to_host_async(&s.compute, &mut s.host_out[0], &s.fwd.logits)?;
        let _ = s.host_out[0].as_slice()[0];
        wall.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let wall = median(wall);

    // Pipelined: batch i uploads on `copy` into slot i % 2 while batch i - 1 computes.
    let done = [ev(false)?, ev(false)?];
    let uploaded = [ev(false)?, ev(false)?];
    for e in &done {
        e.record(&s.compute)?;
    }
    s.compute.synchronize()?;
    let t0 = Instant::now();
    for i in 0..iters {
        let slot = i % 2;
        wait_event(&s.copy, &done[slot])?;
        copy_to_device_async(&s.copy, &mut s.inputs[slot], &s.host_in[slot])?;
        uploaded[slot].record(&s.copy)?;
        wait_event(&s.compute, &uploaded[slot])?;
        graphs[slot].launch(&s.compute)?;
        done[slot].record(&s.compute)?;
        copy_to_host_async(&s.compute, &mut s.host_out[slot], &s.fwd.logits)?;
    }
    s.compute.synchronize()?;
    let pipelined = t0.elapsed().as_secs_f64() * 1e3 / iters as f64;

    // Per step: events between the steps of an eager forward.
    let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..10 {
        let mut marks: Vec<(String, runtime::Event)> = Vec::new();
        let e0 = s.gpu.event(true)?;
        e0.record(&s.compute)?;
        {
            let gpu = &s.gpu;
            let mut mark = |name: &str, st: &Stream, _: &DeviceSlice<T>| -> runtime::Result<()> {
                let e = gpu.event(true)?;
                e.record(st)?;
                marks.push((name.to_string(), e));
                Ok(())
            };
            let (fwd, lib, net, inp) = (&mut s.fwd, &s.lib, &s.net, &s.inputs[0]);
            fwd.run(lib, &s.compute, net, inp, Some(&mut mark))?;
        }
        let end = s.gpu.event(true)?;
        end.record(&s.compute)?;
        end.synchronize()?;
        let mut prev = &e0;
        for (name, e) in &marks {
            per.entry(name.clone())
                .or_default()
                .push(e.elapsed_ms(prev)? as f64);
            prev = e;
        }
        per.entry("fc".into())
            .or_default()
            .push(end.elapsed_ms(prev)? as f64);
    }
    println!("| ResNet-18 {} batch {batch} | ms | images/s |", T::NAME);
    println!("|---|---|---|");
    println!(
        "| CUDA graph replay (events, median of {iters}) | {replay:.4} | {:.0} |",
        batch as f64 / replay * 1e3
    );
    println!(
        "| eager forward (events) | {eager:.4} | {:.0} |",
        batch as f64 / eager * 1e3
    );
    println!(
        "| host wall per batch: fill pinned, upload, replay, download (median) | {wall:.4} | {:.0} |",
        batch as f64 / wall * 1e3
    );
    println!(
        "| pipelined, 2 streams, upload overlaps forward (mean per batch) | {pipelined:.4} | {:.0} |",
        batch as f64 / pipelined * 1e3
    );
    let order: Vec<&str> = STEPS.iter().copied().filter(|s| *s != "input").collect();
    let cells: Vec<String> = std::iter::once("input")
        .chain(order.iter().copied())
        .map(|st| {
            format!(
                "{st} {:.4}",
                per.get(st).map(|v| median(v.clone())).unwrap_or(f64::NAN)
            )
        })
        .collect();
    println!("per-step ms (eager, median of 10): {}", cells.join(", "));
    let plans: Vec<String> = s
        .fwd
        .layers()
        .iter()
        .map(|l| format!("{:?}x{}", l.plan.tile, l.plan.splits))
        .collect();
    println!("conv plans (tile x splits): {}", plans.join(" "));
    Ok(())
}
