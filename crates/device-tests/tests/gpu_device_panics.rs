//! GPU test of kernel panics: the host reports the kernel, file, line and thread that panicked,
//! and the process recovers on a fresh context. The panicking kernels run in child processes
//! (see `gpukit_test_support::child`). Needs a CUDA GPU; `#[ignore]`d without one.
#![allow(clippy::needless_range_loop)]
mod common;
use common::{get, zeros};
use gpukit_device_tests::Kernels;
use gpukit_runtime::panic::PanicBuffer;
use gpukit_runtime::{self as runtime, Gpu};
use gpukit_test_support::child;

fn marker_line(marker: &str) -> u32 {
    let src = include_str!("../kernels/src/panics.rs");
    src.lines()
        .position(|l| l.contains(marker))
        .expect("marker") as u32
        + 1
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn panics_report_kernel_and_location_and_the_gpu_recovers() {
    const NAME: &str = "panics_report_kernel_and_location_and_the_gpu_recovers";
    let cases = [
        (1u32, "PANIC-BOUNDS", None),
        (2, "PANIC-EXPLICIT", Some("gpukit test panic")),
    ];
    if let Some(arg) = child::child_arg() {
        // The child: make the kernel panic, check the report, return normally.
        let (mode, marker, message) = cases[arg.parse::<usize>().unwrap()];
        let gpu = Gpu::new(0).expect("a CUDA GPU");
        let k = Kernels::load(&gpu).unwrap();
        let s = gpu.stream().unwrap();
        let panics = PanicBuffer::new(&gpu).unwrap();
        assert!(
            panics.attach(k.panic_on_demand.function()).unwrap(),
            "module has the panic global"
        );
        let x: Vec<u32> = (0..1000).collect();
        let dx = gpu.upload(&x).unwrap();
        let mut out = zeros::<u32>(&gpu, x.len());
        // A clean run first: no record.
        let r = k
            .panic_on_demand
            .launch(&s, &dx, &mut out, 0)
            .and_then(|_| runtime::sync(&s));
        panics.check("panic_on_demand", r).unwrap();
        assert_eq!(runtime::download(&out).unwrap(), x);
        let r = k
            .panic_on_demand
            .launch(&s, &dx, &mut out, mode)
            .and_then(|_| runtime::sync(&s));
        let failure = panics.check("panic_on_demand", r).unwrap_err();
        let text = failure.to_string();
        println!("REPORT {text}");
        assert!(text.contains("kernel `panic_on_demand`"), "{text}");
        let p = failure.panic.as_ref().expect("the panic was recorded");
        assert!(p.file.ends_with("src/panics.rs"), "{p}");
        assert_eq!(p.line, marker_line(marker), "{p}");
        assert_eq!(p.message.as_deref(), message, "{p}");
        assert_eq!((p.block, p.thread), ([0, 0, 0], [5, 0, 0]), "{p}");
        assert!(failure.is_sticky(), "{text}");
        return;
    }
    for i in 0..cases.len() {
        let (ok, text) = child::run_child(NAME, &i.to_string());
        println!("{text}");
        assert!(ok, "child {i} failed:\n{text}");
        assert!(
            text.contains("REPORT kernel `panic_on_demand` panicked at"),
            "{text}"
        );
    }
    // The process that watched the panics keeps working on a fresh context.
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).unwrap();
    let s = gpu.stream().unwrap();
    let x: Vec<u32> = (0..100).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = zeros::<u32>(&gpu, x.len());
    k.panic_on_demand.launch(&s, &dx, &mut out, 0).unwrap();
    assert_eq!(get(&s, &out), x, "launch on a fresh context");
}
