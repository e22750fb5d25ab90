//! Loops unrolled by construction: `#pragma unroll` for Rust kernels.
//!
//! Arrays stay in registers only when every index into them is a constant after compilation.
//! LLVM unrolls small fixed loops by itself but gives up once the body grows (a closure with
//! bounds checks is enough), and the array then lives in local memory (`ld.local`), which costs
//! bandwidth and latency. [`each`] and [`array()`] call their closure once per index with a
//! literal, so the indices are constants whatever the body.
//!
//! ```ignore
//! // Eight loads issued before any is used, the values in registers:
//! let v: [f32; 8] = gpu::unroll::array(|i| x.try_get(r + i, c).unwrap_or(0.0));
//! gpu::unroll::each::<8>(|i| if let Some(o) = tile.at(i, j) { *o = 2.0 * v[i] });
//! ```

/// The largest count [`each`] and [`array()`] unroll.
pub const MAX: usize = 32;

/// `f(0); f(1); ..; f(N - 1)`, each call with a literal index (`N <= 32`).
#[inline(always)]
pub fn each<const N: usize>(mut f: impl FnMut(usize)) {
    const { assert!(N <= MAX, "gpu::unroll handles at most 32 iterations") };
    macro_rules! calls {
        ($($i:literal)*) => {
            $(
                if $i < N {
                    f($i);
                }
            )*
        };
    }
    calls!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
}

/// `[f(0), f(1), .., f(N - 1)]`, each call with a literal index (`N <= 32`): the array
/// `core::array::from_fn` would build, without relying on the optimiser to unroll it.
#[inline(always)]
pub fn array<T: Copy + Default, const N: usize>(mut f: impl FnMut(usize) -> T) -> [T; N] {
    let mut a = [T::default(); N];
    each::<N>(|i| a[i] = f(i));
    a
}
