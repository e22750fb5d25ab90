//! Matrix multiplication `C = alpha · A B + beta · C`, row-major, one product or a strided
//! batch of them: f32 on the CUDA cores (SGEMM), and f16 / bf16 inputs with f32 accumulation
//! and an f32 C on the tensor cores. One call for all: [`Library::gemm`] with a [`Gemm`]
//! describing the shapes, the batch and the epilogue; the input type picks the kernel.
//!
//! Shapes are validated before anything is launched (`Err(InvalidArgument)` naming the shapes,
//! C untouched). Any m, n, k works (k = 0 gives `C = beta · C`; m = 0 or n = 0 does nothing);
//! `beta == 0` never reads C (NaNs in C do not propagate). SGEMM runs the `sgemm_f32_tiled`
//! kernel on tile-aligned problems (m and n multiples of the block tile, k of its K slice,
//! 16-byte aligned buffers) and `sgemm_f32` on any other; the tensor-core kernels take a fast
//! path (16-byte asynchronous copies) when k and n are multiples of 8 and the buffers aligned,
//! an element-wise load path otherwise. Tile sizes are the kernels' own
//! ([`crate::kernels::consts::gemm`], [`crate::kernels::consts::tensor_gemm`]).
use super::{Epilogue, Library, invalid};
use crate::kernels::{Kernels, consts};
use crate::runtime::half::{bf16, f16};
use crate::runtime::{DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// Block tile of the SGEMM kernels: rows of C, columns of C, K slice.
const SGEMM_TILE: (usize, usize, usize) = (
    consts::gemm::SGEMM_BM,
    consts::gemm::SGEMM_BN,
    consts::gemm::SGEMM_BK,
);
const SGEMM_THREADS: u32 = consts::gemm::SGEMM_THREADS as u32;
/// Block tile of the tensor-core kernels: rows of C, columns of C, K slice.
const TENSOR_TILE: (usize, usize, usize) = (
    consts::tensor_gemm::TC_BM,
    consts::tensor_gemm::TC_BN,
    consts::tensor_gemm::TC_BK,
);
const TENSOR_THREADS: u32 = consts::tensor_gemm::TC_THREADS as u32;
const TENSOR_SHARED_BYTES: u32 = consts::tensor_gemm::TC_SHARED_BYTES as u32;
/// Largest grid.y / grid.z of a launch (CUDA's limit).
const MAX_GRID_YZ: usize = 65_535;

/// The shape of one product: C (m×n) = A (m×k) · B (k×n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmShape {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of B and C.
    pub n: usize,
    /// Columns of A, rows of B.
    pub k: usize,
}

/// `count` independent products: matrix `i` of A starts at element `i · stride_a` (likewise B
/// and C). Strides of A and B may be anything, 0 included (one matrix shared by every
/// product); `stride_c ≥ m · n` when `count > 1`, so the outputs do not overlap. Each buffer
/// must hold its last matrix: `a.len() ≥ (count - 1) · stride_a + m · k` (likewise B and C).
/// Strides that are multiples of 8 keep the tensor-core kernels' fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StridedBatch {
    /// Number of products (any number: batches above the grid's 65535 run in chunks).
    pub count: usize,
    /// Elements from one A to the next.
    pub stride_a: usize,
    /// Elements from one B to the next.
    pub stride_b: usize,
    /// Elements from one C to the next.
    pub stride_c: usize,
}

impl StridedBatch {
    /// `count` products whose matrices follow one another without gaps.
    pub fn packed(count: usize, shape: GemmShape) -> StridedBatch {
        let GemmShape { m, n, k } = shape;
        StridedBatch {
            count,
            stride_a: m.saturating_mul(k),
            stride_b: k.saturating_mul(n),
            stride_c: m.saturating_mul(n),
        }
    }
}

/// One GEMM call: the shape, an optional strided batch, and `alpha`, `beta`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    /// The shape of each product.
    pub shape: GemmShape,
    /// `None`: one product, with buffers of exactly `m·k`, `k·n` and `m·n` elements.
    pub batch: Option<StridedBatch>,
    /// `C = alpha · A B + beta · C`.
    pub epilogue: Epilogue,
}

impl Gemm {
    /// `C = A B` for A m×k, B k×n, C m×n.
    pub fn new(m: usize, n: usize, k: usize) -> Gemm {
        Gemm {
            shape: GemmShape { m, n, k },
            batch: None,
            epilogue: Epilogue::OVERWRITE,
        }
    }

