//! The borrow rules of device memory are enforced at compile time: views do not outlive their
//! buffers, an output cannot alias an input, and a shared borrow gives no writable view.
#[test]
fn device_memory_borrows_are_checked() {
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
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
