// A view borrowed from a buffer cannot outlive it.
use gpukit_runtime::{DeviceSlice, Gpu};

fn main() -> gpukit_runtime::Result<()> {
    let gpu = Gpu::new(0)?;
    let view: &DeviceSlice<f32>;
    {
        let buf = gpu.upload(&[1.0f32, 2.0, 3.0])?;
        view = &buf[1..];
    }
    println!("{}", view.len());
    Ok(())
}
