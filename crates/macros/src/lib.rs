//! `#[kernel]`: the one place a kernel's interface is written.
//!
//! On the device it keeps the function (generic or not) as an ordinary, always-inlined Rust
//! function and adds one exported PTX `.entry` per instance, which binds each output's ownership
//! view for the launch and calls it. The builder parses the same function (with the same
//! `gpukit-kernel-sig` code) to generate the typed host launchers.
use gpukit_kernel_sig::{Elem, ElemTy, Generic, Geom, InstanceArg, KernelSig, ParamKind};
use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{FnArg, ItemFn, Pat, parse_macro_input};

/// Marks a kernel entry point.
///
/// Parameters are `&[T]` inputs, `OutSlice<T, View>` outputs (the view fixes which elements each
/// thread owns: `PerThread<N>`, `GridStride`, `BlockRows<len>`, `WarpRows<len>`,
/// `BlockTiles<W, H, cols>`, `ThreadTiles<W, H, cols>`, `Atomic`, `Manual`) and scalars;
/// anything else is rejected here with the reason.
///
/// Options:
/// - length relations checked on the host before every launch: `len(x) == rows * cols`,
///   `len(gamma) == cols`, `len(bins) == 256`, `len(x) >= n`, `len(x) % 4 == 0`;
///   `same_len(a, b, ..)`;
/// - `instances(f32, f16, Bf16)` for a generic kernel (`instances((f32, 64), ..)` with several
///   generic parameters): one `.entry` per instance, named `name__f32`, `name__bf16_64`, ...;
/// - the default grid follows the first output's view (one thread per `N` elements, one block
///   per row, one block per tile, ...); `elements = p` makes it one thread per element of `p`
///   (a slice's length or an integer's value), with `items_per_thread = N` (or
///   `bytes_per_thread = B`: `B / size_of::<T>()` elements of the slice `p`, so that every
///   instance of a generic kernel moves the same bytes per thread) and `grid_stride`;
///   `block = N` or `block = (X, Y)` sets the default block;
/// - `launch_bounds(T)` / `launch_bounds(T, B)`, as CUDA's `__launch_bounds__`;
/// - `arch = "sm_90a"`: the kernel exists only in that architecture's build (gate its source
///   with the matching `#[cfg(target_feature = ...)]`).
///
/// Parameters are `&[T]` inputs, `OutSlice<T, View>` outputs, scalars and `TensorMap`s (by
/// value, as CUDA's `__grid_constant__`; inside the body the name is a
/// `gpukit_device::tma::TensorMapRef` to the entry's parameter itself, never a stack copy).
#[proc_macro_attribute]
pub fn kernel(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    let sig = match KernelSig::parse(args.into(), &func) {
        Ok(s) => s,
        Err(e) => return e.to_compile_error().into(),
    };
    expand(&sig, func).into()
}

/// The device type of an element.
fn elem_tokens(e: Elem) -> Tokens {
    match e {
        Elem::Bf16 => quote!(::gpukit_device::Bf16),
        Elem::E4M3 => quote!(::gpukit_device::wgmma::E4M3),
        Elem::E5M2 => quote!(::gpukit_device::wgmma::E5M2),
        Elem::Tf32 => quote!(::gpukit_device::wgmma::Tf32),
        other => {
            let id = format_ident!("{}", other.short_name());
            quote!(#id)
        }
    }
}

/// Replaces the kernel's type parameters with one instance's element types.
struct Substitute<'a> {
    types: Vec<(&'a str, syn::Type)>,
}

impl VisitMut for Substitute<'_> {
    fn visit_type_mut(&mut self, t: &mut syn::Type) {
        if let syn::Type::Path(tp) = t
            && tp.qself.is_none()
            && let Some(id) = tp.path.get_ident()
            && let Some((_, to)) = self.types.iter().find(|(n, _)| id == n)
        {
            *t = to.clone();
            return;
        }
        syn::visit_mut::visit_type_mut(self, t);
    }
}

/// `OutSlice<T, View<.., len>>` → `OutSlice<T, View<..>>`: the view's runtime geometry is bound
/// by the entry, not part of the type.
fn strip_geometry(ty: &mut syn::Type) {
    let syn::Type::Path(tp) = ty else { return };
    let Some(last) = tp.path.segments.last_mut() else {
        return;
    };
    if last.ident != "OutSlice" {
        return;
    }
    let syn::PathArguments::AngleBracketed(ab) = &mut last.arguments else {
        return;
    };
    let Some(syn::GenericArgument::Type(syn::Type::Path(view))) = ab.args.iter_mut().nth(1) else {
        return;
    };
    let Some(vseg) = view.path.segments.last_mut() else {
        return;
    };
    let has_geometry = matches!(
        vseg.ident.to_string().as_str(),
        "BlockRows" | "WarpRows" | "BlockTiles" | "ThreadTiles"
    );
    if !has_geometry {
        return;
    }
    if let syn::PathArguments::AngleBracketed(vab) = &mut vseg.arguments {
        vab.args.pop();
        if let Some(p) = vab.args.pop() {
            vab.args.push(p.into_value());
        }
        if vab.args.is_empty() {
            vseg.arguments = syn::PathArguments::None;
        }
    }
}

