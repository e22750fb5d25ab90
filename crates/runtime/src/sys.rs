//! Raw CUDA driver bindings: cust's (`cust_raw`, generated from the CUDA 11.4 headers) plus the
//! CUDA 12+ entry points and types it lacks, declared here and nowhere else.
//!
//! Everything here is `unsafe` and unchecked; [`crate::result`] turns the return codes into
//! typed errors. The declarations below follow `cuda.h` of CUDA 13.0 exactly (names, argument
//! order, widths): an enum argument is declared with the C enum's width (`u32`), since the driver
//! may know values a Rust enum does not, and so is every `CUresult` they return
//! ([`RawResult`]).
#![allow(non_camel_case_types, non_snake_case, missing_docs)]

pub use cust::sys::*;
use std::ffi::{c_int, c_uint, c_void};

/// A `CUresult` as the driver returns it, before [`crate::result::check_raw`] names it. A plain
/// integer: drivers newer than these bindings return codes no Rust enum here declares.
pub type RawResult = u32;

/// `cuuint32_t`.
pub type cuuint32_t = u32;
/// `cuuint64_t`.
pub type cuuint64_t = u64;

/// `CU_TENSOR_MAP_NUM_QWORDS`.
pub const CU_TENSOR_MAP_NUM_QWORDS: usize = 16;

/// `CUtensorMap`: an opaque 128-byte TMA descriptor. The driver requires 64-byte alignment;
/// CUDA 13's header declares `alignas(128)`, which this follows.
#[repr(C, align(128))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CUtensorMap {
    pub opaque: [cuuint64_t; CU_TENSOR_MAP_NUM_QWORDS],
}
const _: () = assert!(std::mem::size_of::<CUtensorMap>() == 128);
const _: () = assert!(std::mem::align_of::<CUtensorMap>().is_multiple_of(64));

/// `CUtensorMapDataType` (C enum, passed as its integer value).
pub type CUtensorMapDataType = u32;
pub const CU_TENSOR_MAP_DATA_TYPE_UINT8: CUtensorMapDataType = 0;
pub const CU_TENSOR_MAP_DATA_TYPE_UINT16: CUtensorMapDataType = 1;
pub const CU_TENSOR_MAP_DATA_TYPE_UINT32: CUtensorMapDataType = 2;
pub const CU_TENSOR_MAP_DATA_TYPE_INT32: CUtensorMapDataType = 3;
pub const CU_TENSOR_MAP_DATA_TYPE_UINT64: CUtensorMapDataType = 4;
pub const CU_TENSOR_MAP_DATA_TYPE_INT64: CUtensorMapDataType = 5;
pub const CU_TENSOR_MAP_DATA_TYPE_FLOAT16: CUtensorMapDataType = 6;
pub const CU_TENSOR_MAP_DATA_TYPE_FLOAT32: CUtensorMapDataType = 7;
pub const CU_TENSOR_MAP_DATA_TYPE_FLOAT64: CUtensorMapDataType = 8;
pub const CU_TENSOR_MAP_DATA_TYPE_BFLOAT16: CUtensorMapDataType = 9;
pub const CU_TENSOR_MAP_DATA_TYPE_FLOAT32_FTZ: CUtensorMapDataType = 10;
pub const CU_TENSOR_MAP_DATA_TYPE_TFLOAT32: CUtensorMapDataType = 11;
pub const CU_TENSOR_MAP_DATA_TYPE_TFLOAT32_FTZ: CUtensorMapDataType = 12;
pub const CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN8B: CUtensorMapDataType = 13;
pub const CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN16B: CUtensorMapDataType = 14;
pub const CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B: CUtensorMapDataType = 15;

/// `CUtensorMapInterleave`.
pub type CUtensorMapInterleave = u32;
pub const CU_TENSOR_MAP_INTERLEAVE_NONE: CUtensorMapInterleave = 0;
pub const CU_TENSOR_MAP_INTERLEAVE_16B: CUtensorMapInterleave = 1;
pub const CU_TENSOR_MAP_INTERLEAVE_32B: CUtensorMapInterleave = 2;

