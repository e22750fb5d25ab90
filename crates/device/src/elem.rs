//! Kernel element types and their 16-byte groups ("chunks").
//!
//! Memory moves fastest in 16-byte vector accesses (`ld.global.nc.v4`, `st.global.v4`): four
//! `f32`, eight `Bf16`/`f16`, two `f64`. [`Element`] names that group for each element type, so
//! that generic kernels (`fn k<T: Element>`) and the ownership views speak of "chunks" whatever
//! the type. [`Float`] adds the exact widening to `f32` (and the rounding back) that storage
//! types computed in `f32` need.
use crate::half::Bf16;

/// A kernel element type: plain bits, with its 16-byte group.
pub trait Element: Copy + 'static {
    /// 16 bytes of elements: `[Self; LANES]`.
    type Chunk: Copy
        + AsRef<[Self]>
        + AsMut<[Self]>
        + core::ops::Index<usize, Output = Self>
        + core::ops::IndexMut<usize>;
    /// Elements in 16 bytes.
    const LANES: usize;
    /// All bits zero.
    const ZERO: Self;
    /// A chunk with every lane `v`.
    fn splat(v: Self) -> Self::Chunk;
}

macro_rules! element {
    ($($t:ty = $zero:expr),* $(,)?) => {
        $(
            impl Element for $t {
                type Chunk = [$t; 16 / core::mem::size_of::<$t>()];
                const LANES: usize = 16 / core::mem::size_of::<$t>();
                const ZERO: $t = $zero;
                #[inline(always)]
                fn splat(v: $t) -> Self::Chunk {
                    [v; 16 / core::mem::size_of::<$t>()]
                }
            }
        )*
    };
}
element!(
    f32 = 0.0,
    f64 = 0.0,
    i8 = 0,
    u8 = 0,
    i16 = 0,
    u16 = 0,
    i32 = 0,
    u32 = 0,
    i64 = 0,
    u64 = 0,
    Bf16 = Bf16::ZERO,
);
#[cfg(gpukit_unstable)]
element!(f16 = 0.0);

/// Floating-point storage types computed in `f32`: widen exactly, round back to nearest even.
pub trait Float: Element {
    /// The value as `f32` (exact for f16, bf16 and f32).
    fn to_f32(self) -> f32;
    /// `v` rounded to nearest even.
    fn from_f32(v: f32) -> Self;
}

impl Float for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> f32 {
        v
    }
}

impl Float for Bf16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        Bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Bf16 {
        Bf16::from_f32(v)
    }
}

#[cfg(gpukit_unstable)]
impl Float for f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn from_f32(v: f32) -> f16 {
        v as f16
    }
}

/// One 16-byte load of a chunk through the read-only data path (`ld.global.nc.v4.b32`).
///
/// # Safety
/// `p` is 16-byte aligned, the 16 bytes from it are global memory valid for reads, and no
/// thread writes them during the launch.
#[inline(always)]
pub(crate) unsafe fn load_chunk<T: Element>(p: *const T) -> T::Chunk {
    // SAFETY: the caller's contract; `T::Chunk` is 16 bytes of plain data.
    unsafe {
        let bits = crate::vector::ld_nc_v4_bits(p as *const u32);
        core::mem::transmute_copy::<[u32; 4], T::Chunk>(&bits)
    }
}

/// One element through the read-only data path (`ld.global.nc.b32` / `.b64` for 4- and 8-byte
/// types; a plain load for the others). Indexing a `&[T]` compiles to a generic `ld`, which
/// cannot use that path.
///
/// # Safety
/// `p` is aligned for `T`, points into global memory valid for reads, and no thread writes it
/// during the launch.
#[inline(always)]
pub(crate) unsafe fn load_elem<T: Element>(p: *const T) -> T {
    // SAFETY: the caller's contract; `T` is plain data of the size loaded.
    unsafe {
        match core::mem::size_of::<T>() {
            4 => {
                let v: u32;
                crate::__device_asm!("ld.global.nc.b32 {v}, [{p}];", v = out(reg32) v,
                    p = in(reg64) p, options(readonly, nostack, preserves_flags, pure));
                core::mem::transmute_copy::<u32, T>(&v)
            }
            8 => {
                let v: u64;
                crate::__device_asm!("ld.global.nc.b64 {v}, [{p}];", v = out(reg64) v,
                    p = in(reg64) p, options(readonly, nostack, preserves_flags, pure));
                core::mem::transmute_copy::<u64, T>(&v)
            }
            _ => p.read(),
        }
    }
}

/// One 16-byte store of a chunk (`st.global.v4.b32`). Inline PTX on purpose: as plain stores,
/// LLVM splits the chunk into its elements and merges them with a neighbouring element-wise
/// path, losing the vector store.
///
/// # Safety
/// `p` is 16-byte aligned, the 16 bytes from it are writable global memory, and only this thread
/// accesses them during the launch.
#[inline(always)]
pub(crate) unsafe fn store_chunk<T: Element>(p: *mut T, c: T::Chunk) {
    // SAFETY: the caller's contract; `T::Chunk` is 16 bytes of plain data.
    unsafe {
        let [a, b, c, d] = core::mem::transmute_copy::<T::Chunk, [u32; 4]>(&c);
        crate::__device_asm!(
            "st.global.v4.b32 [{p}], {{{a}, {b}, {c}, {d}}};",
            p = in(reg64) p,
            a = in(reg32) a, b = in(reg32) b, c = in(reg32) c, d = in(reg32) d,
            options(nostack, preserves_flags),
        );
    }
}
