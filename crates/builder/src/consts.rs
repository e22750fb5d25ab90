//! A kernel crate's `pub const` items, evaluated at build time and exported into the generated
//! bindings, so that the host reads tile sizes, block sizes and shared-memory budgets from the
//! kernels themselves instead of keeping copies equal by hand.
//!
//! Every module-level `const` of primitive type (integers, `f32`, `f64`, `bool`) is read from
//! the crate's source; those declared plain `pub` are exported under `consts::<module path>`
//! (`src/gemm.rs`'s `pub const TILE: usize` becomes `consts::gemm::TILE`; `src/lib.rs`'s are
//! at `consts::` itself). Values may be literals or const expressions over literals and other
//! consts of the crate (private ones too, found through `crate::`, `self::`, `super::`, `use`
//! and glob imports): arithmetic, bit operations, shifts, comparisons, negation, parentheses,
//! `as` casts between primitives, and `MAX`/`MIN`/`BITS` of the integer types. Arithmetic
//! follows Rust: integers in their declared type (overflow is an error), `f32` in `f32`.
//!
//! A `pub const` of primitive type whose value is outside that language (a `const fn` call, a
//! constant of another crate, `#[cfg]`-dependent) is not exported, and the builder says why
//! with a cargo warning; constants of other types are not considered.
use quote::ToTokens;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use syn::{BinOp, Expr, Item, Lit, Type, UnOp, UseTree, Visibility};

/// The primitive types a constant can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prim {
    I8,
    I16,
    I32,
    I64,
    I128,
    Isize,
    U8,
    U16,
    U32,
    U64,
    U128,
    Usize,
    F32,
    F64,
    Bool,
}

impl Prim {
    const ALL: [Prim; 15] = [
        Prim::I8,
        Prim::I16,
        Prim::I32,
        Prim::I64,
        Prim::I128,
        Prim::Isize,
        Prim::U8,
        Prim::U16,
        Prim::U32,
        Prim::U64,
        Prim::U128,
        Prim::Usize,
        Prim::F32,
        Prim::F64,
        Prim::Bool,
    ];

    /// The type's name in Rust source.
    pub fn name(self) -> &'static str {
        match self {
            Prim::I8 => "i8",
            Prim::I16 => "i16",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
            Prim::I128 => "i128",
            Prim::Isize => "isize",
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::U128 => "u128",
            Prim::Usize => "usize",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::Bool => "bool",
        }
    }

    fn from_name(name: &str) -> Option<Prim> {
        Prim::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The primitive a type expression names (`u32`, `core::primitive::u32`), if any.
    fn from_type(ty: &Type) -> Option<Prim> {
        match ty {
            Type::Path(p) if p.qself.is_none() => {
                let last = p.path.segments.last()?;
                let prefix_ok = p.path.segments.len() == 1
                    || p.path.segments.iter().rev().nth(1)?.ident == "primitive";
                if prefix_ok && last.arguments.is_empty() {
                    Prim::from_name(&last.ident.to_string())
                } else {
                    None
                }
            }
            Type::Paren(p) => Prim::from_type(&p.elem),
            Type::Group(g) => Prim::from_type(&g.elem),
            _ => None,
        }
    }

    fn is_int(self) -> bool {
        !matches!(self, Prim::F32 | Prim::F64 | Prim::Bool)
    }

    fn is_float(self) -> bool {
        matches!(self, Prim::F32 | Prim::F64)
    }

    /// Width in bits of an integer type (`isize`/`usize`: 64, as on nvptx64).
    fn bits(self) -> u32 {
        match self {
            Prim::I8 | Prim::U8 => 8,
            Prim::I16 | Prim::U16 => 16,
            Prim::I32 | Prim::U32 | Prim::F32 => 32,
            Prim::I64 | Prim::U64 | Prim::Isize | Prim::Usize | Prim::F64 => 64,
            Prim::I128 | Prim::U128 => 128,
            Prim::Bool => 8,
        }
    }

    fn signed(self) -> bool {
        matches!(
            self,
            Prim::I8 | Prim::I16 | Prim::I32 | Prim::I64 | Prim::I128 | Prim::Isize
        )
    }

    /// The range of an integer type within i128 (`u128` is capped at `i128::MAX`).
    fn range(self) -> (i128, i128) {
        let bits = self.bits();
        match (self.signed(), bits) {
            (true, 128) => (i128::MIN, i128::MAX),
            (true, b) => (-(1i128 << (b - 1)), (1i128 << (b - 1)) - 1),
            (false, 128) => (0, i128::MAX),
            (false, b) => (0, (1i128 << b) - 1),
        }
    }
}

impl fmt::Display for Prim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An evaluated constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An integer of the given type.
    Int(i128, Prim),
    F32(f32),
    F64(f64),
    Bool(bool),
}

impl Value {
    /// The value's type.
    pub fn prim(self) -> Prim {
        match self {
            Value::Int(_, p) => p,
            Value::F32(_) => Prim::F32,
            Value::F64(_) => Prim::F64,
            Value::Bool(_) => Prim::Bool,
        }
    }

