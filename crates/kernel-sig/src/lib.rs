//! The single definition of a kernel's interface.
//!
//! A kernel is written once, as a Rust function with `#[kernel(...)]`. This crate parses that
//! function into a [`KernelSig`]: its generic parameters and declared instances, its parameters
//! (input slices, output slices with their ownership view, scalars) and its launch contract
//! (length relations checked on the host, how the default grid is derived). The `#[kernel]` macro
//! uses it to check and emit the device entry points; the builder uses the same parse of the same
//! source to generate the typed host launchers. Host and device therefore cannot disagree on
//! arity, order, element types, instances or ownership.
use proc_macro2::{Span, TokenStream};
use std::fmt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Error, Expr, FnArg, GenericArgument, ItemFn, Pat, PathArguments, Result, Token, Type};

mod contract;
pub use contract::{BinOp, Cmp, Relation, Term};

/// Element and scalar types a kernel parameter may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// fp8 e4m3 (the device's `wgmma::E4M3` marker; host `Fp8E4M3`): an input type of
    /// tensor-core kernels, which read it through tensor maps.
    E4M3,
    /// fp8 e5m2 (`wgmma::E5M2`; host `Fp8E5M2`).
    E5M2,
    /// tf32 (`wgmma::Tf32`): f32 storage the tensor cores read with 10 mantissa bits (host f32).
    Tf32,
}

impl Elem {
    /// The element type a Rust type name denotes (`Bf16` and `bf16` both name bfloat16).
    pub fn from_ident(name: &str) -> Option<Elem> {
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
            "E4M3" => Elem::E4M3,
            "E5M2" => Elem::E5M2,
            "Tf32" => Elem::Tf32,
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
            Elem::E4M3 | Elem::E5M2 => "u8",
            Elem::Tf32 => "f32",
        }
    }

    /// Lower-case name used in mangled entry names (`relu__bf16`).
    pub fn short_name(self) -> &'static str {
        match self {
            Elem::F32 => "f32",
            Elem::F64 => "f64",
            Elem::F16 => "f16",
            Elem::Bf16 => "bf16",
            Elem::I8 => "i8",
            Elem::U8 => "u8",
            Elem::I16 => "i16",
            Elem::U16 => "u16",
            Elem::I32 => "i32",
            Elem::U32 => "u32",
            Elem::I64 => "i64",
            Elem::U64 => "u64",
            Elem::Usize => "usize",
            Elem::E4M3 => "e4m3",
            Elem::E5M2 => "e5m2",
            Elem::Tf32 => "tf32",
        }
    }

    /// Size in bytes.
    pub fn size(self) -> u64 {
        match self {
            Elem::I8 | Elem::U8 | Elem::E4M3 | Elem::E5M2 => 1,
            Elem::F16 | Elem::Bf16 | Elem::I16 | Elem::U16 => 2,
            Elem::F32 | Elem::I32 | Elem::U32 | Elem::Tf32 => 4,
            Elem::F64 | Elem::I64 | Elem::U64 | Elem::Usize => 8,
        }
    }

    /// Integer types (usable in length relations and as geometry).
    pub fn is_integer(self) -> bool {
        !matches!(
            self,
            Elem::F32 | Elem::F64 | Elem::F16 | Elem::Bf16 | Elem::E4M3 | Elem::E5M2 | Elem::Tf32
        )
    }
}

/// A parameter's element type: a concrete one, or one of the kernel's type parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElemTy {
    Known(Elem),
    /// The type parameter with this name; each instance substitutes a concrete [`Elem`].
    Generic(String),
}

/// Where a view's row length (or matrix width) comes from: the launch's value of an integer
/// parameter, a literal, or a constant of the kernel crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Geom {
    Param(String),
    Lit(u64),
    Const(String),
}

impl fmt::Display for Geom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Geom::Param(p) | Geom::Const(p) => write!(f, "{p}"),
            Geom::Lit(n) => write!(f, "{n}"),
        }
    }
}

/// The ownership discipline of an output, named in its type (`OutSlice<T, View>`): which
/// elements each thread may write. One per output and launch, so two disciplines can never
/// overlap on one output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// `PerThread<N>` (the default, N = 1): the thread with linear id `i` owns `N*i .. N*i + N`.
    PerThread(u32),
    /// `GridStride`: the thread with linear id `i` owns `i, i + T, i + 2T, ...`.
    GridStride,
    /// `BlockRows<len>`: block `b` owns row `b` (elements `b*len .. b*len + len`).
    BlockRows(Geom),
    /// `WarpRows<len>`: warp `w` of the grid owns row `w`.
    WarpRows(Geom),
    /// `BlockTiles<W, H, cols>`: block `(x, y)` owns the `H x W` tile at rows `y*H..`, columns
    /// `x*W..` of the output viewed as a matrix of `cols` columns.
    BlockTiles { w: u32, h: u32, cols: Geom },
    /// `ThreadTiles<W, H, cols>`: the thread with 2D index `(x, y)` owns a `H x W` tile.
    ThreadTiles { w: u32, h: u32, cols: Geom },
    /// `StridedPackets<K>`: the thread with linear id `i` owns the 16-byte packets
    /// `i, i + T, .., i + (K-1)T` (`T` threads in the launch).
    StridedPackets(u32),
    /// `Atomic`: every thread may update any element, atomically only.
    Atomic,
    /// `Manual`: ownership is the kernel's own `unsafe` claim.
    Manual,
}

