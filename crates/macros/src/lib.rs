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

/// `__unique_shared!(path::to::decl_macro, NAME: [TYPE; LEN])`: invokes `decl_macro!(SYMBOL: [TYPE;
/// LEN])` with a `.shared` symbol name unique to this use: `NAME` followed by a hash of the crate
/// being compiled, the use's file, line and column, and a per-compilation counter. Two
/// `shared_array!`s can therefore never declare the same PTX symbol, whatever their names and
/// modules (before, they met as a ptxas "Duplicate definition" error). Used by
/// `gpukit_device::shared_array!`; not meant to be called directly.
#[doc(hidden)]
#[proc_macro]
pub fn __unique_shared(input: TokenStream) -> TokenStream {
    use std::sync::atomic::{AtomicU64, Ordering};
    static USES: AtomicU64 = AtomicU64::new(0);
    let mut tokens = input.into_iter();
    let mut decl = proc_macro::TokenStream::new();
    // The declaring macro's path runs up to the first top-level comma.
    for t in tokens.by_ref() {
        if matches!(&t, proc_macro::TokenTree::Punct(p) if p.as_char() == ',') {
            break;
        }
        decl.extend([t]);
    }
    let Some(proc_macro::TokenTree::Ident(name)) = tokens.next() else {
        return quote!(compile_error!("shared_array!: expected `NAME: [T; N]`");).into();
    };
    let rest: proc_macro::TokenStream = tokens.collect();
    let span = name.span();
    let crate_name = std::env::var("CARGO_CRATE_NAME").unwrap_or_default();
    let key = format!(
        "{crate_name}\0{}\0{}\0{}\0{}\0{}",
        span.file(),
        span.line(),
        span.column(),
        name,
        USES.fetch_add(1, Ordering::Relaxed)
    );
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let symbol = proc_macro::Ident::new(&format!("{name}_gk{:012x}", h >> 16), span);
    let decl: proc_macro2::TokenStream = decl.into();
    let rest: proc_macro2::TokenStream = rest.into();
    let symbol: proc_macro2::TokenStream =
        proc_macro::TokenStream::from(proc_macro::TokenTree::Ident(symbol)).into();
    quote!(#decl ! { #symbol #rest }).into()
}
