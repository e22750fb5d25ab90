// A `StridedPackets<K>` output hands out its K packets per thread and nothing else: the
// per-element accessor of another view does not exist on it.
use gpukit_device::{OutSlice, StridedPackets, kernel};

#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32)]
pub fn packets_then_elements(a: &[f32], mut out: OutSlice<f32, StridedPackets<2>>) {
    let [p, q] = out.thread_packets();
    let _ = (p.is_some(), q.is_some());
    if let Some((i, o)) = out.thread_elem() {
        *o = a[i];
    }
}

fn main() {}