    /// `C = alpha · A B + beta · C`.
    pub fn scaled(self, alpha: f32, beta: f32) -> Gemm {
        Gemm {
            epilogue: Epilogue::new(alpha, beta),
            ..self
        }
    }

    /// A strided batch of products instead of one.
    pub fn batched(self, batch: StridedBatch) -> Gemm {
        Gemm {
            batch: Some(batch),
            ..self
        }
    }
}

/// A validated GEMM, in the terms of the kernels' arguments.
#[derive(Clone, Copy, Debug)]
struct Plan {
    m: usize,
    n: usize,
    k: usize,
    count: usize,
    strides: (usize, usize, usize),
    alpha: f32,
    beta: f32,
}

/// Input types of [`Library::gemm`]: f32 (SGEMM), f16 and bf16 (tensor cores).
pub trait GemmInput: DeviceCopy {
    /// The operation's name in errors (`sgemm`, `gemm_f16`, `gemm_bf16`).
    const NAME: &'static str;
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        op: &str,
        plan: &Plan,
        a: &DeviceSlice<Self>,
        b: &DeviceSlice<Self>,
        c: &mut DeviceSlice<f32>,
    ) -> Result<()>;
}

/// `a * b` or an error naming what overflowed.
fn mul(op: &str, what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| invalid(op, format!("{what} = {a} * {b} overflows usize")))
}

/// The element counts of A, B and C.
fn sizes(op: &str, s: GemmShape) -> Result<(usize, usize, usize)> {
    Ok((
        mul(op, "m * k", s.m, s.k)?,
        mul(op, "k * n", s.k, s.n)?,
        mul(op, "m * n", s.m, s.n)?,
    ))
}

/// The shape checks of a single GEMM: `a_len == m * k`, `b_len == k * n`, `c_len == m * n`.
fn check_single(op: &str, s: GemmShape, lens: (usize, usize, usize)) -> Result<()> {
    let GemmShape { m, n, k } = s;
    let (ma, mb, mc) = sizes(op, s)?;
    let shapes = format!("m={m} n={n} k={k}");
    for (name, len, want, dims) in [
        ("A", lens.0, ma, format!("{m}×{k}")),
        ("B", lens.1, mb, format!("{k}×{n}")),
        ("C", lens.2, mc, format!("{m}×{n}")),
    ] {
        if len != want {
            return Err(invalid(
                op,
                format!("{name} has {len} elements, but {shapes} needs {dims} = {want}"),
            ));
        }
    }
    Ok(())
}

/// The shape checks of a strided batch: non-overlapping outputs, every buffer long enough for
/// its last matrix.
fn check_batched(
    op: &str,
    s: GemmShape,
    batch: StridedBatch,
    lens: (usize, usize, usize),
) -> Result<()> {
    let GemmShape { m, n, k } = s;
    let count = batch.count;
    let shapes = format!("m={m} n={n} k={k} batch={count}");
    let (ma, mb, mc) = sizes(op, s)?;
    let stride_c = batch.stride_c;
    if count > 1 && mc > 0 && stride_c < mc {
        return Err(invalid(
            op,
            format!("stride_c = {stride_c} < m * n = {mc} ({shapes}): the outputs would overlap"),
        ));
    }
    if count == 0 {
        return Ok(());
    }
    for (name, len, stride, size) in [
        ("A", lens.0, batch.stride_a, ma),
        ("B", lens.1, batch.stride_b, mb),
        ("C", lens.2, stride_c, mc),
    ] {
        if size == 0 {
            continue;
        }
        let need = mul(op, "(batch - 1) * stride", count - 1, stride)?
            .checked_add(size)
            .ok_or_else(|| invalid(op, format!("{name}'s extent overflows usize")))?;
        if len < need {
            return Err(invalid(
                op,
                format!(
                    "{name} has {len} elements, but {shapes} with stride {stride} needs at least {need}"
                ),
            ));
        }
    }
    Ok(())
}