/// `CUtensorMapSwizzle`.
pub type CUtensorMapSwizzle = u32;
pub const CU_TENSOR_MAP_SWIZZLE_NONE: CUtensorMapSwizzle = 0;
pub const CU_TENSOR_MAP_SWIZZLE_32B: CUtensorMapSwizzle = 1;
pub const CU_TENSOR_MAP_SWIZZLE_64B: CUtensorMapSwizzle = 2;
pub const CU_TENSOR_MAP_SWIZZLE_128B: CUtensorMapSwizzle = 3;
pub const CU_TENSOR_MAP_SWIZZLE_128B_ATOM_32B: CUtensorMapSwizzle = 4;
pub const CU_TENSOR_MAP_SWIZZLE_128B_ATOM_32B_FLIP_8B: CUtensorMapSwizzle = 5;
pub const CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B: CUtensorMapSwizzle = 6;

/// `CUtensorMapL2promotion`.
pub type CUtensorMapL2promotion = u32;
pub const CU_TENSOR_MAP_L2_PROMOTION_NONE: CUtensorMapL2promotion = 0;
pub const CU_TENSOR_MAP_L2_PROMOTION_L2_64B: CUtensorMapL2promotion = 1;
pub const CU_TENSOR_MAP_L2_PROMOTION_L2_128B: CUtensorMapL2promotion = 2;
pub const CU_TENSOR_MAP_L2_PROMOTION_L2_256B: CUtensorMapL2promotion = 3;

/// `CUtensorMapFloatOOBfill`.
pub type CUtensorMapFloatOOBfill = u32;
pub const CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE: CUtensorMapFloatOOBfill = 0;
pub const CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA: CUtensorMapFloatOOBfill = 1;

/// `CUlaunchAttributeID`.
pub type CUlaunchAttributeID = u32;
pub const CU_LAUNCH_ATTRIBUTE_IGNORE: CUlaunchAttributeID = 0;
pub const CU_LAUNCH_ATTRIBUTE_COOPERATIVE: CUlaunchAttributeID = 2;
pub const CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION: CUlaunchAttributeID = 4;
pub const CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: CUlaunchAttributeID = 5;
pub const CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION: CUlaunchAttributeID = 6;

/// The `clusterDim` member of `CUlaunchAttributeValue`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CUlaunchAttributeValue_clusterDim {
    pub x: c_uint,
    pub y: c_uint,
    pub z: c_uint,
}

/// `CUlaunchAttributeValue`: a 64-byte union; the members gpukit uses are named, the rest are
/// reached through `pad`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union CUlaunchAttributeValue {
    pub pad: [u8; 64],
    pub cooperative: c_int,
    pub clusterDim: CUlaunchAttributeValue_clusterDim,
    pub clusterSchedulingPolicyPreference: u32,
    pub programmaticStreamSerializationAllowed: c_int,
}
const _: () = assert!(std::mem::size_of::<CUlaunchAttributeValue>() == 64);

/// `CUlaunchAttribute`: the id, padding to 8 bytes, then the value.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CUlaunchAttribute {
    pub id: CUlaunchAttributeID,
    pub pad: [u8; 8 - std::mem::size_of::<CUlaunchAttributeID>()],
    pub value: CUlaunchAttributeValue,
}
const _: () = assert!(std::mem::size_of::<CUlaunchAttribute>() == 72);

/// `CUlaunchConfig`: the extensible launch configuration of `cuLaunchKernelEx`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CUlaunchConfig {
    pub gridDimX: c_uint,
    pub gridDimY: c_uint,
    pub gridDimZ: c_uint,
    pub blockDimX: c_uint,
    pub blockDimY: c_uint,
    pub blockDimZ: c_uint,
    pub sharedMemBytes: c_uint,
    pub hStream: CUstream,
    pub attrs: *mut CUlaunchAttribute,
    pub numAttrs: c_uint,
}