fn expand(sig: &KernelSig, func: ItemFn) -> Tokens {
    let ItemFn {
        attrs,
        vis,
        sig: mut fsig,
        block,
    } = func;
    // The kernel itself: an ordinary function with the views' geometry removed from its types.
    // Tensor maps: the body gets a reference to the entry's own parameter (LLVM would copy a
    // by-value parameter whose address is taken to the stack, where the copy engine cannot
    // read it).
    let written: Vec<syn::Type> = fsig
        .inputs
        .iter()
        .map(|arg| match arg {
            FnArg::Typed(pt) => (*pt.ty).clone(),
            FnArg::Receiver(_) => syn::parse_quote!(()),
        })
        .collect();
    for (arg, p) in fsig.inputs.iter_mut().zip(&sig.params) {
        if let FnArg::Typed(pt) = arg {
            strip_geometry(&mut pt.ty);
            if p.kind == ParamKind::TensorMap {
                *pt.ty = syn::parse_quote!(::gpukit_device::tma::TensorMapRef);
            }
        }
    }
    let name = fsig.ident.clone();
    // Parameters the contract reads (lengths relations, views' sizes) count as used, even when
    // the body does not read them.
    let mut contract_params: Vec<String> = Vec::new();
    for r in &sig.contract.relations {
        for t in r.leaves() {
            if let gpukit_kernel_sig::Term::Param(p) = t {
                contract_params.push(p);
            }
        }
    }
    for p in &sig.params {
        if let ParamKind::Out(_, v) = &p.kind
            && let Some(Geom::Param(g)) = v.geometry()
        {
            contract_params.push(g.clone());
        }
    }
    contract_params.sort();
    contract_params.dedup();
    let used: Vec<syn::Ident> = contract_params
        .iter()
        .map(|p| format_ident!("{}", p))
        .collect();
    let stmts = &block.stmts;
    let kernel_fn = quote! {
        #(#attrs)*
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        #vis #fsig {
            #(let _ = &#used;)*
            #(#stmts)*
        }
    };

    let instances: Vec<Vec<InstanceArg>> = if sig.instances.is_empty() {
        vec![Vec::new()]
    } else {
        sig.instances.clone()
    };
    let mut entries = Vec::new();
    for args in &instances {
        let entry = sig.entry_name(args);
        let entry_fn = format_ident!("__gpukit_entry_{}", entry);
        let mut subst = Substitute { types: Vec::new() };
        let mut consts: Vec<(&str, u64)> = Vec::new();
        for (g, a) in sig.generics.iter().zip(args) {
            match (g, a) {
                (Generic::Type(n), InstanceArg::Type(e)) => {
                    let t: syn::Type = syn::parse2(elem_tokens(*e)).expect("an element type");
                    subst.types.push((n.as_str(), t));
                }
                (Generic::Const(n), InstanceArg::Const(v)) => consts.push((n.as_str(), *v)),
                _ => unreachable!("validated by KernelSig::parse"),
            }
        }
        let mut params = Vec::new();
        let mut call = Vec::new();
        for (i, (arg, p)) in fsig.inputs.iter().zip(&sig.params).enumerate() {
            let FnArg::Typed(pt) = arg else {
                unreachable!()
            };
            let Pat::Ident(pi) = &*pt.pat else {
                unreachable!()
            };
            let id = &pi.ident;
            match &p.kind {
                ParamKind::Out(e, view) => {
                    let elem = match e {
                        ElemTy::Known(k) => elem_tokens(*k),
                        ElemTy::Generic(_) => elem_tokens(sig.resolve(e, args)),
                    };
                    params.push(quote!(#id: ::gpukit_device::out::RawOut<#elem>));
                    let geom = match view.geometry() {
                        None => quote!(()),
                        Some(Geom::Param(g)) => {
                            let g = format_ident!("{}", g);
                            quote!((#g as usize))
                        }
                        Some(Geom::Lit(n)) => {
                            let n = *n as usize;
                            quote!(#n)
                        }
                        Some(Geom::Const(c)) => match consts.iter().find(|(n, _)| n == c) {
                            Some((_, v)) => {
                                let v = *v as usize;
                                quote!(#v)
                            }
                            None => {
                                let c = format_ident!("{}", c);
                                quote!((#c as usize))
                            }
                        },
                    };
                    // SAFETY (in the generated code): `#id` is this launch's output parameter,
                    // which the host launcher borrows mutably (no aliasing), and the geometry
                    // is a kernel parameter or a constant, the same in every thread.
                    call.push(quote!(unsafe { ::gpukit_device::out::__bind(#id, #geom) }));
                }
                ParamKind::TensorMap => {
                    let by_value = format_ident!("_gpukit_tensor_map_{}", id);
                    // The type as written (it names `gpukit_device::tma::TensorMap`).
                    let ty = &written[i];
                    params.push(quote!(#by_value: #ty));
                    let symbol = format!("{entry}_param_{i}");
                    call.push(quote!(::gpukit_device::__tensor_map_param!(#symbol)));
                }
                _ => {
                    let mut ty = (*pt.ty).clone();
                    subst.visit_type_mut(&mut ty);
                    params.push(quote!(#id: #ty));
                    call.push(quote!(#id));
                }
            }
        }
        let turbofish = if args.is_empty() {
            quote!()
        } else {
            let a: Vec<Tokens> = args
                .iter()
                .map(|a| match a {
                    InstanceArg::Type(e) => elem_tokens(*e),
                    InstanceArg::Const(v) => {
                        let v = *v as usize;
                        quote!(#v)
                    }
                })
                .collect();
            quote!(::<#(#a),*>)
        };
        entries.push(quote! {
            ::gpukit_device::__kernel_entry! {
                #entry, #entry_fn, (#(#params),*), {
                    #name #turbofish (#(#call),*)
                }
            }
        });
    }
    quote! {
        #kernel_fn
        #(#entries)*
    }
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
