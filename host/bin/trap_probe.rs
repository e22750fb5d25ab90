//! Temporary experiment: which sequence recovers a device after a trapped kernel.
use cust::sys::*;
use std::ffi::CString;
use std::ptr::null_mut;

const PTX: &str = ".version 7.8\n.target sm_90\n.address_size 64\n.visible .entry boom() { trap; }\n.visible .entry ok(.param .u64 p) { .reg .b64 %rd<2>; .reg .b32 %r<2>; ld.param.u64 %rd1, [p]; mov.u32 %r1, 42; st.global.u32 [%rd1], %r1; ret; }\n";

unsafe fn run_ok(tag: &str) {
    let src = CString::new(PTX).unwrap();
    let mut m = null_mut();
    let r = cuModuleLoadData(&mut m, src.as_ptr() as *const _);
    println!("{tag}: load {:?}", r);
    if r != CUresult::CUDA_SUCCESS { return; }
    let mut f = null_mut();
    cuModuleGetFunction(&mut f, m, b"ok\0".as_ptr() as *const _);
    let mut p: CUdeviceptr = 0;
    println!("{tag}: alloc {:?}", cuMemAlloc_v2(&mut p, 4));
    let mut args = [&mut p as *mut _ as *mut std::ffi::c_void];
    println!("{tag}: launch {:?}", cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, null_mut(), args.as_mut_ptr(), null_mut()));
    println!("{tag}: sync {:?}", cuCtxSynchronize());
    let mut v = 0u32;
    cuMemcpyDtoH_v2(&mut v as *mut _ as *mut _, p, 4);
    println!("{tag}: value {v}");
}

fn main() {
    let variant = std::env::args().nth(1).unwrap_or_default();
    unsafe {
        cuInit(0);
        let mut dev = 0;
        cuDeviceGet(&mut dev, 0);
        let mut ctx = null_mut();
        cuDevicePrimaryCtxRetain(&mut ctx, dev);
        cuCtxSetCurrent(ctx);
        let src = CString::new(PTX).unwrap();
        let mut m = null_mut();
        cuModuleLoadData(&mut m, src.as_ptr() as *const _);
        let mut f = null_mut();
        cuModuleGetFunction(&mut f, m, b"boom\0".as_ptr() as *const _);
        cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, null_mut(), null_mut(), null_mut());
        println!("trap sync {:?}", cuCtxSynchronize());
        match variant.as_str() {
            "reset-release-retain" => {
                println!("reset {:?}", cuDevicePrimaryCtxReset_v2(dev));
                println!("release {:?}", cuDevicePrimaryCtxRelease_v2(dev));
                let mut c2 = null_mut();
                println!("retain {:?}", cuDevicePrimaryCtxRetain(&mut c2, dev));
                println!("set {:?}", cuCtxSetCurrent(c2));
                run_ok("A");
            }
            "release-reset-retain" => {
                cuCtxSetCurrent(null_mut());
                println!("release {:?}", cuDevicePrimaryCtxRelease_v2(dev));
                println!("reset {:?}", cuDevicePrimaryCtxReset_v2(dev));
                let mut c2 = null_mut();
                println!("retain {:?}", cuDevicePrimaryCtxRetain(&mut c2, dev));
                println!("set {:?}", cuCtxSetCurrent(c2));
                run_ok("B");
            }
            "modunload-release-retain" => {
                println!("unload {:?}", cuModuleUnload(m));
                cuCtxSetCurrent(null_mut());
                println!("release {:?}", cuDevicePrimaryCtxRelease_v2(dev));
                let mut c2 = null_mut();
                println!("retain {:?}", cuDevicePrimaryCtxRetain(&mut c2, dev));
                println!("set {:?}", cuCtxSetCurrent(c2));
                run_ok("C");
            }
            _ => {
                let mut c3 = null_mut();
                println!("ctxcreate {:?}", cuCtxCreate_v2(&mut c3, 0, dev));
                run_ok("D");
            }
        }
    }
}
