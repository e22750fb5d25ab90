// A shared borrow of a buffer gives no writable view (cust's `index(..)` did).
use gpukit_runtime::{DeviceBuffer, DeviceSlice};

fn writable(buf: &DeviceBuffer<f32>) -> &mut DeviceSlice<f32> {
    &mut buf[..]
}

fn main() {
    let _ = writable;
}
