//! Builds one kernel crate outside a build script (PTX, cubin when ptxas is found, launchers and
//! the ptxas resource report), for looking at the machine code or carrying kernels to a GPU
//! machine without building the host crate:
//!
//!     cargo run -p gpukit-builder --example build_kernels -- gpu-kernels out/ [sm_90]
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(krate), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: build_kernels <kernel crate dir> <output dir> [arch]");
        std::process::exit(2);
    };
    let arch = args.next().unwrap_or_else(|| "sm_90".to_string());
    let krate = std::fs::canonicalize(&krate).unwrap_or_else(|_| PathBuf::from(&krate));
    let out_dir = std::path::absolute(&out).unwrap_or_else(|_| PathBuf::from(&out));
    let built = gpukit_builder::KernelBuilder::new(&krate)
        .arch(arch)
        .out_dir(&out_dir)
        .cargo_directives(false)
        .build()
        .unwrap_or_else(|e| e.exit());
    for (arch, p) in built.ptx.iter().chain(&built.cubins) {
        println!("{arch}: {}", p.display());
    }
    for r in &built.resources {
        println!("{r}");
    }
}
