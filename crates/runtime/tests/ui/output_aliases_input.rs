// The same memory cannot be both the (`&`) input and the (`&mut`) output of one operation.
use gpukit_runtime::{Gpu, copy_async};

fn main() -> gpukit_runtime::Result<()> {
    let gpu = Gpu::new(0)?;
    let s = gpu.stream()?;
    let mut buf = gpu.upload(&[1.0f32, 2.0, 3.0, 4.0])?;
    copy_async(&s, &mut buf[..2], &buf[2..])?;
    Ok(())
}
