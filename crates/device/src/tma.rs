//! The tensor memory accelerator (TMA, sm_90 / PTX 8.0): bulk tensor copies between global and
//! shared memory described by a *tensor map*, completing on an [`MBarrier`] (loads) or in bulk
//! groups (stores).
//!
//! # Tensor maps reach the kernel as by-value parameters
//! A tensor map is a 128-byte opaque object the host encodes with `cuTensorMapEncodeTiled`
//! (shape, strides, box, element type, swizzle). The copy engine reads it from the param,
//! const or global space through a generic address, and requires 64-byte alignment. We pass it
//! by value, as CUDA's `__grid_constant__` parameters: no allocation, no copy before the
//! launch, and the driver keeps it in the constant bank where `prefetch.tensormap` and the
//! copies find it. (The alternative, a map in global memory, costs an allocation and a
//! host-to-device copy per map, and device-side updates would need
//! `fence.proxy.tensormap_generic`.)
//!
//! Two details make this work from Rust, both handled for the kernel author:
//! - A kernel parameter of type [`TensorMap`] is declared with 16-byte alignment (rustc's NVPTX
//!   calling convention rejects larger alignments); the builder rewrites the parameter's PTX
//!   declaration to `.param .align 64 .b8 NAME[128]`, so ptxas places it at a 64-byte aligned
//!   offset of the parameter bank.
//! - Taking the address of a by-value parameter in Rust makes LLVM copy it to local memory (the
//!   stack), where the copy engine cannot use it. `#[kernel]` therefore never lets the body see
//!   the value: it binds the parameter's name to a [`TensorMapRef`] made by
//!   `mov.b64 %rd, NAME; cvta.param.u64 %rd, %rd;`, the generic address of the parameter itself
//!   (what nvcc emits for `__grid_constant__`).

use crate::mbarrier::MBarrier;

/// A CUDA tensor map (`CUtensorMap`) as a kernel parameter: 128 opaque bytes, encoded on the
/// host. Declare kernel parameters with this type; the kernel body sees a [`TensorMapRef`].
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct TensorMap {
    /// The encoded map; never interpreted on the device.
    pub opaque: [u64; 16],
}

/// The generic address of a tensor map in the param, const or global space: what the copy
/// instructions take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorMapRef {
    addr: u64,
}

/// Binds a tensor-map kernel parameter's PTX symbol to a [`TensorMapRef`]; emitted by
/// `#[kernel]` for parameters of type [`TensorMap`].
#[cfg(target_arch = "nvptx64")]
#[doc(hidden)]
#[macro_export]
macro_rules! __tensor_map_param {
    ($sym:literal) => {{
        let addr: u64;
        // SAFETY: reads the address of this kernel's own by-value parameter `$sym` (named by
        // the `#[kernel]` macro from the entry's name and the parameter's position) and
        // converts it to a generic address; the host encoded the map (typed launcher).
        unsafe {
            $crate::__device_asm!(
                concat!("mov.b64 {a}, ", $sym, ";"),
                "cvta.param.u64 {a}, {a};",
                a = out(reg64) addr,
                options(pure, nomem, nostack, preserves_flags),
            );
            $crate::tma::TensorMapRef::from_generic(addr)
        }
    }};
}

/// Binds a tensor-map kernel parameter's PTX symbol to a [`TensorMapRef`]; on the host a stub
/// that never runs.
#[cfg(not(target_arch = "nvptx64"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tensor_map_param {
    ($sym:literal) => {
        $crate::tma::TensorMapRef::__host_stub()
    };
}

impl TensorMapRef {
    /// The host stand-in for a tensor-map parameter (never runs).
    #[cfg(not(target_arch = "nvptx64"))]
    #[doc(hidden)]
    pub fn __host_stub() -> TensorMapRef {
        crate::arch::host_stub()
    }

    /// A map at generic address `addr`.
    ///
    /// # Safety
    /// `addr` is the 64-byte aligned generic address of a tensor map encoded by
    /// `cuTensorMapEncodeTiled`, in param, const or global memory, unchanged during the kernel,
    /// describing global memory that is valid for the copies the kernel issues with it.
    #[inline(always)]
    pub const unsafe fn from_generic(addr: u64) -> Self {
        TensorMapRef { addr }
    }

    /// The generic address.
    #[inline(always)]
    pub const fn addr(self) -> u64 {
        self.addr
    }

    /// `prefetch.tensormap`: pulls the map into the copy engine's descriptor cache, so the
    /// first copy does not wait for it. A hint: no effect on correctness.
    #[inline(always)]
    pub fn prefetch(self) {
        // SAFETY: a prefetch of a valid map address (constructor contract); no memory changes.
        unsafe {
            crate::__device_asm!(
                "prefetch.tensormap [{m}];",
                m = in(reg64) self.addr,
                options(nostack, preserves_flags),
            );
        }
    }