impl View {
    /// The marker type's name in `gpukit_device`.
    pub fn marker(&self) -> &'static str {
        match self {
            View::PerThread(_) => "PerThread",
            View::GridStride => "GridStride",
            View::BlockRows(_) => "BlockRows",
            View::WarpRows(_) => "WarpRows",
            View::BlockTiles { .. } => "BlockTiles",
            View::ThreadTiles { .. } => "ThreadTiles",
            View::StridedPackets(_) => "StridedPackets",
            View::Atomic => "Atomic",
            View::Manual => "Manual",
        }
    }

    /// The row length or matrix width the view is bound with at launch, if any.
    pub fn geometry(&self) -> Option<&Geom> {
        match self {
            View::BlockRows(g) | View::WarpRows(g) => Some(g),
            View::BlockTiles { cols, .. } | View::ThreadTiles { cols, .. } => Some(cols),
            _ => None,
        }
    }
}

/// How a parameter crosses the launch boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `&[T]`: read-only device slice, passed as `{ptr, len}`.
    In(ElemTy),
    /// `OutSlice<T, View>`: output slice, passed as `{ptr, len}`; the host passes `&mut` so
    /// outputs cannot alias inputs or each other.
    Out(ElemTy, View),
    /// A value passed by copy.
    Scalar(ElemTy),
    /// `TensorMap`: a 128-byte CUDA tensor map passed by value (as `__grid_constant__`), for
    /// the copy engine (TMA). The body sees a `TensorMapRef` (see `gpukit_device::tma`). It
    /// has no element type and is the same in every instance.
    TensorMap,
}

impl ParamKind {
    /// The element type; `None` for a tensor map, which has none.
    pub fn elem(&self) -> Option<&ElemTy> {
        match self {
            ParamKind::In(e) | ParamKind::Out(e, _) | ParamKind::Scalar(e) => Some(e),
            ParamKind::TensorMap => None,
        }
    }

    /// Slices (inputs and outputs).
    pub fn is_slice(&self) -> bool {
        matches!(self, ParamKind::In(_) | ParamKind::Out(..))
    }
}

/// One kernel parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
}

/// A generic parameter of a kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Generic {
    /// `T`: an element type.
    Type(String),
    /// `const N: usize`.
    Const(String),
}

impl Generic {
    /// The parameter's name.
    pub fn name(&self) -> &str {
        match self {
            Generic::Type(n) | Generic::Const(n) => n,
        }
    }
}

/// One argument of an instance: an element type or a constant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceArg {
    Type(Elem),
    Const(u64),
}

impl fmt::Display for InstanceArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceArg::Type(e) => write!(f, "{}", e.short_name()),
            InstanceArg::Const(n) => write!(f, "{n}"),
        }
    }
}

/// How the launcher's default configuration is derived from the arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GridRule {
    /// No default: only `launch_with` exists.
    None,
    /// One thread per `per_thread` elements of `count` (a slice's length or an integer
    /// parameter's value); with `grid_stride`, capped at what fills the device.
    Elements {
        count: String,
        per_thread: u32,
        grid_stride: bool,
    },
    /// One block (or warp) per row of `out`, rows of `row_len` elements.
    Rows {
        out: String,
        row_len: Geom,
        per_warp: bool,
    },
    /// One block (or thread) per `w x h` tile of `out` viewed with `cols` columns.
    Tiles {
        out: String,
        cols: Geom,
        w: u32,
        h: u32,
        per_thread: bool,
    },
}

/// The launch contract: checks before launch and the default configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchContract {
    /// Groups of slice parameters whose lengths must be equal.
    pub same_len: Vec<Vec<String>>,
    /// Length relations (`len(x) == rows * cols`, `len(bins) == 256`, `len(x) >= n`), checked
    /// on the host in order; each failure names the kernel, the parameter and the values.
    pub relations: Vec<Relation>,
    /// How the default grid is derived.
    pub grid: GridRule,
    /// Default threads per block: `(x, y)`; `y` is 1 for 1D launches.
    pub block: (u32, u32),
    /// `launch_bounds(threads, min_blocks)`: the most threads per block the kernel is launched
    /// with and, optionally, the blocks per SM the compiler must fit (it limits registers for
    /// that), as CUDA's `__launch_bounds__`; emitted as PTX `.maxntid` / `.minnctapersm`.
    pub launch_bounds: Option<(u32, Option<u32>)>,
    /// `arch = "sm_90a"`: the kernel exists only in builds for this architecture (it uses
    /// instructions others lack, and its source is `#[cfg]`-gated to match); other builds
    /// leave it out and the host reports it missing on other devices.
    pub arch: Option<String>,
    /// `bytes_per_thread = B`: the default grid gives each thread `B` bytes of the `elements`
    /// slice rather than a fixed number of elements, so every instance of a generic kernel moves
    /// the same bytes per thread (`B / size_of::<T>()` elements: 8 f32 or 16 bf16 for 32).
    pub bytes_per_thread: Option<u32>,
}

