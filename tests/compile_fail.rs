//! Mistyped launches do not compile: the launchers are generated from the kernels' signatures.
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
}
