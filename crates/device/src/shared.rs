//! Shared memory that compiles to `ld.shared` / `st.shared` (LDS/STS in SASS).
//!
//! A Rust `static mut` would land in global memory, and a generic pointer to shared memory
//! compiles to slow generic loads, so arrays are declared in PTX's `.shared` space with
//! [`shared_array!`](crate::shared_array) and accessed only through 32-bit shared addresses with explicit
//! `ld.shared`/`st.shared`.
//!
//! Aliasing rules: each `shared_array!` use declares its own uniquely named `.shared` symbol, so
//! two declarations are always two arrays, even with the same name. Every thread of the block
//! sees the same memory: element accesses are bounds-checked, but ordering between threads is the
//! kernel's job (put a [`crate::sync_threads`] between writes and reads by other threads).
use core::marker::PhantomData;

/// Element types that shared memory can hold, with their load/store instruction width.
pub trait SharedElem: Copy {
    /// # Safety
    /// `addr` is a valid, aligned shared-memory address of a `Self`.
    unsafe fn ld_shared(addr: u32) -> Self;
    /// # Safety
    /// As [`SharedElem::ld_shared`].
    unsafe fn st_shared(addr: u32, v: Self);
}

macro_rules! shared_elem {
    ($t:ty, $bits:ty, $reg:ident, $w:literal) => {
        #[allow(unnecessary_transmutes, clippy::useless_transmute)]
        impl SharedElem for $t {
            #[inline(always)]
            unsafe fn ld_shared(addr: u32) -> Self {
                let v: $bits;
                // SAFETY: caller guarantees a valid aligned shared address.
                unsafe {
                    crate::__device_asm!(concat!("ld.shared.b", $w, " {v}, [{a}];"), v = out($reg) v, a = in(reg32) addr, options(nostack, readonly, preserves_flags));
                    core::mem::transmute::<$bits, $t>(v)
                }
            }
            #[inline(always)]
            unsafe fn st_shared(addr: u32, v: Self) {
                // SAFETY: caller guarantees a valid aligned shared address.
                unsafe {
                    let bits = core::mem::transmute::<$t, $bits>(v);
                    crate::__device_asm!(concat!("st.shared.b", $w, " [{a}], {v};"), v = in($reg) bits, a = in(reg32) addr, options(nostack, preserves_flags));
                }
            }
        }
    };
}

shared_elem!(f32, u32, reg32, "32");
shared_elem!(u32, u32, reg32, "32");
shared_elem!(i32, u32, reg32, "32");
shared_elem!(f64, u64, reg64, "64");
shared_elem!(u64, u64, reg64, "64");
shared_elem!(i64, u64, reg64, "64");
shared_elem!(u16, u16, reg16, "16");
shared_elem!(i16, u16, reg16, "16");
#[cfg(gpukit_unstable)]
shared_elem!(f16, u16, reg16, "16");
shared_elem!(crate::half::Bf16, u16, reg16, "16");

/// A block-shared array of `N` elements at a 32-bit shared address. Copyable handle: copies refer
/// to the same memory, as every thread's handle does.
#[derive(Clone, Copy)]
pub struct SharedArray<T, const N: usize> {
    addr: u32,
    _t: PhantomData<T>,
}

impl<T: SharedElem, const N: usize> SharedArray<T, N> {
    /// # Safety
    /// `addr` is the shared address of at least `N` elements of `T`, aligned for `T`, used by
    /// nothing else. Called by [`shared_array!`] only.
    #[doc(hidden)]
    #[inline(always)]
    pub unsafe fn from_shared_addr(addr: u32) -> Self {
        SharedArray {
            addr,
            _t: PhantomData,
        }
    }

    /// Number of elements.
    pub const LEN: usize = N;

    /// Element `i` (bounds-checked: out of range panics, i.e. traps).
    #[inline(always)]
    pub fn get(&self, i: usize) -> T {
        assert!(i < N, "shared array index out of bounds");
        // SAFETY: in bounds of the declared array, aligned by construction.
        unsafe { T::ld_shared(self.addr + (i * core::mem::size_of::<T>()) as u32) }
    }

    /// Store `v` at element `i` (bounds-checked).
    #[inline(always)]
    pub fn set(&self, i: usize, v: T) {
        assert!(i < N, "shared array index out of bounds");
        // SAFETY: as in `get`.
        unsafe { T::st_shared(self.addr + (i * core::mem::size_of::<T>()) as u32, v) }
    }

    /// Element `i` without the bounds check, for inner loops whose indices are proven in range.
    ///
    /// # Safety
    /// `i < N`.
    #[inline(always)]
    pub unsafe fn get_unchecked(&self, i: usize) -> T {
        // SAFETY: caller guarantees `i < N`.
        unsafe { T::ld_shared(self.addr + (i * core::mem::size_of::<T>()) as u32) }
    }