/// A parsed `#[kernel]` function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSig {
    pub name: String,
    pub generics: Vec<Generic>,
    /// Declared instances (`instances(..)`), each with one argument per generic parameter;
    /// empty for a non-generic kernel.
    pub instances: Vec<Vec<InstanceArg>>,
    pub params: Vec<Param>,
    pub contract: LaunchContract,
    /// The function's doc comment lines, copied onto the host launcher.
    pub docs: Vec<String>,
    /// 1-based line of the function's name in its source file (0 when unknown).
    pub line: usize,
}

/// One `.entry` of a kernel: the kernel itself, or one instance of a generic kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySig {
    /// The PTX entry name: the kernel's name, or `name__arg_arg` for an instance.
    pub entry: String,
    /// The instance's arguments (empty for a non-generic kernel).
    pub args: Vec<InstanceArg>,
    /// `(name, size in bytes)` of each PTX parameter.
    pub param_sizes: Vec<(String, u64)>,
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
        if let syn::ReturnType::Type(_, ty) = &sig.output {
            return Err(Error::new(
                ty.span(),
                "a kernel returns nothing: write results through an OutSlice<T> parameter",
            ));
        }
        if sig.asyncness.is_some() || sig.constness.is_some() {
            return Err(Error::new(sig.span(), "a kernel cannot be async or const"));
        }
        let generics = parse_generics(&sig.generics)?;
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
            let kind = param_kind(&pt.ty, &generics)?;
            params.push(Param {
                name: pi.ident.to_string(),
                kind,
            });
        }
        resolve_geometry(&mut params);
        let (contract, instances) = parse_contract(args, &params, &generics, sig)?;
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
            generics,
            instances,
            params,
            contract,
            docs,
            line: sig.ident.span().start().line,
        })
    }

    /// The parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether the kernel has generic parameters (and therefore instances).
    pub fn is_generic(&self) -> bool {
        !self.generics.is_empty()
    }

    /// The PTX entry name of one instance (the kernel's name when it is not generic).
    pub fn entry_name(&self, args: &[InstanceArg]) -> String {
        if args.is_empty() {
            return self.name.clone();
        }
        let parts: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        format!("{}__{}", self.name, parts.join("_"))
    }

    /// The element type `t` denotes in the instance `args`.
    pub fn resolve(&self, t: &ElemTy, args: &[InstanceArg]) -> Elem {
        match t {
            ElemTy::Known(e) => *e,
            ElemTy::Generic(g) => {
                let i = self
                    .generics
                    .iter()
                    .position(|p| p.name() == g)
                    .expect("validated by the parser");
                match args[i] {
                    InstanceArg::Type(e) => e,
                    InstanceArg::Const(_) => unreachable!("validated by the parser"),
                }
            }
        }
    }

    /// Every `.entry` this kernel produces, with its parameter sizes: 16 bytes (`{ptr, len}`)
    /// for slices, 128 for a tensor map, the scalar's size otherwise.
    pub fn entries(&self) -> Vec<EntrySig> {
        let instances: Vec<Vec<InstanceArg>> = if self.instances.is_empty() {
            vec![Vec::new()]
        } else {
            self.instances.clone()
        };
        instances
            .into_iter()
            .map(|args| EntrySig {
                entry: self.entry_name(&args),
                param_sizes: self
                    .params
                    .iter()
                    .map(|p| {
                        let size = match &p.kind {
                            ParamKind::In(_) | ParamKind::Out(..) => 16,
                            ParamKind::Scalar(t) => self.resolve(t, &args).size(),
                            ParamKind::TensorMap => 128,
                        };
                        (p.name.clone(), size)
                    })
                    .collect(),
                args,
            })
            .collect()
    }
}

