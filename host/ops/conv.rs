//! Convolutional-network operations of [`Library`] over the kernels of `gpu-kernels/src/conv.rs`,
//! for f16, bf16 and f32 storage (f32 arithmetic; f32 convolutions as 3xTF32 on the tensor
//! cores, about f32's accuracy): NHWC convolution as an implicit GEMM on the tensor cores with a fused bias / residual / ReLU
//! epilogue and optional split-K, the linear layer through the same kernel, 3×3 stride-2 max pooling, global average
//! pooling, and the u8 image → normalised input conversion. Shapes and lengths are checked here
//! (`Err` naming what is wrong, before anything is launched); tiles and split-K factors are
//! chosen by [`ConvPlan::choose`].
use super::Library;
use crate::kernels::consts::conv as kc;
use crate::kernels::{
    AvgpoolInstance, ConvReduceInstance, InputU8Instance, Kernels, Maxpool3s2Instance,
};
use crate::runtime::half::{bf16, f16};
use crate::runtime::{DeviceCopy, DeviceSlice, Error, LaunchConfig, Result, Stream};

/// Tile shapes of the convolution kernel (pixels × out-channels of one block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvTile {
    /// 128 × 128, 256 threads: large images × out-channels.
    Big,
    /// 128 × 64, 256 threads: the 64-channel layers.
    C64,
    /// 64 × 64, 128 threads: few pixels (small batches), usually with split-K.
    Small,
    /// 128 × 64, 128 threads (64 × 32 per warp, three blocks an SM): the 64-channel layers with
    /// fewer shared-memory reads per MMA than `C64`. Shallow pipeline and 16-bit types only.
    W64,
    /// `C64`'s tile with the weights resident in shared memory and persistent blocks (each
    /// block walks pixel tiles with one continuous copy pipeline): for short depths, where a
    /// tile's set-up, pipeline fill and epilogue cost as much as its K loop. 16-bit types, no
    /// split-K, and the block's weights (64 × depth) must fit in shared memory beside the
    /// pipeline (depth ≤ 3200 halves; the deep pipeline keeps a 2-stage ring).
    C64Resident,
    /// `W64`'s tile (4 warps of 64 × 32), weights resident and persistent blocks, as
    /// `C64Resident`, shallow pipeline only: the stem's default at large batches.
    W64Resident,
}

/// K pipelines of the convolution kernel. `Deep` is the default: on the H200 it ran ResNet-18
/// (f16) at batch 256 in 8.98 ms against 10.14 ms for `Shallow`, and the same at batch 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConvPipeline {
    /// K slices of 64 bytes per tile row (32 halves, 16 f32s), 4 shared-memory stages.
    Shallow,
    /// K slices of 128 bytes per tile row (64 halves, 32 f32s), 3 stages.
    #[default]
    Deep,
}

impl ConvPipeline {
    /// Elements of `elem_bytes` each in one K slice.
    fn depth(self, elem_bytes: usize) -> usize {
        match self {
            ConvPipeline::Shallow => kc::CONV_KB / elem_bytes,
            ConvPipeline::Deep => kc::CONV_DEEP_KB / elem_bytes,
        }
    }
}

impl ConvTile {
    /// (threads, pixels per block, out-channels per block).
    fn dims(self) -> (u32, usize, usize) {
        match self {
            ConvTile::Big => (
                kc::CONV_BIG_THREADS as u32,
                kc::CONV_BIG_BM,
                kc::CONV_BIG_BN,
            ),
            ConvTile::C64 | ConvTile::C64Resident => (
                kc::CONV_C64_THREADS as u32,
                kc::CONV_C64_BM,
                kc::CONV_C64_BN,
            ),
            ConvTile::Small => (
                kc::CONV_SMALL_THREADS as u32,
                kc::CONV_SMALL_BM,
                kc::CONV_SMALL_BN,
            ),
            ConvTile::W64 | ConvTile::W64Resident => (
                kc::CONV_W64_THREADS as u32,
                kc::CONV_W64_BM,
                kc::CONV_W64_BN,
            ),
        }
    }

    /// Whether the tile keeps the weights resident (persistent blocks).
    pub fn resident(self) -> bool {
        matches!(self, ConvTile::C64Resident | ConvTile::W64Resident)
    }

    /// Blocks of the tile that registers allow on one SM (its kernel's launch bounds).
    fn blocks_per_sm(self) -> usize {
        match self {
            ConvTile::W64 | ConvTile::W64Resident => 3,
            ConvTile::C64 | ConvTile::C64Resident => 2,
            ConvTile::Big | ConvTile::Small => 1,
        }
    }

