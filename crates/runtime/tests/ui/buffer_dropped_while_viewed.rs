// Freeing a buffer while a view of it is alive does not compile.
use gpukit_runtime::Gpu;

fn main() -> gpukit_runtime::Result<()> {
    let gpu = Gpu::new(0)?;
    let buf = gpu.upload(&[1.0f32, 2.0, 3.0])?;
    let head = &buf[..1];
    drop(buf);
    println!("{}", head.len());
    Ok(())
}
