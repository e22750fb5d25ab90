//! Mistyped launches do not compile: the launchers are generated from the kernels' signatures.
//! Nor do kernels that mix ownership views, break their contract's types or lack instances.
#[test]
fn mistyped_launches_do_not_compile() {
    // Test binaries also run on GPU machines that have no Rust toolchain; there this check
    // cannot run (it compiles code), and says so.
    if std::process::Command::new(env!("CARGO"))
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no cargo on this machine to compile the cases");
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // Device-side guarantees: kernels type-check on the host (the device library compiles to
    // stubs there), so the same harness checks them.
    t.compile_fail("tests/ui-device/*.rs");
}
