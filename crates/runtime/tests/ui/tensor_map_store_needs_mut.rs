use gpukit_runtime::tensor_map::{Swizzle, TensorMap, TiledView};
use gpukit_runtime::Gpu;

fn main() {
    let gpu = Gpu::new(0).unwrap();
    let mut buf = gpu.alloc_zeroed::<f32>(1024).unwrap();
    let view = TiledView {
        dims: &[32, 32],
        strides: &[32],
        boxes: &[32, 8],
        swizzle: Swizzle::B128,
    };
    // A writable map holds the memory mutably: no other view of it may exist alongside.
    let store = TensorMap::tiled_mut(&mut buf, &view).unwrap();
    let load = TensorMap::tiled(&buf, &view).unwrap();
    let _ = (store.raw(), load.raw());
}
