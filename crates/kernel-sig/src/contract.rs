//! Length relations of a kernel's launch contract: `len(x) == rows * cols`, `len(gamma) == cols`,
//! `len(bins) == 256`, `len(x) >= n`, `len(x) % 4 == 0`.
//!
//! Each side is an integer expression over `len(slice)`, integer scalar parameters and literals
//! with `+ - * / %` and parentheses. The builder turns each relation into a host check that runs
//! before the launch with overflow-checked arithmetic and names the kernel, the parameter and the
//! values when it fails.
use crate::{ElemTy, Param, ParamKind};
use std::fmt;
use syn::spanned::Spanned;
use syn::{BinOp as SynOp, Error, Expr, ExprBinary, Result};

/// An integer expression of a relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// `len(p)`: the length of a slice parameter.
    Len(String),
    /// An integer scalar parameter.
    Param(String),
    /// An integer literal.
    Lit(u64),
    /// `a op b`.
    Bin(Box<Term>, BinOp, Box<Term>),
}

/// Arithmetic of a [`Term`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// The comparison of a [`Relation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    /// The Rust operator.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// The name of the runtime's `Cmp` variant.
    pub fn variant(self) -> &'static str {
        match self {
            Cmp::Eq => "Eq",
            Cmp::Ne => "Ne",
            Cmp::Lt => "Lt",
            Cmp::Le => "Le",
            Cmp::Gt => "Gt",
            Cmp::Ge => "Ge",
        }
    }
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 2,
        }
    }

    /// The name of the runtime's checked-arithmetic method (`add`, `sub`, ...).
    pub fn method(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::Rem => "rem",
        }
    }
}

impl Term {
    fn fmt_prec(&self, f: &mut fmt::Formatter<'_>, parent: u8, right: bool) -> fmt::Result {
        match self {
            Term::Len(p) => write!(f, "len({p})"),
            Term::Param(p) => write!(f, "{p}"),
            Term::Lit(n) => write!(f, "{n}"),
            Term::Bin(a, op, b) => {
                let p = op.precedence();
                // Parenthesise a lower-precedence operand, and a right operand of equal
                // precedence (a - (b - c)).
                let paren = p < parent || (right && p == parent);
                if paren {
                    write!(f, "(")?;
                }
                a.fmt_prec(f, p, false)?;
                write!(f, " {} ", op.symbol())?;
                b.fmt_prec(f, p, true)?;
                if paren {
                    write!(f, ")")?;
                }
                Ok(())
            }
        }
    }

    /// Every leaf that is not a literal (`len(x)`, `rows`), in order, without repeats.
    pub fn leaves(&self, out: &mut Vec<Term>) {
        match self {
            Term::Len(_) | Term::Param(_) => {
                if !out.contains(self) {
                    out.push(self.clone());
                }
            }
            Term::Lit(_) => {}
            Term::Bin(a, _, b) => {
                a.leaves(out);
                b.leaves(out);
            }
        }
    }

    /// The first slice whose length this term reads.
    fn first_len(&self) -> Option<&str> {
        match self {
            Term::Len(p) => Some(p),
            Term::Param(_) | Term::Lit(_) => None,
            Term::Bin(a, _, b) => a.first_len().or_else(|| b.first_len()),
        }
    }

    fn first_param(&self) -> Option<&str> {
        match self {
            Term::Param(p) => Some(p),
            Term::Len(_) | Term::Lit(_) => None,
            Term::Bin(a, _, b) => a.first_param().or_else(|| b.first_param()),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_prec(f, 0, false)
    }
}

/// `lhs cmp rhs`, checked on the host before every launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub lhs: Term,
    pub cmp: Cmp,
    pub rhs: Term,
}

impl Relation {
    /// The parameter a violation is blamed on: the first slice whose length it reads (left side
    /// first), else the first scalar.
    pub fn subject(&self) -> &str {
        self.lhs
            .first_len()
            .or_else(|| self.rhs.first_len())
            .or_else(|| self.lhs.first_param())
            .or_else(|| self.rhs.first_param())
            .unwrap_or("")
    }

    /// Every non-literal leaf of both sides.
    pub fn leaves(&self) -> Vec<Term> {
        let mut v = Vec::new();
        self.lhs.leaves(&mut v);
        self.rhs.leaves(&mut v);
        v
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.cmp.symbol(), self.rhs)
    }
}

