//! Warpgroup matrix multiply-accumulate (`wgmma.mma_async`, sm_90a only): one warpgroup (4
//! consecutive warps starting at a warp index divisible by 4, 128 threads) computes
//! `D(64×N) += A(64×K) · B(K×N)` asynchronously on the tensor cores, reading B (and A, or A from
//! registers) straight from shared memory through [`MatrixDesc`] descriptors. In SASS: `HGMMA`
//! (16-bit and tf32 inputs) and `QGMMA` (fp8).
//!
//! The protocol, per warpgroup:
//! 1. [`fence`] (`wgmma.fence`) before the first `mma_async` whose accumulators were touched
//!    by ordinary instructions (zeroing, the epilogue) — once per batch of MMAs is cheap.
//! 2. Any number of `mma_async` calls ([`MmaAsync`]); calls on the same accumulator chain in
//!    order without further fences.
//! 3. [`commit_group`] closes the batch into a *wgmma group*.
//! 4. [`wait_group::<N>`](wait_group) waits until at most `N` groups are pending; then
//!    [`FenceOperands::fence_operands`] pins the registers so the compiler cannot read them
//!    before the wait. Shared memory a finished group read may then be overwritten.
//!
//! Shapes: `m64nNk16` for f16/bf16, `m64nNk32` for fp8 (e4m3/e5m2), `m64nNk8` for tf32, with
//! N = 8, 16, ..., 256 and f32 accumulators, all implemented by one macro over the shape list.
//! The accumulator of an m64nN tile is an [`Accumulator<R>`] with `R = N / 2` f32 registers
//! per thread.
//!
//! # Accumulator layout (PTX ISA, "wgmma register fragment layout for D")
//! Thread `t` of the warpgroup (warp `w = t / 32`, lane `l = t % 32`) holds, for register `i`:
//! row `16 w + l / 4 + 8 ((i / 2) % 2)`, column `8 (i / 4) + 2 (l % 4) + i % 2`
//! ([`Accumulator::position`]). So registers `4j, 4j+1` are two adjacent columns of row
//! `16w + l/4` and `4j+2, 4j+3` the same columns 8 rows below: per 8-column block the layout
//! of an `mma.m16n8` accumulator, repeated N/8 times.
//!
//! # A from registers
//! The `_rs` forms take A as four `.b32` registers per thread, warp `w` holding rows
//! `16w .. 16w + 16` in the `mma.m16n8k16` A-fragment layout (see [`crate::mma`]): for 16-bit
//! types `a[0]` = row `l/4`, k `2(l%4)..+2`; `a[1]` = row `l/4 + 8`; `a[2]`, `a[3]` the same rows
//! at k + 8. For fp8 (k32) each register holds four consecutive k; for tf32 (k8) one value.
//!
//! # Shared-memory operands
//! "K-major" means consecutive elements of a row of A (or a column of B, i.e. a row of Bᵀ) are
//! contiguous: the layout a TMA load of a row-major A (M×K) or of Bᵀ stored N×K produces. With
//! 128-byte swizzle ([`MatrixDesc::k_major_sw128`]) a tile is a stack of 8-row × 128-byte
//! atoms (8 rows of 64 16-bit elements), swizzled as TMA's `CU_TENSOR_MAP_SWIZZLE_128B` writes
//! them; the tile must start at a 1024-byte aligned address, and stepping to the next k16
//! slice inside the 128-byte row adds 32 bytes to the start address
//! ([`MatrixDesc::add_bytes`]). 16-bit types also accept MN-major operands (the `_major`
//! forms: A stored K×M or B stored K×N, row-major), fp8 and tf32 only K-major (a PTX rule).

use crate::half::Bf16;

/// Swizzle mode of a shared-memory matrix (descriptor bits 62–63).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Swizzle {
    /// No swizzle ("interleave"): 8×16-byte core matrices.
    None = 0,
    /// 128-byte swizzle (TMA `SWIZZLE_128B`).
    B128 = 1,
    /// 64-byte swizzle.
    B64 = 2,
    /// 32-byte swizzle.
    B32 = 3,
}

