//! Launch contracts on the host: the checks and default configurations that the generated
//! launchers call before every launch.
//!
//! A kernel's `#[kernel(..)]` declares length relations (`len(x) == rows * cols`,
//! `len(gamma) == cols`, `len(bins) == 256`, `len(x) >= n`) and an ownership view per output,
//! from which its default grid follows (one thread per element group, one block or warp per row,
//! one block per tile). gpukit-builder turns both into calls to this module, so a broken contract
//! is an [`Error::Contract`] naming the kernel, the parameter and the values, with nothing
//! launched.
use crate::launch::{KernelFn, LaunchConfig};
use crate::result::{Error, Result};

/// A value of a length relation: an integer, or `None` once an operation overflowed, underflowed
/// or divided by zero (which fails the check, with the reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term(Option<i128>);

impl Term {
    /// `len(slice)`.
    pub fn len(n: usize) -> Term {
        Term(Some(n as i128))
    }

    /// An integer parameter or literal.
    pub fn int(v: i128) -> Term {
        Term(Some(v))
    }

    /// The value, `None` after an arithmetic failure.
    pub fn value(self) -> Option<i128> {
        self.0
    }

    fn op(self, o: Term, f: fn(i128, i128) -> Option<i128>) -> Term {
        Term(self.0.zip(o.0).and_then(|(a, b)| f(a, b)))
    }

    /// `self + o`, checked.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, o: Term) -> Term {
        self.op(o, i128::checked_add)
    }

    /// `self - o`, checked (a negative result is a failure: lengths are not negative).
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, o: Term) -> Term {
        self.op(o, |a, b| a.checked_sub(b).filter(|v| *v >= 0))
    }

    /// `self * o`, checked.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, o: Term) -> Term {
        self.op(o, i128::checked_mul)
    }

    /// `self / o`, checked (division by zero is a failure).
    #[allow(clippy::should_implement_trait)]
    pub fn div(self, o: Term) -> Term {
        self.op(o, i128::checked_div)
    }

    /// `self % o`, checked (remainder by zero is a failure).
    #[allow(clippy::should_implement_trait)]
    pub fn rem(self, o: Term) -> Term {
        self.op(o, i128::checked_rem)
    }
}

/// The comparison of a relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    fn holds(self, a: i128, b: i128) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// One relation of a kernel's contract, as the builder generates it.
pub struct Relation<'a> {
    /// The parameter a violation is blamed on.
    pub param: &'a str,
    /// The relation as written, e.g. `len(x) == rows * cols`.
    pub text: &'a str,
    /// The left side's value.
    pub lhs: Term,
    /// The comparison.
    pub cmp: Cmp,
    /// The right side's value.
    pub rhs: Term,
    /// The named values it reads: `("len(x)", 100), ("rows", 3)`.
    pub values: &'a [(&'a str, Term)],
}

/// `Err(Error::Contract)` unless the relation holds.
pub fn check(kernel: &str, r: &Relation<'_>) -> Result<()> {
    if let (Some(a), Some(b)) = (r.lhs.0, r.rhs.0)
        && r.cmp.holds(a, b)
    {
        return Ok(());
    }
    let mut values: Vec<String> = r
        .values
        .iter()
        .map(|(n, v)| match v.0 {
            Some(v) => format!("{n} = {v}"),
            None => format!("{n} = ?"),
        })
        .collect();
    let side = |t: Term| match t.0 {
        Some(v) => v.to_string(),
        None => "overflow, negative or division by zero".to_string(),
    };
    values.push(format!(
        "left side {}, right side {}",
        side(r.lhs),
        side(r.rhs)
    ));
    Err(Error::Contract {
        kernel: kernel.to_string(),
        param: r.param.to_string(),
        relation: r.text.to_string(),
        values: values.join(", "),
    })
}

fn invalid(kernel: &str, reason: String) -> Error {
    Error::InvalidConfig {
        kernel: kernel.to_string(),
        reason,
    }
}

/// The block of `block` threads lowered to what `f` allows (registers), a multiple of 32.
fn fit_block(f: &KernelFn, block: u32) -> u32 {
    let max = f
        .device_props()
        .max_threads_per_block
        .min(f.attrs().max_threads_per_block);
    let mut b = block.min(max).max(1);
    if b >= 32 {
        b -= b % 32;
    }
    b
}

