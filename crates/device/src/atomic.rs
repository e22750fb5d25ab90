//! Atomics on global memory with an explicit [`Scope`] and a memory [`Ordering`] that is really
//! honoured.
//!
//! rustc's NVPTX backend drops the ordering of read-modify-write atomics (everything becomes
//! relaxed), and `compiler_fence` crashes it. So each operation here is one audited inline-PTX
//! instruction carrying the PTX memory-model qualifiers itself, following libcu++'s mapping:
//!
//! | `Ordering` | PTX emitted                                             |
//! |------------|---------------------------------------------------------|
//! | `Relaxed`  | `atom.relaxed.<scope>` (plain `atom` for device scope)  |
//! | `Acquire`  | `atom.acquire.<scope>`                                   |
//! | `Release`  | `atom.release.<scope>`                                   |
//! | `AcqRel`   | `atom.acq_rel.<scope>`                                   |
//! | `SeqCst`   | `fence.sc.<scope>` then `atom.acquire.<scope>`          |
//!
//! Loads use `ld.{relaxed,acquire}.<scope>` and stores `st.{relaxed,release}.<scope>` (SeqCst:
//! `fence.sc` first). The inline asm has no `nomem` option, so it is also a compiler barrier.
//!
//! Kernels reach atomics through an [`AtomicSlice`] (from [`crate::OutSlice::atomic`] on an `OutSlice<T, Atomic>`), whose
//! methods are safe and bounds-checked; the raw-pointer functions of [`AtomicElem`] are `unsafe`.
use core::marker::PhantomData;
pub use core::sync::atomic::Ordering;

/// Which threads an atomic operation or fence synchronises with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Threads of the same block (PTX `.cta`).
    Block,
    /// All threads of the device (PTX `.gpu`): CUDA's default for `atomicAdd`.
    Device,
    /// The device, the host and peer devices (PTX `.sys`): for mapped host memory.
    System,
}

/// Dispatch one PTX memory operation over (ordering, scope). `$op` is the mnemonic (`atom`,
/// `ld`, `st`, `red`), `$relaxed_gpu` what to emit for relaxed device scope, and the template
/// tail follows.
macro_rules! scoped {
    ($op:literal, $relaxed_gpu:literal, $scope:expr, $order:expr, [$($tail:literal),*], $($operands:tt)*) => {{
        let scope: Scope = $scope;
        let order: Ordering = $order;
        if matches!(order, Ordering::SeqCst) {
            crate::sync::fence_sc(scope);
        }
        match (order, scope) {
            (Ordering::Relaxed, Scope::Device) => crate::__device_asm!(concat!($relaxed_gpu, $($tail),*), $($operands)*),
            (Ordering::Relaxed, Scope::Block) => crate::__device_asm!(concat!($op, ".relaxed.cta", $($tail),*), $($operands)*),
            (Ordering::Relaxed, Scope::System) => crate::__device_asm!(concat!($op, ".relaxed.sys", $($tail),*), $($operands)*),
            (Ordering::Release, Scope::Block) => crate::__device_asm!(concat!($op, ".release.cta", $($tail),*), $($operands)*),
            (Ordering::Release, Scope::Device) => crate::__device_asm!(concat!($op, ".release.gpu", $($tail),*), $($operands)*),
            (Ordering::Release, Scope::System) => crate::__device_asm!(concat!($op, ".release.sys", $($tail),*), $($operands)*),
            (Ordering::AcqRel, Scope::Block) => crate::__device_asm!(concat!($op, ".acq_rel.cta", $($tail),*), $($operands)*),
            (Ordering::AcqRel, Scope::Device) => crate::__device_asm!(concat!($op, ".acq_rel.gpu", $($tail),*), $($operands)*),
            (Ordering::AcqRel, Scope::System) => crate::__device_asm!(concat!($op, ".acq_rel.sys", $($tail),*), $($operands)*),
            // Acquire and SeqCst (after its fence above).
            (_, Scope::Block) => crate::__device_asm!(concat!($op, ".acquire.cta", $($tail),*), $($operands)*),
            (_, Scope::Device) => crate::__device_asm!(concat!($op, ".acquire.gpu", $($tail),*), $($operands)*),
            (_, Scope::System) => crate::__device_asm!(concat!($op, ".acquire.sys", $($tail),*), $($operands)*),
        }
    }};
}