fn parse_generics(g: &syn::Generics) -> Result<Vec<Generic>> {
    let mut out = Vec::new();
    for p in &g.params {
        match p {
            syn::GenericParam::Type(t) => {
                if t.default.is_some() {
                    return Err(Error::new(
                        t.span(),
                        "a kernel's type parameter takes no default",
                    ));
                }
                out.push(Generic::Type(t.ident.to_string()));
            }
            syn::GenericParam::Const(c) => {
                let ok = matches!(&c.ty, Type::Path(tp) if tp.path.is_ident("usize"));
                if !ok {
                    return Err(Error::new(
                        c.ty.span(),
                        "a kernel's const parameters are `usize`",
                    ));
                }
                out.push(Generic::Const(c.ident.to_string()));
            }
            syn::GenericParam::Lifetime(l) => {
                return Err(Error::new(
                    l.span(),
                    "a kernel takes no lifetime parameters (its slices live for the launch)",
                ));
            }
        }
    }
    Ok(out)
}

fn elem_of(ty: &Type, generics: &[Generic]) -> Option<ElemTy> {
    match ty {
        Type::Path(tp) if tp.qself.is_none() => {
            let last = tp.path.segments.last()?;
            if !last.arguments.is_empty() {
                return None;
            }
            let name = last.ident.to_string();
            if tp.path.segments.len() == 1
                && generics
                    .iter()
                    .any(|g| matches!(g, Generic::Type(n) if *n == name))
            {
                return Some(ElemTy::Generic(name));
            }
            Elem::from_ident(&name).map(ElemTy::Known)
        }
        Type::Paren(p) => elem_of(&p.elem, generics),
        Type::Group(g) => elem_of(&g.elem, generics),
        _ => None,
    }
}

const SUPPORTED: &str = "supported kernel parameters: `&[T]` (input), `OutSlice<T>` or \
     `OutSlice<T, View>` (output), `TensorMap` (by value) and scalars, with T one of f32, f64, f16, Bf16, i8, u8, i16, \
     u16, i32, u32, i64, u64, usize, or a type parameter of the kernel";

const VIEWS: &str = "PerThread<N>, GridStride, BlockRows<len>, WarpRows<len>, \
     BlockTiles<W, H, cols>, ThreadTiles<W, H, cols>, StridedPackets<K>, Atomic or Manual";

