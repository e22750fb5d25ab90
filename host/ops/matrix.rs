//! Matrix ops on row-major f32 matrices: transpose and GEMV (`y = alpha · op(A) x + beta · y`,
//! op(A) = A or Aᵀ).
use super::{Epilogue, Library, dim_u32, invalid};
use crate::runtime::{DeviceBuffer, DeviceSlice, LaunchConfig, Result, Stream};

/// The shape of a row-major matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows.
    pub rows: usize,
    /// Columns (elements per row).
    pub cols: usize,
}

impl Shape {
    /// A `rows × cols` matrix.
    pub fn new(rows: usize, cols: usize) -> Shape {
        Shape { rows, cols }
    }

    /// The transposed shape (`cols × rows`).
    pub fn transposed(self) -> Shape {
        Shape::new(self.cols, self.rows)
    }

    /// `Err` unless a buffer of `len` elements holds exactly this matrix.
    pub(super) fn check(self, op: &str, name: &str, len: usize) -> Result<()> {
        match self.rows.checked_mul(self.cols) {
            Some(n) if n == len => Ok(()),
            _ => Err(invalid(
                op,
                format!(
                    "`{name}` has {len} elements but the shape is {} × {}",
                    self.rows, self.cols
                ),
            )),
        }
    }

    /// `(rows, cols)` as the u32s the kernels take.
    pub(super) fn dims_u32(self, op: &str) -> Result<(u32, u32)> {
        Ok((
            dim_u32(op, "rows", self.rows)?,
            dim_u32(op, "cols", self.cols)?,
        ))
    }
}

/// Which matrix a GEMV multiplies by: A or its transpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatOp {
    /// `A x` (x has `cols` elements, y `rows`).
    Normal,
    /// `Aᵀ x` (x has `rows` elements, y `cols`); needs a [`GemvScratch`].
    Transposed,
}

/// One GEMV: `y = alpha · op(A) x + beta · y` for a row-major A of `shape`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemv {
    /// The shape of A (as stored, before `op`).
    pub shape: Shape,
    /// A or Aᵀ.
    pub op: MatOp,
    /// `alpha` and `beta`.
    pub epilogue: Epilogue,
}

impl Gemv {
    /// `y = A x` for a row-major A of `rows × cols`.
    pub fn new(rows: usize, cols: usize) -> Gemv {
        Gemv {
            shape: Shape::new(rows, cols),
            op: MatOp::Normal,
            epilogue: Epilogue::OVERWRITE,
        }
    }

    /// Multiply by Aᵀ instead of A.
    pub fn transposed(self) -> Gemv {
        Gemv {
            op: MatOp::Transposed,
            ..self
        }
    }

    /// `y = alpha · op(A) x + beta · y`.
    pub fn scaled(self, alpha: f32, beta: f32) -> Gemv {
        Gemv {
            epilogue: Epilogue::new(alpha, beta),
            ..self
        }
    }
}

/// Row chunks of the transposed GEMV's first pass (each writes one partial per column).
const GEMV_T_CHUNKS: u32 = 32;

/// Device scratch of the transposed GEMV: one partial per row chunk and column. Made by
/// [`Library::gemv_scratch`].
pub struct GemvScratch {
    partials: DeviceBuffer<f32>,
}