    /// # Safety
    /// `i < N`.
    #[inline(always)]
    pub unsafe fn set_unchecked(&self, i: usize, v: T) {
        // SAFETY: caller guarantees `i < N`.
        unsafe { T::st_shared(self.addr + (i * core::mem::size_of::<T>()) as u32, v) }
    }

    /// The 32-bit shared address of element 0 (for `ldmatrix`, `cp.async` and similar).
    #[inline(always)]
    pub fn shared_addr(&self) -> u32 {
        self.addr
    }

    /// 16-byte packet `p` (bytes `16p .. 16p + 16`) as four words: one `ld.shared.v4.b32`.
    /// Bounds-checked.
    #[inline(always)]
    pub fn load_packet(&self, p: usize) -> [u32; 4] {
        assert!(
            (p + 1) * 16 <= N * core::mem::size_of::<T>(),
            "shared packet index out of bounds"
        );
        // SAFETY: in bounds; the array is 16-byte aligned (`shared_array!`).
        unsafe { ld_shared_v4(self.addr + (p * 16) as u32) }
    }

    /// Stores packet `p` with one `st.shared.v4.b32`. Bounds-checked.
    #[inline(always)]
    pub fn store_packet(&self, p: usize, w: [u32; 4]) {
        assert!(
            (p + 1) * 16 <= N * core::mem::size_of::<T>(),
            "shared packet index out of bounds"
        );
        // SAFETY: as in `load_packet`.
        unsafe { st_shared_v4(self.addr + (p * 16) as u32, w) }
    }

    /// Starts an asynchronous copy (`cp.async`) of the 16 bytes at `src[src_elem..]` into packet
    /// `dst_packet`, zero-filling what lies past the end of `src`. Returns `false`, copying
    /// nothing, when that source address is not 16-byte aligned. The data is there after
    /// [`crate::async_copy::wait_all`] and a block barrier.
    #[inline(always)]
    pub fn copy_packet_async<S>(&self, dst_packet: usize, src: &[S], src_elem: usize) -> bool {
        crate::async_copy::copy_packet(
            self.addr,
            N * core::mem::size_of::<T>(),
            dst_packet,
            src,
            src_elem,
        )
    }
}

/// `ld.shared.v4.b32`.
///
/// # Safety
/// `addr` is a 16-byte aligned shared address with 16 bytes in bounds.
#[inline(always)]
pub(crate) unsafe fn ld_shared_v4(addr: u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!("ld.shared.v4.b32 {{{a}, {b}, {c}, {d}}}, [{p}];",
            a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
            p = in(reg32) addr, options(nostack, readonly, preserves_flags))
    };
    [a, b, c, d]
}

/// `st.shared.v4.b32`.
///
/// # Safety
/// As [`ld_shared_v4`].
#[inline(always)]
unsafe fn st_shared_v4(addr: u32, w: [u32; 4]) {
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!("st.shared.v4.b32 [{p}], {{{a}, {b}, {c}, {d}}};",
            a = in(reg32) w[0], b = in(reg32) w[1], c = in(reg32) w[2], d = in(reg32) w[3],
            p = in(reg32) addr, options(nostack, preserves_flags))
    };
}

/// Declares a block-shared array and evaluates to its [`SharedArray`] handle:
/// `let tile = shared_array!(TILE: [f32; 1024]);`.
///
/// Every use declares its own PTX `.shared` symbol (`TILE` plus a hash of the crate, file, line,
/// column and a per-compilation counter), so two arrays never collide, whatever their names: the
/// same name in two kernels, two modules or two crates gives two arrays. One use inside a
/// function that several kernels call is one array per block of each of those kernels. `N` may
/// name constants of the enclosing module, not generic parameters.
#[macro_export]
macro_rules! shared_array {
    ($name:ident : [$t:ty; $n:expr]) => {
        $crate::__unique_shared!($crate::__shared_decl, $name: [$t; $n])
    };
}

