//! `#[kernel]`: the one place a kernel's interface is written.
//!
//! On the device it turns the function into an exported PTX `.entry`; the builder parses the same
//! function (with the same `gpukit-kernel-sig` code) to generate the typed host launcher.
use gpukit_kernel_sig::{KernelSig, ParamKind};
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
/// `launch_bounds(threads, min_blocks)` emits `.maxntid`/`.minnctapersm`; `arch = "sm_90a"`
/// marks a kernel that exists only in that architecture's build (gate its source with the
/// matching `#[cfg(target_feature = ...)]`).
///
/// Parameters are `&[T]` inputs, `OutSlice<T>` outputs, scalars and `TensorMap`s (by value, as
/// CUDA's `__grid_constant__`; inside the body the name is a `gpukit_device::tma::TensorMapRef`
/// to the parameter itself); anything else is rejected here with the reason.
#[proc_macro_attribute]
pub fn kernel(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    let parsed = match KernelSig::parse(args.into(), &func) {
        Ok(k) => k,
        Err(e) => return e.to_compile_error().into(),
    };
    let ItemFn {
        attrs,
        mut sig,
        block,
        ..
    } = func;
    let name = sig.ident.clone();
    // Tensor-map parameters: the body must never take the by-value parameter's address (LLVM
    // would copy it to the stack, where the copy engine cannot read it). The parameter is
    // renamed, and its name is bound to the generic address of the PTX parameter itself.
    let mut bindings = Vec::new();
    for (i, (arg, p)) in sig.inputs.iter_mut().zip(&parsed.params).enumerate() {
        if p.kind != ParamKind::TensorMap {
            continue;
        }
        let syn::FnArg::Typed(pt) = arg else { continue };
        let syn::Pat::Ident(pi) = &mut *pt.pat else {
            continue;
        };
        let user = pi.ident.clone();
        pi.ident = syn::Ident::new(&format!("_gpukit_tensor_map_{user}"), user.span());
        pi.mutability = None;
        let symbol = format!("{name}_param_{i}");
        bindings.push(quote! {
            let #user = ::gpukit_device::__tensor_map_param!(#symbol);
        });
    }
    let inputs = &sig.inputs;
    quote! {
        #(#attrs)*
        #[unsafe(no_mangle)]
        #[allow(unknown_lints, improper_ctypes_definitions, improper_gpu_kernel_arg)]
        pub extern "gpu-kernel" fn #name(#inputs) {
            #(#bindings)*
            #block
        }
    }
    .into()
}
