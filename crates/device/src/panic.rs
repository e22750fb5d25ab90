//! Panics (failed bounds checks, `unwrap`, explicit `panic!`) stop the kernel with `trap`; the
//! host sees the launch fail with `CUDA_ERROR_LAUNCH_FAILED` / an illegal-instruction error.

#[panic_handler]
fn on_panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: `trap` aborts the whole grid; nothing after it runs.
    unsafe { core::arch::nvptx::trap() }
}