fn param_kind(ty: &Type, generics: &[Generic]) -> Result<ParamKind> {
    match ty {
        Type::Reference(r) => {
            let Type::Slice(s) = &*r.elem else {
                return Err(Error::new(
                    ty.span(),
                    format!("unsupported parameter type; {SUPPORTED}"),
                ));
            };
            let elem = elem_of(&s.elem, generics).ok_or_else(|| {
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
                let mut args = ab.args.iter();
                let elem = match args.next() {
                    Some(GenericArgument::Type(t)) => elem_of(t, generics),
                    _ => None,
                }
                .ok_or_else(|| {
                    Error::new(ab.span(), format!("unsupported element type; {SUPPORTED}"))
                })?;
                let view = match args.next() {
                    None => View::PerThread(1),
                    Some(GenericArgument::Type(t)) => parse_view(t)?,
                    Some(other) => {
                        return Err(Error::new(
                            other.span(),
                            format!("expected an ownership view: {VIEWS}"),
                        ));
                    }
                };
                if let Some(extra) = args.next() {
                    return Err(Error::new(
                        extra.span(),
                        "OutSlice takes an element type and a view",
                    ));
                }
                return Ok(ParamKind::Out(elem, view));
            }
            elem_of(ty, generics).map(ParamKind::Scalar).ok_or_else(|| {
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

/// The generic arguments of a view type, as written.
fn view_args(seg: &syn::PathSegment) -> Vec<&GenericArgument> {
    match &seg.arguments {
        PathArguments::AngleBracketed(ab) => ab.args.iter().collect(),
        _ => Vec::new(),
    }
}

fn int_arg(a: &GenericArgument) -> Result<u32> {
    let lit = match a {
        GenericArgument::Const(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        })) => i,
        _ => {
            return Err(Error::new(
                a.span(),
                "expected an integer literal (a view's shape is fixed when the kernel compiles)",
            ));
        }
    };
    let v: u32 = lit.base10_parse()?;
    if v == 0 {
        return Err(Error::new(lit.span(), "must be at least 1"));
    }
    Ok(v)
}

/// A view's row length or matrix width: an identifier (an integer parameter or a constant) or
/// an integer literal.
fn geom_arg(a: &GenericArgument) -> Result<Geom> {
    match a {
        GenericArgument::Type(Type::Path(tp)) if tp.qself.is_none() => {
            let id = tp.path.get_ident().ok_or_else(|| {
                Error::new(
                    a.span(),
                    "expected a parameter name, a constant or a literal",
                )
            })?;
            let name = id.to_string();
            // Resolved against the parameters later: lower-case names are parameters.
            Ok(Geom::Param(name))
        }
        GenericArgument::Const(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        })) => Ok(Geom::Lit(i.base10_parse()?)),
        GenericArgument::Const(Expr::Block(b)) => Err(Error::new(
            b.span(),
            "write the parameter's name (or a constant) without braces",
        )),
        _ => Err(Error::new(
            a.span(),
            "expected a parameter name, a constant or an integer literal",
        )),
    }
}

fn parse_view(t: &Type) -> Result<View> {
    let Type::Path(tp) = t else {
        return Err(Error::new(
            t.span(),
            format!("expected an ownership view: {VIEWS}"),
        ));
    };
    let seg = tp.path.segments.last().expect("a path has a segment");
    let args = view_args(seg);
    let name = seg.ident.to_string();
    let arity = |n: usize, form: &str| -> Result<()> {
        if args.len() == n {
            Ok(())
        } else {
            Err(Error::new(seg.span(), format!("write `{form}`")))
        }
    };
    Ok(match name.as_str() {
        "PerThread" => match args.as_slice() {
            [] => View::PerThread(1),
            [n] => View::PerThread(int_arg(n)?),
            _ => return Err(Error::new(seg.span(), "write `PerThread<N>`")),
        },
        "GridStride" => {
            arity(0, "GridStride")?;
            View::GridStride
        }
        "BlockRows" => {
            arity(
                1,
                "BlockRows<len>` with the row length: a parameter such as `cols`, a constant or a literal",
            )?;
            View::BlockRows(geom_arg(args[0])?)
        }
        "WarpRows" => {
            arity(
                1,
                "WarpRows<len>` with the row length: a parameter such as `cols`, a constant or a literal",
            )?;
            View::WarpRows(geom_arg(args[0])?)
        }
        "BlockTiles" | "ThreadTiles" => {
            arity(
                3,
                &format!("{name}<W, H, cols>` (tile width and height, then the matrix's columns"),
            )?;
            let (w, h, cols) = (int_arg(args[0])?, int_arg(args[1])?, geom_arg(args[2])?);
            if name == "BlockTiles" {
                View::BlockTiles { w, h, cols }
            } else {
                View::ThreadTiles { w, h, cols }
            }
        }
        "StridedPackets" => {
            arity(
                1,
                "StridedPackets<K>` with the packets per thread, a literal",
            )?;
            View::StridedPackets(int_arg(args[0])?)
        }
        "Atomic" => {
            arity(0, "Atomic")?;
            View::Atomic
        }
        "Manual" => {
            arity(0, "Manual")?;
            View::Manual
        }
        _ => {
            return Err(Error::new(
                seg.span(),
                format!("unknown ownership view `{name}`; expected {VIEWS}"),
            ));
        }
    })
}

/// A view's row length written as a name is a parameter when one has that name, else a constant.
fn resolve_geometry(params: &mut [Param]) {
    let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    for p in params.iter_mut() {
        let ParamKind::Out(_, view) = &mut p.kind else {
            continue;
        };
        let g = match view {
            View::BlockRows(g) | View::WarpRows(g) => g,
            View::BlockTiles { cols, .. } | View::ThreadTiles { cols, .. } => cols,
            _ => continue,
        };
        if let Geom::Param(n) = g
            && !names.contains(n)
        {
            *g = Geom::Const(n.clone());
        }
    }
}

/// The integer scalar parameter called `name`.
fn integer_param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| {
        p.name == name && matches!(p.kind, ParamKind::Scalar(ElemTy::Known(e)) if e.is_integer())
    })
}