/// A wgmma shared-memory matrix descriptor (PTX ISA "Matrix Descriptor Format"): start address,
/// leading- and stride-dimension byte offsets (each stored `>> 4` in 14 bits) and swizzle mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixDesc(u64);

impl MatrixDesc {
    /// A descriptor from its fields: `addr` the shared address of the tile, `leading` the
    /// leading-dimension byte offset, `stride` the stride-dimension byte offset (both multiples
    /// of 16 below 256 KiB), `swizzle` the layout.
    #[inline(always)]
    pub const fn new(addr: u32, leading: u32, stride: u32, swizzle: Swizzle) -> MatrixDesc {
        const fn enc(x: u32) -> u64 {
            ((x as u64) & 0x3FFFF) >> 4
        }
        MatrixDesc(
            enc(addr) | (enc(leading) << 16) | (enc(stride) << 32) | ((swizzle as u64) << 62),
        )
    }

    /// A K-major tile in 128-byte swizzle as TMA writes it (rows of 128 bytes, 8-row atoms
    /// 1024 bytes apart); `addr` is 1024-byte aligned, or that plus a k offset inside the row
    /// (multiples of 32 bytes for 16-bit k16 steps).
    #[inline(always)]
    pub const fn k_major_sw128(addr: u32) -> MatrixDesc {
        // The leading offset is unused for swizzled K-major layouts (set to 1 as CUTLASS does).
        MatrixDesc::new(addr, 16, 1024, Swizzle::B128)
    }

    /// An MN-major tile (16-bit types) in 128-byte swizzle: rows of 64 MN-consecutive elements
    /// (128 bytes) per k, 8 k-rows per 1024-byte atom; `mn_block_bytes` is the distance between
    /// consecutive 64-element MN blocks (the TMA box size of one 64-wide block).
    #[inline(always)]
    pub const fn mn_major_sw128(addr: u32, mn_block_bytes: u32) -> MatrixDesc {
        MatrixDesc::new(addr, mn_block_bytes, 1024, Swizzle::B128)
    }

    /// The same matrix starting `bytes` further (a multiple of 16; the address stays below
    /// 256 KiB).
    #[inline(always)]
    pub const fn add_bytes(self, bytes: u32) -> MatrixDesc {
        MatrixDesc(self.0 + (bytes as u64 >> 4))
    }

    /// The 64 descriptor bits.
    #[inline(always)]
    pub const fn bits(self) -> u64 {
        self.0
    }
}

/// The f32 accumulators of one m64nN wgmma tile: `R = N / 2` registers per thread of the
/// warpgroup, in the layout of the module docs. Index `regs` only with constants (unrolled
/// loops): a run-time index moves the array to local memory.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct Accumulator<const R: usize> {
    /// This thread's registers.
    pub regs: [f32; R],
}

impl<const R: usize> Accumulator<R> {
    /// The tile's width N.
    pub const N: usize = 2 * R;

    /// All zeros.
    #[inline(always)]
    pub const fn zeroed() -> Self {
        // SAFETY: all-zero bits are `0.0` in every register. (Not `[0.0; R]`: for large `R`
        // that becomes a store loop with a run-time index, which keeps LLVM from promoting the
        // array to registers; a zeroed value is one memset it can split.)
        unsafe { core::mem::zeroed() }
    }

    /// `(row, column)` inside the 64 × N tile of register `i` of warpgroup thread `t`
    /// (0..128).
    #[inline(always)]
    pub const fn position(t: u32, i: usize) -> (u32, u32) {
        let (w, l, i) = (t / 32, t % 32, i as u32);
        (
            16 * w + l / 4 + 8 * ((i / 2) % 2),
            8 * (i / 4) + 2 * (l % 4) + i % 2,
        )
    }
}

/// fp8 e4m3 (`.e4m3`) input marker.
#[derive(Clone, Copy, Debug)]
pub struct E4M3;
/// fp8 e5m2 (`.e5m2`) input marker.
#[derive(Clone, Copy, Debug)]
pub struct E5M2;
/// tf32 (`.tf32`) input marker: f32 bits, of which the tensor cores use 10 mantissa bits.
#[derive(Clone, Copy, Debug)]
pub struct Tf32;

