//! The README's kernel-writing examples are the library's: the layer norm and the stencil the
//! README teaches (built by `tests/walkthrough.rs` as a user project) are the same text as
//! `gpu-kernels/src/readme.rs`, which the main program benchmarks and `tests/gpu_readme.rs` runs.
use std::path::Path;

#[test]
fn readme_kernels_are_the_benchmarked_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("<!-- file: my-app/kernels/src/teach.rs -->\n```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("README has the teach.rs block");
    let lib = std::fs::read_to_string(root.join("gpu-kernels/src/readme.rs")).unwrap();
    let kernels = &lib[lib
        .find("/// Layer normalisation")
        .expect("layer_norm's docs")..];
    assert!(
        block.ends_with(kernels.trim_end()),
        "README's teach.rs and gpu-kernels/src/readme.rs differ: keep the kernels identical"
    );
}
