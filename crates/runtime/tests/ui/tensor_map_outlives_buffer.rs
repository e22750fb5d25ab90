use gpukit_runtime::tensor_map::{Swizzle, TensorMap, TiledView};
use gpukit_runtime::Gpu;

fn main() {
    let gpu = Gpu::new(0).unwrap();
    let buf = gpu.alloc_zeroed::<f32>(1024).unwrap();
    let view = TiledView {
        dims: &[32, 32],
        strides: &[32],
        boxes: &[32, 8],
        swizzle: Swizzle::B128,
    };
    let map = TensorMap::tiled(&buf, &view).unwrap();
    // Freeing the memory while a map of it can still reach a launch must not compile.
    drop(buf);
    let _ = map.raw();
}
