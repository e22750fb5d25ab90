//! Copies between host and device.
use super::error::{Call, Result};
use cust::memory::{CopyDestination, DeviceCopy, DeviceSlice};
use cust::stream::Stream;

/// Copy a device slice to a new host vector (synchronous).
pub fn download<T: DeviceCopy + Default + Clone>(src: &DeviceSlice<T>) -> Result<Vec<T>> {
    let mut v = vec![T::default(); src.len()];
    if !v.is_empty() {
        src.copy_to(&mut v[..]).call("cuMemcpyDtoH")?;
    }
    Ok(v)
}

/// Wait for everything queued on `stream`.
pub fn sync(stream: &Stream) -> Result<()> {
    stream.synchronize().call("cuStreamSynchronize")
}

/// Queue a device-to-device copy of all of `src` into `dst` (equal lengths) on `stream`.
pub fn copy_async<T: DeviceCopy>(
    stream: &Stream,
    dst: &mut DeviceSlice<T>,
    src: &DeviceSlice<T>,
) -> Result<()> {
    super::check_same_len("copy_async", &[("dst", dst.len()), ("src", src.len())])?;
    if src.is_empty() {
        return Ok(());
    }
    // SAFETY: both ranges are whole device slices of equal length; `&mut dst` and `&src` cannot
    // overlap.
    unsafe {
        cust::sys::cuMemcpyDtoDAsync_v2(
            dst.as_device_ptr().as_raw(),
            src.as_device_ptr().as_raw(),
            src.len() * std::mem::size_of::<T>(),
            stream.as_inner(),
        )
    }
    .call("cuMemcpyDtoDAsync")
}

/// Queue setting every byte of `dst` to zero on `stream`.
pub fn zero_async<T: DeviceCopy>(stream: &Stream, dst: &mut DeviceSlice<T>) -> Result<()> {
    let bytes = dst.len() * std::mem::size_of::<T>();
    if bytes == 0 {
        return Ok(());
    }
    // SAFETY: the range is exactly the slice, which `&mut` makes ours for the call.
    unsafe { cust::sys::cuMemsetD8Async(dst.as_device_ptr().as_raw(), 0, bytes, stream.as_inner()) }
        .call("cuMemsetD8Async")
}