    /// Dynamic shared memory of a resident tile for `shape` (A ring + the block's weight slab).
    fn resident_shared_bytes(
        self,
        shape: &ConvShape,
        pipeline: ConvPipeline,
        elem_bytes: usize,
    ) -> usize {
        let (_, bm, bn) = self.dims();
        let (kb, stages) = match pipeline {
            ConvPipeline::Shallow => (kc::CONV_KB, kc::CONV_STAGES),
            ConvPipeline::Deep => (kc::CONV_DEEP_KB, kc::CONV_RESIDENT_DEEP_STAGES),
        };
        let slices = shape.depth().div_ceil(kb / elem_bytes);
        (stages * bm + slices * bn) * kb
    }

    fn shared_bytes(self, pipeline: ConvPipeline) -> u32 {
        let bytes = match (self, pipeline) {
            (ConvTile::Big, ConvPipeline::Shallow) => kc::CONV_BIG_SHARED_BYTES,
            (ConvTile::C64, ConvPipeline::Shallow) => kc::CONV_C64_SHARED_BYTES,
            (ConvTile::Small, ConvPipeline::Shallow) => kc::CONV_SMALL_SHARED_BYTES,
            (ConvTile::Big, ConvPipeline::Deep) => kc::CONV_BIG_DEEP_SHARED_BYTES,
            (ConvTile::C64, ConvPipeline::Deep) => kc::CONV_C64_DEEP_SHARED_BYTES,
            (ConvTile::Small, ConvPipeline::Deep) => kc::CONV_SMALL_DEEP_SHARED_BYTES,
            // No deep instance (the launch says so); the shallow size keeps this total.
            (ConvTile::W64, _) => kc::CONV_W64_SHARED_BYTES,
            // Depends on the shape: see `resident_shared_bytes`.
            (ConvTile::C64Resident | ConvTile::W64Resident, _) => 0,
        };
        bytes as u32
    }
}

/// What the epilogue applies last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvActivation {
    Identity,
    Relu,
}

/// One axis of a convolution window: kernel extent, stride and zero padding before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub size: usize,
    pub stride: usize,
    /// Zeros before the first element (the window of output 0 starts at `-pad`).
    pub pad: usize,
    /// Zeros after the last element (they only decide how many outputs there are).
    pub pad_after: usize,
}

impl Window {
    /// The usual window: `pad` zeros on both sides.
    pub const fn new(size: usize, stride: usize, pad: usize) -> Window {
        Window {
            size,
            stride,
            pad,
            pad_after: pad,
        }
    }

    /// The padded extent of an input of `len`.
    fn padded(&self, len: usize) -> usize {
        len + self.pad + self.pad_after
    }

    /// Output extent over an input of `len` (the padded input must hold one window).
    pub fn out_len(&self, len: usize) -> usize {
        (self.padded(len) - self.size) / self.stride + 1
    }
}

/// Shape of one convolution over NHWC activations with zero padding; the window may differ
/// between rows and columns (`rows == cols` for the usual square kernels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub images: usize,
    pub height: usize,
    pub width: usize,
    /// Input channels; a multiple of 8 (pad with zero channels and zero weights otherwise).
    pub in_channels: usize,
    pub out_channels: usize,
    /// The window along the height.
    pub rows: Window,
    /// The window along the width.
    pub cols: Window,
}

impl ConvShape {
    pub fn out_height(&self) -> usize {
        self.rows.out_len(self.height)
    }

    pub fn out_width(&self) -> usize {
        self.cols.out_len(self.width)
    }

    /// Elements of the input (images × height × width × in-channels).
    pub fn input_len(&self) -> usize {
        self.images * self.height * self.width * self.in_channels
    }