/// The declaration behind [`shared_array!`](crate::shared_array), given its unique symbol.
#[doc(hidden)]
#[macro_export]
#[cfg_attr(gpukit_unstable, allow_internal_unstable(asm_experimental_arch))]
macro_rules! __shared_decl {
    ($sym:ident : [$t:ty; $n:expr]) => {{
        // `global_asm!` must be an item: a module named after the symbol holds it.
        #[allow(non_snake_case, unused_imports)]
        mod $sym {
            use super::*;
            #[cfg(target_arch = "nvptx64")]
            core::arch::global_asm!(
                concat!(".shared .align 16 .b8 ", stringify!($sym), "[{bytes}];"),
                bytes = const ($n) * core::mem::size_of::<$t>(),
            );
        }
        let addr: u32;
        // SAFETY: reads the address of the symbol declared just above, which nothing else uses.
        unsafe {
            $crate::__device_asm!(concat!("mov.u32 {a}, ", stringify!($sym), ";"), a = out(reg32) addr, options(pure, nomem, nostack));
            $crate::shared::SharedArray::<$t, { $n }>::from_shared_addr(addr)
        }
    }};
}

#[cfg(target_arch = "nvptx64")]
core::arch::global_asm!(".extern .shared .align 16 .b8 gpukit_dynamic_smem[];");

/// The block's dynamic shared memory (sized by the launch's `shared_bytes`) viewed as `T`s.
#[derive(Clone, Copy)]
pub struct DynamicShared<T> {
    addr: u32,
    len: usize,
    _t: PhantomData<T>,
}

/// The dynamic shared memory of this launch as elements of `T` (length = bytes / `size_of::<T>()`).
#[inline(always)]
pub fn dynamic_shared<T: SharedElem>() -> DynamicShared<T> {
    let (addr, bytes): (u32, u32);
    // SAFETY: reads the extern symbol's address and a special register.
    unsafe {
        crate::__device_asm!("mov.u32 {a}, gpukit_dynamic_smem;", a = out(reg32) addr, options(pure, nomem, nostack));
        crate::__device_asm!("mov.u32 {b}, %dynamic_smem_size;", b = out(reg32) bytes, options(pure, nomem, nostack));
    }
    DynamicShared {
        addr,
        len: bytes as usize / core::mem::size_of::<T>(),
        _t: PhantomData,
    }
}

impl<T: SharedElem> DynamicShared<T> {
    /// Number of elements the launch's dynamic shared memory holds.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the launch has no dynamic shared memory.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `i` (bounds-checked against the launch's dynamic size).
    #[inline(always)]
    pub fn get(&self, i: usize) -> T {
        assert!(i < self.len, "dynamic shared index out of bounds");
        // SAFETY: in bounds of the dynamic allocation; 16-byte aligned base.
        unsafe { T::ld_shared(self.addr + (i * core::mem::size_of::<T>()) as u32) }
    }

    /// Store `v` at element `i` (bounds-checked).
    #[inline(always)]
    pub fn set(&self, i: usize, v: T) {
        assert!(i < self.len, "dynamic shared index out of bounds");
        // SAFETY: as in `get`.
        unsafe { T::st_shared(self.addr + (i * core::mem::size_of::<T>()) as u32, v) }
    }

    /// The 32-bit shared address of element 0.
    #[inline(always)]
    pub fn shared_addr(&self) -> u32 {
        self.addr
    }

    /// The `bytes` bytes at byte offset `offset` as their own view (for double buffering).
    /// Both must be multiples of 16; out-of-range parts are clipped away.
    #[inline(always)]
    pub fn sub(&self, offset: usize, bytes: usize) -> DynamicShared<T> {
        let total = self.bytes();
        let offset = offset.min(total) / 16 * 16;
        let bytes = bytes.min(total - offset) / 16 * 16;
        DynamicShared {
            addr: self.addr + offset as u32,
            len: bytes / core::mem::size_of::<T>(),
            _t: PhantomData,
        }
    }

    /// Size in bytes of the launch's dynamic shared memory.
    #[inline(always)]
    pub fn bytes(&self) -> usize {
        self.len * core::mem::size_of::<T>()
    }

    /// 16-byte packet `p` of the dynamic shared memory (one `ld.shared.v4.b32`), bounds-checked.
    #[inline(always)]
    pub fn load_packet(&self, p: usize) -> [u32; 4] {
        assert!(
            (p + 1) * 16 <= self.bytes(),
            "dynamic shared packet index out of bounds"
        );
        // SAFETY: in bounds; the dynamic shared base is 16-byte aligned.
        unsafe { ld_shared_v4(self.addr + (p * 16) as u32) }
    }

    /// Stores packet `p` (one `st.shared.v4.b32`), bounds-checked.
    #[inline(always)]
    pub fn store_packet(&self, p: usize, w: [u32; 4]) {
        assert!(
            (p + 1) * 16 <= self.bytes(),
            "dynamic shared packet index out of bounds"
        );
        // SAFETY: as in `load_packet`.
        unsafe { st_shared_v4(self.addr + (p * 16) as u32, w) }
    }