/// `(m, n, k)` as the u32s the kernels take, and the rows of tiles of height `bm`, or an error.
fn grid_dims(op: &str, p: &Plan, bm: usize) -> Result<((u32, u32, u32), usize)> {
    let shapes = format!("m={} n={} k={}", p.m, p.n, p.k);
    let to_u32 = |v: usize, what: &str| {
        u32::try_from(v)
            .map_err(|_| invalid(op, format!("{what} = {v} does not fit in u32 ({shapes})")))
    };
    let dims = (to_u32(p.m, "m")?, to_u32(p.n, "n")?, to_u32(p.k, "k")?);
    let grid_y = p.m.div_ceil(bm);
    if grid_y > MAX_GRID_YZ {
        return Err(invalid(
            op,
            format!(
                "m = {} needs {grid_y} row tiles, more than the grid limit {MAX_GRID_YZ}",
                p.m
            ),
        ));
    }
    Ok((dims, grid_y))
}

impl GemmInput for f32 {
    const NAME: &'static str = "sgemm";

    #[allow(private_interfaces)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        op: &str,
        p: &Plan,
        a: &DeviceSlice<f32>,
        b: &DeviceSlice<f32>,
        c: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let (bm, bn, bk) = SGEMM_TILE;
        let ((m32, n32, k32), grid_y) = grid_dims(op, p, bm)?;
        let cfg = LaunchConfig {
            grid: (p.n.div_ceil(bn) as u32, grid_y as u32, p.count as u32),
            block: (SGEMM_THREADS, 1, 1),
            shared_bytes: 0,
        };
        let (sa, sb, sc) = p.strides;
        let aligned = |ptr: u64, ld: usize, stride: usize| {
            ptr.is_multiple_of(16)
                && ld.is_multiple_of(4)
                && (p.count == 1 || stride.is_multiple_of(4))
        };
        let tiled = p.m.is_multiple_of(bm)
            && p.n.is_multiple_of(bn)
            && p.k.is_multiple_of(bk)
            && aligned(a.device_ptr(), p.k, sa)
            && aligned(b.device_ptr(), p.n, sb);
        let (sa, sb, sc) = (sa as u64, sb as u64, sc as u64);
        let (alpha, beta) = (p.alpha, p.beta);
        if tiled {
            k.sgemm_f32_tiled
                .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c)
        } else {
            k.sgemm_f32
                .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c)
        }
    }
}

/// The launch configuration of the tensor-core kernels for a validated plan, or an error when
/// the problem exceeds the grid or u32 limits.
fn tensor_config(op: &str, p: &Plan) -> Result<LaunchConfig> {
    let (bm, bn, _) = TENSOR_TILE;
    let (_, grid_y) = grid_dims(op, p, bm)?;
    // The kernel numbers its blocks linearly over grid.x * grid.y in u32.
    let blocks = p.n.div_ceil(bn) * grid_y;
    if u32::try_from(blocks).is_err() {
        return Err(invalid(
            op,
            format!(
                "m={} n={} k={} needs {blocks} tiles, more than u32",
                p.m, p.n, p.k
            ),
        ));
    }
    Ok(LaunchConfig {
        grid: (p.n.div_ceil(bn) as u32, grid_y as u32, p.count as u32),
        block: (TENSOR_THREADS, 1, 1),
        shared_bytes: TENSOR_SHARED_BYTES,
    })
}

macro_rules! tensor_input {
    ($t:ty, $name:literal) => {
        impl GemmInput for $t {
            const NAME: &'static str = $name;

            #[allow(private_interfaces)]
            fn launch(
                k: &Kernels,
                s: &Stream,
                op: &str,
                p: &Plan,
                a: &DeviceSlice<$t>,
                b: &DeviceSlice<$t>,
                c: &mut DeviceSlice<f32>,
            ) -> Result<()> {
                let cfg = tensor_config(op, p)?;
                let (m, n, kd) = (p.m as u32, p.n as u32, p.k as u32);
                let (sa, sb, sc) = p.strides;
                let (sa, sb, sc) = (sa as u64, sb as u64, sc as u64);
                k.gemm_mma_f32
                    .launch_with(s, &cfg, a, b, m, n, kd, p.alpha, p.beta, sa, sb, sc, c)
            }
        }
    };
}
tensor_input!(f16, "gemm_f16");
tensor_input!(bf16, "gemm_bf16");

