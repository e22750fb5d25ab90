//! Matrix multiplication on the GPU: `C = alpha * A * B + beta * C`, row-major: f32 on the CUDA
//! cores ([`sgemm`]), and f16 / bf16 inputs with f32 accumulation and an f32 C on the tensor
//! cores ([`gemm_f16`], [`gemm_bf16`] and their strided batched versions).
//!
//! Shapes are validated before anything is launched (`Err(InvalidArgument)` naming the shapes,
//! C untouched). Tile-aligned problems (m and n multiples of 128, k a multiple of 8, aligned
//! buffers) run the `sgemm_f32_tiled` kernel (127 registers: two blocks per SM); all others run
//! `sgemm_f32`, which handles any shape. `beta == 0` never reads C (NaNs in C do not propagate).
use crate::kernels::Kernels;
use crate::runtime::half::{bf16, f16};
use crate::runtime::{DeviceSlice, Error, LaunchConfig, Result, Stream};

/// Block tile of the SGEMM kernels (rows of C, columns of C, K slice) and their block size.
pub const SGEMM_TILE: (usize, usize, usize) = (128, 128, 8);
const SGEMM_THREADS: u32 = 256;
/// Block tile of the tensor-core kernels `gemm_f16_f32` / `gemm_bf16_f32`
/// (gpu-kernels/src/tensor_gemm.rs: rows of C, columns of C, K slice), their block size and
/// their dynamic shared memory (4 stages of a 128×32 A tile and a 32×256 B tile, 2-byte
/// elements).
pub const TENSOR_GEMM_TILE: (usize, usize, usize) = (128, 256, 32);
const TENSOR_GEMM_THREADS: u32 = 256;
const TENSOR_GEMM_SHARED_BYTES: u32 = 4 * (128 * 32 + 32 * 256) * 2;
/// Largest grid.y / grid.z of a launch (CUDA's limit).
const MAX_GRID_YZ: usize = 65_535;

fn invalid(op: &str, reason: String) -> Error {
    Error::InvalidArgument {
        op: op.to_string(),
        reason,
    }
}

/// `a * b` or an error naming what overflowed.
fn mul(op: &str, what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| invalid(op, format!("{what} = {a} * {b} overflows usize")))
}