impl Library {
    /// `out` (`cols × rows`) = `aᵀ` for a row-major `a` of `shape` (`rows × cols`).
    pub fn transpose(
        &self,
        s: &Stream,
        a: &DeviceSlice<f32>,
        shape: Shape,
        out: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        shape.check("transpose", "a", a.len())?;
        shape.transposed().check("transpose", "out", out.len())?;
        // Blocks loop over tiles, so any shape (tall, wide) fits a 1-D grid; an empty matrix
        // launches nothing. Shapes whose sides are multiples of 4 over 16-byte aligned buffers
        // take the 64×64-tile kernel with 16-byte accesses (one block per tile measured fastest:
        // 94% of the copy rate at 16384², docs/TUNING.md); others the 32×32 scalar one (32
        // resident blocks per SM measured fastest).
        let (rows, cols) = (shape.rows as u64, shape.cols as u64);
        let props = self.gpu.props();
        let max_grid = props.max_grid_dim[0] as usize;
        let quads = shape.rows.is_multiple_of(4)
            && shape.cols.is_multiple_of(4)
            && a.device_ptr().is_multiple_of(16)
            && out.device_ptr().is_multiple_of(16);
        if quads {
            let tiles = shape.rows.div_ceil(64) * shape.cols.div_ceil(64);
            if tiles == 0 {
                return Ok(());
            }
            let cfg = LaunchConfig::linear(tiles.min(max_grid) as u32, 256);
            return self
                .kernels
                .transpose_quads
                .launch_with::<64>(s, &cfg, a, rows, cols, out);
        }
        let tiles = shape.rows.div_ceil(32) * shape.cols.div_ceil(32);
        if tiles == 0 {
            return Ok(());
        }
        let cap = (props.sm_count as usize * 32).min(max_grid);
        let cfg = LaunchConfig::linear(tiles.min(cap) as u32, 256);
        self.kernels
            .transpose_f32
            .launch_with(s, &cfg, a, rows, cols, out)
    }

    /// Scratch for transposed GEMVs of matrices with up to `cols` columns.
    pub fn gemv_scratch(&self, cols: usize) -> Result<GemvScratch> {
        Ok(GemvScratch {
            partials: self
                .gpu
                .alloc_zeroed(GEMV_T_CHUNKS as usize * cols.max(1))?,
        })
    }

    /// `y = alpha · op(A) x + beta · y` ([`Gemv`]); `scratch` is needed for
    /// [`MatOp::Transposed`] (see [`Library::gemv_scratch`]) and unused otherwise.
    pub fn gemv(
        &self,
        s: &Stream,
        g: &Gemv,
        a: &DeviceSlice<f32>,
        x: &DeviceSlice<f32>,
        y: &mut DeviceSlice<f32>,
        scratch: Option<&mut GemvScratch>,
    ) -> Result<()> {
        let transposed = g.op == MatOp::Transposed;
        let op = if transposed { "gemv (Aᵀ)" } else { "gemv" };
        let Shape { rows, cols } = g.shape;
        g.shape.check(op, "a", a.len())?;
        let (xn, yn) = if transposed {
            (rows, cols)
        } else {
            (cols, rows)
        };
        if x.len() != xn || y.len() != yn {
            return Err(invalid(
                op,
                format!(
                    "for A {rows} × {cols}, x must have {xn} elements (has {}) and y {yn} (has {})",
                    x.len(),
                    y.len()
                ),
            ));
        }
        let (r, c) = g.shape.dims_u32(op)?;
        let Epilogue { alpha, beta } = g.epilogue;
        if !transposed {
            let cfg = LaunchConfig::linear(r.div_ceil(8), 256);
            return self
                .kernels
                .gemv_f32
                .launch_with(s, &cfg, alpha, a, r, c, x, beta, y);
        }
        let need = GEMV_T_CHUNKS as usize * cols;
        let scratch = scratch.ok_or_else(|| {
            invalid(
                op,
                "the transposed GEMV needs scratch (Library::gemv_scratch)".into(),
            )
        })?;
        if scratch.partials.len() < need {
            return Err(invalid(
                op,
                format!(
                    "scratch covers {} columns, A has {cols}",
                    scratch.partials.len() / GEMV_T_CHUNKS as usize
                ),
            ));
        }
        let partials = &mut scratch.partials[..need];
        let cfg = LaunchConfig {
            grid: (c.div_ceil(4).div_ceil(256), GEMV_T_CHUNKS, 1),
            block: (256, 1, 1),
            shared_bytes: 0,
        };
        self.kernels
            .gemv_t_partials_f32
            .launch_with(s, &cfg, a, r, c, x, partials)?;
        self.kernels
            .gemv_t_combine_f32
            .launch(s, alpha, partials, GEMV_T_CHUNKS, beta, y)
    }
}
