//! The README's kernel-library example is the `gpukit::ops` doc example, which `cargo test`
//! compiles: this keeps the two the same text.

#[test]
fn readme_library_example_is_the_compiled_doc_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme
        .find("## The kernel library and the main program")
        .expect("README has the kernel library section")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let end = start + section[start..].find("```\n").expect("the block ends");
    let in_readme = &section[start..end];

    let ops = std::fs::read_to_string(root.join("host/ops/mod.rs")).unwrap();
    let doc: String = ops
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .skip_while(|l| *l != "```no_run")
        .skip(1)
        .take_while(|l| !l.starts_with("# ") && *l != "```")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        in_readme, doc,
        "README example and host/ops/mod.rs doc example differ"
    );
}