/// `Operand` layout of a 16-bit shared-memory operand: K-major (`0`).
pub const K_MAJOR: u32 = 0;
/// `Operand` layout of a 16-bit shared-memory operand: MN-major (`1`, the transpose bit).
pub const MN_MAJOR: u32 = 1;

/// Compiler-level fence on accumulator registers: an asm comment that reads and writes each of
/// them, so reads after it cannot move before an earlier [`wait_group`] and writes before it
/// cannot move after a later `mma_async`.
pub trait FenceOperands {
    /// Pins the registers here (no instruction is emitted).
    fn fence_operands(&mut self);
}

/// `wgmma.mma_async` with A and B of element types `A` and `B` into these accumulators.
pub trait MmaAsync<A, B>: FenceOperands {
    /// K of one instruction (16 for 16-bit, 32 for fp8, 8 for tf32).
    const K: usize;

    /// `D = A·B + (accumulate ? D : 0)`, A and B K-major in shared memory.
    ///
    /// # Safety
    /// All 128 threads of an aligned warpgroup execute it together with the same operands;
    /// the descriptors describe tiles of this CTA's shared memory whose contents are visible to
    /// the async proxy (written by TMA, or by ordinary stores followed by
    /// [`crate::tma::fence_proxy_async_shared`] and a barrier) and not written until the
    /// group containing this call completed ([`wait_group`]); [`fence`] ran after the last
    /// ordinary access to these accumulators.
    unsafe fn mma_async(&mut self, a: MatrixDesc, b: MatrixDesc, accumulate: bool);

    /// `D = A·B` into fresh accumulators (scale-d 0; the registers are outputs only), A and
    /// B K-major in shared memory. Start each tile's chain with this rather than zeroing
    /// accumulators: an ordinary instruction that defines accumulator registers inside a wgmma
    /// pipeline makes ptxas serialize every wgmma of the function (info C7515), and a value
    /// that flows from one tile's chain into the next costs register copies.
    ///
    /// # Safety
    /// As [`MmaAsync::mma_async`]; read the result only after the group completed.
    unsafe fn mma_async_new(a: MatrixDesc, b: MatrixDesc) -> Self;

    /// As [`MmaAsync::mma_async`] with A from registers (layout in the module docs).
    ///
    /// # Safety
    /// As [`MmaAsync::mma_async`] (for `b`); `a`'s registers are not modified until the group
    /// completed.
    unsafe fn mma_async_rs(&mut self, a: [u32; 4], b: MatrixDesc, accumulate: bool);
}

/// The 16-bit forms with a choice of operand layouts: `TA`/`TB` are [`K_MAJOR`] or
/// [`MN_MAJOR`] (the PTX transpose immediates).
pub trait MmaAsyncMajor<A, B>: MmaAsync<A, B> {
    /// As [`MmaAsync::mma_async`] with A `TA`-major and B `TB`-major.
    ///
    /// # Safety
    /// As [`MmaAsync::mma_async`].
    unsafe fn mma_async_major<const TA: u32, const TB: u32>(
        &mut self,
        a: MatrixDesc,
        b: MatrixDesc,
        accumulate: bool,
    );

    /// As [`MmaAsync::mma_async_new`] with A `TA`-major and B `TB`-major.
    ///
    /// # Safety
    /// As [`MmaAsync::mma_async_new`].
    unsafe fn mma_async_major_new<const TA: u32, const TB: u32>(
        a: MatrixDesc,
        b: MatrixDesc,
    ) -> Self;

    /// As [`MmaAsync::mma_async_rs`] with B `TB`-major.
    ///
    /// # Safety
    /// As [`MmaAsync::mma_async_rs`].
    unsafe fn mma_async_rs_major<const TB: u32>(
        &mut self,
        a: [u32; 4],
        b: MatrixDesc,
        accumulate: bool,
    );
}

/// `wgmma.fence.sync.aligned`: orders earlier register and shared-memory accesses of the
/// warpgroup before the following `mma_async`s.
///
/// # Safety
/// All 128 threads of the warpgroup execute it together.
#[inline(always)]
pub unsafe fn fence() {
    // SAFETY: the caller's contract. Not `nomem`: a fence for memory too.
    unsafe {
        crate::__device_asm!(
            "wgmma.fence.sync.aligned;",
            options(nostack, preserves_flags)
        )
    }
}