/// Default configuration of a `BlockRows`/`WarpRows` output: one block (or one warp) per row of
/// `row_len` elements of the `len`-element output `out`.
pub fn rows_config(
    f: &KernelFn,
    out: &str,
    len: usize,
    row_len: usize,
    block: u32,
    per_warp: bool,
) -> Result<LaunchConfig> {
    plan_rows(
        f.name(),
        out,
        len,
        row_len,
        fit_block(f, block),
        per_warp,
        f.device_props().max_grid_dim,
    )
}

/// See [`rows_config`]; separate so it can be tested without a GPU.
pub fn plan_rows(
    kernel: &str,
    out: &str,
    len: usize,
    row_len: usize,
    block: u32,
    per_warp: bool,
    max_grid: [u32; 3],
) -> Result<LaunchConfig> {
    if row_len == 0 {
        if len == 0 {
            return Ok(LaunchConfig::linear(0, block));
        }
        return Err(Error::Contract {
            kernel: kernel.to_string(),
            param: out.to_string(),
            relation: format!("rows of `{out}` have at least one element"),
            values: format!("len({out}) = {len}, row length 0"),
        });
    }
    let rows = len.div_ceil(row_len) as u64;
    let blocks = if per_warp {
        rows.div_ceil((block as u64).div_ceil(32))
    } else {
        rows
    };
    if blocks > max_grid[0] as u64 {
        return Err(invalid(
            kernel,
            format!(
                "{rows} rows need {blocks} blocks, more than the device's grid limit of {}",
                max_grid[0]
            ),
        ));
    }
    Ok(LaunchConfig::linear(blocks as u32, block))
}

/// Default configuration of a `BlockTiles`/`ThreadTiles` output: the `len`-element output `out`
/// seen as a matrix of `cols` columns, cut into `w x h` tiles, one per block (or per thread, in
/// `block`-shaped blocks).
#[allow(clippy::too_many_arguments)]
pub fn tiles_config(
    f: &KernelFn,
    out: &str,
    len: usize,
    cols: usize,
    (w, h): (u32, u32),
    block: (u32, u32),
    per_thread: bool,
) -> Result<LaunchConfig> {
    plan_tiles(
        f.name(),
        out,
        len,
        cols,
        (w, h),
        block,
        per_thread,
        f.device_props().max_grid_dim,
    )
}

/// See [`tiles_config`]; separate so it can be tested without a GPU.
#[allow(clippy::too_many_arguments)]
pub fn plan_tiles(
    kernel: &str,
    out: &str,
    len: usize,
    cols: usize,
    (w, h): (u32, u32),
    block: (u32, u32),
    per_thread: bool,
    max_grid: [u32; 3],
) -> Result<LaunchConfig> {
    let cfg = |gx: u64, gy: u64| -> Result<LaunchConfig> {
        if gx > max_grid[0] as u64 || gy > max_grid[1] as u64 {
            return Err(invalid(
                kernel,
                format!(
                    "a grid of {gx} x {gy} blocks exceeds the device's limits {} x {}",
                    max_grid[0], max_grid[1]
                ),
            ));
        }
        Ok(LaunchConfig {
            grid: (gx as u32, gy as u32, 1),
            block: (block.0, block.1, 1),
            shared_bytes: 0,
        })
    };
    if cols == 0 {
        if len == 0 {
            return cfg(0, 0);
        }
        return Err(Error::Contract {
            kernel: kernel.to_string(),
            param: out.to_string(),
            relation: format!("`{out}` has at least one column"),
            values: format!("len({out}) = {len}, 0 columns"),
        });
    }
    let rows = (len / cols) as u64;
    let (tx, ty) = ((cols as u64).div_ceil(w as u64), rows.div_ceil(h as u64));
    if rows == 0 {
        return cfg(0, 0);
    }
    if per_thread {
        cfg(tx.div_ceil(block.0 as u64), ty.div_ceil(block.1 as u64))
    } else {
        cfg(tx, ty)
    }
}

