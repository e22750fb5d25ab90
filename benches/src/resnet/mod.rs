//! ResNet-18 inference from gpukit's own kernels (`gpukit::conv`), NHWC, f16, bf16 or f32 storage
//! with f32 arithmetic: weights from a safetensors file ([`weights`]) with batch norm folded into the
//! convolutions, activations in buffers planned once per batch size ([`Forward`]), the whole
//! forward queued on one stream so that it can be captured in a CUDA graph and replayed, and a
//! CPU reference ([`mod@reference`]) for the tests.
pub mod reference;
pub mod weights;

use gpukit::Library;
use gpukit::ops::conv::{
    linear_shape, linear_workspace_len, maxpool3s2_shape, normalized_len, stem_pairs_shape,
    stem_pairs_weights,
};
use gpukit::ops::{
    ConvActivation, ConvElem, ConvInputs, ConvLayer, ConvPipeline, ConvPlan, ConvShape, ConvTile,
    Nhwc, Window,
};
use gpukit::runtime::{DeviceBuffer, DeviceSlice, Gpu, Result, Stream};
use std::collections::BTreeMap;
use weights::{ConvSpec, FoldedConv, Tensor};

/// ImageNet's per-channel mean and standard deviation (RGB), the input normalisation.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Input channels after padding RGB with zeros in the CPU reference (the GPU's stem runs on 4
/// channels a pixel, read as pixel pairs of 8: see [`stem_pairs_shape`]).
pub const PADDED_CHANNELS: usize = 8;
/// Channels a pixel of the GPU's normalised input.
const GPU_INPUT_CHANNELS: usize = 4;
/// Classes of the final layer.
pub const CLASSES: usize = 1000;

/// A convolution's folded weights on the GPU (the stem's rearranged for pixel pairs).
struct DeviceConv<T: ConvElem> {
    spec: ConvSpec,
    /// Input channels as the weights hold them (the stem: 4, read as pairs of 8).
    in_padded: usize,
    weights: DeviceBuffer<T>,
    bias: DeviceBuffer<f32>,
}

/// The network's parameters on one GPU.
pub struct ResNet18<T: ConvElem> {
    convs: Vec<DeviceConv<T>>,
    fc_weights: DeviceBuffer<T>,
    fc_bias: DeviceBuffer<f32>,
    norm: DeviceBuffer<f32>,
}

/// Every convolution folded, first one's input padded to [`PADDED_CHANNELS`].
pub fn fold_all(t: &BTreeMap<String, Tensor>) -> Vec<FoldedConv> {
    weights::resnet18_convs()
        .iter()
        .map(|s| {
            let pad = if s.in_channels % 8 == 0 {
                s.in_channels
            } else {
                PADDED_CHANNELS
            };
            weights::fold(t, s, pad)
        })
        .collect()
}

impl<T: ConvElem> ResNet18<T> {
    /// Folds and uploads checked weights (see [`weights::load`]).
    pub fn upload(gpu: &Gpu, t: &BTreeMap<String, Tensor>) -> Result<ResNet18<T>> {
        let ctx = gpu.context();
        let to_t = |v: &[f64]| v.iter().map(|&x| T::from_f32(x as f32)).collect::<Vec<T>>();
        let mut convs = Vec::new();
        for (j, s) in weights::resnet18_convs().iter().enumerate() {
            let f = if j == 0 {
                weights::fold(t, s, GPU_INPUT_CHANNELS)
            } else {
                weights::fold(t, s, s.in_channels)
            };
            let w = if j == 0 {
                stem_pairs_weights(&f.weights, s.out_channels, s.kernel, 0.0)
            } else {
                f.weights
            };
            convs.push(DeviceConv {
                weights: DeviceBuffer::from_slice(ctx, &to_t(&w))?,
                bias: DeviceBuffer::from_slice(ctx, &f.bias)?,
                in_padded: f.in_padded,
                spec: f.spec,
            });
        }
        let fc_b: Vec<f32> = t["fc.bias"].data.iter().map(|&x| x as f32).collect();
        let norm: Vec<f32> = MEAN.iter().chain(STD.iter()).copied().collect();
        Ok(ResNet18 {
            convs,
            fc_weights: DeviceBuffer::from_slice(ctx, &to_t(&t["fc.weight"].data))?,
            fc_bias: DeviceBuffer::from_slice(ctx, &fc_b)?,
            norm: DeviceBuffer::from_slice(ctx, &norm)?,
        })
    }
}