    /// Elements of the weights (out-channels × kernel height × kernel width × in-channels).
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.depth()
    }

    /// Elements of the output (images × out-height × out-width × out-channels).
    pub fn output_len(&self) -> usize {
        self.pixels() * self.out_channels
    }

    /// Output pixels over all images: the rows of the implicit GEMM.
    pub fn pixels(&self) -> usize {
        self.images * self.out_height() * self.out_width()
    }

    /// Depth of the implicit GEMM (kernel height × kernel width × in-channels).
    pub fn depth(&self) -> usize {
        self.rows.size * self.cols.size * self.in_channels
    }

    /// Checks what the kernel relies on; the error names the offending field.
    pub fn validate(&self, op: &str) -> Result<()> {
        let bad = |reason: String| Err(invalid(op, reason));
        for (axis, win, len) in [
            ("rows", self.rows, self.height),
            ("cols", self.cols, self.width),
        ] {
            if win.size == 0 || win.stride == 0 {
                return bad(format!(
                    "{axis}: kernel ({}) and stride ({}) must be positive",
                    win.size, win.stride
                ));
            }
            if win.padded(len) < win.size {
                return bad(format!(
                    "{axis}: kernel {} larger than the padded input {len} (pad {} + {})",
                    win.size, win.pad, win.pad_after
                ));
            }
        }
        if self.in_channels == 0 || !self.in_channels.is_multiple_of(8) {
            return bad(format!(
                "in_channels = {} must be a positive multiple of 8 (pad with zero channels)",
                self.in_channels
            ));
        }
        let fields = [
            ("images", self.images),
            ("height", self.height),
            ("width", self.width),
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("kernel height", self.rows.size),
            ("kernel width", self.cols.size),
            ("stride y", self.rows.stride),
            ("stride x", self.cols.stride),
            ("pad y", self.rows.pad),
            ("pad x", self.cols.pad),
            ("pad y after", self.rows.pad_after),
            ("pad x after", self.cols.pad_after),
        ];
        for (name, v) in fields {
            if u32::try_from(v).is_err() {
                return bad(format!("{name} = {v} does not fit in 32 bits"));
            }
        }
        if self.depth() >= 1 << 30 {
            return bad(format!(
                "depth kernel height × width × in_channels = {} must be below 2^30",
                self.depth()
            ));
        }
        // The kernel keeps window coordinates in 32-bit signed registers.
        for (name, v) in [
            ("height", self.height),
            ("width", self.width),
            ("pad y", self.rows.pad),
            ("pad x", self.cols.pad),
            ("pad y after", self.rows.pad_after),
            ("pad x after", self.cols.pad_after),
        ] {
            if v >= 1 << 29 {
                return bad(format!("{name} = {v} must be below 2^29"));
            }
        }
        Ok(())
    }

    fn scalars(&self, act: ConvActivation, splits: usize) -> [u32; 15] {
        [
            self.images as u32,
            self.height as u32,
            self.width as u32,
            self.in_channels as u32,
            self.out_height() as u32,
            self.out_width() as u32,
            self.out_channels as u32,
            self.rows.size as u32,
            self.cols.size as u32,
            self.rows.stride as u32,
            self.cols.stride as u32,
            self.rows.pad as u32,
            self.cols.pad as u32,
            (act == ConvActivation::Relu) as u32,
            splits as u32,
        ]
    }
}

/// How one convolution runs: tile shape, K pipeline, split-K factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvPlan {
    pub tile: ConvTile,
    pub pipeline: ConvPipeline,
    /// K is cut into this many slices computed by separate blocks and added by a second kernel.
    pub splits: usize,
}

impl ConvPlan {
    /// The rule: the big tiles when they give at least two waves of blocks on `sms`
    /// multiprocessors, else the small tile, and split-K when even that leaves SMs idle (up to
    /// about two blocks per SM, at least 4 K slices per split, no empty split). 16-bit
    /// 64-channel layers with a short depth (≤ 256, the pixel-pair stem's 224) take
    /// `W64Resident` with its shallow pipeline whatever `pipeline` asks: on the H200 (batch 256)
    /// the stem ran in 0.84 ms there against 0.99 on `W64` and 1.07 on `C64`. Other 16-bit
    /// `C64` layers take `C64Resident` on the deep pipeline where its weight slab fits: the
    /// 576-deep layer-1 blocks ran in 0.790 ms against 0.820 on `C64` (deep); on the shallow
    /// pipeline the resident tile was slower (0.864) and they stay on `C64`.
    /// `T` is the storage type (an f32 K slice holds half the elements of a 16-bit one).
    pub fn choose<T: ConvElem>(shape: &ConvShape, sms: usize, pipeline: ConvPipeline) -> ConvPlan {
        let tiles_k = shape
            .depth()
            .div_ceil(pipeline.depth(std::mem::size_of::<T>()));
        let blocks = |t: ConvTile| {
            let (_, bm, bn) = t.dims();
            shape.pixels().div_ceil(bm) * shape.out_channels.div_ceil(bn)
        };
        // f32 has no `C64` instance (see the kernel): its 64-channel layers take `Small`.
        let mut tile = if shape.out_channels > 64 {
            ConvTile::Big
        } else if std::mem::size_of::<T>() == 4 {
            ConvTile::Small
        } else {
            ConvTile::C64
        };
        let mut splits = 1;
        if blocks(tile) < 2 * sms {
            tile = ConvTile::Small;
            let b = blocks(tile).max(1);
            if b < sms {
                splits = (2 * sms).div_ceil(b).min(tiles_k / 4).max(1);
                splits = tiles_k.div_ceil(tiles_k.div_ceil(splits));
            }
        }
        let pipeline = if tile == ConvTile::C64 && shape.depth() <= 256 {
            // The resident tile counts pixels in 32 bits.
            tile = if shape.pixels() < 1 << 31 {
                ConvTile::W64Resident
            } else {
                ConvTile::W64
            };
            ConvPipeline::Shallow
        } else {
            pipeline
        };
        let plan = ConvPlan {
            tile,
            pipeline,
            splits,
        };
        let resident = ConvPlan {
            tile: ConvTile::C64Resident,
            ..plan
        };
        if tile == ConvTile::C64
            && pipeline == ConvPipeline::Deep
            && resident.check::<T>(shape).is_ok()
        {
            resident
        } else {
            plan
        }
    }