    /// Loads the box at element coordinates `(c0, c1)` (innermost first) into shared memory at
    /// `dst`, completing `bytes-of-the-box` transactions on `bar`
    /// (`cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes`).
    /// Elements outside the tensor are filled with zeros; the full box is always counted.
    ///
    /// # Safety
    /// `dst` is a shared address of this CTA aligned as the map's swizzle requires (1024 bytes
    /// for 128-byte swizzle, else 128), with the box's bytes reserved and neither read nor
    /// written until `bar`'s current phase completes; `bar` expects these bytes
    /// ([`MBarrier::arrive_expect_tx`]); the map has 2 dimensions.
    #[inline(always)]
    pub unsafe fn load_2d(self, dst: u32, bar: MBarrier, c0: i32, c1: i32) {
        // SAFETY: the caller's contract.
        unsafe {
            crate::__device_asm!(
                "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{d}], [{m}, {{{c0}, {c1}}}], [{b}];",
                d = in(reg32) dst, m = in(reg64) self.addr, b = in(reg32) bar.addr(),
                c0 = in(reg32) c0, c1 = in(reg32) c1,
                options(nostack, preserves_flags),
            );
        }
    }

    /// As [`TensorMapRef::load_2d`] for a 3-dimensional map, coordinates `(c0, c1, c2)`.
    ///
    /// # Safety
    /// As [`TensorMapRef::load_2d`]; the map has 3 dimensions.
    #[inline(always)]
    pub unsafe fn load_3d(self, dst: u32, bar: MBarrier, c0: i32, c1: i32, c2: i32) {
        // SAFETY: the caller's contract.
        unsafe {
            crate::__device_asm!(
                "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{d}], [{m}, {{{c0}, {c1}, {c2}}}], [{b}];",
                d = in(reg32) dst, m = in(reg64) self.addr, b = in(reg32) bar.addr(),
                c0 = in(reg32) c0, c1 = in(reg32) c1, c2 = in(reg32) c2,
                options(nostack, preserves_flags),
            );
        }
    }

    /// As [`TensorMapRef::load_2d`], delivered to the same shared offset `dst` in every CTA of
    /// the cluster whose bit is set in `cta_mask` (bit `r` = rank `r`), each completing on the
    /// barrier at `bar`'s offset in that CTA (`.multicast::cluster`).
    ///
    /// # Safety
    /// As [`TensorMapRef::load_2d`], for every CTA in `cta_mask` (their barriers are alive and
    /// expect the bytes, their `dst` ranges are reserved); the kernel runs as a cluster and
    /// every bit of `cta_mask` names one of its CTAs.
    #[inline(always)]
    pub unsafe fn load_2d_multicast(
        self,
        dst: u32,
        bar: MBarrier,
        c0: i32,
        c1: i32,
        cta_mask: u16,
    ) {
        // SAFETY: the caller's contract.
        unsafe {
            crate::__device_asm!(
                "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [{d}], [{m}, {{{c0}, {c1}}}], [{b}], {k};",
                d = in(reg32) dst, m = in(reg64) self.addr, b = in(reg32) bar.addr(),
                c0 = in(reg32) c0, c1 = in(reg32) c1, k = in(reg16) cta_mask,
                options(nostack, preserves_flags),
            );
        }
    }

    /// As [`TensorMapRef::load_2d_multicast`] for a 3-dimensional map.
    ///
    /// # Safety
    /// As [`TensorMapRef::load_2d_multicast`]; the map has 3 dimensions.
    #[inline(always)]
    pub unsafe fn load_3d_multicast(
        self,
        dst: u32,
        bar: MBarrier,
        c0: i32,
        c1: i32,
        c2: i32,
        cta_mask: u16,
    ) {
        // SAFETY: the caller's contract.
        unsafe {
            crate::__device_asm!(
                "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [{d}], [{m}, {{{c0}, {c1}, {c2}}}], [{b}], {k};",
                d = in(reg32) dst, m = in(reg64) self.addr, b = in(reg32) bar.addr(),
                c0 = in(reg32) c0, c1 = in(reg32) c1, c2 = in(reg32) c2, k = in(reg16) cta_mask,
                options(nostack, preserves_flags),
            );
        }
    }