/// The key of a generic kernel's instance with a const parameter: `Const<64>`.
pub struct Const<const N: usize>;

#[cfg(test)]
mod tests {
    use super::*;

    fn rel<'a>(values: &'a [(&'a str, Term)], lhs: Term, cmp: Cmp, rhs: Term) -> Relation<'a> {
        Relation {
            param: "x",
            text: "len(x) == rows * cols",
            lhs,
            cmp,
            rhs,
            values,
        }
    }

    #[test]
    fn relations_hold_or_name_kernel_parameter_and_values() {
        let (x, rows, cols) = (Term::len(120), Term::int(3), Term::int(40));
        let values = [("len(x)", x), ("rows", rows), ("cols", cols)];
        assert!(check("k", &rel(&values, x, Cmp::Eq, rows.mul(cols))).is_ok());
        let x = Term::len(100);
        let values = [("len(x)", x), ("rows", rows), ("cols", cols)];
        let e = check("layer_norm", &rel(&values, x, Cmp::Eq, rows.mul(cols)))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "kernel `layer_norm`: contract `len(x) == rows * cols` does not hold for `x`: len(x) = 100, rows = 3, cols = 40, left side 100, right side 120"
        );
        // Overflow and division by zero fail instead of wrapping.
        let big = Term::int(i128::MAX);
        assert!(check("k", &rel(&[], big, Cmp::Ge, big.add(Term::int(1)))).is_err());
        assert!(check("k", &rel(&[], x, Cmp::Ge, x.div(Term::int(0)))).is_err());
        assert!(check("k", &rel(&[], x, Cmp::Ge, Term::int(1).sub(Term::int(2)))).is_err());
        assert!(check("k", &rel(&[], x.rem(Term::int(4)), Cmp::Eq, Term::int(0))).is_ok());
        assert!(check("k", &rel(&[], x, Cmp::Lt, Term::int(100))).is_err());
    }

    const GRID: [u32; 3] = [2147483647, 65535, 65535];

    #[test]
    fn row_plans_give_each_row_a_block_or_a_warp() {
        assert_eq!(
            plan_rows("k", "y", 65536 * 4096, 4096, 256, false, GRID).unwrap(),
            LaunchConfig::linear(65536, 256)
        );
        // 8 warps per block of 256: 1001 rows need 126 blocks.
        assert_eq!(
            plan_rows("k", "y", 1001 * 7, 7, 256, true, GRID).unwrap(),
            LaunchConfig::linear(126, 256)
        );
        // A partial last row is a row.
        assert_eq!(
            plan_rows("k", "y", 10, 4, 128, false, GRID).unwrap().grid.0,
            3
        );
        assert_eq!(
            plan_rows("k", "y", 0, 0, 128, false, GRID)
                .unwrap()
                .blocks(),
            0
        );
        let e = plan_rows("k", "y", 5, 0, 128, false, GRID)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row length 0"), "{e}");
        let e = plan_rows("k", "y", 1 << 40, 1, 128, false, GRID)
            .unwrap_err()
            .to_string();
        assert!(e.contains("grid limit"), "{e}");
    }

    #[test]
    fn tile_plans_cover_the_matrix() {
        let c = plan_tiles("k", "y", 8192 * 8192, 8192, (32, 32), (32, 8), false, GRID).unwrap();
        assert_eq!((c.grid, c.block), ((256, 256, 1), (32, 8, 1)));
        // One 2x4 tile per thread: 100 columns / 2 = 50 tiles across, in blocks of 32.
        let c = plan_tiles("k", "y", 100 * 30, 100, (2, 4), (32, 8), true, GRID).unwrap();
        assert_eq!(c.grid, (2, 1, 1));
        assert_eq!(
            plan_tiles("k", "y", 0, 0, (2, 2), (32, 8), false, GRID)
                .unwrap()
                .blocks(),
            0
        );
        assert!(plan_tiles("k", "y", 3, 0, (2, 2), (32, 8), false, GRID).is_err());
        let e = plan_tiles("k", "y", 1 << 30, 1, (1, 1), (1, 1), false, GRID)
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds the device's limits"), "{e}");
    }
}