/// The steps of a forward whose outputs [`Forward::run`] reports, in order, with torch's
/// module names (`stem` = conv1 + bn1 + relu).
pub const STEPS: [&str; 13] = [
    "stem", "maxpool", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1",
    "layer4.0", "layer4.1", "avgpool", "fc", "input",
];

/// One basic block's convolutions (indices into the network's list).
struct Block {
    name: String,
    conv1: usize,
    conv2: usize,
    downsample: Option<usize>,
}

/// Activation buffers and per-layer plans for one batch size and image size, allocated once:
/// the normalised input (4 channels a pixel), the stem output, a ring of four buffers the basic blocks rotate
/// through (input, intermediate, downsampled shortcut, output), the pooled features, the
/// logits and the split-K workspace.
pub struct Forward<T: ConvElem> {
    pub batch: usize,
    pub size: usize,
    x4: DeviceBuffer<T>,
    stem: DeviceBuffer<T>,
    ring: [DeviceBuffer<T>; 4],
    pooled: DeviceBuffer<T>,
    pub logits: DeviceBuffer<f32>,
    ws: DeviceBuffer<f32>,
    /// Per convolution of the network: its layer (shape, plan, activation).
    layers: Vec<ConvLayer>,
    blocks: Vec<Block>,
    fc: (ConvShape, ConvPlan),
}

/// How [`Forward::new`] plans the convolutions: the K pipeline, and optionally a tile for the
/// 64-out-channel layers (the stem and layer 1) in place of [`ConvPlan::choose`]'s, where that
/// chose `C64` or `W64` without split-K (`W64` and the resident tiles run the shallow pipeline,
/// their only one), and optionally another for the stem alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Planning {
    pub pipeline: ConvPipeline,
    pub tile64: Option<ConvTile>,
    /// Overrides `tile64` for the stem.
    pub stem: Option<ConvTile>,
}

impl From<ConvPipeline> for Planning {
    fn from(pipeline: ConvPipeline) -> Planning {
        Planning {
            pipeline,
            tile64: None,
            stem: None,
        }
    }
}

/// Called after each step with the step's name and output (see [`STEPS`]).
pub type Trace<'a, T> = dyn FnMut(&str, &Stream, &DeviceSlice<T>) -> Result<()> + 'a;

