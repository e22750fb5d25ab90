// Only a `Manual` output can be claimed element by element, even in `unsafe` code.
use gpukit_device::{OutSlice, PerThread, kernel};

#[kernel]
pub fn claims(x: &[f32], mut b: OutSlice<f32, PerThread>) {
    *unsafe { b.claim_mut(0) } = x[0];
}

fn main() {}
