//! Prefix sums in one pass over the input. The persistent kernel (`scan_persistent`) runs one
//! resident wave of blocks, launched cooperatively: block `b` of `G` scans tiles `b, b + G, ..`
//! of [`TILE`] elements, publishes each tile's aggregate in a state word of the
//! [`ScanScratch`] and adds the aggregates between its own tiles to its running prefix. Where
//! the driver cannot make the whole grid resident (another context or an MPS limit holds SMs),
//! the one-tile-per-block decoupled look-back kernel (`scan`) runs instead: never a hang.
//! `gpu-kernels/src/scan.rs` says how; TUNING.md's scan rounds why.
use super::{Library, dim_u32, invalid};
use crate::kernels::{ScanInstance, ScanPersistentInstance, consts};
use crate::runtime::{self, DeviceBuffer, DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// Elements one block of the scan kernels covers.
pub const TILE: usize = consts::scan::TILE;
/// Threads per block of the one-tile-per-block scan kernel.
const BLOCK: u32 = consts::scan::BLOCK as u32;
/// Threads per block of the persistent scan kernel.
const P_BLOCK: u32 = consts::scan::P_BLOCK as u32;
/// Dynamic shared memory per block of the persistent scan kernel (its tile buffers).
const P_SHARED_BYTES: u32 = consts::scan::P_SHARED_BYTES as u32;

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
/// and `scan_persistent` kernels. Implemented for exactly those; nothing to implement.
pub trait ScanElem: DeviceCopy + ScanInstance + ScanPersistentInstance {}

impl<T: DeviceCopy + ScanInstance + ScanPersistentInstance> ScanElem for T {}

/// Blocks of the persistent scan kernel that fit on the GPU at once: its cooperative grid.
pub(super) fn resident_blocks(k: &crate::kernels::Kernels) -> Result<u32> {
    k.scan_persistent
        .function::<f32>()
        .max_cooperative_blocks(P_BLOCK, P_SHARED_BYTES)
}

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
        let exclusive = (kind == ScanKind::Exclusive) as u32;
        if self.scan_blocks > 0 {
            let cfg = LaunchConfig::linear(blocks.min(self.scan_blocks), P_BLOCK)
                .with_shared(P_SHARED_BYTES);
            match self
                .kernels
                .scan_persistent
                .launch_cooperative(s, &cfg, x, out, state, exclusive)
            {
                // Nothing ran: the one-tile kernel below needs no co-residency.
                Err(e) if e.is_cooperative_too_large() => {}
                done => return done,
            }
        }
        let cfg = LaunchConfig::linear(blocks, BLOCK);
        self.kernels
            .scan
            .launch_with(s, &cfg, x, out, state, exclusive)
    }
}