    /// f32 workspace elements a convolution of `shape` with this plan needs (0 without
    /// split-K). The linear layer always needs `splits` × output.
    pub fn workspace_len(&self, shape: &ConvShape) -> usize {
        if self.splits > 1 {
            self.splits * shape.output_len()
        } else {
            0
        }
    }

    /// Checks that a resident tile can run `shape` with `T`: no split-K, a 16-bit type, the
    /// shallow pipeline for `W64Resident`, and the weight slab within shared memory. Other
    /// tiles always can.
    pub fn check<T: ConvElem>(&self, shape: &ConvShape) -> Result<()> {
        if !self.tile.resident() {
            return Ok(());
        }
        let op = "conv2d";
        let elem = std::mem::size_of::<T>();
        let shallow_only = self.tile == ConvTile::W64Resident;
        if elem != 2 || (shallow_only && self.pipeline != ConvPipeline::Shallow) || self.splits != 1
        {
            return Err(invalid(
                op,
                format!(
                    "tile {:?} runs 16-bit types without split-K{} (got {}, {:?}, {} splits)",
                    self.tile,
                    if shallow_only {
                        " on the shallow pipeline"
                    } else {
                        ""
                    },
                    T::NAME,
                    self.pipeline,
                    self.splits
                ),
            ));
        }
        let bytes = self.tile.resident_shared_bytes(shape, self.pipeline, elem);
        if bytes > RESIDENT_SHARED_MAX {
            return Err(invalid(
                op,
                format!(
                    "tile {:?} needs {bytes} bytes of shared memory for depth {} \
                     (at most {RESIDENT_SHARED_MAX}); use C64 or W64",
                    self.tile,
                    shape.depth()
                ),
            ));
        }
        if shape.pixels() >= 1 << 31 {
            return Err(invalid(
                op,
                format!(
                    "tile {:?} needs fewer than 2^31 output pixels (got {})",
                    self.tile,
                    shape.pixels()
                ),
            ));
        }
        Ok(())
    }

    /// The launch on a GPU of `sms` multiprocessors (resident tiles: one block per resident
    /// slot, at most one per pixel tile).
    fn config(&self, shape: &ConvShape, sms: usize, elem_bytes: usize) -> LaunchConfig {
        let (threads, bm, bn) = self.tile.dims();
        if self.tile.resident() {
            let bytes = self
                .tile
                .resident_shared_bytes(shape, self.pipeline, elem_bytes);
            // 228 KiB of shared memory an SM, 1 KiB of it reserved per block.
            let fit = (228 * 1024) / (bytes + 1024);
            let slots = sms.max(1) * self.tile.blocks_per_sm().min(fit).max(1);
            return LaunchConfig {
                grid: (
                    shape.pixels().div_ceil(bm).min(slots) as u32,
                    shape.out_channels.div_ceil(bn) as u32,
                    1,
                ),
                block: (threads, 1, 1),
                shared_bytes: bytes as u32,
            };
        }
        LaunchConfig {
            grid: (
                shape.pixels().div_ceil(bm) as u32,
                shape.out_channels.div_ceil(bn) as u32,
                self.splits as u32,
            ),
            block: (threads, 1, 1),
            shared_bytes: self.tile.shared_bytes(self.pipeline),
        }
    }
}

/// One convolution layer: shape, plan and activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvLayer {
    pub shape: ConvShape,
    pub plan: ConvPlan,
    pub activation: ConvActivation,
}

/// The read-only operands of a convolution.
pub struct ConvInputs<'a, T: DeviceCopy> {
    /// images × height × width × in-channels.
    pub x: &'a DeviceSlice<T>,
    /// out-channels × kernel × kernel × in-channels (batch norm already folded in).
    pub weights: &'a DeviceSlice<T>,
    /// out-channels, f32.
    pub bias: &'a DeviceSlice<f32>,
    /// Added before the activation; the output's shape.
    pub residual: Option<&'a DeviceSlice<T>>,
}