/// `wgmma.commit_group.sync.aligned`: closes the `mma_async`s issued since the last commit
/// into one group.
///
/// # Safety
/// All 128 threads of the warpgroup execute it together.
#[inline(always)]
pub unsafe fn commit_group() {
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "wgmma.commit_group.sync.aligned;",
            options(nostack, preserves_flags)
        )
    }
}

/// `wgmma.wait_group.sync.aligned N`: waits until at most `N` of the warpgroup's groups are
/// pending. Follow it with [`FenceOperands::fence_operands`] on the accumulators of the groups
/// that completed before reading them.
///
/// # Safety
/// All 128 threads of the warpgroup execute it together.
#[inline(always)]
pub unsafe fn wait_group<const N: u32>() {
    // SAFETY: the caller's contract. Not `nomem`: shared memory the groups read may be
    // rewritten after it.
    unsafe {
        crate::__device_asm!(
            "wgmma.wait_group.sync.aligned {n};",
            n = const N,
            options(nostack, preserves_flags)
        )
    }
}

/// `"{0}, {1}, ..."` for an asm template.
macro_rules! regs_list {
    ($first:literal $($rest:literal)*) => {
        concat!("{", stringify!($first), "}", $(", {", stringify!($rest), "}",)*)
    };
}

/// The `mma_async` impls of one shape for one input pair.
macro_rules! wgmma_impl {
    // 16-bit inputs: transposable, k16.
    (t16 $n:literal, $r:literal, $ty:literal, $t:ty, [$($i:literal)*]) => {
        impl MmaAsync<$t, $t> for Accumulator<$r> {
            const K: usize = 16;
            #[inline(always)]
            unsafe fn mma_async(&mut self, a: MatrixDesc, b: MatrixDesc, accumulate: bool) {
                // SAFETY: the caller's contract.
                unsafe { <Self as MmaAsyncMajor<$t, $t>>::mma_async_major::<K_MAJOR, K_MAJOR>(self, a, b, accumulate) }
            }
            #[inline(always)]
            unsafe fn mma_async_new(a: MatrixDesc, b: MatrixDesc) -> Self {
                // SAFETY: the caller's contract.
                unsafe { <Self as MmaAsyncMajor<$t, $t>>::mma_async_major_new::<K_MAJOR, K_MAJOR>(a, b) }
            }
            #[inline(always)]
            unsafe fn mma_async_rs(&mut self, a: [u32; 4], b: MatrixDesc, accumulate: bool) {
                // SAFETY: the caller's contract.
                unsafe { <Self as MmaAsyncMajor<$t, $t>>::mma_async_rs_major::<K_MAJOR>(self, a, b, accumulate) }
            }
        }
        impl MmaAsyncMajor<$t, $t> for Accumulator<$r> {
            #[inline(always)]
            unsafe fn mma_async_major<const TA: u32, const TB: u32>(
                &mut self, a: MatrixDesc, b: MatrixDesc, accumulate: bool,
            ) {
                // SAFETY: the caller's contract (warpgroup-converged, operands valid). Not
                // `pure`/`nomem`: it reads shared memory asynchronously and must stay put.
                unsafe {
                    crate::__device_asm!(
                        concat!(
                            "{{ .reg .pred p; setp.ne.b32 p, {sd}, 0; ",
                            "wgmma.mma_async.sync.aligned.m64n", stringify!($n), "k16.f32.", $ty, ".", $ty,
                            " {{", regs_list!($($i)*), "}}, {a}, {b}, p, 1, 1, {ta}, {tb}; }}"
                        ),
                        $(inout(reg32) self.regs[$i],)*
                        a = in(reg64) a.bits(), b = in(reg64) b.bits(), sd = in(reg32) accumulate as u32,
                        ta = const TA, tb = const TB,
                        options(nostack, preserves_flags),
                    );
                }
            }
            #[inline(always)]
            unsafe fn mma_async_major_new<const TA: u32, const TB: u32>(
                a: MatrixDesc, b: MatrixDesc,
            ) -> Self {
                let mut d = core::mem::MaybeUninit::<Self>::uninit();
                let r = d.as_mut_ptr() as *mut f32;
                // SAFETY: the caller's contract; scale-d 0 (`setp` of a zero register), so the
                // instruction writes every accumulator without reading them: all `R` are
                // initialised when it completes (the caller reads them only after the wait).
                unsafe {
                    crate::__device_asm!(
                        concat!(
                            "{{ .reg .pred p; setp.ne.b32 p, {sd}, 0; ",
                            "wgmma.mma_async.sync.aligned.m64n", stringify!($n), "k16.f32.", $ty, ".", $ty,
                            " {{", regs_list!($($i)*), "}}, {a}, {b}, p, 1, 1, {ta}, {tb}; }}"
                        ),
                        $(out(reg32) *r.add($i),)*
                        a = in(reg64) a.bits(), b = in(reg64) b.bits(), sd = in(reg32) 0u32,
                        ta = const TA, tb = const TB,
                        options(nostack, preserves_flags),
                    );
                    d.assume_init()
                }
            }
            #[inline(always)]
            unsafe fn mma_async_rs_major<const TB: u32>(
                &mut self, a: [u32; 4], b: MatrixDesc, accumulate: bool,
            ) {
                // SAFETY: as above.
                unsafe {
                    crate::__device_asm!(
                        concat!(
                            "{{ .reg .pred p; setp.ne.b32 p, {sd}, 0; ",
                            "wgmma.mma_async.sync.aligned.m64n", stringify!($n), "k16.f32.", $ty, ".", $ty,
                            " {{", regs_list!($($i)*), "}}, {{{a0}, {a1}, {a2}, {a3}}}, {b}, p, 1, 1, {tb}; }}"
                        ),
                        $(inout(reg32) self.regs[$i],)*
                        a0 = in(reg32) a[0], a1 = in(reg32) a[1], a2 = in(reg32) a[2], a3 = in(reg32) a[3],
                        b = in(reg64) b.bits(), sd = in(reg32) accumulate as u32, tb = const TB,
                        options(nostack, preserves_flags),
                    );
                }
            }
        }
    };
    // fp8 and tf32 inputs: K-major only.
    (k $n:literal, $r:literal, $k:literal, $ta:literal, $tb:literal, $a:ty, $b:ty, [$($i:literal)*]) => {
        impl MmaAsync<$a, $b> for Accumulator<$r> {
            const K: usize = $k;
            #[inline(always)]
            unsafe fn mma_async(&mut self, a: MatrixDesc, b: MatrixDesc, accumulate: bool) {
                // SAFETY: the caller's contract (warpgroup-converged, operands valid).
                unsafe {
                    crate::__device_asm!(
                        concat!(
                            "{{ .reg .pred p; setp.ne.b32 p, {sd}, 0; ",
                            "wgmma.mma_async.sync.aligned.m64n", stringify!($n), "k", stringify!($k),
                            ".f32.", $ta, ".", $tb,
                            " {{", regs_list!($($i)*), "}}, {a}, {b}, p, 1, 1; }}"
                        ),
                        $(inout(reg32) self.regs[$i],)*
                        a = in(reg64) a.bits(), b = in(reg64) b.bits(), sd = in(reg32) accumulate as u32,
                        options(nostack, preserves_flags),
                    );
                }
            }
            #[inline(always)]
            unsafe fn mma_async_new(a: MatrixDesc, b: MatrixDesc) -> Self {
                let mut d = core::mem::MaybeUninit::<Self>::uninit();
                let r = d.as_mut_ptr() as *mut f32;
                // SAFETY: as the 16-bit `mma_async_major_new`: scale-d 0 writes every register.
                unsafe {
                    crate::__device_asm!(
                        concat!(
                            "{{ .reg .pred p; setp.ne.b32 p, {sd}, 0; ",
                            "wgmma.mma_async.sync.aligned.m64n", stringify!($n), "k", stringify!($k),
                            ".f32.", $ta, ".", $tb,
                            " {{", regs_list!($($i)*), "}}, {a}, {b}, p, 1, 1; }}"
                        ),
                        $(out(reg32) *r.add($i),)*
                        a = in(reg64) a.bits(), b = in(reg64) b.bits(), sd = in(reg32) 0u32,
                        options(nostack, preserves_flags),
                    );
                    d.assume_init()
                }
            }
            #[inline(always)]
            unsafe fn mma_async_rs(&mut self, a: [u32; 4], b: MatrixDesc, accumulate: bool) {
                // SAFETY: as above.
                unsafe {
                    crate::__device_asm!(
                        concat!(
                            "{{ .reg .pred p; setp.ne.b32 p, {sd}, 0; ",
                            "wgmma.mma_async.sync.aligned.m64n", stringify!($n), "k", stringify!($k),
                            ".f32.", $ta, ".", $tb,
                            " {{", regs_list!($($i)*), "}}, {{{a0}, {a1}, {a2}, {a3}}}, {b}, p, 1, 1; }}"
                        ),
                        $(inout(reg32) self.regs[$i],)*
                        a0 = in(reg32) a[0], a1 = in(reg32) a[1], a2 = in(reg32) a[2], a3 = in(reg32) a[3],
                        b = in(reg64) b.bits(), sd = in(reg32) accumulate as u32,
                        options(nostack, preserves_flags),
                    );
                }
            }
        }
    };
}

