//! TMA tensor maps (`cuTensorMapEncodeTiled`) built from typed device memory.
//!
//! A [`TensorMap`] describes a tiled view of a [`DeviceSlice<T>`]: the tensor's extents and
//! row strides (in elements, innermost dimension first), the box the copy engine moves per
//! copy, and the shared-memory swizzle. Everything the driver would reject, and everything that
//! would let a copy reach outside the slice, is checked first and reported as
//! [`Error::InvalidArgument`] naming the field; the driver's own failure is an
//! [`Error::Driver`] naming `cuTensorMapEncodeTiled`. Kernels take the map by value (a
//! `TensorMap` parameter, as CUDA's `__grid_constant__`): the typed launchers copy its 128 bytes
//! into the launch.
//!
//! # A map borrows its memory
//! The encoded bytes hold a raw device address, so a map is only as valid as the memory behind
//! it. `TensorMap<'a>` keeps the borrow it was made from: the buffer cannot be dropped (or, for a
//! shared borrow, written through a `&mut` view) while a map of it can still reach a launch.
//! [`TensorMap::tiled`] takes a shared borrow and gives a map for copies *into* shared memory
//! only; a kernel that stores through a map (`store_2d`/`store_3d` on the device, whose
//! `unsafe` contract says so) needs one made by [`TensorMap::tiled_mut`] from a mutable
//! borrow, which also keeps every other view of that memory out of the launch.
use std::marker::PhantomData;

use crate::memory::{DeviceCopy, DeviceSlice};
use crate::result::{Call, Error, Result};
use crate::sys;

/// An encoded tensor map: 128 opaque bytes, 128-byte aligned as CUDA 13 declares `CUtensorMap`,
/// valid for as long as the borrow `'a` of the memory it describes.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorMap<'a> {
    raw: sys::CUtensorMap,
    mem: PhantomData<&'a ()>,
}

/// Element types a tensor map can describe.
pub trait TensorElem: DeviceCopy {
    /// The driver's data type.
    const DATA_TYPE: sys::CUtensorMapDataType;
}

macro_rules! tensor_elem {
    ($($t:ty => $dt:ident),* $(,)?) => {$(
        impl TensorElem for $t {
            const DATA_TYPE: sys::CUtensorMapDataType = sys::CUtensorMapDataType::$dt;
        }
    )*};
}

tensor_elem!(
    u8 => CU_TENSOR_MAP_DATA_TYPE_UINT8,
    u16 => CU_TENSOR_MAP_DATA_TYPE_UINT16,
    u32 => CU_TENSOR_MAP_DATA_TYPE_UINT32,
    i32 => CU_TENSOR_MAP_DATA_TYPE_INT32,
    u64 => CU_TENSOR_MAP_DATA_TYPE_UINT64,
    i64 => CU_TENSOR_MAP_DATA_TYPE_INT64,
    half::f16 => CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
    half::bf16 => CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
    f32 => CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
    f64 => CU_TENSOR_MAP_DATA_TYPE_FLOAT64,
);

/// How the copy engine lays a box out in shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swizzle {
    /// Row-major, unswizzled.
    None,
    /// 32-byte swizzle.
    B32,
    /// 64-byte swizzle.
    B64,
    /// 128-byte swizzle (what wgmma's `k_major_sw128` descriptors read).
    B128,
}

impl Swizzle {
    /// The swizzle span in bytes (0: none), the most the box's innermost row may hold.
    pub fn span(self) -> u64 {
        match self {
            Swizzle::None => 0,
            Swizzle::B32 => 32,
            Swizzle::B64 => 64,
            Swizzle::B128 => 128,
        }
    }

    fn raw(self) -> sys::CUtensorMapSwizzle {
        match self {
            Swizzle::None => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_NONE,
            Swizzle::B32 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_32B,
            Swizzle::B64 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_64B,
            Swizzle::B128 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_128B,
        }
    }
}