impl Library {
    /// `C = alpha · A B + beta · C` as [`Gemm`] describes it (one product or a strided batch),
    /// A and B of `T` (f32: SGEMM; f16, bf16: tensor cores with f32 accumulation), C f32, all
    /// row-major. Queues the work on `s` and returns.
    pub fn gemm<T: GemmInput>(
        &self,
        s: &Stream,
        g: &Gemm,
        a: &DeviceSlice<T>,
        b: &DeviceSlice<T>,
        c: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let GemmShape { m, n, k } = g.shape;
        let lens = (a.len(), b.len(), c.len());
        let (op, count, strides) = match g.batch {
            None => {
                check_single(T::NAME, g.shape, lens)?;
                (T::NAME.to_string(), 1, (0, 0, 0))
            }
            Some(batch) => {
                let op = format!("{}_strided_batched", T::NAME);
                check_batched(&op, g.shape, batch, lens)?;
                let strides = (batch.stride_a, batch.stride_b, batch.stride_c);
                (op, batch.count, strides)
            }
        };
        if m == 0 || n == 0 || count == 0 {
            return Ok(());
        }
        // The batch index is grid.z (at most 65535): larger batches run as consecutive launches
        // over chunks of matrices, each on views that start at its first matrix.
        let mut start = 0;
        while start < count {
            let chunk = (count - start).min(MAX_GRID_YZ);
            let plan = Plan {
                m,
                n,
                k,
                count: chunk,
                strides,
                alpha: g.epilogue.alpha,
                beta: g.epilogue.beta,
            };
            let (sa, sb, sc) = strides;
            T::launch(
                &self.kernels,
                s,
                &op,
                &plan,
                &a[start * sa..],
                &b[start * sb..],
                &mut c[start * sc..],
            )?;
            start += chunk;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(m: usize, n: usize, k: usize, count: usize) -> Plan {
        Plan {
            m,
            n,
            k,
            count,
            strides: (0, 0, 0),
            alpha: 1.0,
            beta: 0.0,
        }
    }

    #[test]
    fn tensor_launch_configuration() {
        let (bm, bn, _) = TENSOR_TILE;
        let c = tensor_config("t", &plan(8192, 8192, 8192, 1)).unwrap();
        assert_eq!(
            (c.grid, c.block, c.shared_bytes),
            (
                ((8192 / bn) as u32, (8192 / bm) as u32, 1),
                (TENSOR_THREADS, 1, 1),
                TENSOR_SHARED_BYTES
            )
        );
        let c = tensor_config("t", &plan(bm + 1, bn + 1, 0, 3)).unwrap();
        assert_eq!(c.grid, (2, 2, 3));
        let e = tensor_config("t", &plan(65_536 * bm, 1, 1, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("grid limit"), "{e}");
        let e = tensor_config("t", &plan(1, 1, 1 << 33, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("k = 8589934592"), "{e}");
    }

    #[test]
    fn shape_checks_name_the_shapes() {
        let s = GemmShape { m: 4, n: 5, k: 3 };
        assert!(check_single("g", s, (12, 15, 20)).is_ok());
        let e = check_single("g", s, (13, 15, 20)).unwrap_err().to_string();
        assert!(
            e.contains("A has 13 elements, but m=4 n=5 k=3 needs 4×3 = 12"),
            "{e}"
        );
        let e = check_single(
            "g",
            GemmShape {
                m: usize::MAX,
                n: 2,
                k: 2,
            },
            (0, 0, 0),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("overflows"), "{e}");
        let packed = StridedBatch::packed(3, s);
        assert_eq!(
            (packed.stride_a, packed.stride_b, packed.stride_c),
            (12, 15, 20)
        );
        assert!(check_batched("g", s, packed, (36, 45, 60)).is_ok());
        let e = check_batched("g", s, packed, (36, 45, 59))
            .unwrap_err()
            .to_string();
        assert!(e.contains("C has 59 elements"), "{e}");
        let overlap = StridedBatch {
            stride_c: 19,
            ..packed
        };
        let e = check_batched("g", s, overlap, (36, 45, 60))
            .unwrap_err()
            .to_string();
        assert!(e.contains("overlap"), "{e}");
        let shared_b = StridedBatch {
            stride_b: 0,
            ..packed
        };
        assert!(check_batched("g", s, shared_b, (36, 15, 60)).is_ok());
        let too_many = StridedBatch {
            count: 70_000,
            ..packed
        };
        assert!(check_batched("g", s, too_many, (0, 0, 0)).is_err());
    }
}
