//! The single definition of a kernel's interface.
//!
//! A kernel is written once, as a Rust function with `#[kernel(...)]`. This crate parses that
//! function into a [`KernelSig`]: its parameters (input slices, output slices, scalars) and its
//! launch contract (which slices must have equal lengths, how many elements one thread handles).
//! The `#[kernel]` macro uses it to check and emit the device entry point; the builder uses the
//! same parse of the same source to generate the typed host launcher. Host and device therefore
//! cannot disagree on arity, order or element types.
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Error, FnArg, GenericArgument, ItemFn, Pat, PathArguments, Result, Type};

/// Element and scalar types a kernel parameter may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    F64,
    F16,
    Bf16,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Usize,
}

impl Elem {
    fn from_ident(name: &str) -> Option<Elem> {
        Some(match name {
            "f32" => Elem::F32,
            "f64" => Elem::F64,
            "f16" => Elem::F16,
            "Bf16" | "bf16" => Elem::Bf16,
            "i8" => Elem::I8,
            "u8" => Elem::U8,
            "i16" => Elem::I16,
            "u16" => Elem::U16,
            "i32" => Elem::I32,
            "u32" => Elem::U32,
            "i64" => Elem::I64,
            "u64" => Elem::U64,
            "usize" => Elem::Usize,
            _ => return None,
        })
    }

    /// The host type with the same size, alignment and bits.
    pub fn host_type(self) -> &'static str {
        match self {
            Elem::F32 => "f32",
            Elem::F64 => "f64",
            Elem::F16 => "::half::f16",
            Elem::Bf16 => "::half::bf16",
            Elem::I8 => "i8",
            Elem::U8 => "u8",
            Elem::I16 => "i16",
            Elem::U16 => "u16",
            Elem::I32 => "i32",
            Elem::U32 => "u32",
            Elem::I64 => "i64",
            Elem::U64 => "u64",
            Elem::Usize => "usize",
        }
    }

    fn is_integer(self) -> bool {
        !matches!(self, Elem::F32 | Elem::F64 | Elem::F16 | Elem::Bf16)
    }
}

/// How a parameter crosses the launch boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `&[T]`: read-only device slice, passed as `{ptr, len}`.
    In(Elem),
    /// `OutSlice<T>`: output slice, passed as `{ptr, len}`; the host passes `&mut` so outputs
    /// cannot alias inputs or each other.
    Out(Elem),
    /// A value passed by copy.
    Scalar(Elem),
    /// `TensorMap`: a 128-byte CUDA tensor map passed by value (as `__grid_constant__`), for
    /// the copy engine (TMA). The body sees a `TensorMapRef` (see `gpukit_device::tma`).
    TensorMap,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
}

/// What decides the default grid: one thread per `items_per_thread` elements of this slice's
/// length or this integer scalar's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchContract {
    /// Groups of slice parameters whose lengths must be equal.
    pub same_len: Vec<Vec<String>>,
    /// The parameter whose length (slices) or value (integer scalars) is the element count.
    pub elements: Option<String>,
    /// Elements handled by one thread.
    pub items_per_thread: u32,
    /// Default threads per block.
    pub block: u32,
    /// The kernel loops grid-stride, so any grid is correct and the default grid is capped at
    /// what fills the device.
    pub grid_stride: bool,
    /// `launch_bounds(threads, min_blocks)`: the most threads per block the kernel is launched
    /// with and, optionally, the blocks per SM the compiler must fit (it limits registers for
    /// that), as CUDA's `__launch_bounds__`; emitted as PTX `.maxntid` / `.minnctapersm`.
    pub launch_bounds: Option<(u32, Option<u32>)>,
    /// `arch = "sm_90a"`: the kernel exists only in builds for this architecture (it uses
    /// instructions others lack, and its source is `#[cfg]`-gated to match); other builds
    /// leave it out and the host reports it missing on other devices.
    pub arch: Option<String>,
}