impl<T: ConvElem> Forward<T> {
    /// Plans `batch` images of `size` × `size` (224 for ImageNet; any size ≥ 32 whose
    /// feature maps stay non-empty) on `gpu`, choosing tiles and split-K per layer.
    pub fn new(
        gpu: &Gpu,
        net: &ResNet18<T>,
        batch: usize,
        size: usize,
        planning: impl Into<Planning>,
    ) -> Result<Forward<T>> {
        let planning = planning.into();
        let pipeline = planning.pipeline;
        let sms = gpu.props().sm_count as usize;
        let ctx = gpu.context();
        let mut layers = Vec::new();
        let mut hw = std::collections::HashMap::new();
        // Input height of each convolution: the stem sees `size`, the rest follow the strides.
        let stem_out = (size + 2 * 3 - 7) / 2 + 1;
        let pool_out = (stem_out - 1) / 2 + 1;
        let mut cur = pool_out;
        let mut blocks = Vec::new();
        let mut i = 1;
        while i < net.convs.len() {
            let c1 = &net.convs[i].spec;
            let name = c1.conv.trim_end_matches(".conv1").to_string();
            let ds = (i + 2 < net.convs.len()
                && net.convs[i + 2].spec.conv == format!("{name}.downsample.0"))
            .then_some(i + 2);
            hw.insert(i, cur);
            let out = (cur + 2 * c1.pad - c1.kernel) / c1.stride + 1;
            hw.insert(i + 1, out);
            if let Some(d) = ds {
                hw.insert(d, cur);
            }
            blocks.push(Block {
                name,
                conv1: i,
                conv2: i + 1,
                downsample: ds,
            });
            cur = out;
            i += if ds.is_some() { 3 } else { 2 };
        }
        hw.insert(0, size);
        let mut ws_len = 0;
        let mut ring_len = 0;
        for (j, c) in net.convs.iter().enumerate() {
            let h = hw[&j];
            let win = Window::new(c.spec.kernel, c.spec.stride, c.spec.pad);
            let shape = if j == 0 {
                stem_pairs_shape(batch, h, h, c.spec.out_channels, c.spec.kernel)
            } else {
                ConvShape {
                    images: batch,
                    height: h,
                    width: h,
                    in_channels: c.in_padded,
                    out_channels: c.spec.out_channels,
                    rows: win,
                    cols: win,
                }
            };
            shape.validate(&c.spec.conv)?;
            let mut plan = ConvPlan::choose::<T>(&shape, sms, pipeline);
            let wanted = if j == 0 {
                planning.stem.or(planning.tile64)
            } else {
                planning.tile64
            };
            if let Some(tile) = wanted
                && matches!(
                    plan.tile,
                    ConvTile::C64 | ConvTile::W64 | ConvTile::C64Resident | ConvTile::W64Resident
                )
                && plan.splits == 1
            {
                plan.tile = tile;
                plan.pipeline = if matches!(tile, ConvTile::W64 | ConvTile::W64Resident) {
                    ConvPipeline::Shallow
                } else {
                    pipeline
                };
            }
            plan.check::<T>(&shape)?;
            ws_len = ws_len.max(plan.workspace_len(&shape));
            if j > 0 {
                ring_len = ring_len.max(shape.output_len()).max(shape.input_len());
            }
            // ReLU after every convolution except the shortcut's (the second convolution of a
            // block adds the shortcut first: the kernel applies the residual before the ReLU).
            let act = if c.spec.conv.ends_with("downsample.0") {
                ConvActivation::Identity
            } else {
                ConvActivation::Relu
            };
            layers.push(ConvLayer {
                shape,
                plan,
                activation: act,
            });
        }
        let fc_shape = linear_shape(batch, 512, CLASSES);
        let fc_plan = ConvPlan::choose::<T>(&fc_shape, sms, pipeline);
        ws_len = ws_len.max(linear_workspace_len(&fc_shape, &fc_plan));
        let z = |n: usize| DeviceBuffer::<T>::filled_bytes(ctx, n, 0);
        let stem_len = layers[0].shape.output_len();
        Ok(Forward {
            batch,
            size,
            x4: z(normalized_len(batch * size * size * 3, size))?,
            stem: z(stem_len)?,
            ring: [z(ring_len)?, z(ring_len)?, z(ring_len)?, z(ring_len)?],
            pooled: z(batch * 512)?,
            logits: DeviceBuffer::filled_bytes(ctx, batch * CLASSES, 0)?,
            ws: DeviceBuffer::filled_bytes(ctx, ws_len.max(1), 0)?,
            layers,
            blocks,
            fc: (fc_shape, fc_plan),
        })
    }

    /// Bytes of u8 RGB input one forward reads (batch × size × size × 3).
    pub fn input_len(&self) -> usize {
        self.batch * self.size * self.size * 3
    }

    /// The per-layer plans (for reports).
    pub fn layers(&self) -> &[ConvLayer] {
        &self.layers
    }