fn parse_contract(
    args: TokenStream,
    params: &[Param],
    generics: &[Generic],
    sig: &syn::Signature,
) -> Result<(LaunchContract, Vec<Vec<InstanceArg>>)> {
    let items = syn::parse::Parser::parse2(Punctuated::<Expr, Token![,]>::parse_terminated, args)?;
    let mut same_len = Vec::new();
    let mut relations = Vec::new();
    let mut elements: Option<(String, Span)> = None;
    let mut items_per_thread: Option<(u32, Span)> = None;
    let mut bytes_per_thread: Option<(u32, Span)> = None;
    let mut block: Option<(u32, u32)> = None;
    let mut grid_stride: Option<Span> = None;
    let mut launch_bounds = None;
    let mut arch: Option<String> = None;
    let mut instances: Option<Vec<Vec<InstanceArg>>> = None;

    let slice_param = |e: &Expr| -> Result<String> {
        let id = ident_of(e)?;
        let name = id.to_string();
        match params.iter().find(|p| p.name == name) {
            Some(p) if p.kind.is_slice() => Ok(name),
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
    for item in &items {
        match item {
            Expr::Binary(b) if contract::is_comparison(&b.op) => {
                relations.push(contract::parse_relation(b, params)?);
            }
            Expr::Call(c) => {
                let key = ident_of(&c.func)?.to_string();
                match key.as_str() {
                    "same_len" => {
                        let group = c
                            .args
                            .iter()
                            .map(&slice_param)
                            .collect::<Result<Vec<_>>>()?;
                        if group.len() < 2 {
                            return Err(Error::new(
                                c.span(),
                                "same_len needs at least two slice parameters",
                            ));
                        }
                        same_len.push(group);
                    }
                    "launch_bounds" => {
                        let vals = c.args.iter().map(int_lit).collect::<Result<Vec<_>>>()?;
                        launch_bounds = Some(match vals.as_slice() {
                            [t] if (1..=1024).contains(t) => (*t, None),
                            [t, b] if (1..=1024).contains(t) && *b >= 1 => (*t, Some(*b)),
                            _ => {
                                return Err(Error::new(
                                    c.span(),
                                    "write launch_bounds(max_threads) or launch_bounds(max_threads, min_blocks_per_sm), with 1 <= max_threads <= 1024",
                                ));
                            }
                        });
                    }
                    "instances" => {
                        if generics.is_empty() {
                            return Err(Error::new(
                                c.span(),
                                "instances(..) is for generic kernels; this one has no type or const parameters",
                            ));
                        }
                        let list = c
                            .args
                            .iter()
                            .map(|a| parse_instance(a, generics))
                            .collect::<Result<Vec<_>>>()?;
                        if list.is_empty() {
                            return Err(Error::new(c.span(), "instances(..) lists at least one"));
                        }
                        for (i, a) in list.iter().enumerate() {
                            if list[..i].contains(a) {
                                return Err(Error::new(
                                    c.args[i].span(),
                                    "this instance is listed twice",
                                ));
                            }
                        }
                        instances = Some(list);
                    }
                    _ => return Err(unknown_option(item)),
                }
            }
            Expr::Assign(a) => {
                let key = ident_of(&a.left)?.to_string();
                match key.as_str() {
                    "elements" => {
                        let id = ident_of(&a.right)?;
                        let name = id.to_string();
                        match params.iter().find(|p| p.name == name) {
                            Some(p) if p.kind.is_slice() => {}
                            Some(p) if matches!(p.kind, ParamKind::Scalar(ElemTy::Known(e)) if e.is_integer()) =>
                                {}
                            Some(_) => {
                                return Err(Error::new(
                                    id.span(),
                                    format!(
                                        "`elements = {name}` needs a slice or an integer parameter"
                                    ),
                                ));
                            }
                            None => {
                                return Err(Error::new(
                                    id.span(),
                                    format!("no parameter named `{name}`"),
                                ));
                            }
                        }
                        elements = Some((name, id.span()));
                    }
                    "items_per_thread" => {
                        let v = int_lit(&a.right)?;
                        if v == 0 {
                            return Err(Error::new(
                                a.right.span(),
                                "items_per_thread must be at least 1",
                            ));
                        }
                        items_per_thread = Some((v, a.span()));
                    }
                    "bytes_per_thread" => {
                        let v = int_lit(&a.right)?;
                        if v == 0 || v % 16 != 0 {
                            return Err(Error::new(
                                a.right.span(),
                                "bytes_per_thread is a positive multiple of 16 (whole 16-byte chunks per thread)",
                            ));
                        }
                        bytes_per_thread = Some((v, a.span()));
                    }
                    "block" => {
                        let (x, y) = match &*a.right {
                            Expr::Tuple(t) if t.elems.len() == 2 => {
                                (int_lit(&t.elems[0])?, int_lit(&t.elems[1])?)
                            }
                            other => (int_lit(other)?, 1),
                        };
                        if x == 0 || y == 0 || x * y > 1024 {
                            return Err(Error::new(
                                a.right.span(),
                                "a block has 1 to 1024 threads",
                            ));
                        }
                        block = Some((x, y));
                    }
                    "arch" => {
                        let Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(lit),
                            ..
                        }) = &*a.right
                        else {
                            return Err(Error::new(
                                a.right.span(),
                                "arch must name one architecture such as \"sm_90a\"",
                            ));
                        };
                        let name = lit.value();
                        let ok = name
                            .strip_prefix("sm_")
                            .map(|d| d.trim_end_matches(['a', 'f']))
                            .is_some_and(|d| d.len() >= 2 && d.bytes().all(|b| b.is_ascii_digit()));
                        if !ok {
                            return Err(Error::new(
                                lit.span(),
                                "arch must name one architecture such as \"sm_90a\"",
                            ));
                        }
                        arch = Some(name);
                    }
                    _ => return Err(unknown_option(item)),
                }
            }
            Expr::Path(p) if p.path.is_ident("grid_stride") => grid_stride = Some(p.span()),
            _ => return Err(unknown_option(item)),
        }
    }

    // Instances exactly when generic.
    let instances = match (generics.is_empty(), instances) {
        (true, _) => Vec::new(),
        (false, None) => {
            let names: Vec<&str> = generics.iter().map(Generic::name).collect();
            return Err(Error::new(
                sig.generics.span(),
                format!(
                    "a generic kernel lists the instances to compile: #[kernel(instances(..))] with one entry per combination of {}, e.g. instances(f32, Bf16)",
                    names.join(", ")
                ),
            ));
        }
        (false, Some(list)) => list,
    };

    // Views: their geometry names integer parameters (or constants).
    for p in params {
        if let ParamKind::Out(_, view) = &p.kind
            && let Some(Geom::Param(g)) = view.geometry()
            && params.iter().any(|q| q.name == *g)
            && integer_param(params, g).is_none()
        {
            return Err(Error::new(
                sig.span(),
                format!(
                    "`{}`'s view {}<{g}>: `{g}` must be an integer parameter",
                    p.name,
                    view.marker()
                ),
            ));
        }
        if let ParamKind::Out(_, View::PerThread(n)) = &p.kind
            && *n > 64
        {
            return Err(Error::new(
                sig.span(),
                format!(
                    "`{}`: PerThread<{n}> is more than 64 elements per thread",
                    p.name
                ),
            ));
        }
    }

    if let Some((_, span)) = bytes_per_thread {
        if items_per_thread.is_some() {
            return Err(Error::new(
                span,
                "give either items_per_thread or bytes_per_thread, not both",
            ));
        }
        let slice = elements.as_ref().and_then(|(e, _)| {
            params.iter().find(|p| &p.name == e).filter(|p| {
                p.kind.is_slice() && !matches!(p.kind, ParamKind::Out(_, View::PerThread(_)))
            })
        });
        if slice.is_none() {
            return Err(Error::new(
                span,
                "bytes_per_thread sizes the grid by the bytes of a slice: add `elements = p` naming an input or a GridStride/StridedPackets/Manual output (a PerThread<N> view already fixes the elements per thread)",
            ));
        }
    }
    let grid = derive_grid(params, elements, items_per_thread, grid_stride)?;
    let block = block.unwrap_or(match &grid {
        GridRule::Tiles { .. } => (32, 8),
        _ => (256, 1),
    });
    if block.1 != 1 && !matches!(grid, GridRule::Tiles { .. } | GridRule::None) {
        return Err(Error::new(
            sig.span(),
            "a 2D block = (x, y) is for tile views (BlockTiles, ThreadTiles); this kernel's default grid is 1D",
        ));
    }
    Ok((
        LaunchContract {
            same_len,
            relations,
            grid,
            block,
            launch_bounds,
            arch,
            bytes_per_thread: bytes_per_thread.map(|(b, _)| b),
        },
        instances,
    ))
}