    /// As [`SharedArray::copy_packet_async`].
    #[inline(always)]
    pub fn copy_packet_async<S>(&self, dst_packet: usize, src: &[S], src_elem: usize) -> bool {
        crate::async_copy::copy_packet(self.addr, self.bytes(), dst_packet, src, src_elem)
    }

    /// Arrives on `bar` announcing `16 · packets` bytes, then copies them from `src[src_elem..]`
    /// into packets `dst_packet ..` of this view with one bulk copy (TMA,
    /// [`tma::bulk_load`](crate::tma::bulk_load)) that completes them on `bar`: a whole chunk
    /// in flight with no registers and one instruction. Returns `false` (nothing announced,
    /// nothing copied) unless the source range lies inside `src` and is 16-byte aligned and the
    /// destination lies inside this view. As with the `cp.async` copies, the packets hold the
    /// data only once `bar`'s current phase has completed; `bar` expects one arrival per phase
    /// (this one).
    #[cfg(any(target_feature = "ptx80", not(target_arch = "nvptx64")))]
    #[inline(always)]
    pub fn load_bulk_arrive<S>(
        &self,
        dst_packet: usize,
        src: &[S],
        src_elem: usize,
        packets: usize,
        bar: crate::mbarrier::MBarrier,
    ) -> bool {
        let bytes = packets * 16;
        let size = core::mem::size_of::<S>();
        let p = src.as_ptr().wrapping_add(src_elem.min(src.len())) as *const u8;
        let inside = src_elem <= src.len() && (src.len() - src_elem) * size >= bytes;
        if packets == 0
            || !inside
            || !(p as usize).is_multiple_of(16)
            || (dst_packet + packets) * 16 > self.bytes()
            || bytes >= 1 << 20
        {
            return false;
        }
        bar.arrive_expect_tx(bytes as u32);
        // SAFETY: the destination packets lie inside this view of the CTA's dynamic shared
        // memory, 16-byte aligned (the base is); the source is `bytes` (a multiple of 16, under
        // the bulk copy's 2^20 limit) 16-byte aligned bytes inside `src`, a kernel input that no
        // thread writes during the launch; `bar` names an initialised barrier (its constructor's
        // contract) whose current phase was just told to expect these bytes. Reading the packets
        // before the phase completes reads unspecified data, as with `copy_packet_async`.
        unsafe {
            crate::tma::bulk_load(self.addr + (dst_packet * 16) as u32, p, bytes as u32, bar)
        };
        true
    }
}

/// Atomic add on shared memory (`atom.shared.add`), e.g. for per-block histograms.
pub trait SharedAtomicAdd: SharedElem {
    /// # Safety
    /// `addr` is a valid, aligned shared-memory address of a `Self`.
    unsafe fn atomic_add_shared(addr: u32, v: Self) -> Self;
}

macro_rules! shared_atomic_add {
    ($t:ty, $reg:ident, $ty:literal) => {
        impl SharedAtomicAdd for $t {
            #[inline(always)]
            unsafe fn atomic_add_shared(addr: u32, v: Self) -> Self {
                let r: $t;
                // SAFETY: caller guarantees a valid aligned shared address. Not `nomem`: also a
                // compiler barrier.
                unsafe {
                    crate::__device_asm!(concat!("atom.shared.add.", $ty, " {r}, [{a}], {v};"),
                        r = out($reg) r, a = in(reg32) addr, v = in($reg) v, options(nostack, preserves_flags))
                };
                r
            }
        }
    };
}
shared_atomic_add!(u32, reg32, "u32");
shared_atomic_add!(i32, reg32, "s32");
shared_atomic_add!(f32, reg32, "f32");
shared_atomic_add!(u64, reg64, "u64");

impl<T: SharedAtomicAdd, const N: usize> SharedArray<T, N> {
    /// `self[i] += v` atomically (block scope, relaxed), returning the old value. Bounds-checked.
    #[inline(always)]
    pub fn atomic_add(&self, i: usize, v: T) -> T {
        assert!(i < N, "shared array index out of bounds");
        // SAFETY: in bounds of the declared array, aligned by construction.
        unsafe { T::atomic_add_shared(self.addr + (i * core::mem::size_of::<T>()) as u32, v) }
    }
}

impl<T: SharedAtomicAdd> DynamicShared<T> {
    /// `self[i] += v` atomically (block scope, relaxed), returning the old value. Bounds-checked.
    #[inline(always)]
    pub fn atomic_add(&self, i: usize, v: T) -> T {
        assert!(i < self.len, "dynamic shared index out of bounds");
        // SAFETY: in bounds of the dynamic allocation.
        unsafe { T::atomic_add_shared(self.addr + (i * core::mem::size_of::<T>()) as u32, v) }
    }
}