pub(crate) fn is_comparison(op: &SynOp) -> bool {
    matches!(
        op,
        SynOp::Eq(_) | SynOp::Ne(_) | SynOp::Lt(_) | SynOp::Le(_) | SynOp::Gt(_) | SynOp::Ge(_)
    )
}

pub(crate) fn parse_relation(b: &ExprBinary, params: &[Param]) -> Result<Relation> {
    let cmp = match b.op {
        SynOp::Eq(_) => Cmp::Eq,
        SynOp::Ne(_) => Cmp::Ne,
        SynOp::Lt(_) => Cmp::Lt,
        SynOp::Le(_) => Cmp::Le,
        SynOp::Gt(_) => Cmp::Gt,
        SynOp::Ge(_) => Cmp::Ge,
        _ => unreachable!("checked by is_comparison"),
    };
    let rel = Relation {
        lhs: term(&b.left, params)?,
        cmp,
        rhs: term(&b.right, params)?,
    };
    if rel.lhs.first_len().is_none() && rel.rhs.first_len().is_none() {
        return Err(Error::new(
            b.span(),
            "a length relation reads at least one `len(slice)`",
        ));
    }
    Ok(rel)
}

fn term(e: &Expr, params: &[Param]) -> Result<Term> {
    match e {
        Expr::Paren(p) => term(&p.expr, params),
        Expr::Group(g) => term(&g.expr, params),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => Ok(Term::Lit(i.base10_parse()?)),
        Expr::Binary(b) => {
            let op = match b.op {
                SynOp::Add(_) => BinOp::Add,
                SynOp::Sub(_) => BinOp::Sub,
                SynOp::Mul(_) => BinOp::Mul,
                SynOp::Div(_) => BinOp::Div,
                SynOp::Rem(_) => BinOp::Rem,
                _ => {
                    return Err(Error::new(
                        b.op.span(),
                        "a relation's sides use + - * / % and parentheses; write one comparison per relation",
                    ));
                }
            };
            Ok(Term::Bin(
                Box::new(term(&b.left, params)?),
                op,
                Box::new(term(&b.right, params)?),
            ))
        }
        Expr::Call(c) if matches!(&*c.func, Expr::Path(p) if p.path.is_ident("len")) => {
            let [arg] = c.args.iter().collect::<Vec<_>>()[..] else {
                return Err(Error::new(c.span(), "write `len(slice)`"));
            };
            let Expr::Path(p) = arg else {
                return Err(Error::new(
                    arg.span(),
                    "write `len(slice)` with a parameter name",
                ));
            };
            let name = p
                .path
                .get_ident()
                .ok_or_else(|| Error::new(arg.span(), "expected a parameter name"))?
                .to_string();
            match params.iter().find(|q| q.name == name) {
                Some(q) if q.kind.is_slice() => Ok(Term::Len(name)),
                Some(q) => Err(Error::new(
                    arg.span(),
                    format!(
                        "`len({name})`: `{name}` is a scalar of type {}, not a slice; write `{name}` itself",
                        type_name(&q.kind)
                    ),
                )),
                None => Err(Error::new(
                    arg.span(),
                    format!("no parameter named `{name}`"),
                )),
            }
        }
        Expr::Path(p) if p.path.get_ident().is_some() => {
            let id = p.path.get_ident().expect("checked");
            let name = id.to_string();
            match params.iter().find(|q| q.name == name) {
                Some(Param {
                    kind: ParamKind::Scalar(ElemTy::Known(e)),
                    ..
                }) if e.is_integer() => Ok(Term::Param(name)),
                Some(q) if q.kind.is_slice() => Err(Error::new(
                    id.span(),
                    format!("`{name}` is a slice: a relation reads its length as `len({name})`"),
                )),
                Some(q) => Err(Error::new(
                    id.span(),
                    format!(
                        "`{name}` has type {}: length relations use integer parameters",
                        type_name(&q.kind)
                    ),
                )),
                None => Err(Error::new(
                    id.span(),
                    format!("no parameter named `{name}`"),
                )),
            }
        }
        _ => Err(Error::new(
            e.span(),
            "expected `len(slice)`, an integer parameter, an integer literal, or + - * / % of them",
        )),
    }
}

fn type_name(k: &ParamKind) -> String {
    match k.elem() {
        Some(ElemTy::Known(e)) => e.short_name().to_string(),
        Some(ElemTy::Generic(g)) => g.clone(),
        None => "TensorMap".to_string(),
    }
}