/// The default grid: from `elements = p` when given, else from the first output whose view
/// decides one. Contradictions between the options and the views are errors.
fn derive_grid(
    params: &[Param],
    elements: Option<(String, Span)>,
    items_per_thread: Option<(u32, Span)>,
    grid_stride: Option<Span>,
) -> Result<GridRule> {
    let view_of = |name: &str| {
        params.iter().find_map(|p| match &p.kind {
            ParamKind::Out(_, v) if p.name == name => Some(v.clone()),
            _ => None,
        })
    };
    // A PerThread output fixes how many elements each thread owns.
    for p in params {
        if let ParamKind::Out(_, View::PerThread(n)) = &p.kind {
            if let Some((k, span)) = items_per_thread
                && k != *n
                && elements
                    .as_ref()
                    .is_none_or(|(e, _)| view_of(e).is_none_or(|v| v == View::PerThread(*n)))
            {
                return Err(Error::new(
                    span,
                    format!(
                        "items_per_thread = {k} disagrees with `{}: OutSlice<_, PerThread<{n}>>`, which gives each thread {n} element(s); drop items_per_thread (the view decides) or write PerThread<{k}>",
                        p.name
                    ),
                ));
            }
            if let Some(span) = grid_stride {
                return Err(Error::new(
                    span,
                    format!(
                        "grid_stride caps the grid, but `{}: OutSlice<_, PerThread<{n}>>` needs one thread per {n} element(s); make it OutSlice<_, GridStride>",
                        p.name
                    ),
                ));
            }
        }
    }
    if let Some((count, span)) = elements {
        let per_thread = match view_of(&count) {
            Some(View::PerThread(n)) => n,
            Some(View::GridStride)
            | Some(View::StridedPackets(_))
            | Some(View::Atomic)
            | Some(View::Manual)
            | None => items_per_thread.map(|(k, _)| k).unwrap_or(1),
            Some(v) => {
                return Err(Error::new(
                    span,
                    format!(
                        "`elements = {count}`: `{count}` is owned by {}, whose default grid already follows from the view; drop `elements`",
                        v.marker()
                    ),
                ));
            }
        };
        let grid_stride = grid_stride.is_some() || view_of(&count) == Some(View::GridStride);
        return Ok(GridRule::Elements {
            count,
            per_thread,
            grid_stride,
        });
    }
    for p in params {
        let ParamKind::Out(_, view) = &p.kind else {
            continue;
        };
        let out = p.name.clone();
        return Ok(match view {
            View::PerThread(n) => GridRule::Elements {
                count: out,
                per_thread: *n,
                grid_stride: false,
            },
            View::GridStride => GridRule::Elements {
                count: out,
                per_thread: items_per_thread.map(|(k, _)| k).unwrap_or(1),
                grid_stride: true,
            },
            View::BlockRows(g) => GridRule::Rows {
                out,
                row_len: g.clone(),
                per_warp: false,
            },
            View::WarpRows(g) => GridRule::Rows {
                out,
                row_len: g.clone(),
                per_warp: true,
            },
            View::BlockTiles { w, h, cols } => GridRule::Tiles {
                out,
                cols: cols.clone(),
                w: *w,
                h: *h,
                per_thread: false,
            },
            View::ThreadTiles { w, h, cols } => GridRule::Tiles {
                out,
                cols: cols.clone(),
                w: *w,
                h: *h,
                per_thread: true,
            },
            View::StridedPackets(_) | View::Atomic | View::Manual => continue,
        });
    }
    if let Some((_, span)) = items_per_thread {
        return Err(Error::new(
            span,
            "items_per_thread sizes the default grid, but nothing decides one: add `elements = p`",
        ));
    }
    Ok(GridRule::None)
}

