//! The project's kernels. Each `#[kernel]` function becomes a PTX entry and gets a typed host
//! launcher generated from this same signature.
#![no_std]
#![feature(abi_gpu_kernel, asm_experimental_arch, f16, stmt_expr_attributes)]

pub mod bias_gelu;
pub mod conv;
pub mod elem;
pub mod elementwise;
pub mod gemm;
pub mod held;
#[cfg(target_feature = "sm_90a")]
pub mod hopper_gemm;
pub mod loss;
pub mod maps;
pub mod matrix;
pub mod norm;
pub mod readme;
pub mod reduce;
pub mod rows;
pub mod scan;
pub mod softmax;
pub mod tensor_gemm;
pub mod vector;