    /// Queues the whole forward on `s`: `input` (u8 RGB NHWC, [`Self::input_len`] bytes) →
    /// [`Self::logits`]. No allocation, no synchronisation: capturable in a CUDA graph.
    /// `trace`, when given, is called after each step (not while capturing).
    pub fn run(
        &mut self,
        lib: &Library,
        s: &Stream,
        net: &ResNet18<T>,
        input: &DeviceSlice<u8>,
        mut trace: Option<&mut Trace<'_, T>>,
    ) -> Result<()> {
        let mut tr = |name: &str, s: &Stream, out: &DeviceSlice<T>| match trace.as_mut() {
            Some(f) => f(name, s, out),
            None => Ok(()),
        };
        if input.len() != self.input_len() {
            return Err(gpukit::runtime::Error::InvalidArgument {
                op: "resnet18 forward".into(),
                reason: format!(
                    "input has {} bytes, {} images of {}x{} RGB need {}",
                    input.len(),
                    self.batch,
                    self.size,
                    self.size,
                    self.input_len()
                ),
            });
        }
        lib.normalize_u8(s, input, self.size, &net.norm, &mut self.x4)?;
        tr("input", s, &self.x4)?;
        let stem = &net.convs[0];
        lib.conv2d(
            s,
            &self.layers[0],
            &ConvInputs {
                x: &self.x4,
                weights: &stem.weights,
                bias: &stem.bias,
                residual: None,
            },
            &mut self.stem,
            &mut self.ws,
        )?;
        tr("stem", s, &self.stem)?;
        let sl = &self.layers[0].shape;
        let stem_shape = Nhwc {
            images: self.batch,
            height: sl.out_height(),
            width: sl.out_width(),
            channels: sl.out_channels,
        };
        let pooled_shape = maxpool3s2_shape(stem_shape);
        lib.maxpool3s2(
            s,
            stem_shape,
            &self.stem,
            &mut self.ring[0][0..pooled_shape.len()],
        )?;
        tr("maxpool", s, &self.ring[0][0..pooled_shape.len()])?;
        let mut x = 0usize;
        let mut last = pooled_shape;
        for b in &self.blocks {
            let (t, d, o) = ((x + 1) % 4, (x + 2) % 4, (x + 3) % 4);
            let [rx, rt, rd, ro] = self
                .ring
                .get_disjoint_mut([x, t, d, o])
                .expect("four distinct ring indices");
            let l1 = &self.layers[b.conv1];
            let l2 = &self.layers[b.conv2];
            let (c1, c2) = (&net.convs[b.conv1], &net.convs[b.conv2]);
            let xin = &rx[0..l1.shape.input_len()];
            lib.conv2d(
                s,
                l1,
                &ConvInputs {
                    x: xin,
                    weights: &c1.weights,
                    bias: &c1.bias,
                    residual: None,
                },
                &mut rt[0..l1.shape.output_len()],
                &mut self.ws,
            )?;
            let shortcut: &DeviceSlice<T> = match b.downsample {
                Some(di) => {
                    let ld = &self.layers[di];
                    let cd = &net.convs[di];
                    lib.conv2d(
                        s,
                        ld,
                        &ConvInputs {
                            x: xin,
                            weights: &cd.weights,
                            bias: &cd.bias,
                            residual: None,
                        },
                        &mut rd[0..ld.shape.output_len()],
                        &mut self.ws,
                    )?;
                    &rd[0..ld.shape.output_len()]
                }
                None => xin,
            };
            let n_out = l2.shape.output_len();
            lib.conv2d(
                s,
                l2,
                &ConvInputs {
                    x: &rt[0..l2.shape.input_len()],
                    weights: &c2.weights,
                    bias: &c2.bias,
                    residual: Some(shortcut),
                },
                &mut ro[0..n_out],
                &mut self.ws,
            )?;
            tr(&b.name, s, &ro[0..n_out])?;
            last = Nhwc {
                images: self.batch,
                height: l2.shape.out_height(),
                width: l2.shape.out_width(),
                channels: l2.shape.out_channels,
            };
            x = o;
        }
        lib.avgpool(s, last, &self.ring[x][0..last.len()], &mut self.pooled)?;
        tr("avgpool", s, &self.pooled)?;
        let (fs, fp) = &self.fc;
        lib.linear_f32(
            s,
            fs,
            fp,
            &mut self.pooled,
            &net.fc_weights,
            &net.fc_bias,
            &mut self.logits,
            &mut self.ws,
        )
    }
}

/// An image file (PNG or JPEG) as `size` × `size` RGB bytes (HWC), the usual ImageNet way:
/// resized so that its shorter side is `size` × 8/7 (256 for 224; triangle filter), then the
/// centre `size` × `size` cropped.
pub fn load_image(path: &std::path::Path, size: usize) -> std::result::Result<Vec<u8>, String> {
    let img = image::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    let short = (size * 8 / 7) as f64;
    let s = short / w.min(h) as f64;
    let side = size as u32;
    let (nw, nh) = (
        ((w as f64 * s).round() as u32).max(side),
        ((h as f64 * s).round() as u32).max(side),
    );
    let r = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle);
    let (x0, y0) = ((nw - side) / 2, (nh - side) / 2);
    Ok(image::imageops::crop_imm(&r, x0, y0, side, side)
        .to_image()
        .into_raw())
}

/// The `n` largest entries of `row` as (index, value), largest first.
pub fn top_k(row: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    idx.into_iter().take(n).map(|i| (i, row[i])).collect()
}

/// max |got − want| / max |want| over one row (0 when both are all zeros).
pub fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    let num = got
        .iter()
        .zip(want)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(0.0, f64::max);
    let den = want.iter().map(|b| (*b as f64).abs()).fold(0.0, f64::max);
    if den == 0.0 {
        if num == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        num / den
    }
}
