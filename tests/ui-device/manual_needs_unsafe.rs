// Writing outside the views is an `unsafe` claim, whose exclusivity the kernel states.
use gpukit_device::{Manual, OutSlice, kernel};

#[kernel]
pub fn claims(x: &[f32], mut a: OutSlice<f32, Manual>) {
    *a.claim_mut(0) = x[0];
}

fn main() {}
