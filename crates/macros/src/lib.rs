//! `#[kernel]`: the one place a kernel's interface is written.
//!
//! On the device it turns the function into an exported PTX `.entry`; the builder parses the same
//! function (with the same `gpukit-kernel-sig` code) to generate the typed host launcher.
use gpukit_kernel_sig::KernelSig;
use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

/// Marks a kernel entry point.
///
/// Options: `same_len(a, b, ..)` (the launcher returns `Err` unless these slices have equal
/// lengths), `elements = p` (the default grid covers `p.len()` or the integer `p`),
/// `items_per_thread = N`, `block = N` (default 256) and `grid_stride` (the kernel loops, so the
/// default grid is capped at what fills the device).
///
/// Parameters are `&[T]` inputs, `OutSlice<T>` outputs and scalars; anything else is rejected
/// here with the reason.
#[proc_macro_attribute]
pub fn kernel(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    if let Err(e) = KernelSig::parse(args.into(), &func) {
        return e.to_compile_error().into();
    }
    let ItemFn {
        attrs, sig, block, ..
    } = func;
    let name = &sig.ident;
    let inputs = &sig.inputs;
    quote! {
        #(#attrs)*
        #[unsafe(no_mangle)]
        #[allow(unknown_lints, improper_ctypes_definitions, improper_gpu_kernel_arg)]
        pub extern "gpu-kernel" fn #name(#inputs) #block
    }
    .into()
}
