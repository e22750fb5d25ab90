//! Device panics: the host must learn the kernel, file and line.
use gpukit_device::{OutSlice, kernel};

/// `out[i] = x[i]`; with `mode == 1` thread 5 reads past the end of `x` (bounds-check panic),
/// with `mode == 2` thread 5 panics explicitly. The marker comments let the host test find the
/// expected line numbers.
#[kernel(same_len(x, out), elements = out)]
pub fn panic_on_demand(x: &[u32], mut out: OutSlice<u32>, mode: u32) {
    if let Some((i, o)) = out.thread_elem() {
        let j = if mode == 1 && i == 5 { i + x.len() } else { i };
        if mode == 2 && i == 5 {
            panic!("gpukit test panic"); // PANIC-EXPLICIT
        }
        *o = x[j]; // PANIC-BOUNDS
    }
}
