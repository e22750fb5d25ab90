//! Random inputs, generated in parallel on the host and reproducible from a seed (the result
//! does not depend on the number of threads).
use super::case::Element;
use rand::{Rng, SeedableRng};

/// Elements generated from one seeded stream; each chunk gets its own generator.
const CHUNK: usize = 1 << 16;

/// `n` values uniform in `[lo, hi)`, converted to `T` (so f16/bf16 inputs are the rounded f32
/// draws, as in the CuPy script).
pub fn uniform<T: Element>(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<T> {
    let mut out = vec![T::default(); n];
    let threads = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
        .min(n.div_ceil(CHUNK).max(1));
    let per_thread = n.div_ceil(threads).div_ceil(CHUNK) * CHUNK;
    std::thread::scope(|s| {
        for (t, part) in out.chunks_mut(per_thread.max(1)).enumerate() {
            s.spawn(move || {
                for (c, chunk) in part.chunks_mut(CHUNK).enumerate() {
                    let index = (t * per_thread / CHUNK + c) as u64;
                    let mut rng = rand::rngs::StdRng::seed_from_u64(mix(seed, index));
                    for v in chunk {
                        *v = T::from_f32(rng.random_range(lo..hi));
                    }
                }
            });
        }
    });
    out
}

/// `n` values uniform in `[-1, 1)`: the suite's default input.
pub fn random<T: Element>(n: usize, seed: u64) -> Vec<T> {
    uniform(n, seed, -1.0, 1.0)
}

/// A well-mixed 64-bit value from a seed and a stream index (splitmix64's finaliser).
pub fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_in_range_and_not_zero() {
        let a: Vec<f32> = random(300_000, 5);
        assert_eq!(a, random::<f32>(300_000, 5));
        assert_ne!(a, random::<f32>(300_000, 6));
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(a.iter().filter(|v| **v == 0.0).count() < 10);
        let b: Vec<f32> = uniform(1000, 1, 0.5, 1.5);
        assert!(b.iter().all(|v| (0.5..1.5).contains(v)));
        let h: Vec<half::bf16> = random(100, 1);
        assert!(h.iter().any(|v| v.to_f32() != 0.0));
        assert!(random::<f32>(0, 1).is_empty());
    }

    #[test]
    fn chunk_streams_do_not_repeat() {
        let a: Vec<f32> = random(3 * CHUNK, 9);
        assert_ne!(a[..16], a[CHUNK..CHUNK + 16]);
        assert_ne!(a[CHUNK..CHUNK + 16], a[2 * CHUNK..2 * CHUNK + 16]);
    }
}