/// NHWC activation shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nhwc {
    pub images: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Nhwc {
    pub fn len(&self) -> usize {
        self.images * self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The most dynamic shared memory one block may have on sm_90 (227 KiB).
const RESIDENT_SHARED_MAX: usize = 227 * 1024;

fn invalid(op: &str, reason: String) -> Error {
    Error::InvalidArgument {
        op: op.to_string(),
        reason,
    }
}

fn check_len(op: &str, what: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(invalid(
            op,
            format!("{what} has {got} elements, the shape needs {want}"),
        ))
    }
}

fn u32_of(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| invalid(op, format!("{what} = {v} does not fit in 32 bits")))
}

/// Storage types of activations and weights: f16, bf16 and f32 (f32 arithmetic inside). The
/// element-wise kernels are generic (their instance traits are the supertraits); the
/// convolution's instances also depend on the pipeline, so each type says which to launch.
pub trait ConvElem:
    DeviceCopy
    + Copy
    + Send
    + Sync
    + 'static
    + ConvReduceInstance
    + Maxpool3s2Instance
    + AvgpoolInstance
    + InputU8Instance
{
    /// "f16", "bf16" or "f32".
    const NAME: &'static str;
    fn from_f32(x: f32) -> Self;
    fn to_f32(self) -> f32;

    /// Launches the convolution kernel for `tile`/`pipeline` (arguments already checked).
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn launch_conv(
        k: &Kernels,
        s: &Stream,
        cfg: &LaunchConfig,
        plan: &ConvPlan,
        inp: &ConvInputs<'_, Self>,
        scalars: [u32; 15],
        out: &mut DeviceSlice<Self>,
        ws: &mut DeviceSlice<f32>,
    ) -> Result<()>;
}

/// `ConvElem` for one storage type; `c64` says whether the `c64` tile has instances for it.
macro_rules! conv_elem {
    (@c64 true, $launch:expr) => {
        $launch
    };
    (@c64 false, $launch:expr) => {
        Err(invalid(
            "conv2d",
            "tile C64 has no f32 instance (it would spill under its register cap); use Small"
                .to_string(),
        ))
    };
    (@w64 true, $launch:expr) => {
        $launch
    };
    (@w64 false, $launch:expr) => {
        Err(invalid(
            "conv2d",
            "tile W64 has no f32 instance (it would spill under its register cap); use Small"
                .to_string(),
        ))
    };
    ($t:ty, $name:literal, $from:expr, $to:expr, c64 = $c64:tt) => {
        impl ConvElem for $t {
            const NAME: &'static str = $name;

            fn from_f32(x: f32) -> Self {
                $from(x)
            }

            fn to_f32(self) -> f32 {
                $to(self)
            }

            fn launch_conv(
                k: &Kernels,
                s: &Stream,
                cfg: &LaunchConfig,
                plan: &ConvPlan,
                inp: &ConvInputs<'_, Self>,
                v: [u32; 15],
                out: &mut DeviceSlice<Self>,
                ws: &mut DeviceSlice<f32>,
            ) -> Result<()> {
                let res = inp.residual.unwrap_or(&inp.x[0..0]);
                macro_rules! go {
                    ($kern:ident) => {
                        k.$kern.launch_with::<$t>(
                            s, cfg, inp.x, inp.weights, inp.bias, res, v[0], v[1], v[2], v[3],
                            v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13],
                            v[14], out, ws,
                        )
                    };
                    ($kern:ident, $kb:expr, $stages:expr) => {
                        k.$kern.launch_with::<$t, { $kb }, { $stages }>(
                            s,
                            cfg,
                            inp.x,
                            inp.weights,
                            inp.bias,
                            res,
                            v[0],
                            v[1],
                            v[2],
                            v[3],
                            v[4],
                            v[5],
                            v[6],
                            v[7],
                            v[8],
                            v[9],
                            v[10],
                            v[11],
                            v[12],
                            v[13],
                            v[14],
                            out,
                            ws,
                        )
                    };
                }
                use ConvPipeline::{Deep, Shallow};
                use kc::{CONV_DEEP_KB, CONV_DEEP_STAGES, CONV_KB, CONV_STAGES};
                match (plan.tile, plan.pipeline) {
                    (ConvTile::Big, Shallow) => go!(conv_big, CONV_KB, CONV_STAGES),
                    (ConvTile::C64, Shallow) => conv_elem!(@c64 $c64, go!(conv_c64, CONV_KB, CONV_STAGES)),
                    (ConvTile::Small, Shallow) => go!(conv_small, CONV_KB, CONV_STAGES),
                    (ConvTile::Big, Deep) => go!(conv_big, CONV_DEEP_KB, CONV_DEEP_STAGES),
                    (ConvTile::C64, Deep) => {
                        conv_elem!(@c64 $c64, go!(conv_c64, CONV_DEEP_KB, CONV_DEEP_STAGES))
                    }
                    (ConvTile::Small, Deep) => go!(conv_small, CONV_DEEP_KB, CONV_DEEP_STAGES),
                    (ConvTile::W64, Shallow) => {
                        conv_elem!(@w64 $c64, go!(conv_w64, CONV_KB, CONV_STAGES))
                    }
                    (ConvTile::W64, Deep) => Err(invalid(
                        "conv2d",
                        "tile W64 has only the shallow pipeline".to_string(),
                    )),
                    (ConvTile::C64Resident, Shallow) => {
                        conv_elem!(@c64 $c64, go!(conv_c64r, CONV_KB, CONV_STAGES))
                    }
                    (ConvTile::C64Resident, Deep) => conv_elem!(
                        @c64 $c64,
                        go!(conv_c64r, CONV_DEEP_KB, kc::CONV_RESIDENT_DEEP_STAGES)
                    ),
                    (ConvTile::W64Resident, _) => conv_elem!(@w64 $c64, go!(conv_w64r)),
                }
            }
        }
    };
}