/// The shape checks of a single GEMM: `a_len == m * kdim`, `b_len == kdim * n`,
/// `c_len == m * n`, or an error naming the shapes.
fn check_single(
    op: &str,
    m: usize,
    n: usize,
    kdim: usize,
    a_len: usize,
    b_len: usize,
    c_len: usize,
) -> Result<()> {
    let (ma, mb, mc) = (
        mul(op, "m * k", m, kdim)?,
        mul(op, "k * n", kdim, n)?,
        mul(op, "m * n", m, n)?,
    );
    let shapes = format!("m={m} n={n} k={kdim}");
    for (name, len, want, dims) in [
        ("A", a_len, ma, format!("{m}×{kdim}")),
        ("B", b_len, mb, format!("{kdim}×{n}")),
        ("C", c_len, mc, format!("{m}×{n}")),
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

/// The shape checks of a strided batched GEMM (`(len, stride)` of A, B and C): at most
/// [`MAX_GRID_YZ`] matrices, non-overlapping outputs, every buffer long enough for its last
/// matrix.
#[allow(clippy::too_many_arguments)]
fn check_batched(
    op: &str,
    m: usize,
    n: usize,
    kdim: usize,
    batch: usize,
    a: (usize, usize),
    b: (usize, usize),
    c: (usize, usize),
) -> Result<()> {
    let shapes = format!("m={m} n={n} k={kdim} batch={batch}");
    if batch > MAX_GRID_YZ {
        return Err(invalid(
            op,
            format!("{shapes}: at most {MAX_GRID_YZ} matrices per batch"),
        ));
    }
    let (ma, mb, mc) = (
        mul(op, "m * k", m, kdim)?,
        mul(op, "k * n", kdim, n)?,
        mul(op, "m * n", m, n)?,
    );
    let stride_c = c.1;
    if batch > 1 && mc > 0 && stride_c < mc {
        return Err(invalid(
            op,
            format!("stride_c = {stride_c} < m * n = {mc} ({shapes}): the outputs would overlap"),
        ));
    }
    if batch > 0 {
        for (name, (len, stride), size) in [("A", a, ma), ("B", b, mb), ("C", c, mc)] {
            if size == 0 {
                continue;
            }
            let need = mul(op, "(batch - 1) * stride", batch - 1, stride)?
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
    }
    Ok(())
}

/// C (m×n) = alpha * A (m×k) * B (k×n) + beta * C, all row-major f32.
///
/// Requires `a.len() == m * kdim`, `b.len() == kdim * n`, `c.len() == m * n`; otherwise returns
/// `Err(InvalidArgument)` without launching. Any m, n, k works (k = 0 gives `C = beta * C`;
/// m = 0 or n = 0 does nothing). The call queues the work on `s` and returns.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    k: &Kernels,
    s: &Stream,
    m: usize,
    n: usize,
    kdim: usize,
    alpha: f32,
    a: &DeviceSlice<f32>,
    b: &DeviceSlice<f32>,
    beta: f32,
    c: &mut DeviceSlice<f32>,
) -> Result<()> {
    const OP: &str = "sgemm";
    check_single(OP, m, n, kdim, a.len(), b.len(), c.len())?;
    launch_sgemm(k, s, OP, m, n, kdim, 1, alpha, a, 0, b, 0, beta, c, 0)
}

/// `batch` independent products `C_i = alpha * A_i * B_i + beta * C_i` (strided batched GEMM):
/// matrix `i` of A starts at element `i * stride_a` (likewise B, C). Strides of A and B may be
/// anything, including 0 (one matrix shared by every product); `stride_c >= m * n` when
/// `batch > 1`, so the outputs do not overlap. Each buffer must hold its last matrix:
/// `a.len() >= (batch - 1) * stride_a + m * kdim` (likewise B and C).
#[allow(clippy::too_many_arguments)]
pub fn sgemm_strided_batched(
    k: &Kernels,
    s: &Stream,
    m: usize,
    n: usize,
    kdim: usize,
    batch: usize,
    alpha: f32,
    a: &DeviceSlice<f32>,
    stride_a: usize,
    b: &DeviceSlice<f32>,
    stride_b: usize,
    beta: f32,
    c: &mut DeviceSlice<f32>,
    stride_c: usize,
) -> Result<()> {
    const OP: &str = "sgemm_strided_batched";
    check_batched(
        OP,
        m,
        n,
        kdim,
        batch,
        (a.len(), stride_a),
        (b.len(), stride_b),
        (c.len(), stride_c),
    )?;
    launch_sgemm(
        k, s, OP, m, n, kdim, batch, alpha, a, stride_a, b, stride_b, beta, c, stride_c,
    )
}

/// Launches one of the two SGEMM kernels on validated shapes.
#[allow(clippy::too_many_arguments)]
fn launch_sgemm(
    k: &Kernels,
    s: &Stream,
    op: &str,
    m: usize,
    n: usize,
    kdim: usize,
    batch: usize,
    alpha: f32,
    a: &DeviceSlice<f32>,
    stride_a: usize,
    b: &DeviceSlice<f32>,
    stride_b: usize,
    beta: f32,
    c: &mut DeviceSlice<f32>,
    stride_c: usize,
) -> Result<()> {
    if m == 0 || n == 0 || batch == 0 {
        return Ok(());
    }
    let (bm, bn, bk) = SGEMM_TILE;
    let shapes = format!("m={m} n={n} k={kdim}");
    let to_u32 = |v: usize, what: &str| {
        u32::try_from(v)
            .map_err(|_| invalid(op, format!("{what} = {v} does not fit in u32 ({shapes})")))
    };
    let (m32, n32, k32) = (to_u32(m, "m")?, to_u32(n, "n")?, to_u32(kdim, "k")?);
    let grid_y = m.div_ceil(bm);
    if grid_y > MAX_GRID_YZ {
        return Err(invalid(
            op,
            format!("m = {m} needs {grid_y} row tiles, more than the grid limit {MAX_GRID_YZ}"),
        ));
    }
    let cfg = LaunchConfig {
        grid: (n.div_ceil(bn) as u32, grid_y as u32, batch as u32),
        block: (SGEMM_THREADS, 1, 1),
        shared_bytes: 0,
    };
    let aligned = |ptr: u64, ld: usize, stride: usize| {
        ptr.is_multiple_of(16) && ld.is_multiple_of(4) && (batch == 1 || stride.is_multiple_of(4))
    };
    let tiled = m.is_multiple_of(bm)
        && n.is_multiple_of(bn)
        && kdim.is_multiple_of(bk)
        && aligned(a.device_ptr(), kdim, stride_a)
        && aligned(b.device_ptr(), n, stride_b);
    let (sa, sb, sc) = (stride_a as u64, stride_b as u64, stride_c as u64);
    if tiled {
        k.sgemm_f32_tiled
            .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c)
    } else {
        k.sgemm_f32
            .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c)
    }
}