    /// Stores the box at shared address `src` to the tensor at coordinates `(c0, c1)`
    /// (`cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group`); elements outside the
    /// tensor are not written. Completes with the bulk group: [`bulk_commit_group`], then
    /// [`bulk_wait_group_read`] before `src` is reused.
    ///
    /// # Safety
    /// `src` holds the box (aligned as the map's swizzle requires), written before by this CTA
    /// and made visible to the copy engine with [`fence_proxy_async_shared`] and a barrier
    /// among the writers; it is not modified until the group's reads completed; the map has 2
    /// dimensions and describes writable global memory no other thread accesses concurrently
    /// (on the host: a map made by `TensorMap::tiled_mut`, whose mutable borrow keeps every
    /// other view of the memory out of the launch).
    #[inline(always)]
    pub unsafe fn store_2d(self, src: u32, c0: i32, c1: i32) {
        // SAFETY: the caller's contract.
        unsafe {
            crate::__device_asm!(
                "cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [{m}, {{{c0}, {c1}}}], [{s}];",
                m = in(reg64) self.addr, s = in(reg32) src, c0 = in(reg32) c0, c1 = in(reg32) c1,
                options(nostack, preserves_flags),
            );
        }
    }

    /// As [`TensorMapRef::store_2d`] for a 3-dimensional map.
    ///
    /// # Safety
    /// As [`TensorMapRef::store_2d`]; the map has 3 dimensions.
    #[inline(always)]
    pub unsafe fn store_3d(self, src: u32, c0: i32, c1: i32, c2: i32) {
        // SAFETY: the caller's contract.
        unsafe {
            crate::__device_asm!(
                "cp.async.bulk.tensor.3d.global.shared::cta.tile.bulk_group [{m}, {{{c0}, {c1}, {c2}}}], [{s}];",
                m = in(reg64) self.addr, s = in(reg32) src,
                c0 = in(reg32) c0, c1 = in(reg32) c1, c2 = in(reg32) c2,
                options(nostack, preserves_flags),
            );
        }
    }
}

/// Copies `bytes` contiguous bytes from global memory at `src` into this CTA's shared memory at
/// `dst`, completing `bytes` transactions on `bar`
/// (`cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes`): the non-tensor bulk
/// copy, which needs no tensor map. One instruction moves a whole row, and the bytes in flight
/// occupy no registers.
///
/// # Safety
/// `dst` and `src` are 16-byte aligned and `bytes` is a multiple of 16; `dst .. dst + bytes` is
/// this CTA's shared memory, reserved for the copy and neither read nor written until `bar`'s
/// current phase completes; `src .. src + bytes` is global memory valid for reads that no thread
/// writes during the launch; `bar` is alive and its current phase expects these bytes
/// ([`MBarrier::arrive_expect_tx`]).
#[inline(always)]
pub unsafe fn bulk_load(dst: u32, src: *const u8, bytes: u32, bar: MBarrier) {
    // SAFETY: the caller's contract. Not `nomem`: the copy writes shared memory.
    unsafe {
        crate::__device_asm!(
            "cvta.to.global.u64 {g}, {s};",
            "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [{d}], [{g}], {n}, [{b}];",
            d = in(reg32) dst, s = in(reg64) src, n = in(reg32) bytes, b = in(reg32) bar.addr(),
            g = out(reg64) _,
            options(nostack, preserves_flags),
        );
    }
}

/// `cp.async.bulk.commit_group`: closes the bulk group of this thread's stores issued since
/// the last commit.
#[inline(always)]
pub fn bulk_commit_group() {
    // SAFETY: no preconditions.
    unsafe {
        crate::__device_asm!(
            "cp.async.bulk.commit_group;",
            options(nostack, preserves_flags)
        )
    }
}

/// `cp.async.bulk.wait_group.read N`: waits until at most `N` of this thread's bulk groups
/// still read their shared-memory sources (so those buffers may be overwritten).
#[inline(always)]
pub fn bulk_wait_group_read<const N: u32>() {
    // SAFETY: a wait has no preconditions. Not `nomem`: later shared writes must stay after it.
    unsafe {
        crate::__device_asm!(
            "cp.async.bulk.wait_group.read {n};",
            n = const N,
            options(nostack, preserves_flags)
        )
    }
}

/// `cp.async.bulk.wait_group N`: waits until at most `N` of this thread's bulk groups are
/// still incomplete (their global writes done and visible).
#[inline(always)]
pub fn bulk_wait_group<const N: u32>() {
    // SAFETY: as `bulk_wait_group_read`.
    unsafe {
        crate::__device_asm!(
            "cp.async.bulk.wait_group {n};",
            n = const N,
            options(nostack, preserves_flags)
        )
    }
}

/// `fence.proxy.async.shared::cta`: orders this thread's ordinary (generic-proxy) accesses to
/// shared memory before later accesses by the async proxy (TMA stores, wgmma operands). Every
/// thread that wrote the data calls it, then a barrier, then one thread issues the copy.
#[inline(always)]
pub fn fence_proxy_async_shared() {
    // SAFETY: a fence has no preconditions.
    unsafe {
        crate::__device_asm!(
            "fence.proxy.async.shared::cta;",
            options(nostack, preserves_flags)
        )
    }
}
