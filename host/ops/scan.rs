//! Prefix sums in one pass over the input: about one resident wave of persistent blocks takes
//! tiles of [`TILE`] elements by ticket, publishes each tile's aggregate in a state word of the
//! [`ScanScratch`], and adds the aggregates between its own tiles to its running prefix
//! (`gpu-kernels/src/scan.rs` says how; TUNING.md round 5 why).
use super::{Library, dim_u32, invalid};
use crate::kernels::{ScanInstance, consts};
use crate::runtime::{self, DeviceBuffer, DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// Elements one block of the scan kernels covers.
pub const TILE: usize = consts::scan::TILE;
/// Threads per block of the scan kernels.
const BLOCK: u32 = consts::scan::BLOCK as u32;
/// Dynamic shared memory per block (the kernel's tile buffers).
const SHARED_BYTES: u32 = consts::scan::SHARED_BYTES as u32;

/// Which prefix sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKind {
    /// `out[i] = x[0] + .. + x[i]`
    Inclusive,
    /// `out[i] = x[0] + .. + x[i-1]`, `out[0] = 0`
    Exclusive,
}

/// Device scratch of the single-pass scan: one state word per tile and the tile ticket counter.
/// Made by [`Library::scan_scratch`].
pub struct ScanScratch {
    state: DeviceBuffer<u64>,
}

/// Element types with a prefix-sum kernel (f32, i32, u32): the instances of the generic `scan`
/// kernel. Implemented for exactly those; nothing to implement.
pub trait ScanElem: DeviceCopy + ScanInstance {}

impl<T: DeviceCopy + ScanInstance> ScanElem for T {}

/// Blocks of the scan kernel that fit on this GPU at once (its grid for large inputs; the
/// kernel is correct with any grid, since tiles are handed out by ticket).
pub(super) fn resident_blocks(
    gpu: &crate::runtime::Gpu,
    k: &crate::kernels::Kernels,
) -> Result<u32> {
    let per_sm = k
        .scan
        .function::<f32>()
        .occupancy(BLOCK, SHARED_BYTES)?
        .max(1);
    Ok(gpu.props().sm_count * per_sm)
}

impl Library {
    /// Scratch for scans of up to `n` elements.
    pub fn scan_scratch(&self, n: usize) -> Result<ScanScratch> {
        Ok(ScanScratch {
            state: self.gpu.alloc_zeroed(n.div_ceil(TILE) + 1)?,
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
        if tiles + 1 > scratch.state.len() {
            return Err(invalid(
                "scan",
                format!(
                    "scratch covers {} elements, input has {}",
                    (scratch.state.len() - 1) * TILE,
                    x.len()
                ),
            ));
        }
        if tiles == 0 {
            return Ok(());
        }
        let blocks = dim_u32("scan", "tiles", tiles)?.min(self.scan_blocks);
        // The tiles' states and, after them, the ticket counter.
        let state = &mut scratch.state[..tiles + 1];
        runtime::zero_async(s, state)?;
        let cfg = LaunchConfig::linear(blocks, BLOCK).with_shared(SHARED_BYTES);
        let exclusive = (kind == ScanKind::Exclusive) as u32;
        self.kernels
            .scan
            .launch_with(s, &cfg, x, out, state, exclusive)
    }
}