fn parse_instance(e: &Expr, generics: &[Generic]) -> Result<Vec<InstanceArg>> {
    let parts: Vec<&Expr> = match e {
        Expr::Tuple(t) => t.elems.iter().collect(),
        Expr::Paren(p) => vec![&*p.expr],
        other => vec![other],
    };
    if parts.len() != generics.len() {
        let names: Vec<&str> = generics.iter().map(Generic::name).collect();
        return Err(Error::new(
            e.span(),
            format!(
                "an instance gives one argument per generic parameter ({}){}",
                names.join(", "),
                if generics.len() > 1 {
                    ", as a tuple: instances((f32, 64), ..)"
                } else {
                    ""
                }
            ),
        ));
    }
    parts
        .iter()
        .zip(generics)
        .map(|(p, g)| match g {
            Generic::Type(name) => {
                let id = ident_of(p).map_err(|_| {
                    Error::new(p.span(), format!("`{name}` takes an element type here"))
                })?;
                Elem::from_ident(&id.to_string())
                    .map(InstanceArg::Type)
                    .ok_or_else(|| {
                        Error::new(
                            id.span(),
                            format!(
                                "`{id}` is not a kernel element type (f32, f64, f16, Bf16, i8, u8, i16, u16, i32, u32, i64, u64, usize)"
                            ),
                        )
                    })
            }
            Generic::Const(name) => match p {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(i),
                    ..
                }) => Ok(InstanceArg::Const(i.base10_parse()?)),
                _ => Err(Error::new(
                    p.span(),
                    format!("`{name}` takes an integer literal here"),
                )),
            },
        })
        .collect()
}

fn ident_of(e: &Expr) -> Result<&syn::Ident> {
    match e {
        Expr::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .ok_or_else(|| Error::new(e.span(), "expected a name")),
        _ => Err(Error::new(e.span(), "expected a name")),
    }
}

fn int_lit(e: &Expr) -> Result<u32> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse(),
        _ => Err(Error::new(e.span(), "expected an integer literal")),
    }
}

fn unknown_option(e: &Expr) -> Error {
    Error::new(
        e.span(),
        "unknown kernel option; expected a length relation such as `len(x) == rows * cols`, \
         same_len(a, b, ..), elements = name, items_per_thread = N, bytes_per_thread = B, block = N or (X, Y), \
         grid_stride, launch_bounds(T, B), arch = \"sm_XY\" or instances(..)",
    )
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

/// Integer constants with a literal value (`const COLS: usize = 256;`) in one source file,
/// including inline modules: the values of views' sizes written as constants.
pub fn consts_in_file(source: &str) -> Result<Vec<(String, u64)>> {
    fn walk(items: &[syn::Item], out: &mut Vec<(String, u64)>) {
        for item in items {
            match item {
                syn::Item::Const(c) => {
                    if let Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(i),
                        ..
                    }) = &*c.expr
                        && let Ok(v) = i.base10_parse::<u64>()
                    {
                        out.push((c.ident.to_string(), v));
                    }
                }
                syn::Item::Mod(m) => {
                    if let Some((_, items)) = &m.content {
                        walk(items, out);
                    }
                }
                _ => {}
            }
        }
    }
    let file = syn::parse_file(source)?;
    let mut out = Vec::new();
    walk(&file.items, &mut out);
    Ok(out)
}

/// A span-less error, for callers outside a macro.
pub fn error(msg: impl std::fmt::Display) -> Error {
    Error::new(Span::call_site(), msg)
}

#[cfg(test)]
mod tests;