impl Default for LaunchContract {
    fn default() -> Self {
        LaunchContract {
            same_len: Vec::new(),
            elements: None,
            items_per_thread: 1,
            block: 256,
            grid_stride: false,
            launch_bounds: None,
            arch: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSig {
    pub name: String,
    pub params: Vec<Param>,
    pub contract: LaunchContract,
    /// The function's doc comment lines, copied onto the host launcher.
    pub docs: Vec<String>,
}

/// The attribute's path is `kernel` or ends in `::kernel`.
pub fn is_kernel_attr(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "kernel")
}

impl KernelSig {
    /// Parse `#[kernel(args)] fn ...` given the attribute's arguments and the function.
    pub fn parse(args: TokenStream, func: &ItemFn) -> Result<KernelSig> {
        let sig = &func.sig;
        if !sig.generics.params.is_empty() {
            return Err(Error::new(
                sig.generics.span(),
                "a kernel cannot be generic: PTX entries have fixed types (write one kernel per type)",
            ));
        }
        if let syn::ReturnType::Type(_, ty) = &sig.output {
            return Err(Error::new(
                ty.span(),
                "a kernel returns nothing: write results through an OutSlice<T> parameter",
            ));
        }
        if sig.asyncness.is_some() || sig.constness.is_some() {
            return Err(Error::new(sig.span(), "a kernel cannot be async or const"));
        }
        let mut params = Vec::new();
        for arg in &sig.inputs {
            let FnArg::Typed(pt) = arg else {
                return Err(Error::new(arg.span(), "a kernel cannot take self"));
            };
            let Pat::Ident(pi) = &*pt.pat else {
                return Err(Error::new(
                    pt.pat.span(),
                    "kernel parameters must be plain names",
                ));
            };
            let kind = param_kind(&pt.ty)?;
            params.push(Param {
                name: pi.ident.to_string(),
                kind,
            });
        }
        let contract = parse_contract(args, &params)?;
        let docs = func
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .filter_map(|a| match &a.meta {
                syn::Meta::NameValue(nv) => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        Ok(KernelSig {
            name: sig.ident.to_string(),
            params,
            contract,
            docs,
        })
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

fn elem_of(ty: &Type) -> Option<Elem> {
    match ty {
        Type::Path(tp) if tp.qself.is_none() => {
            let last = tp.path.segments.last()?;
            if !last.arguments.is_empty() {
                return None;
            }
            Elem::from_ident(&last.ident.to_string())
        }
        Type::Paren(p) => elem_of(&p.elem),
        Type::Group(g) => elem_of(&g.elem),
        _ => None,
    }
}

const SUPPORTED: &str = "supported kernel parameters: `&[T]` (input), `OutSlice<T>` (output), \
     `TensorMap` (by value) and scalars, with T one of f32, f64, f16, Bf16, i8, u8, i16, u16, i32, u32, i64, u64, usize";

fn param_kind(ty: &Type) -> Result<ParamKind> {
    match ty {
        Type::Reference(r) => {
            let Type::Slice(s) = &*r.elem else {
                return Err(Error::new(
                    ty.span(),
                    format!("unsupported parameter type; {SUPPORTED}"),
                ));
            };
            let elem = elem_of(&s.elem).ok_or_else(|| {
                Error::new(
                    s.elem.span(),
                    format!("unsupported element type; {SUPPORTED}"),
                )
            })?;
            if r.mutability.is_some() {
                return Err(Error::new(
                    ty.span(),
                    "`&mut [T]` would give every thread a mutable alias of the same memory; \
                     take outputs as `OutSlice<T>`, which hands each thread only what it owns",
                ));
            }
            Ok(ParamKind::In(elem))
        }
        Type::Path(tp) if tp.qself.is_none() => {
            let last = tp.path.segments.last().expect("a path has a segment");
            if last.ident == "TensorMap" && last.arguments.is_empty() {
                return Ok(ParamKind::TensorMap);
            }
            if last.ident == "OutSlice" {
                let PathArguments::AngleBracketed(ab) = &last.arguments else {
                    return Err(Error::new(ty.span(), "write `OutSlice<T>`"));
                };
                let mut tys = ab.args.iter().filter_map(|a| match a {
                    GenericArgument::Type(t) => Some(t),
                    _ => None,
                });
                let elem = tys.next().and_then(elem_of).ok_or_else(|| {
                    Error::new(ab.span(), format!("unsupported element type; {SUPPORTED}"))
                })?;
                return Ok(ParamKind::Out(elem));
            }
            elem_of(ty).map(ParamKind::Scalar).ok_or_else(|| {
                Error::new(
                    ty.span(),
                    format!("unsupported parameter type; {SUPPORTED}"),
                )
            })
        }
        _ => Err(Error::new(
            ty.span(),
            format!("unsupported parameter type; {SUPPORTED}"),
        )),
    }
}

fn parse_contract(args: TokenStream, params: &[Param]) -> Result<LaunchContract> {
    let mut c = LaunchContract::default();
    let slice_param = |id: &syn::Ident| -> Result<String> {
        let name = id.to_string();
        match params.iter().find(|p| p.name == name) {
            Some(Param {
                kind: ParamKind::In(_) | ParamKind::Out(_),
                ..
            }) => Ok(name),
            Some(_) => Err(Error::new(
                id.span(),
                format!("`{name}` is not a slice parameter"),
            )),
            None => Err(Error::new(
                id.span(),
                format!("no parameter named `{name}`"),
            )),
        }
    };
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "same_len" => {
                let mut group = Vec::new();
                meta.parse_nested_meta(|inner| {
                    let id = inner
                        .path
                        .get_ident()
                        .ok_or_else(|| inner.error("expected a parameter name"))?;
                    group.push(slice_param(id)?);
                    Ok(())
                })?;
                if group.len() < 2 {
                    return Err(meta.error("same_len needs at least two slice parameters"));
                }
                c.same_len.push(group);
            }
            "elements" => {
                let id: syn::Ident = meta.value()?.parse()?;
                let name = id.to_string();
                match params.iter().find(|p| p.name == name) {
                    Some(Param {
                        kind: ParamKind::In(_) | ParamKind::Out(_),
                        ..
                    }) => {}
                    Some(Param {
                        kind: ParamKind::Scalar(e),
                        ..
                    }) if e.is_integer() => {}
                    Some(_) => {
                        return Err(Error::new(
                            id.span(),
                            format!("`elements = {name}` needs a slice or an integer parameter"),
                        ));
                    }
                    None => {
                        return Err(Error::new(
                            id.span(),
                            format!("no parameter named `{name}`"),
                        ));
                    }
                }
                c.elements = Some(name);
            }
            "items_per_thread" | "block" => {
                let lit: syn::LitInt = meta.value()?.parse()?;
                let v: u32 = lit.base10_parse()?;
                if v == 0 {
                    return Err(Error::new(lit.span(), format!("{key} must be at least 1")));
                }
                if key == "block" {
                    if v > 1024 {
                        return Err(Error::new(lit.span(), "a block has at most 1024 threads"));
                    }
                    c.block = v;
                } else {
                    c.items_per_thread = v;
                }
            }
            "grid_stride" => c.grid_stride = true,
            "arch" => {
                let lit: syn::LitStr = meta.value()?.parse()?;
                let arch = lit.value();
                let ok = arch
                    .strip_prefix("sm_")
                    .map(|d| d.trim_end_matches(['a', 'f']))
                    .is_some_and(|d| d.len() >= 2 && d.bytes().all(|b| b.is_ascii_digit()));
                if !ok {
                    return Err(Error::new(
                        lit.span(),
                        "arch must name one architecture such as \"sm_90a\"",
                    ));
                }
                c.arch = Some(arch);
            }
            "launch_bounds" => {
                let content;
                syn::parenthesized!(content in meta.input);
                let nums =
                    syn::punctuated::Punctuated::<syn::LitInt, syn::Token![,]>::parse_terminated(
                        &content,
                    )?;
                let vals = nums
                    .iter()
                    .map(|l| l.base10_parse::<u32>())
                    .collect::<Result<Vec<_>>>()?;
                match vals.as_slice() {
                    [t] if (1..=1024).contains(t) => c.launch_bounds = Some((*t, None)),
                    [t, b] if (1..=1024).contains(t) && *b >= 1 => {
                        c.launch_bounds = Some((*t, Some(*b)))
                    }
                    _ => {
                        return Err(meta.error(
                            "write launch_bounds(max_threads) or launch_bounds(max_threads, min_blocks_per_sm), with 1 <= max_threads <= 1024",
                        ));
                    }
                }
            }
            _ => {
                return Err(meta.error(
                    "unknown kernel option; expected same_len(a, b, ..), elements = name, \
                     items_per_thread = N, block = N, grid_stride, launch_bounds(T, B) or arch = \"sm_XY\"",
                ));
            }
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, args)?;
    Ok(c)
}

/// Every `#[kernel]` function in one source file, including those inside inline modules.
pub fn kernels_in_file(source: &str) -> Result<Vec<KernelSig>> {
    let file = syn::parse_file(source)?;
    let mut found = Vec::new();
    collect(&file.items, &mut found)?;
    Ok(found)
}

fn collect(items: &[syn::Item], found: &mut Vec<KernelSig>) -> Result<()> {
    for item in items {
        match item {
            syn::Item::Fn(f) => {
                if let Some(attr) = f.attrs.iter().find(|a| is_kernel_attr(a)) {
                    let args = match &attr.meta {
                        syn::Meta::List(l) => l.tokens.clone(),
                        syn::Meta::Path(_) => TokenStream::new(),
                        syn::Meta::NameValue(nv) => {
                            return Err(Error::new(nv.span(), "write #[kernel] or #[kernel(...)]"));
                        }
                    };
                    found.push(KernelSig::parse(args, f)?);
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, found)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A span-less error, for callers outside a macro.
pub fn error(msg: impl std::fmt::Display) -> Error {
    Error::new(Span::call_site(), msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_params_and_contract() {
        let src = r#"
            /// y = a*x + y
            #[kernel(same_len(x, y), elements = y, items_per_thread = 4, block = 128)]
            pub fn saxpy(a: f32, x: &[f32], mut y: OutSlice<f32>) {}
            mod inner { #[gpu::kernel] fn fill(v: u32, out: OutSlice<u32>, n: usize) {} }
        "#;
        let ks = kernels_in_file(src).unwrap();
        assert_eq!(ks.len(), 2);
        let s = &ks[0];
        assert_eq!(s.name, "saxpy");
        assert_eq!(
            s.params.iter().map(|p| p.kind).collect::<Vec<_>>(),
            vec![
                ParamKind::Scalar(Elem::F32),
                ParamKind::In(Elem::F32),
                ParamKind::Out(Elem::F32)
            ]
        );
        assert_eq!(
            s.contract.same_len,
            vec![vec!["x".to_string(), "y".to_string()]]
        );
        assert_eq!(s.contract.elements.as_deref(), Some("y"));
        assert_eq!((s.contract.items_per_thread, s.contract.block), (4, 128));
        assert_eq!(s.docs, vec![" y = a*x + y".to_string()]);
        assert_eq!(ks[1].name, "fill");
        let hk = kernels_in_file(
            "#[kernel(arch = \"sm_90a\", launch_bounds(384, 1))] fn h(a: TensorMap, x: &[f32]) {}",
        )
        .unwrap();
        assert_eq!(hk[0].contract.arch.as_deref(), Some("sm_90a"));
        assert_eq!(hk[0].params[0].kind, ParamKind::TensorMap);
        assert!(err("#[kernel(arch = \"hopper\")] fn k(a: f32) {}").contains("arch must name"));
        let lb = kernels_in_file("#[kernel(launch_bounds(256, 3))] fn k(a: f32) {}").unwrap();
        assert_eq!(lb[0].contract.launch_bounds, Some((256, Some(3))));
        assert!(err("#[kernel(launch_bounds(2048))] fn k(a: f32) {}").contains("launch_bounds("));
        assert_eq!(ks[1].contract.block, 256);
    }

    fn err(src: &str) -> String {
        kernels_in_file(src).unwrap_err().to_string()
    }

    #[test]
    fn rejects_bad_signatures_with_reasons() {
        assert!(err("#[kernel] fn k(x: &mut [f32]) {}").contains("OutSlice"));
        assert!(err("#[kernel] fn k(x: &[String]) {}").contains("unsupported element type"));
        assert!(err("#[kernel] fn k<T>(x: &[T]) {}").contains("generic"));
        assert!(err("#[kernel] fn k() -> f32 { 0.0 }").contains("returns nothing"));
        assert!(
            err("#[kernel(same_len(x, z))] fn k(x: &[f32], y: &[f32]) {}")
                .contains("no parameter named `z`")
        );
        assert!(
            err("#[kernel(same_len(x, a))] fn k(x: &[f32], a: f32) {}").contains("not a slice")
        );
        assert!(err("#[kernel(elements = a)] fn k(a: f32) {}").contains("integer"));
        assert!(err("#[kernel(block = 2048)] fn k(a: f32) {}").contains("1024"));
        assert!(err("#[kernel(speed = 3)] fn k(a: f32) {}").contains("unknown kernel option"));
    }
}