/// `CUfunction_attribute` values added in CUDA 12 (cust_raw's enum stops at 9); pass them with
/// [`cuFuncSetAttribute_raw`] / [`cuFuncGetAttribute_raw`].
pub type CUfunction_attribute_raw = u32;
pub const CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES_RAW: CUfunction_attribute_raw = 8;
pub const CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: CUfunction_attribute_raw = 10;
pub const CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH: CUfunction_attribute_raw = 11;
pub const CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT: CUfunction_attribute_raw = 12;
pub const CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: CUfunction_attribute_raw = 13;
pub const CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: CUfunction_attribute_raw = 14;
pub const CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: CUfunction_attribute_raw = 15;

/// `CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH` (CUDA 12): the device supports thread-block clusters.
pub const CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: u32 = 120;

unsafe extern "C" {
    /// `CUresult cuTensorMapEncodeTiled(CUtensorMap *tensorMap, CUtensorMapDataType
    /// tensorDataType, cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
    /// const cuuint64_t *globalStrides, const cuuint32_t *boxDim, const cuuint32_t
    /// *elementStrides, CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
    /// CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill)` (CUDA 12.0).
    pub fn cuTensorMapEncodeTiled(
        tensorMap: *mut CUtensorMap,
        tensorDataType: CUtensorMapDataType,
        tensorRank: cuuint32_t,
        globalAddress: *mut c_void,
        globalDim: *const cuuint64_t,
        globalStrides: *const cuuint64_t,
        boxDim: *const cuuint32_t,
        elementStrides: *const cuuint32_t,
        interleave: CUtensorMapInterleave,
        swizzle: CUtensorMapSwizzle,
        l2Promotion: CUtensorMapL2promotion,
        oobFill: CUtensorMapFloatOOBfill,
    ) -> RawResult;

    /// `CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void
    /// **kernelParams, void **extra)` (CUDA 12.0).
    pub fn cuLaunchKernelEx(
        config: *const CUlaunchConfig,
        f: CUfunction,
        kernelParams: *mut *mut c_void,
        extra: *mut *mut c_void,
    ) -> RawResult;

    /// `CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const
    /// CUlaunchConfig *config)` (CUDA 12.0).
    pub fn cuOccupancyMaxActiveClusters(
        numClusters: *mut c_int,
        func: CUfunction,
        config: *const CUlaunchConfig,
    ) -> RawResult;

    /// `CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)`,
    /// with the attribute as its integer value so CUDA 12's cluster attributes can be passed.
    #[link_name = "cuFuncSetAttribute"]
    pub fn cuFuncSetAttribute_raw(
        hfunc: CUfunction,
        attrib: CUfunction_attribute_raw,
        value: c_int,
    ) -> RawResult;

    /// `CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)`,
    /// with the attribute as its integer value.
    #[link_name = "cuFuncGetAttribute"]
    pub fn cuFuncGetAttribute_raw(
        pi: *mut c_int,
        attrib: CUfunction_attribute_raw,
        hfunc: CUfunction,
    ) -> RawResult;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_cuda_h() {
        assert_eq!(std::mem::size_of::<CUtensorMap>(), 128);
        assert_eq!(std::mem::align_of::<CUtensorMap>(), 128);
        assert_eq!(std::mem::size_of::<CUlaunchAttribute>(), 72);
        assert_eq!(std::mem::offset_of!(CUlaunchAttribute, value), 8);
        // gridDim/blockDim (6 × 4 B) + sharedMemBytes (4 B), then the 8-byte aligned stream.
        assert_eq!(std::mem::offset_of!(CUlaunchConfig, hStream), 32);
        assert_eq!(std::mem::offset_of!(CUlaunchConfig, attrs), 40);
        assert_eq!(std::mem::offset_of!(CUlaunchConfig, numAttrs), 48);
        assert_eq!(std::mem::size_of::<CUlaunchConfig>(), 56);
    }
}