conv_elem!(f16, "f16", f16::from_f32, f16::to_f32, c64 = true);
conv_elem!(bf16, "bf16", bf16::from_f32, bf16::to_f32, c64 = true);
conv_elem!(
    f32,
    "f32",
    std::convert::identity,
    std::convert::identity,
    c64 = false
);

/// The shape a linear layer `rows × in_features → rows × out_features` runs as: a 1×1
/// convolution over `rows` images of one pixel.
pub fn linear_shape(rows: usize, in_features: usize, out_features: usize) -> ConvShape {
    ConvShape {
        images: rows,
        height: 1,
        width: 1,
        in_channels: in_features,
        out_channels: out_features,
        rows: Window::new(1, 1, 0),
        cols: Window::new(1, 1, 0),
    }
}

/// f32 workspace a [`Library::linear_f32`] with `plan` needs: `splits` × rows × out_features.
pub fn linear_workspace_len(shape: &ConvShape, plan: &ConvPlan) -> usize {
    plan.splits * shape.output_len()
}

/// Output shape of [`Library::maxpool3s2`]: 3×3 window, stride 2, padding 1.
pub fn maxpool3s2_shape(x: Nhwc) -> Nhwc {
    Nhwc {
        images: x.images,
        height: (x.height - 1) / 2 + 1,
        width: (x.width - 1) / 2 + 1,
        channels: x.channels,
    }
}

/// Elements [`Library::normalize_u8`] writes for `bytes` of RGB rows of `width` pixels: 4
/// channels per pixel, rows padded to an even width.
pub fn normalized_len(bytes: usize, width: usize) -> usize {
    bytes / (3 * width.max(1)) * width.next_multiple_of(2) * 4
}

/// A convolution of `kernel` × `kernel`, stride 2, padding `pad`, over 3-channel images of
/// `height` × `width` held as [`Library::normalize_u8`] writes them (4 channels a pixel, rows
/// padded to even widths), run over pixel pairs: NHWC with ⌈width / 2⌉ columns of 8 channels
/// (pixel 2j's 4 channels, then pixel 2j + 1's), a `kernel` × ⌈(kernel + 1) / 2⌉ window with
/// strides (2, 1), column padding ⌈pad / 2⌉ before (so that the output has ⌈width / 2⌉ columns,
/// as the original, whatever is after). Pair tap `p`, half `q` is original column tap
/// `2p + q − (2·⌈pad / 2⌉ − pad)`; [`stem_pairs_weights`] rearranges the weights to match.
/// Needs an odd `kernel` with `pad = kernel / 2`, as ResNet's 7 × 7 / 2 stem has.
pub fn stem_pairs_shape(
    images: usize,
    height: usize,
    width: usize,
    out_channels: usize,
    kernel: usize,
) -> ConvShape {
    let pad = kernel / 2;
    let (taps, pad_cols) = ((kernel + 1).div_ceil(2), pad.div_ceil(2));
    ConvShape {
        images,
        height,
        width: width.div_ceil(2),
        in_channels: 8,
        out_channels,
        rows: Window::new(kernel, 2, pad),
        // ⌈width / 2⌉ outputs: pairs + pad_cols + after − taps + 1.
        cols: Window {
            size: taps,
            stride: 1,
            pad: pad_cols,
            pad_after: taps - 1 - pad_cols,
        },
    }
}