    /// The value as a Rust expression of its type.
    pub fn to_rust(self) -> String {
        fn float(v: f64, debug: String, ty: &str) -> String {
            if v.is_nan() {
                format!("{ty}::NAN")
            } else if v == f64::INFINITY {
                format!("{ty}::INFINITY")
            } else if v == f64::NEG_INFINITY {
                format!("{ty}::NEG_INFINITY")
            } else {
                // Debug prints the shortest decimal that reads back as the same value.
                debug
            }
        }
        match self {
            Value::Int(v, _) => v.to_string(),
            Value::F32(v) => float(v as f64, format!("{v:?}"), "f32"),
            Value::F64(v) => float(v, format!("{v:?}"), "f64"),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// A `pub const` of the kernel crate, evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelConst {
    /// Module path within the crate (empty for the crate root).
    pub module: Vec<String>,
    pub name: String,
    pub value: Value,
    /// Its doc comment, one entry per line.
    pub doc: Vec<String>,
    /// The file it is defined in.
    pub file: PathBuf,
}

/// A `pub const` of primitive type that could not be exported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub module: Vec<String>,
    pub name: String,
    pub file: PathBuf,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` ({}) is not exported to the host: {}",
            path_string(&self.module, &self.name),
            self.file.display(),
            self.reason
        )
    }
}

/// What a kernel crate's source defines: the exported constants and the ones left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consts {
    pub exported: Vec<KernelConst>,
    pub skipped: Vec<Skipped>,
}

/// Why the constants could not be read at all.
#[derive(Debug)]
pub struct ConstsError {
    pub file: PathBuf,
    pub message: String,
}

fn path_string(module: &[String], name: &str) -> String {
    module
        .iter()
        .map(String::as_str)
        .chain([name])
        .collect::<Vec<_>>()
        .join("::")
}

/// One `const` item as written.
struct ConstDef {
    ty: Option<Prim>,
    expr: Expr,
    public: bool,
    cfg: bool,
    doc: Vec<String>,
    file: PathBuf,
}

/// One `use` of a module: the name it binds and the path it names, as written.
struct UseDef {
    path: Vec<String>,
}

/// The items of one module that name resolution needs.
#[derive(Default)]
struct Scope {
    consts: Vec<(String, ConstDef)>,
    uses: HashMap<String, UseDef>,
    globs: Vec<Vec<String>>,
}

impl Scope {
    fn get(&self, name: &str) -> Option<&ConstDef> {
        self.consts.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

/// The crate's module tree, by module path.
#[derive(Default)]
struct CrateSource {
    modules: HashMap<Vec<String>, Scope>,
    /// Module paths in the order they were read (for a stable output).
    order: Vec<Vec<String>>,
}

/// The module path of a source file under `src_dir` (`lib.rs` is the root, `a/mod.rs` and
/// `a.rs` are `a`, `a/b.rs` is `a::b`).
fn module_of(src_dir: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src_dir).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.strip_suffix(".rs").unwrap_or(&last).to_string();
    let root_file = parts.is_empty() && (stem == "lib" || stem == "main");
    if !(root_file || stem == "mod") {
        parts.push(stem);
    }
    parts
}

fn has_cfg(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg"))
}

fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Adds the `use` bindings of `tree` (prefix `prefix`) to `scope`.
fn collect_use(tree: &UseTree, prefix: &mut Vec<String>, scope: &mut Scope) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            collect_use(&p.tree, prefix, scope);
            prefix.pop();
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            let mut path = prefix.clone();
            if name != "self" {
                path.push(name.clone());
            }
            let bound = if name == "self" {
                prefix.last().cloned().unwrap_or_default()
            } else {
                name
            };
            scope.uses.insert(bound, UseDef { path });
        }
        UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            scope.uses.insert(r.rename.to_string(), UseDef { path });
        }
        UseTree::Glob(_) => scope.globs.push(prefix.clone()),
        UseTree::Group(g) => {
            for t in &g.items {
                collect_use(t, prefix, scope);
            }
        }
    }
}

impl CrateSource {
    fn scope(&mut self, module: &[String]) -> &mut Scope {
        if !self.modules.contains_key(module) {
            self.order.push(module.to_vec());
        }
        self.modules.entry(module.to_vec()).or_default()
    }

    fn add_items(&mut self, module: &[String], items: &[Item], file: &Path) {
        self.scope(module);
        for item in items {
            match item {
                Item::Const(c) => {
                    let def = ConstDef {
                        ty: Prim::from_type(&c.ty),
                        expr: (*c.expr).clone(),
                        public: matches!(c.vis, Visibility::Public(_)),
                        cfg: has_cfg(&c.attrs),
                        doc: doc_lines(&c.attrs),
                        file: file.to_path_buf(),
                    };
                    let name = c.ident.to_string();
                    if name != "_" {
                        self.scope(module).consts.push((name, def));
                    }
                }
                Item::Use(u) => collect_use(&u.tree, &mut Vec::new(), self.scope(module)),
                Item::Mod(m) => {
                    if let Some((_, items)) = &m.content
                        && !has_cfg(&m.attrs)
                    {
                        let mut child = module.to_vec();
                        child.push(m.ident.to_string());
                        self.add_items(&child, items, file);
                    }
                }
                _ => {}
            }
        }
    }

    fn has_module(&self, module: &[String]) -> bool {
        self.modules.contains_key(module)
    }

    /// The absolute module path a path prefix (written in `module`) names, if it is a module of
    /// the crate: `crate::a`, `self::a`, `super::a`, `a` (a child of `module` or of the root),
    /// or a name bound to a module by `use`.
    fn module_path(
        &self,
        module: &[String],
        prefix: &[String],
        depth: usize,
    ) -> Option<Vec<String>> {
        if depth > 16 {
            return None;
        }
        let (first, rest) = prefix.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => module.to_vec(),
            "super" => {
                let mut m = module.to_vec();
                m.pop()?;
                m
            }
            _ => {
                let mut child = module.to_vec();
                child.push(first.clone());
                if self.has_module(&child) {
                    child
                } else if self.has_module(std::slice::from_ref(first)) {
                    vec![first.clone()]
                } else {
                    let u = self.modules.get(module)?.uses.get(first)?;
                    self.module_path(module, &u.path, depth + 1)?
                }
            }
        };
        for seg in rest {
            if seg == "super" {
                base.pop()?;
            } else {
                base.push(seg.clone());
            }
        }
        self.has_module(&base).then_some(base)
    }

    /// The definition a path written in `module` names: `(module, name)` of a const.
    fn resolve(
        &self,
        module: &[String],
        path: &[String],
        depth: usize,
    ) -> Option<(Vec<String>, String)> {
        if depth > 16 {
            return None;
        }
        let (name, prefix) = path.split_last()?;
        let target = if prefix.is_empty() {
            module.to_vec()
        } else {
            self.module_path(module, prefix, depth + 1)?
        };
        let scope = self.modules.get(&target)?;
        if scope.get(name).is_some() {
            return Some((target, name.clone()));
        }
        if let Some(u) = scope.uses.get(name) {
            return self.resolve(&target, &u.path, depth + 1);
        }
        scope.globs.iter().find_map(|g| {
            let m = self.module_path(&target, g, depth + 1)?;
            let mut p = m.clone();
            p.insert(0, "crate".into());
            p.push(name.clone());
            self.resolve(&m, &p, depth + 1)
        })
    }
}

/// Evaluates the crate's consts, memoised, with cycle detection.
struct Evaluator<'a> {
    src: &'a CrateSource,
    memo: HashMap<(Vec<String>, String), Result<Value, String>>,
    active: HashSet<(Vec<String>, String)>,
}

fn expr_text(e: &Expr) -> String {
    e.to_token_stream().to_string()
}

fn path_segments(p: &syn::ExprPath) -> Option<Vec<String>> {
    if p.qself.is_some() {
        return None;
    }
    p.path
        .segments
        .iter()
        .map(|s| s.arguments.is_empty().then(|| s.ident.to_string()))
        .collect()
}

/// `v` in the range of `p`, or the overflow error Rust's const evaluation would give.
fn fit(v: i128, p: Prim) -> Result<Value, String> {
    let (lo, hi) = p.range();
    if v < lo || v > hi {
        Err(format!("{v} does not fit in {p}"))
    } else {
        Ok(Value::Int(v, p))
    }
}

/// `v as p` for an integer `v`: keep the low bits, sign-extend for signed types.
fn wrap(v: i128, p: Prim) -> Result<Value, String> {
    let bits = p.bits();
    if bits == 128 {
        return fit(v, p);
    }
    let mask = (1u128 << bits) - 1;
    let low = (v as u128) & mask;
    let out = if p.signed() && low >> (bits - 1) == 1 {
        (low | !mask) as i128
    } else {
        low as i128
    };
    Ok(Value::Int(out, p))
}

impl<'a> Evaluator<'a> {
    fn new(src: &'a CrateSource) -> Self {
        Evaluator {
            src,
            memo: HashMap::new(),
            active: HashSet::new(),
        }
    }

    /// The value of const `name` of `module`.
    fn constant(&mut self, module: &[String], name: &str) -> Result<Value, String> {
        let key = (module.to_vec(), name.to_string());
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        if !self.active.insert(key.clone()) {
            return Err(format!("`{}` depends on itself", path_string(module, name)));
        }
        let src = self.src;
        let def = src.modules[module].get(name).expect("resolved");
        let result = (|| {
            let ty = def.ty.ok_or_else(|| {
                format!("`{}` is not of a primitive type", path_string(module, name))
            })?;
            if def.cfg {
                return Err("it has a #[cfg] attribute, so its value depends on the build".into());
            }
            let v = self.eval(&def.expr, module, Some(ty))?;
            if v.prim() != ty {
                return Err(format!("its value has type {}, not {ty}", v.prim()));
            }
            Ok(v)
        })();
        self.active.remove(&key);
        self.memo.insert(key, result.clone());
        result
    }

    /// `u32::MAX` and the like.
    fn primitive_const(segs: &[String]) -> Option<Result<Value, String>> {
        let [ty, item] = segs else { return None };
        let p = Prim::from_name(ty)?;
        Some(match (p, item.as_str()) {
            (p, "MAX") if p.is_int() => {
                if p == Prim::U128 {
                    Err("u128::MAX is outside the evaluator's range".into())
                } else {
                    Ok(Value::Int(p.range().1, p))
                }
            }
            (p, "MIN") if p.is_int() => Ok(Value::Int(p.range().0, p)),
            (p, "BITS") if p.is_int() => Ok(Value::Int(p.bits() as i128, Prim::U32)),
            (Prim::F32, "MAX") => Ok(Value::F32(f32::MAX)),
            (Prim::F32, "MIN") => Ok(Value::F32(f32::MIN)),
            (Prim::F32, "EPSILON") => Ok(Value::F32(f32::EPSILON)),
            (Prim::F32, "MIN_POSITIVE") => Ok(Value::F32(f32::MIN_POSITIVE)),
            (Prim::F32, "INFINITY") => Ok(Value::F32(f32::INFINITY)),
            (Prim::F32, "NEG_INFINITY") => Ok(Value::F32(f32::NEG_INFINITY)),
            (Prim::F64, "MAX") => Ok(Value::F64(f64::MAX)),
            (Prim::F64, "MIN") => Ok(Value::F64(f64::MIN)),
            (Prim::F64, "EPSILON") => Ok(Value::F64(f64::EPSILON)),
            (Prim::F64, "MIN_POSITIVE") => Ok(Value::F64(f64::MIN_POSITIVE)),
            (Prim::F64, "INFINITY") => Ok(Value::F64(f64::INFINITY)),
            (Prim::F64, "NEG_INFINITY") => Ok(Value::F64(f64::NEG_INFINITY)),
            _ => return None,
        })
    }

    /// The type an expression has regardless of context (`None`: an unsuffixed literal decides
    /// by context).
    fn infer(&self, e: &Expr, module: &[String]) -> Option<Prim> {
        match e {
            Expr::Lit(l) => match &l.lit {
                Lit::Int(i) => Prim::from_name(i.suffix()),
                Lit::Float(f) => Prim::from_name(f.suffix()),
                Lit::Bool(_) => Some(Prim::Bool),
                _ => None,
            },
            Expr::Path(p) => {
                let segs = path_segments(p)?;
                if let Some(Ok(v)) = Self::primitive_const(&segs) {
                    return Some(v.prim());
                }
                let (m, n) = self.src.resolve(module, &segs, 0)?;
                self.src.modules[&m].get(&n)?.ty
            }
            Expr::Binary(b) => match b.op {
                BinOp::Shl(_) | BinOp::Shr(_) => self.infer(&b.left, module),
                BinOp::Eq(_)
                | BinOp::Ne(_)
                | BinOp::Lt(_)
                | BinOp::Le(_)
                | BinOp::Gt(_)
                | BinOp::Ge(_)
                | BinOp::And(_)
                | BinOp::Or(_) => Some(Prim::Bool),
                _ => self
                    .infer(&b.left, module)
                    .or_else(|| self.infer(&b.right, module)),
            },
            Expr::Unary(u) => self.infer(&u.expr, module),
            Expr::Cast(c) => Prim::from_type(&c.ty),
            Expr::Paren(p) => self.infer(&p.expr, module),
            Expr::Group(g) => self.infer(&g.expr, module),
            _ => None,
        }
    }

    /// Evaluates `e`, written in `module`; `hint` is the type the context expects.
    fn eval(&mut self, e: &Expr, module: &[String], hint: Option<Prim>) -> Result<Value, String> {
        let ty = self.infer(e, module).or(hint);
        match e {
            Expr::Lit(l) => match &l.lit {
                Lit::Int(i) => {
                    let p = match Prim::from_name(i.suffix()) {
                        Some(p) => p,
                        None => ty.filter(|p| p.is_int()).unwrap_or(Prim::I32),
                    };
                    let v: i128 = i
                        .base10_parse()
                        .map_err(|_| format!("literal {i} is outside the evaluator's range"))?;
                    fit(v, p)
                }
                Lit::Float(f) => {
                    let p = match Prim::from_name(f.suffix()) {
                        Some(p) => p,
                        None => ty.filter(|p| p.is_float()).unwrap_or(Prim::F64),
                    };
                    let digits = f.base10_digits();
                    // Parse in the target type: one correct rounding, as rustc does.
                    Ok(if p == Prim::F32 {
                        Value::F32(
                            digits
                                .parse()
                                .map_err(|_| format!("bad literal {digits}"))?,
                        )
                    } else {
                        Value::F64(
                            digits
                                .parse()
                                .map_err(|_| format!("bad literal {digits}"))?,
                        )
                    })
                }
                Lit::Bool(b) => Ok(Value::Bool(b.value)),
                _ => Err(format!("unsupported literal `{}`", expr_text(e))),
            },
            Expr::Path(p) => {
                let segs = path_segments(p)
                    .ok_or_else(|| format!("unsupported path `{}`", expr_text(e)))?;
                if let Some(v) = Self::primitive_const(&segs) {
                    return v;
                }
                let (m, n) = self.src.resolve(module, &segs, 0).ok_or_else(|| {
                    format!(
                        "`{}` is not a const of the kernel crate that the builder can find",
                        segs.join("::")
                    )
                })?;
                self.constant(&m, &n).map_err(|why| {
                    format!(
                        "it uses `{}`, which is not exported: {why}",
                        segs.join("::")
                    )
                })
            }
            Expr::Paren(p) => self.eval(&p.expr, module, ty),
            Expr::Group(g) => self.eval(&g.expr, module, ty),
            Expr::Unary(u) => {
                let v = self.eval(&u.expr, module, ty)?;
                match (&u.op, v) {
                    (UnOp::Neg(_), Value::Int(x, p)) if p.signed() => fit(-x, p),
                    (UnOp::Neg(_), Value::F32(x)) => Ok(Value::F32(-x)),
                    (UnOp::Neg(_), Value::F64(x)) => Ok(Value::F64(-x)),
                    (UnOp::Not(_), Value::Int(x, p)) => wrap(!x, p),
                    (UnOp::Not(_), Value::Bool(b)) => Ok(Value::Bool(!b)),
                    _ => Err(format!("unsupported operation `{}`", expr_text(e))),
                }
            }
            Expr::Cast(c) => {
                let to = Prim::from_type(&c.ty)
                    .ok_or_else(|| format!("cast to a non-primitive type in `{}`", expr_text(e)))?;
                let inner_ty = self.infer(&c.expr, module);
                let v = self.eval(&c.expr, module, inner_ty)?;
                cast(v, to).ok_or_else(|| format!("unsupported cast `{}`", expr_text(e)))?
            }
            Expr::Binary(b) => self.binary(b, module, ty),
            _ => Err(format!(
                "`{}` is not a literal or simple const expression",
                expr_text(e)
            )),
        }
    }

    fn binary(
        &mut self,
        b: &syn::ExprBinary,
        module: &[String],
        ty: Option<Prim>,
    ) -> Result<Value, String> {
        let text = || expr_text(&Expr::Binary(b.clone()));
        if let BinOp::Shl(_) | BinOp::Shr(_) = b.op {
            let l = self.eval(&b.left, module, ty)?;
            let rty = self.infer(&b.right, module);
            let r = self.eval(&b.right, module, rty)?;
            let (Value::Int(x, p), Value::Int(n, _)) = (l, r) else {
                return Err(format!("shift of a non-integer in `{}`", text()));
            };
            if n < 0 || n >= p.bits() as i128 {
                return Err(format!("shift by {n} overflows {p} in `{}`", text()));
            }
            return if matches!(b.op, BinOp::Shl(_)) {
                wrap(((x as u128) << n) as i128, p)
            } else {
                Ok(Value::Int(x >> n, p))
            };
        }
        // Both operands have one type: the one either side states, else the context's.
        let operand_ty = self
            .infer(&b.left, module)
            .or_else(|| self.infer(&b.right, module))
            .or(ty.filter(|_| !is_comparison(&b.op)));
        let l = self.eval(&b.left, module, operand_ty)?;
        let r = self.eval(&b.right, module, operand_ty.or(Some(l.prim())))?;
        if l.prim() != r.prim() {
            return Err(format!(
                "mismatched operand types {} and {} in `{}`",
                l.prim(),
                r.prim(),
                text()
            ));
        }
        let bad = || format!("unsupported operation `{}`", text());
        if is_comparison(&b.op) {
            let ord = match (l, r) {
                (Value::Int(x, _), Value::Int(y, _)) => x.partial_cmp(&y),
                (Value::F32(x), Value::F32(y)) => x.partial_cmp(&y),
                (Value::F64(x), Value::F64(y)) => x.partial_cmp(&y),
                (Value::Bool(x), Value::Bool(y)) => x.partial_cmp(&y),
                _ => return Err(bad()),
            };
            use std::cmp::Ordering::*;
            let v = match b.op {
                BinOp::Eq(_) => ord == Some(Equal),
                BinOp::Ne(_) => ord != Some(Equal),
                BinOp::Lt(_) => ord == Some(Less),
                BinOp::Le(_) => matches!(ord, Some(Less | Equal)),
                BinOp::Gt(_) => ord == Some(Greater),
                BinOp::Ge(_) => matches!(ord, Some(Greater | Equal)),
                _ => unreachable!(),
            };
            return Ok(Value::Bool(v));
        }
        match (l, r) {
            (Value::Int(x, p), Value::Int(y, _)) => {
                let overflow = || format!("overflow in `{}`", text());
                let v = match b.op {
                    BinOp::Add(_) => x.checked_add(y).ok_or_else(overflow)?,
                    BinOp::Sub(_) => x.checked_sub(y).ok_or_else(overflow)?,
                    BinOp::Mul(_) => x.checked_mul(y).ok_or_else(overflow)?,
                    BinOp::Div(_) => x
                        .checked_div(y)
                        .ok_or_else(|| format!("division by zero in `{}`", text()))?,
                    BinOp::Rem(_) => x
                        .checked_rem(y)
                        .ok_or_else(|| format!("division by zero in `{}`", text()))?,
                    BinOp::BitAnd(_) => x & y,
                    BinOp::BitOr(_) => x | y,
                    BinOp::BitXor(_) => x ^ y,
                    _ => return Err(bad()),
                };
                fit(v, p).map_err(|why| format!("{why} in `{}`", text()))
            }
            (Value::F32(x), Value::F32(y)) => Ok(Value::F32(match b.op {
                BinOp::Add(_) => x + y,
                BinOp::Sub(_) => x - y,
                BinOp::Mul(_) => x * y,
                BinOp::Div(_) => x / y,
                BinOp::Rem(_) => x % y,
                _ => return Err(bad()),
            })),
            (Value::F64(x), Value::F64(y)) => Ok(Value::F64(match b.op {
                BinOp::Add(_) => x + y,
                BinOp::Sub(_) => x - y,
                BinOp::Mul(_) => x * y,
                BinOp::Div(_) => x / y,
                BinOp::Rem(_) => x % y,
                _ => return Err(bad()),
            })),
            (Value::Bool(x), Value::Bool(y)) => Ok(Value::Bool(match b.op {
                BinOp::And(_) | BinOp::BitAnd(_) => x && y,
                BinOp::Or(_) | BinOp::BitOr(_) => x || y,
                BinOp::BitXor(_) => x ^ y,
                _ => return Err(bad()),
            })),
            _ => Err(bad()),
        }
    }
}

fn is_comparison(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq(_) | BinOp::Ne(_) | BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_)
    )
}

/// `v as to`, with Rust's semantics (integers wrap, floats to integers saturate, NaN is 0).
fn cast(v: Value, to: Prim) -> Option<Result<Value, String>> {
    Some(match (v, to) {
        (Value::Int(x, _), p) if p.is_int() => wrap(x, p),
        (Value::Int(x, _), Prim::F32) => Ok(Value::F32(x as f32)),
        (Value::Int(x, _), Prim::F64) => Ok(Value::F64(x as f64)),
        (Value::F32(x), p) if p.is_int() => {
            let (lo, hi) = p.range();
            Ok(Value::Int((x as i128).clamp(lo, hi), p))
        }
        (Value::F64(x), p) if p.is_int() => {
            let (lo, hi) = p.range();
            Ok(Value::Int((x as i128).clamp(lo, hi), p))
        }
        (Value::F32(x), Prim::F32) => Ok(Value::F32(x)),
        (Value::F32(x), Prim::F64) => Ok(Value::F64(x as f64)),
        (Value::F64(x), Prim::F32) => Ok(Value::F32(x as f32)),
        (Value::F64(x), Prim::F64) => Ok(Value::F64(x)),
        (Value::Bool(b), p) if p.is_int() => Ok(Value::Int(b as i128, p)),
        (Value::Bool(b), Prim::Bool) => Ok(Value::Bool(b)),
        _ => return None,
    })
}

/// Evaluates the consts of `files` (`(path, source)`, the crate's `.rs` files under
/// `src_dir`).
pub fn evaluate(src_dir: &Path, files: &[(PathBuf, String)]) -> Result<Consts, ConstsError> {
    let mut src = CrateSource::default();
    for (path, text) in files {
        let ast = syn::parse_file(text).map_err(|e| ConstsError {
            file: path.clone(),
            message: format!("not parseable as Rust: {e}"),
        })?;
        src.add_items(&module_of(src_dir, path), &ast.items, path);
    }
    let mut ev = Evaluator::new(&src);
    let mut out = Consts::default();
    for module in &src.order {
        for (name, def) in &src.modules[module].consts {
            if !def.public || def.ty.is_none() {
                continue;
            }
            match ev.constant(module, name) {
                Ok(value) => out.exported.push(KernelConst {
                    module: module.clone(),
                    name: name.clone(),
                    value,
                    doc: def.doc.clone(),
                    file: def.file.clone(),
                }),
                Err(reason) => out.skipped.push(Skipped {
                    module: module.clone(),
                    name: name.clone(),
                    file: def.file.clone(),
                    reason,
                }),
            }
        }
    }
    Ok(out)
}

/// Reads and evaluates the consts of the crate whose library sources are under `src_dir`.
pub fn read(src_dir: &Path) -> Result<Consts, ConstsError> {
    let mut paths = Vec::new();
    let mut stack = vec![src_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| ConstsError {
            file: dir.clone(),
            message: e.to_string(),
        })?;
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                paths.push(p);
            }
        }
    }
    paths.sort();
    let files = paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| ConstsError {
                file: p.clone(),
                message: e.to_string(),
            })?;
            Ok((p, text))
        })
        .collect::<Result<Vec<_>, ConstsError>>()?;
    evaluate(src_dir, &files)
}

/// The `pub mod consts { .. }` of the generated bindings: one nested module per module of the
/// kernel crate that exports a constant.
pub fn render(krate: &str, consts: &Consts) -> String {
    let mut w = format!(
        "/// The `pub const` items of the kernel crate `{krate}`, evaluated by gpukit-builder, by\n\
         /// module (`src/gemm.rs`'s `TILE` is `consts::gemm::TILE`).\n\
         pub mod consts {{\n"
    );
    // Group by module path, emitting nested modules in sorted order.
    let mut by_module: Vec<(&[String], Vec<&KernelConst>)> = Vec::new();
    for c in &consts.exported {
        match by_module
            .iter_mut()
            .find(|(m, _)| *m == c.module.as_slice())
        {
            Some((_, v)) => v.push(c),
            None => by_module.push((&c.module, vec![c])),
        }
    }
    by_module.sort_by(|a, b| a.0.cmp(b.0));
    let mut open: Vec<String> = Vec::new();
    for (module, items) in by_module {
        // Close modules that are not a prefix of this one, open the rest.
        let common = open.iter().zip(module).take_while(|(a, b)| a == b).count();
        while open.len() > common {
            open.pop();
            w.push_str(&format!("{}}}\n", "    ".repeat(open.len() + 1)));
        }
        for seg in &module[common..] {
            let indent = "    ".repeat(open.len() + 1);
            open.push(seg.clone());
            w.push_str(&format!(
                "{indent}/// The `pub const` items of `{krate}`'s module `{}`.\n{indent}pub mod {seg} {{\n",
                open.join("::")
            ));
        }
        let indent = "    ".repeat(open.len() + 1);
        for c in items {
            if c.doc.is_empty() {
                w.push_str(&format!("{indent}/// `{}` of `{krate}`.\n", c.name));
            }
            for line in &c.doc {
                w.push_str(&format!("{indent}///{}\n", unlink(line)));
            }
            w.push_str(&format!(
                "{indent}pub const {}: {} = {};\n",
                c.name,
                c.value.prim(),
                c.value.to_rust()
            ));
        }
    }
    while !open.is_empty() {
        open.pop();
        w.push_str(&format!("{}}}\n", "    ".repeat(open.len() + 1)));
    }
    w.push_str("}\n");
    w
}

/// A doc line without intra-doc links (`` [`name`] `` becomes `` `name` ``): the names they
/// point at are the kernel crate's, not in scope in the bindings.
fn unlink(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("[`") {
        let Some(len) = rest[start + 2..].find("`]") else {
            break;
        };
        let end = start + 2 + len + 2;
        let explicit = rest[end..].starts_with('(') || rest[end..].starts_with('[');
        out.push_str(&rest[..start]);
        if explicit {
            out.push_str(&rest[start..end]);
        } else {
            out.push_str(&rest[start + 1..end - 1]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_files(files: &[(&str, &str)]) -> Consts {
        let files: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(p, t)| (PathBuf::from("src").join(p), t.to_string()))
            .collect();
        evaluate(Path::new("src"), &files).unwrap()
    }

    fn value(c: &Consts, path: &str) -> Value {
        c.exported
            .iter()
            .find(|k| path_string(&k.module, &k.name) == path)
            .unwrap_or_else(|| panic!("{path} not exported: {:?}", c.skipped))
            .value
    }

    fn skipped(c: &Consts, path: &str) -> String {
        c.skipped
            .iter()
            .find(|k| path_string(&k.module, &k.name) == path)
            .unwrap_or_else(|| panic!("{path} not skipped"))
            .reason
            .clone()
    }

    #[test]
    fn module_paths_follow_the_file_layout() {
        let m = |p: &str| module_of(Path::new("src"), &Path::new("src").join(p));
        assert!(m("lib.rs").is_empty());
        assert_eq!(m("gemm.rs"), ["gemm"]);
        assert_eq!(m("a/mod.rs"), ["a"]);
        assert_eq!(m("a/b.rs"), ["a", "b"]);
    }

    #[test]
    fn literals_and_expressions_over_private_consts() {
        let c = eval_files(&[(
            "gemm.rs",
            "/// Rows of C per block.\n\
             pub const BM: usize = 128;\n\
             const STAGES: usize = 4;\n\
             const A: usize = BM * 32 * 2;\n\
             pub const SHARED: u32 = (STAGES * (A + 32 * 256 * 2)) as u32;\n\
             pub const NEG: i32 = -(1 << 4) + 3 % 2;\n\
             pub const MASK: u64 = ((1u64 << 40) - 1) ^ 0xff;\n\
             pub const HALF: f32 = 1.0 / 3.0;\n\
             pub const WIDE: f64 = HALF as f64 * 2.0;\n\
             pub const BIG: bool = SHARED > 65536 && BM % 64 == 0;\n\
             pub const TRUNC: u8 = 300u32 as u8;\n\
             pub const SAT: u8 = -5.5f32 as u8;\n\
             pub const TOP: u32 = u32::MAX >> u8::BITS;\n\
             pub const NOT: u16 = !0x00ff;\n\
             pub(crate) const INTERNAL: usize = 1;",
        )]);
        assert_eq!(value(&c, "gemm::BM"), Value::Int(128, Prim::Usize));
        assert_eq!(
            value(&c, "gemm::SHARED"),
            Value::Int(4 * (128 * 64 + 32 * 512), Prim::U32)
        );
        assert_eq!(
            value(&c, "gemm::NEG"),
            Value::Int(-(1 << 4) + 3 % 2, Prim::I32)
        );
        assert_eq!(
            value(&c, "gemm::MASK"),
            Value::Int((((1u64 << 40) - 1) ^ 0xff) as i128, Prim::U64)
        );
        // f32 arithmetic in f32, as rustc does it.
        assert_eq!(value(&c, "gemm::HALF"), Value::F32(1.0f32 / 3.0f32));
        assert_eq!(
            value(&c, "gemm::WIDE"),
            Value::F64((1.0f32 / 3.0f32) as f64 * 2.0)
        );
        assert_eq!(value(&c, "gemm::BIG"), Value::Bool(true));
        assert_eq!(
            value(&c, "gemm::TRUNC"),
            Value::Int(300u32 as u8 as i128, Prim::U8)
        );
        assert_eq!(value(&c, "gemm::SAT"), Value::Int(0, Prim::U8));
        assert_eq!(
            value(&c, "gemm::TOP"),
            Value::Int((u32::MAX >> 8) as i128, Prim::U32)
        );
        assert_eq!(value(&c, "gemm::NOT"), Value::Int(0xff00, Prim::U16));
        assert!(
            !c.exported
                .iter()
                .any(|k| k.name == "INTERNAL" || k.name == "A")
        );
        let bm = c.exported.iter().find(|k| k.name == "BM").unwrap();
        assert_eq!(bm.doc, [" Rows of C per block."]);
        assert_eq!(bm.file, Path::new("src/gemm.rs"));
    }

    #[test]
    fn names_resolve_across_modules() {
        let c = eval_files(&[
            (
                "lib.rs",
                "pub mod gemm;\npub mod scan;\npub const WARP: u32 = 32;",
            ),
            (
                "gemm.rs",
                "use crate::WARP;\nuse super::scan::{self, BLOCK as B};\n\
                 pub const WARPS: u32 = B / WARP;\n\
                 pub const TILE: u32 = scan::TILE * 2;\n\
                 pub mod inner {\n    use super::*;\n    pub const X: u32 = WARPS + super::TILE + crate::WARP;\n}",
            ),
            (
                "scan.rs",
                "pub const BLOCK: u32 = 256;\npub const TILE: u32 = 4 * self::BLOCK;",
            ),
        ]);
        assert_eq!(value(&c, "WARP"), Value::Int(32, Prim::U32));
        assert_eq!(value(&c, "gemm::WARPS"), Value::Int(8, Prim::U32));
        assert_eq!(value(&c, "gemm::TILE"), Value::Int(2048, Prim::U32));
        assert_eq!(
            value(&c, "gemm::inner::X"),
            Value::Int(8 + 2048 + 32, Prim::U32)
        );
        assert_eq!(value(&c, "scan::TILE"), Value::Int(1024, Prim::U32));
        assert!(c.skipped.is_empty(), "{:?}", c.skipped);
    }

    #[test]
    fn what_cannot_be_evaluated_is_skipped_with_a_reason() {
        let c = eval_files(&[(
            "lib.rs",
            "const fn twice(x: usize) -> usize { 2 * x }\n\
             pub const CALL: usize = twice(4);\n\
             pub const FOREIGN: u32 = gpukit_device::WARP_SIZE;\n\
             pub const USES_CALL: usize = CALL + 1;\n\
             pub const OVER: u8 = 200 + 100;\n\
             pub const DIV0: u32 = 1 / (2 - 2);\n\
             pub const CYCLE: u32 = CYCLE + 1;\n\
             #[cfg(feature = \"x\")]\n\
             pub const CFG: u32 = 1;\n\
             pub const NAME: &str = \"not a number\";\n\
             pub const ARRAY: [u32; 2] = [1, 2];",
        )]);
        assert!(skipped(&c, "CALL").contains("twice"), "{:?}", c.skipped);
        assert!(skipped(&c, "FOREIGN").contains("gpukit_device::WARP_SIZE"));
        assert!(skipped(&c, "USES_CALL").contains("`CALL`"));
        assert!(skipped(&c, "OVER").contains("300 does not fit in u8"));
        assert!(skipped(&c, "DIV0").contains("division by zero"));
        assert!(skipped(&c, "CYCLE").contains("depends on itself"));
        assert!(skipped(&c, "CFG").contains("cfg"));
        // Non-primitive constants are not candidates at all.
        assert!(
            !c.skipped
                .iter()
                .any(|s| s.name == "NAME" || s.name == "ARRAY")
        );
        assert!(c.exported.is_empty());
        let text = c.skipped[0].to_string();
        assert!(
            text.starts_with("`CALL` (src/lib.rs) is not exported to the host"),
            "{text}"
        );
    }

    #[test]
    fn rendered_module_is_rust_with_the_exact_values() {
        let c = eval_files(&[
            (
                "lib.rs",
                "pub const ROOT: i64 = -7;\npub const INF: f32 = f32::INFINITY;",
            ),
            (
                "gemm.rs",
                "/// Tile.\n/// Second line.\npub const BM: usize = 128;\npub const THIRD: f32 = 1.0 / 3.0;",
            ),
            ("a/b.rs", "pub const DEEP: bool = true;"),
            ("a/c.rs", "pub const OTHER: f64 = 0.1 + 0.2;"),
        ]);
        let text = render("my-kernels", &c);
        let file = syn::parse_file(&text).expect("valid Rust");
        assert_eq!(file.items.len(), 1);
        for want in [
            "pub const ROOT: i64 = -7;",
            "pub const INF: f32 = f32::INFINITY;",
            "    pub mod gemm {",
            "/// Tile.",
            "/// Second line.",
            "pub const BM: usize = 128;",
            &format!("pub const THIRD: f32 = {:?};", 1.0f32 / 3.0),
            "pub mod a {",
            "pub mod b {",
            "pub const DEEP: bool = true;",
            &format!("pub const OTHER: f64 = {:?};", 0.1f64 + 0.2),
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        // The printed float reads back as the same value.
        assert_eq!(
            format!("{:?}", 1.0f32 / 3.0).parse::<f32>().unwrap(),
            1.0f32 / 3.0
        );
        // `a` is opened once, holding both `b` and `c`.
        assert_eq!(text.matches("pub mod a {").count(), 1);
        assert!(render("k", &Consts::default()).contains("pub mod consts {\n}"));
    }

    #[test]
    fn intra_doc_links_become_code() {
        assert_eq!(unlink(" Threads of [`sgemm`]."), " Threads of `sgemm`.");
        assert_eq!(unlink("[`a`] and [`b`]"), "`a` and `b`");
        assert_eq!(
            unlink(" see [`x`](https://e.org)"),
            " see [`x`](https://e.org)"
        );
        assert_eq!(unlink(" odd [`x"), " odd [`x");
    }
}