/// A tiled view to encode: extents and boxes innermost first, `strides[i]` the distance in
/// elements between consecutive indices of dimension `i + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TiledView<'a> {
    /// Extent of each dimension (1 ..= 5 of them), innermost first.
    pub dims: &'a [u64],
    /// Element stride of dimensions 1.. (one fewer than `dims`).
    pub strides: &'a [u64],
    /// Box moved per copy, per dimension (1 ..= 256 each).
    pub boxes: &'a [u32],
    /// Shared-memory layout of the box.
    pub swizzle: Swizzle,
}

fn invalid(reason: String) -> Error {
    Error::InvalidArgument {
        op: "tensor map".into(),
        reason,
    }
}

/// The checks of [`TensorMap::tiled`] on plain numbers: `addr` and `len` (elements) of the
/// memory, `elem` bytes per element.
pub fn check_tiled(addr: u64, len: usize, elem: u64, v: &TiledView<'_>) -> Result<()> {
    let rank = v.dims.len();
    if !(1..=5).contains(&rank) {
        return Err(invalid(format!(
            "rank {rank}: a tensor map has 1 to 5 dimensions"
        )));
    }
    if v.strides.len() != rank - 1 || v.boxes.len() != rank {
        return Err(invalid(format!(
            "{rank} dimensions need {} strides and {rank} box sizes (got {} and {})",
            rank - 1,
            v.strides.len(),
            v.boxes.len()
        )));
    }
    if !addr.is_multiple_of(16) {
        return Err(invalid(format!(
            "base address {addr:#x} is not 16-byte aligned"
        )));
    }
    for (i, &d) in v.dims.iter().enumerate() {
        if d == 0 || d > 1 << 32 {
            return Err(invalid(format!(
                "dims[{i}] = {d}: each extent is 1 ..= 2^32"
            )));
        }
    }
    for (i, &s) in v.strides.iter().enumerate() {
        let bytes = s.saturating_mul(elem);
        if !bytes.is_multiple_of(16) || bytes >= 1 << 40 {
            return Err(invalid(format!(
                "strides[{i}] = {s} elements = {bytes} bytes: row strides must be multiples of 16 bytes below 2^40 (pad the rows, or use a kernel without TMA)"
            )));
        }
    }
    for (i, &b) in v.boxes.iter().enumerate() {
        if !(1..=256).contains(&b) {
            return Err(invalid(format!(
                "boxes[{i}] = {b}: each box size is 1 ..= 256"
            )));
        }
    }
    let inner = v.boxes[0] as u64 * elem;
    if !inner.is_multiple_of(16) {
        return Err(invalid(format!(
            "the box's innermost row is {inner} bytes: it must be a multiple of 16"
        )));
    }
    let span = v.swizzle.span();
    if span != 0 && inner > span {
        return Err(invalid(format!(
            "the box's innermost row is {inner} bytes, more than the {span}-byte swizzle span"
        )));
    }
    // The last element the map can address must lie inside the slice.
    let mut last = v.dims[0] - 1;
    for (d, s) in v.dims[1..].iter().zip(v.strides) {
        last = (d - 1)
            .checked_mul(*s)
            .and_then(|x| x.checked_add(last))
            .ok_or_else(|| invalid("the view's extent overflows".into()))?;
    }
    if last >= len as u64 {
        return Err(invalid(format!(
            "the view reaches element {last} but the memory holds {len}"
        )));
    }
    Ok(())
}