/// Which tensor-core kernel to launch.
#[derive(Clone, Copy)]
enum TensorInput<'a> {
    F16(&'a DeviceSlice<f16>, &'a DeviceSlice<f16>),
    Bf16(&'a DeviceSlice<bf16>, &'a DeviceSlice<bf16>),
}

/// C (m×n, f32) = alpha * A (m×k, f16) * B (k×n, f16) + beta * C, all row-major, on the tensor
/// cores with f32 accumulation (each product of two f16 values is exact in f32).
///
/// Requires `a.len() == m * kdim`, `b.len() == kdim * n`, `c.len() == m * n`; otherwise returns
/// `Err(InvalidArgument)` naming the shapes, without launching. Any m, n, k works (k = 0 gives
/// `C = beta * C`; m = 0 or n = 0 does nothing); k and n multiples of 8 with 16-byte aligned
/// buffers take the fast path (16-byte asynchronous copies), other shapes a slower
/// element-wise load path. `beta == 0` never reads C. The call queues the work on `s`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_f16(
    k: &Kernels,
    s: &Stream,
    m: usize,
    n: usize,
    kdim: usize,
    alpha: f32,
    a: &DeviceSlice<f16>,
    b: &DeviceSlice<f16>,
    beta: f32,
    c: &mut DeviceSlice<f32>,
) -> Result<()> {
    const OP: &str = "gemm_f16";
    check_single(OP, m, n, kdim, a.len(), b.len(), c.len())?;
    let input = TensorInput::F16(a, b);
    launch_tensor(k, s, OP, m, n, kdim, 1, alpha, input, (0, 0), beta, c, 0)
}

/// [`gemm_f16`] with bfloat16 A and B.
#[allow(clippy::too_many_arguments)]
pub fn gemm_bf16(
    k: &Kernels,
    s: &Stream,
    m: usize,
    n: usize,
    kdim: usize,
    alpha: f32,
    a: &DeviceSlice<bf16>,
    b: &DeviceSlice<bf16>,
    beta: f32,
    c: &mut DeviceSlice<f32>,
) -> Result<()> {
    const OP: &str = "gemm_bf16";
    check_single(OP, m, n, kdim, a.len(), b.len(), c.len())?;
    let input = TensorInput::Bf16(a, b);
    launch_tensor(k, s, OP, m, n, kdim, 1, alpha, input, (0, 0), beta, c, 0)
}

/// `batch` independent products `C_i = alpha * A_i * B_i + beta * C_i` with f16 inputs and f32
/// C (strided batched [`gemm_f16`]), with the strides and checks of [`sgemm_strided_batched`]:
/// matrix `i` of A starts at element `i * stride_a` (likewise B, C); A and B strides may be
/// anything (0 shares one matrix); `stride_c >= m * n` when `batch > 1`; each buffer must hold
/// its last matrix. Strides that are multiples of 8 keep the fast path.
#[allow(clippy::too_many_arguments)]
pub fn gemm_f16_strided_batched(
    k: &Kernels,
    s: &Stream,
    m: usize,
    n: usize,
    kdim: usize,
    batch: usize,
    alpha: f32,
    a: &DeviceSlice<f16>,
    stride_a: usize,
    b: &DeviceSlice<f16>,
    stride_b: usize,
    beta: f32,
    c: &mut DeviceSlice<f32>,
    stride_c: usize,
) -> Result<()> {
    const OP: &str = "gemm_f16_strided_batched";
    let lens = (
        (a.len(), stride_a),
        (b.len(), stride_b),
        (c.len(), stride_c),
    );
    check_batched(OP, m, n, kdim, batch, lens.0, lens.1, lens.2)?;
    let input = TensorInput::F16(a, b);
    let strides = (stride_a, stride_b);
    launch_tensor(
        k, s, OP, m, n, kdim, batch, alpha, input, strides, beta, c, stride_c,
    )
}

/// [`gemm_f16_strided_batched`] with bfloat16 A and B.
#[allow(clippy::too_many_arguments)]
pub fn gemm_bf16_strided_batched(
    k: &Kernels,
    s: &Stream,
    m: usize,
    n: usize,
    kdim: usize,
    batch: usize,
    alpha: f32,
    a: &DeviceSlice<bf16>,
    stride_a: usize,
    b: &DeviceSlice<bf16>,
    stride_b: usize,
    beta: f32,
    c: &mut DeviceSlice<f32>,
    stride_c: usize,
) -> Result<()> {
    const OP: &str = "gemm_bf16_strided_batched";
    let lens = (
        (a.len(), stride_a),
        (b.len(), stride_b),
        (c.len(), stride_c),
    );
    check_batched(OP, m, n, kdim, batch, lens.0, lens.1, lens.2)?;
    let input = TensorInput::Bf16(a, b);
    let strides = (stride_a, stride_b);
    launch_tensor(
        k, s, OP, m, n, kdim, batch, alpha, input, strides, beta, c, stride_c,
    )
}

