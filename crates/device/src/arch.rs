//! The one seam between the device library and the hardware.
//!
//! Every inline-PTX block, NVVM intrinsic and special register goes through this module. On
//! nvptx64 they are the real instructions; on any other target they are stubs that never run
//! (each one panics), so that kernel crates type-check on the host: `cargo check`, `cargo doc`
//! and rust-analyzer work on them, and compile-fail tests can run without a GPU toolchain.

/// `core::arch::asm!` on nvptx64; on the host a call to [`host_stub`] (operands are not
/// evaluated, so code after it is unreachable and nothing reads the unset outputs).
#[cfg(target_arch = "nvptx64")]
#[doc(hidden)]
#[macro_export]
#[allow_internal_unstable(asm_experimental_arch)]
macro_rules! __device_asm {
    ($($t:tt)*) => { ::core::arch::asm!($($t)*) };
}

/// `core::arch::asm!` on nvptx64; on the host a call to [`host_stub`].
#[cfg(not(target_arch = "nvptx64"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __device_asm {
    ($($t:tt)*) => {
        $crate::arch::host_stub()
    };
}

/// Declares NVVM intrinsics (`llvm.nvvm.*`) on nvptx64 and panicking stubs of the same
/// signatures elsewhere.
macro_rules! nvvm_intrinsics {
    ($( #[link_name = $l:literal] fn $name:ident($($a:ident: $t:ty),*) $(-> $r:ty)?; )*) => {
        #[cfg(target_arch = "nvptx64")]
        #[allow(improper_ctypes)]
        unsafe extern "C" {
            $( #[link_name = $l] fn $name($($a: $t),*) $(-> $r)?; )*
        }
        $(
            #[cfg(not(target_arch = "nvptx64"))]
            #[allow(unused_variables)]
            unsafe fn $name($($a: $t),*) $(-> $r)? {
                $crate::arch::host_stub()
            }
        )*
    };
}
pub(crate) use nvvm_intrinsics;

/// What every device operation does when it is called on the host: device code can be
/// type-checked there but never run.
#[doc(hidden)]
#[cold]
#[inline(never)]
pub fn host_stub() -> ! {
    panic!("gpukit-device: device code runs only on the GPU (on the host it is only type-checked)")
}

/// The special registers, barrier and trap of `core::arch::nvptx`.
#[cfg(target_arch = "nvptx64")]
pub(crate) mod nvptx {
    pub(crate) use core::arch::nvptx::*;
}

/// Host stand-ins for `core::arch::nvptx` (never run).
#[cfg(not(target_arch = "nvptx64"))]
#[allow(clippy::missing_safety_doc)]
pub(crate) mod nvptx {
    macro_rules! stubs {
        ($($name:ident),*) => {
            $(
                #[inline(always)]
                pub(crate) unsafe fn $name() -> i32 {
                    super::host_stub()
                }
            )*
        };
    }
    stubs!(
        _thread_idx_x,
        _thread_idx_y,
        _thread_idx_z,
        _block_dim_x,
        _block_dim_y,
        _block_dim_z,
        _block_idx_x,
        _block_idx_y,
        _block_idx_z,
        _grid_dim_x,
        _grid_dim_y,
        _grid_dim_z
    );
    #[inline(always)]
    pub(crate) unsafe fn _syncthreads() {
        super::host_stub()
    }
    #[inline(always)]
    pub(crate) unsafe fn trap() -> ! {
        super::host_stub()
    }
}

/// One exported PTX `.entry` (`extern "gpu-kernel"`, exported under its entry name) on nvptx64;
/// a plain function elsewhere, so that kernel crates type-check on the host. Emitted by
/// `#[kernel]`, which passes the entry name, the Rust name, the parameters and the body.
#[doc(hidden)]
#[macro_export]
#[cfg_attr(gpukit_unstable, allow_internal_unstable(abi_gpu_kernel))]
macro_rules! __kernel_entry {
    ($export:literal, $name:ident, ($($p:ident : $t:ty),* $(,)?), $body:block) => {
        #[cfg(target_arch = "nvptx64")]
        #[doc(hidden)]
        #[unsafe(export_name = $export)]
        #[allow(unknown_lints, improper_ctypes_definitions, improper_gpu_kernel_arg, non_snake_case)]
        pub extern "gpu-kernel" fn $name($($p: $t),*) $body

        #[cfg(not(target_arch = "nvptx64"))]
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code, clippy::too_many_arguments)]
        pub fn $name($($p: $t),*) $body
    };
}