impl<'a> TensorMap<'a> {
    /// Encodes a tiled map of `mem` viewed as `view`, with out-of-range elements read as zeros
    /// and 256-byte L2 promotion. The map is for loads (global to shared memory) only.
    pub fn tiled<T: TensorElem>(
        mem: &'a DeviceSlice<T>,
        view: &TiledView<'_>,
    ) -> Result<TensorMap<'a>> {
        Self::tiled_as(mem, T::DATA_TYPE, view)
    }

    /// As [`TensorMap::tiled`] from a mutable borrow: the map a kernel may also store through.
    /// Holding `mem` mutably keeps every other view of it out of the launch.
    pub fn tiled_mut<T: TensorElem>(
        mem: &'a mut DeviceSlice<T>,
        view: &TiledView<'_>,
    ) -> Result<TensorMap<'a>> {
        Self::tiled_as(mem, T::DATA_TYPE, view)
    }

    /// As [`TensorMap::tiled`] for f32 data read as tf32 (the copy engine rounds each element to
    /// tf32 on the way), for tf32 tensor-core kernels.
    pub fn tiled_tf32(mem: &'a DeviceSlice<f32>, view: &TiledView<'_>) -> Result<TensorMap<'a>> {
        Self::tiled_as(
            mem,
            sys::CUtensorMapDataType::CU_TENSOR_MAP_DATA_TYPE_TFLOAT32,
            view,
        )
    }

    fn tiled_as<T: DeviceCopy>(
        mem: &'a DeviceSlice<T>,
        dt: sys::CUtensorMapDataType,
        view: &TiledView<'_>,
    ) -> Result<TensorMap<'a>> {
        let elem = std::mem::size_of::<T>() as u64;
        check_tiled(mem.device_ptr(), mem.len(), elem, view)?;
        let rank = view.dims.len();
        let strides: Vec<u64> = view.strides.iter().map(|s| s * elem).collect();
        let ones = [1u32; 5];
        let mut raw = sys::CUtensorMap {
            opaque: [0; sys::CU_TENSOR_MAP_NUM_QWORDS],
        };
        // SAFETY: every array holds `rank` (strides: `rank - 1`) entries, checked above; the
        // address is device memory owned by `mem` for the borrow; `raw` is a writable map.
        unsafe {
            sys::cuTensorMapEncodeTiled(
                &mut raw,
                dt,
                rank as u32,
                mem.device_ptr() as *mut std::ffi::c_void,
                view.dims.as_ptr(),
                strides.as_ptr(),
                view.boxes.as_ptr(),
                ones.as_ptr(),
                sys::CUtensorMapInterleave::CU_TENSOR_MAP_INTERLEAVE_NONE,
                view.swizzle.raw(),
                sys::CUtensorMapL2promotion::CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                sys::CUtensorMapFloatOOBfill::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
            )
        }
        .call("cuTensorMapEncodeTiled")?;
        Ok(TensorMap {
            raw,
            mem: PhantomData,
        })
    }

    /// The encoded bytes.
    pub fn raw(&self) -> &sys::CUtensorMap {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(dims: &'a [u64], strides: &'a [u64], boxes: &'a [u32]) -> TiledView<'a> {
        TiledView {
            dims,
            strides,
            boxes,
            swizzle: Swizzle::B128,
        }
    }

    #[test]
    fn tiled_views_are_checked_before_the_driver() {
        // A 3-D bf16 view as the Hopper GEMM uses: K = 4096, 1000 rows, 2 batches.
        let ok = view(&[4096, 1000, 2], &[4096, 4096 * 1000], &[64, 128, 1]);
        assert!(check_tiled(0x1000, 4096 * 1000 * 2, 2, &ok).is_ok());
        let err =
            |v: &TiledView<'_>, len: usize| check_tiled(0x1000, len, 2, v).unwrap_err().to_string();
        // Row stride of 1001 bf16 = 2002 bytes: not a multiple of 16.
        assert!(err(&view(&[1001, 10], &[1001], &[64, 8]), 1 << 20).contains("multiples of 16"));
        // The view reaches past the slice.
        assert!(err(&ok, 4096 * 1000 * 2 - 1).contains("reaches element"));
        // 128 bf16 = 256 bytes do not fit a 128-byte swizzle row.
        assert!(err(&view(&[4096, 10], &[4096], &[128, 8]), 1 << 20).contains("swizzle span"));
        assert!(err(&view(&[64, 10], &[64], &[64, 300]), 1 << 20).contains("1 ..= 256"));
        assert!(err(&view(&[64, 0], &[64], &[64, 8]), 1 << 20).contains("dims[1]"));
        assert!(err(&view(&[64, 10], &[], &[64, 8]), 1 << 20).contains("strides"));
        assert!(
            check_tiled(0x1008, 1 << 20, 2, &view(&[64, 8], &[64], &[64, 8]))
                .unwrap_err()
                .to_string()
                .contains("16-byte aligned")
        );
    }
}
