//! Prefix sums in one pass over the input (decoupled look-back): each block scans one tile of
//! [`TILE`] elements and publishes its aggregate, then its inclusive prefix, in a state word of
//! the [`ScanScratch`].
use super::{Library, dim_u32, invalid};
use crate::kernels::{ScanInstance, consts};
use crate::runtime::{self, DeviceBuffer, DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// Elements one block of the scan kernels covers.
pub const TILE: usize = consts::scan::TILE;
/// Threads per block of the scan kernels.
const BLOCK: u32 = consts::scan::BLOCK as u32;

/// Which prefix sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKind {
    /// `out[i] = x[0] + .. + x[i]`
    Inclusive,
    /// `out[i] = x[0] + .. + x[i-1]`, `out[0] = 0`
    Exclusive,
}

/// Device scratch of the single-pass scan: one state word per tile. Made by
/// [`Library::scan_scratch`].
pub struct ScanScratch {
    state: DeviceBuffer<u64>,
}

/// Element types with a prefix-sum kernel (f32, i32, u32): the instances of the generic `scan`
/// kernel. Implemented for exactly those; nothing to implement.
pub trait ScanElem: DeviceCopy + ScanInstance {}

impl<T: DeviceCopy + ScanInstance> ScanElem for T {}

impl Library {
    /// Scratch for scans of up to `n` elements.
    pub fn scan_scratch(&self, n: usize) -> Result<ScanScratch> {
        Ok(ScanScratch {
            state: self.gpu.alloc_zeroed(n.div_ceil(TILE).max(1))?,
        })
    }

    /// The prefix sums of `x` into `out` (`kind`: inclusive or exclusive). Integer sums wrap;
    /// f32 sums are combined in tree order within and across tiles, so they round as a
    /// sequential sum would not.
    pub fn scan<T: ScanElem>(
        &self,
        s: &Stream,
        kind: ScanKind,
        x: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
        scratch: &mut ScanScratch,
    ) -> Result<()> {
        runtime::check_same_len("scan", &[("x", x.len()), ("out", out.len())])?;
        let tiles = x.len().div_ceil(TILE);
        if tiles > scratch.state.len() {
            return Err(invalid(
                "scan",
                format!(
                    "scratch covers {} elements, input has {}",
                    scratch.state.len() * TILE,
                    x.len()
                ),
            ));
        }
        if tiles == 0 {
            return Ok(());
        }
        let blocks = dim_u32("scan", "tiles", tiles)?;
        let state = &mut scratch.state[..tiles];
        runtime::zero_async(s, state)?;
        let cfg = LaunchConfig::linear(blocks, BLOCK);
        let exclusive = (kind == ScanKind::Exclusive) as u32;
        self.kernels
            .scan
            .launch_with(s, &cfg, x, out, state, exclusive)
    }
}