/// Every shape: the accumulator's operand fence and the `mma_async` impls of each input pair.
macro_rules! wgmma_shapes {
    ($(($n:literal, $r:literal, [$($i:literal)*])),* $(,)?) => {$(
        impl FenceOperands for Accumulator<$r> {
            #[inline(always)]
            fn fence_operands(&mut self) {
                // SAFETY: a PTX comment naming the registers: no instruction.
                unsafe {
                    crate::__device_asm!(
                        concat!("// wgmma operand fence ", regs_list!($($i)*)),
                        $(inout(reg32) self.regs[$i],)*
                        options(nostack, preserves_flags),
                    );
                }
            }
        }
        #[cfg(gpukit_unstable)]
        wgmma_impl!(t16 $n, $r, "f16", f16, [$($i)*]);
        wgmma_impl!(t16 $n, $r, "bf16", Bf16, [$($i)*]);
        wgmma_impl!(k $n, $r, 32, "e4m3", "e4m3", E4M3, E4M3, [$($i)*]);
        wgmma_impl!(k $n, $r, 32, "e4m3", "e5m2", E4M3, E5M2, [$($i)*]);
        wgmma_impl!(k $n, $r, 32, "e5m2", "e4m3", E5M2, E4M3, [$($i)*]);
        wgmma_impl!(k $n, $r, 32, "e5m2", "e5m2", E5M2, E5M2, [$($i)*]);
        wgmma_impl!(k $n, $r, 8, "tf32", "tf32", Tf32, Tf32, [$($i)*]);
    )*};
}

// Generated by scripts/gen_wgmma_shapes.py (N = 8, 16, ..., 256; R = N / 2).
wgmma_shapes! {
    (8, 4, [0 1 2 3]),
    (16, 8, [0 1 2 3 4 5 6 7]),
    (24, 12, [0 1 2 3 4 5 6 7 8 9 10 11]),
    (32, 16, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15]),
    (40, 20, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19]),
    (48, 24, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23]),
    (56, 28, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27]),
    (64, 32, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]),
    (72, 36, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35]),
    (80, 40, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39]),
    (88, 44, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43]),
    (96, 48, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47]),
    (104, 52, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51]),
    (112, 56, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55]),
    (120, 60, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59]),
    (128, 64, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63]),
    (136, 68, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67]),
    (144, 72, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71]),
    (152, 76, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75]),
    (160, 80, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79]),
    (168, 84, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83]),
    (176, 88, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87]),
    (184, 92, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91]),
    (192, 96, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95]),
    (200, 100, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99]),
    (208, 104, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103]),
    (216, 108, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107]),
    (224, 112, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111]),
    (232, 116, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115]),
    (240, 120, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119]),
    (248, 124, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123]),
    (256, 128, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127]),
}