/// Weights `out × kernel × kernel × 4` (NHWC order, 4 input channels; an odd `kernel`) rearranged
/// for [`stem_pairs_shape`]: `out × kernel × ⌈(kernel + 1) / 2⌉ × 8`, zero where a pair tap falls
/// outside the original kernel.
pub fn stem_pairs_weights<T: Copy>(w: &[T], out: usize, kernel: usize, zero: T) -> Vec<T> {
    assert_eq!(w.len(), out * kernel * kernel * 4, "stem weights length");
    let pad = kernel / 2;
    let (taps, pad_cols) = ((kernel + 1).div_ceil(2), pad.div_ceil(2));
    let shift = 2 * pad_cols - pad;
    let mut r = vec![zero; out * kernel * taps * 8];
    for o in 0..out {
        for y in 0..kernel {
            for p in 0..taps {
                for q in 0..2 {
                    let Some(x) = (2 * p + q).checked_sub(shift).filter(|&x| x < kernel) else {
                        continue;
                    };
                    let src = ((o * kernel + y) * kernel + x) * 4;
                    let dst = ((o * kernel + y) * taps + p) * 8 + 4 * q;
                    r[dst..dst + 4].copy_from_slice(&w[src..src + 4]);
                }
            }
        }
    }
    r
}

impl Library {
    /// `out = act(conv(x, weights) + bias [+ residual])`, NHWC. `ws` must hold
    /// [`ConvPlan::workspace_len`] f32s (an empty slice when the plan has no split-K).
    pub fn conv2d<T: ConvElem>(
        &self,
        s: &Stream,
        layer: &ConvLayer,
        inp: &ConvInputs<'_, T>,
        out: &mut DeviceSlice<T>,
        ws: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let k = &self.kernels;
        let op = "conv2d";
        let sh = &layer.shape;
        sh.validate(op)?;
        check_len(op, "x", inp.x.len(), sh.input_len())?;
        check_len(op, "weights", inp.weights.len(), sh.weight_len())?;
        check_len(op, "bias", inp.bias.len(), sh.out_channels)?;
        check_len(op, "out", out.len(), sh.output_len())?;
        if let Some(r) = inp.residual {
            check_len(op, "residual", r.len(), sh.output_len())?;
        }
        let plan = &layer.plan;
        if plan.splits == 0 || u32::try_from(plan.splits).is_err() {
            return Err(invalid(
                op,
                format!("splits = {} out of range", plan.splits),
            ));
        }
        let need = plan.workspace_len(sh);
        if ws.len() < need {
            return Err(invalid(
                op,
                format!("workspace has {} f32s, split-K needs {need}", ws.len()),
            ));
        }
        u32_of(op, "pixel blocks", sh.pixels().div_ceil(plan.tile.dims().1))?;
        plan.check::<T>(sh)?;
        if sh.output_len() == 0 {
            return Ok(());
        }
        let sms = self.gpu.props().sm_count as usize;
        let cfg = plan.config(sh, sms, std::mem::size_of::<T>());
        let v = sh.scalars(layer.activation, plan.splits);
        if plan.splits == 1 {
            return T::launch_conv(k, s, &cfg, plan, inp, v, out, &mut ws[0..0]);
        }
        T::launch_conv(k, s, &cfg, plan, inp, v, &mut out[0..0], &mut ws[0..need])?;
        let res = inp.residual.unwrap_or(&inp.x[0..0]);
        k.conv_reduce.launch(
            s,
            &ws[0..need],
            inp.bias,
            res,
            sh.out_channels as u32,
            plan.splits as u32,
            v[13],
            out,
        )
    }