/// The launch configuration of the tensor-core kernels for validated shapes (`None`: nothing
/// to do), or an error when the problem exceeds the grid or u32 limits.
fn tensor_config(
    op: &str,
    m: usize,
    n: usize,
    kdim: usize,
    batch: usize,
) -> Result<Option<LaunchConfig>> {
    if m == 0 || n == 0 || batch == 0 {
        return Ok(None);
    }
    let (bm, bn, _) = TENSOR_GEMM_TILE;
    let shapes = format!("m={m} n={n} k={kdim}");
    for (v, what) in [(m, "m"), (n, "n"), (kdim, "k")] {
        if u32::try_from(v).is_err() {
            return Err(invalid(
                op,
                format!("{what} = {v} does not fit in u32 ({shapes})"),
            ));
        }
    }
    let grid_y = m.div_ceil(bm);
    if grid_y > MAX_GRID_YZ {
        return Err(invalid(
            op,
            format!("m = {m} needs {grid_y} row tiles, more than the grid limit {MAX_GRID_YZ}"),
        ));
    }
    // The kernel numbers its blocks linearly over grid.x * grid.y in u32.
    let blocks = n.div_ceil(bn) * grid_y;
    if u32::try_from(blocks).is_err() {
        return Err(invalid(
            op,
            format!("{shapes} needs {blocks} tiles, more than u32"),
        ));
    }
    Ok(Some(LaunchConfig {
        grid: (n.div_ceil(bn) as u32, grid_y as u32, batch as u32),
        block: (TENSOR_GEMM_THREADS, 1, 1),
        shared_bytes: TENSOR_GEMM_SHARED_BYTES,
    }))
}

/// Launches a tensor-core GEMM kernel on validated shapes.
#[allow(clippy::too_many_arguments)]
fn launch_tensor(
    k: &Kernels,
    s: &Stream,
    op: &str,
    m: usize,
    n: usize,
    kdim: usize,
    batch: usize,
    alpha: f32,
    input: TensorInput<'_>,
    (stride_a, stride_b): (usize, usize),
    beta: f32,
    c: &mut DeviceSlice<f32>,
    stride_c: usize,
) -> Result<()> {
    let Some(cfg) = tensor_config(op, m, n, kdim, batch)? else {
        return Ok(());
    };
    let (m32, n32, k32) = (m as u32, n as u32, kdim as u32);
    let (sa, sb, sc) = (stride_a as u64, stride_b as u64, stride_c as u64);
    match input {
        TensorInput::F16(a, b) => k
            .gemm_f16_f32
            .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c),
        TensorInput::Bf16(a, b) => k
            .gemm_bf16_f32
            .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tile_constants_match_the_kernel() {
        // The kernels' tile (gpu-kernels/src/gemm.rs): 128×128 blocks, K slices of 8.
        assert_eq!(super::SGEMM_TILE, (128, 128, 8));
        assert_eq!(super::SGEMM_THREADS, 256);
    }

    #[test]
    fn tensor_constants_match_the_kernel() {
        // gpu-kernels/src/tensor_gemm.rs: 128×256 blocks, K slices of 32, 256 threads,
        // 4 stages of (128×32 + 32×256) 2-byte elements = 96 KiB.
        assert_eq!(super::TENSOR_GEMM_TILE, (128, 256, 32));
        assert_eq!(super::TENSOR_GEMM_THREADS, 256);
        assert_eq!(super::TENSOR_GEMM_SHARED_BYTES, 98_304);
    }

    #[test]
    fn tensor_launch_configuration() {
        use super::tensor_config;
        assert_eq!(tensor_config("t", 0, 5, 5, 1).unwrap(), None);
        assert_eq!(tensor_config("t", 5, 5, 5, 0).unwrap(), None);
        let c = tensor_config("t", 8192, 8192, 8192, 1).unwrap().unwrap();
        assert_eq!(
            (c.grid, c.block, c.shared_bytes),
            ((32, 64, 1), (256, 1, 1), 98_304)
        );
        let c = tensor_config("t", 129, 257, 0, 3).unwrap().unwrap();
        assert_eq!(c.grid, (2, 2, 3));
        let e = tensor_config("t", 65_536 * 128, 1, 1, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("grid limit"), "{e}");
        let e = tensor_config("t", 1, 1, 1 << 33, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("k = 8589934592"), "{e}");
    }
}