/// Loads: `Release`/`AcqRel` are not load orderings; they are strengthened to acquire.
#[inline(always)]
fn load_order(o: Ordering) -> Ordering {
    match o {
        Ordering::Relaxed => Ordering::Relaxed,
        Ordering::SeqCst => Ordering::SeqCst,
        _ => Ordering::Acquire,
    }
}

/// Stores: `Acquire`/`AcqRel` are not store orderings; they are strengthened to release. SeqCst
/// stores are `fence.sc` + relaxed store (libcu++'s mapping).
#[inline(always)]
fn store_order(o: Ordering) -> Ordering {
    match o {
        Ordering::Relaxed => Ordering::Relaxed,
        Ordering::SeqCst => Ordering::SeqCst,
        _ => Ordering::Release,
    }
}

/// Element types with atomic load, store, exchange and add on global memory.
///
/// # Safety (of every method)
/// `p` is a valid, aligned pointer into global memory, and every concurrent access to `*p` is
/// atomic (made through these functions).
#[allow(clippy::missing_safety_doc)] // stated once for the trait, above
pub trait AtomicElem: Copy {
    /// `*p` (`ld.<order>.<scope>`).
    unsafe fn atomic_load(p: *const Self, scope: Scope, order: Ordering) -> Self;
    /// `*p = v` (`st.<order>.<scope>`).
    unsafe fn atomic_store(p: *mut Self, v: Self, scope: Scope, order: Ordering);
    /// `*p = v`, returning the old value (`atom.exch`).
    unsafe fn atomic_swap(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self;
    /// `*p += v`, returning the old value (`atom.add`).
    unsafe fn atomic_fetch_add(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self;
    /// `*p += v`, relaxed at device scope, without returning the old value (`red.global.add`:
    /// fire and forget, the fastest form for histograms and accumulations).
    unsafe fn atomic_add(p: *mut Self, v: Self);
}

/// Integer atomics: min, max, bitwise ops and compare-exchange.
///
/// # Safety (of every method)
/// As [`AtomicElem`].
#[allow(clippy::missing_safety_doc)] // stated once for the trait, above
pub trait AtomicInt: AtomicElem + PartialEq {
    /// `*p = min(*p, v)`, returning the old value (`atom.min`).
    unsafe fn atomic_fetch_min(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self;
    /// `*p = max(*p, v)`, returning the old value (`atom.max`).
    unsafe fn atomic_fetch_max(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self;
    /// `*p &= v`, returning the old value (`atom.and`).
    unsafe fn atomic_fetch_and(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self;
    /// `*p |= v`, returning the old value (`atom.or`).
    unsafe fn atomic_fetch_or(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self;
    /// `*p ^= v`, returning the old value (`atom.xor`).
    unsafe fn atomic_fetch_xor(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self;
    /// Store `new` if `*p == current`; `Ok(old)` when it did, `Err(old)` when not.
    unsafe fn atomic_compare_exchange(
        p: *mut Self,
        current: Self,
        new: Self,
        scope: Scope,
        order: Ordering,
    ) -> Result<Self, Self>;
}

macro_rules! rmw {
    ($name:ident, $t:ty, $reg:ident, [$($op:literal),*]) => {
        #[inline(always)]
        unsafe fn $name(p: *mut Self, v: Self, scope: Scope, order: Ordering) -> Self {
            let r: $t;
            // SAFETY: the caller guarantees a valid global pointer under atomic-only access.
            unsafe {
                scoped!("atom", "atom", scope, order, [".global.", $($op),*, " {r}, [{p}], {v};"],
                    r = out($reg) r, p = in(reg64) p, v = in($reg) v, options(nostack, preserves_flags))
            };
            r
        }
    };
}

macro_rules! atomic_elem {
    ($t:ty, $reg:ident, $bits:literal, $add:literal) => {
        impl AtomicElem for $t {
            #[inline(always)]
            unsafe fn atomic_load(p: *const Self, scope: Scope, order: Ordering) -> Self {
                let r: $t;
                // SAFETY: caller's contract.
                unsafe {
                    scoped!("ld", "ld.relaxed.gpu", scope, load_order(order), [".global.b", $bits, " {r}, [{p}];"],
                        r = out($reg) r, p = in(reg64) p, options(nostack, preserves_flags))
                };
                r
            }
            #[inline(always)]
            unsafe fn atomic_store(p: *mut Self, v: Self, scope: Scope, order: Ordering) {
                let order = match store_order(order) {
                    Ordering::SeqCst => {
                        crate::sync::fence_sc(scope);
                        Ordering::Relaxed
                    }
                    o => o,
                };
                // SAFETY: caller's contract.
                unsafe {
                    scoped!("st", "st.relaxed.gpu", scope, order, [".global.b", $bits, " [{p}], {v};"],
                        p = in(reg64) p, v = in($reg) v, options(nostack, preserves_flags))
                }
            }
            rmw!(atomic_swap, $t, $reg, ["exch.b", $bits]);
            rmw!(atomic_fetch_add, $t, $reg, ["add.", $add]);
            #[inline(always)]
            unsafe fn atomic_add(p: *mut Self, v: Self) {
                // SAFETY: caller's contract.
                unsafe {
                    crate::__device_asm!(concat!("red.global.add.", $add, " [{p}], {v};"),
                        p = in(reg64) p, v = in($reg) v, options(nostack, preserves_flags))
                }
            }
        }
    };
}

macro_rules! atomic_int {
    ($t:ty, $reg:ident, $bits:literal, $minmax:literal) => {
        impl AtomicInt for $t {
            rmw!(atomic_fetch_min, $t, $reg, ["min.", $minmax]);
            rmw!(atomic_fetch_max, $t, $reg, ["max.", $minmax]);
            rmw!(atomic_fetch_and, $t, $reg, ["and.b", $bits]);
            rmw!(atomic_fetch_or, $t, $reg, ["or.b", $bits]);
            rmw!(atomic_fetch_xor, $t, $reg, ["xor.b", $bits]);
            #[inline(always)]
            unsafe fn atomic_compare_exchange(
                p: *mut Self,
                current: Self,
                new: Self,
                scope: Scope,
                order: Ordering,
            ) -> Result<Self, Self> {
                let r: $t;
                // SAFETY: caller's contract.
                unsafe {
                    scoped!("atom", "atom", scope, order, [".global.cas.b", $bits, " {r}, [{p}], {c}, {v};"],
                        r = out($reg) r, p = in(reg64) p, c = in($reg) current, v = in($reg) new,
                        options(nostack, preserves_flags))
                };
                if r == current { Ok(r) } else { Err(r) }
            }
        }
    };
}

atomic_elem!(u32, reg32, "32", "u32");
atomic_elem!(i32, reg32, "32", "s32");
atomic_elem!(u64, reg64, "64", "u64");
// Two's complement: adding as u64 is adding as i64.
atomic_elem!(i64, reg64, "64", "u64");
atomic_elem!(f32, reg32, "32", "f32");
atomic_elem!(f64, reg64, "64", "f64");
atomic_int!(u32, reg32, "32", "u32");
atomic_int!(i32, reg32, "32", "s32");
atomic_int!(u64, reg64, "64", "u64");
atomic_int!(i64, reg64, "64", "s64");

/// A view of a global-memory array in which every element is accessed atomically by every
/// thread, so any thread may update any element. Bounds-checked (out of range panics, i.e.
/// traps). Obtained from [`crate::OutSlice::atomic`].
#[derive(Clone, Copy)]
pub struct AtomicSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _p: PhantomData<&'a T>,
}

impl<'a, T> AtomicSlice<'a, T> {
    /// # Safety
    /// `ptr..ptr+len` is global memory valid for `'a`, and while any view of it is used every
    /// access to it by any thread of the launch is atomic.
    #[inline(always)]
    pub unsafe fn from_raw_parts(ptr: *mut T, len: usize) -> Self {
        AtomicSlice {
            ptr,
            len,
            _p: PhantomData,
        }
    }

    /// Number of elements.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no elements.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn at(&self, i: usize) -> *mut T {
        assert!(i < self.len, "atomic index out of bounds");
        // SAFETY: `i < len`.
        unsafe { self.ptr.add(i) }
    }
}

impl<T: AtomicElem> AtomicSlice<'_, T> {
    /// Element `i` (bounds-checked).
    #[inline(always)]
    pub fn load(&self, i: usize, scope: Scope, order: Ordering) -> T {
        // SAFETY: in bounds; atomic-only access is the view's invariant.
        unsafe { T::atomic_load(self.at(i), scope, order) }
    }
    /// Set element `i` to `v` (bounds-checked).
    #[inline(always)]
    pub fn store(&self, i: usize, v: T, scope: Scope, order: Ordering) {
        // SAFETY: as `load`.
        unsafe { T::atomic_store(self.at(i), v, scope, order) }
    }
    /// Set element `i` to `v`, returning the old value.
    #[inline(always)]
    pub fn swap(&self, i: usize, v: T, scope: Scope, order: Ordering) -> T {
        // SAFETY: as `load`.
        unsafe { T::atomic_swap(self.at(i), v, scope, order) }
    }
    /// `self[i] += v`, returning the old value (floats too: `atom.global.add.f32/f64`).
    #[inline(always)]
    pub fn fetch_add(&self, i: usize, v: T, scope: Scope, order: Ordering) -> T {
        // SAFETY: as `load`.
        unsafe { T::atomic_fetch_add(self.at(i), v, scope, order) }
    }
    /// `self[i] += v`, relaxed, device scope, no result (`red.global.add`).
    #[inline(always)]
    pub fn add(&self, i: usize, v: T) {
        // SAFETY: as `load`.
        unsafe { T::atomic_add(self.at(i), v) }
    }
}

impl<T: AtomicInt> AtomicSlice<'_, T> {
    /// `self[i] = min(self[i], v)`, returning the old value.
    #[inline(always)]
    pub fn fetch_min(&self, i: usize, v: T, scope: Scope, order: Ordering) -> T {
        // SAFETY: as `load`.
        unsafe { T::atomic_fetch_min(self.at(i), v, scope, order) }
    }
    /// `self[i] = max(self[i], v)`, returning the old value.
    #[inline(always)]
    pub fn fetch_max(&self, i: usize, v: T, scope: Scope, order: Ordering) -> T {
        // SAFETY: as `load`.
        unsafe { T::atomic_fetch_max(self.at(i), v, scope, order) }
    }
    /// `self[i] &= v`, returning the old value.
    #[inline(always)]
    pub fn fetch_and(&self, i: usize, v: T, scope: Scope, order: Ordering) -> T {
        // SAFETY: as `load`.
        unsafe { T::atomic_fetch_and(self.at(i), v, scope, order) }
    }
    /// `self[i] |= v`, returning the old value.
    #[inline(always)]
    pub fn fetch_or(&self, i: usize, v: T, scope: Scope, order: Ordering) -> T {
        // SAFETY: as `load`.
        unsafe { T::atomic_fetch_or(self.at(i), v, scope, order) }
    }
    /// `self[i] ^= v`, returning the old value.
    #[inline(always)]
    pub fn fetch_xor(&self, i: usize, v: T, scope: Scope, order: Ordering) -> T {
        // SAFETY: as `load`.
        unsafe { T::atomic_fetch_xor(self.at(i), v, scope, order) }
    }
    /// Store `new` at `i` if it holds `current`: `Ok(old)` when stored, `Err(actual)` when not.
    #[inline(always)]
    pub fn compare_exchange(
        &self,
        i: usize,
        current: T,
        new: T,
        scope: Scope,
        order: Ordering,
    ) -> Result<T, T> {
        // SAFETY: as `load`.
        unsafe { T::atomic_compare_exchange(self.at(i), current, new, scope, order) }
    }
}