    /// `out = x · weightsᵀ + bias` with f32 output (logits): x rows × in, weights out × in
    /// (row-major, like torch's `Linear.weight`), through the convolution kernel (raw partial
    /// sums in `ws`, then the f32 finish). `in_features` must be a multiple of 8. `x` is borrowed
    /// mutably only to carve the empty 16-bit output view the kernel takes and leaves unused; it is
    /// not written.
    #[allow(clippy::too_many_arguments)]
    pub fn linear_f32<T: ConvElem>(
        &self,
        s: &Stream,
        shape: &ConvShape,
        plan: &ConvPlan,
        x: &mut DeviceSlice<T>,
        weights: &DeviceSlice<T>,
        bias: &DeviceSlice<f32>,
        out: &mut DeviceSlice<f32>,
        ws: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let k = &self.kernels;
        let op = "linear_f32";
        shape.validate(op)?;
        let one = Window::new(1, 1, 0);
        if shape.rows != one || shape.cols != one || shape.height != 1 || shape.width != 1 {
            return Err(invalid(op, "use linear_shape() for the shape".to_string()));
        }
        check_len(op, "x", x.len(), shape.input_len())?;
        check_len(op, "weights", weights.len(), shape.weight_len())?;
        check_len(op, "bias", bias.len(), shape.out_channels)?;
        check_len(op, "out", out.len(), shape.output_len())?;
        let need = linear_workspace_len(shape, plan);
        if plan.splits == 0 || ws.len() < need {
            return Err(invalid(
                op,
                format!(
                    "workspace has {} f32s, {} splits need {need}",
                    ws.len(),
                    plan.splits
                ),
            ));
        }
        if need == 0 {
            return Ok(());
        }
        plan.check::<T>(shape)?;
        let sms = self.gpu.props().sm_count as usize;
        let cfg = plan.config(shape, sms, std::mem::size_of::<T>());
        let v = shape.scalars(ConvActivation::Identity, plan.splits);
        let (unused_out, x) = x.split_at_mut(0);
        let inp = ConvInputs {
            x: &*x,
            weights,
            bias,
            residual: None,
        };
        T::launch_conv(k, s, &cfg, plan, &inp, v, unused_out, &mut ws[0..need])?;
        k.conv_reduce.launch(
            s,
            &ws[0..need],
            bias,
            &ws[0..0],
            shape.out_channels as u32,
            plan.splits as u32,
            0,
            out,
        )
    }

    /// 3×3 max pooling, stride 2, padding 1 (padding never wins), NHWC; channels a multiple of 8.
    pub fn maxpool3s2<T: ConvElem>(
        &self,
        s: &Stream,
        shape: Nhwc,
        x: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let k = &self.kernels;
        let op = "maxpool3s2";
        if !shape.channels.is_multiple_of(8) || shape.height == 0 || shape.width == 0 {
            return Err(invalid(
                op,
                format!(
                    "channels ({}) must be a multiple of 8 and height, width positive",
                    shape.channels
                ),
            ));
        }
        let o = maxpool3s2_shape(shape);
        check_len(op, "x", x.len(), shape.len())?;
        check_len(op, "out", out.len(), o.len())?;
        let d = [
            u32_of(op, "images", shape.images)?,
            u32_of(op, "height", shape.height)?,
            u32_of(op, "width", shape.width)?,
            u32_of(op, "channels", shape.channels)?,
            o.height as u32,
            o.width as u32,
        ];
        k.maxpool3s2
            .launch(s, x, d[0], d[1], d[2], d[3], d[4], d[5], out)
    }

    /// Global average pooling: images × h × w × c → images × c (means in f32), c a multiple of 8.
    pub fn avgpool<T: ConvElem>(
        &self,
        s: &Stream,
        shape: Nhwc,
        x: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let k = &self.kernels;
        let op = "avgpool";
        let hw = shape.height * shape.width;
        if !shape.channels.is_multiple_of(8) || hw == 0 {
            return Err(invalid(
                op,
                format!(
                    "channels ({}) must be a multiple of 8 and height, width positive",
                    shape.channels
                ),
            ));
        }
        check_len(op, "x", x.len(), shape.len())?;
        check_len(op, "out", out.len(), shape.images * shape.channels)?;
        let d = [
            u32_of(op, "images", shape.images)?,
            u32_of(op, "height × width", hw)?,
            u32_of(op, "channels", shape.channels)?,
        ];
        k.avgpool.launch(s, x, d[0], d[1], d[2], out)
    }

    /// u8 RGB pixels (NHWC, 3 channels, rows of `width` pixels) → `(v / 255 − mean) / std` per
    /// channel in 4 channels (the 4th zero), each row padded with a zero pixel to an even width:
    /// `out` holds [`normalized_len`] elements. Read as NHWC with half the columns and 8 channels
    /// it is the pixel-pair layout the stem convolution runs on ([`stem_pairs_shape`]). `norm` =
    /// the 3 means then the 3 standard deviations (6 f32s on the device).
    pub fn normalize_u8<T: ConvElem>(
        &self,
        s: &Stream,
        img: &DeviceSlice<u8>,
        width: usize,
        norm: &DeviceSlice<f32>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let k = &self.kernels;
        let op = "normalize_u8";
        if width == 0 || !img.len().is_multiple_of(3 * width) {
            return Err(invalid(
                op,
                format!(
                    "image bytes ({}) are not whole rows of {width} RGB pixels",
                    img.len()
                ),
            ));
        }
        check_len(op, "norm", norm.len(), 6)?;
        check_len(op, "out", out.len(), normalized_len(img.len(), width))?;
        let w = u32_of(op, "width", width)?;
        k.input_u8.launch(s, img, norm, w, out)
    }
}
