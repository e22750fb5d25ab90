//! Matrix multiplication on the GPU: `C = alpha * A * B + beta * C`, row-major f32.
//!
//! Shapes are validated before anything is launched (`Err(InvalidArgument)` naming the shapes,
//! C untouched). Tile-aligned problems (m and n multiples of 128, k a multiple of 8, aligned
//! buffers) run the `sgemm_f32_tiled` kernel (127 registers: two blocks per SM); all others run
//! `sgemm_f32`, which handles any shape. `beta == 0` never reads C (NaNs in C do not propagate).
use crate::kernels::Kernels;
use crate::runtime::{DeviceSlice, Error, LaunchConfig, Result, Stream};

/// Block tile of the SGEMM kernels (rows of C, columns of C, K slice) and their block size.
pub const SGEMM_TILE: (usize, usize, usize) = (128, 128, 8);
const SGEMM_THREADS: u32 = 256;
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
        ptr % 16 == 0 && ld % 4 == 0 && (batch == 1 || stride % 4 == 0)
    };
    let tiled = m % bm == 0
        && n % bn == 0
        && kdim % bk == 0
        && aligned(a.as_device_ptr().as_raw(), kdim, stride_a)
        && aligned(b.as_device_ptr().as_raw(), n, stride_b);
    let (sa, sb, sc) = (stride_a as u64, stride_b as u64, stride_c as u64);
    if tiled {
        k.sgemm_f32_tiled
            .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c)
    } else {
        k.sgemm_f32
            .launch_with(s, &cfg, a, b, m32, n32, k32, alpha, beta, sa, sb, sc, c)
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
}
