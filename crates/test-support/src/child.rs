//! Running part of a test in a child process.
//!
//! After a sticky error (a trapped kernel) the CUDA driver refuses new contexts for the rest of
//! the process (seen on the H200 with driver 580.159 / CUDA 13.0: `cuDevicePrimaryCtxRetain` and
//! `cuCtxCreate` both return CUDA_ERROR_LAUNCH_FAILED after reset and release). Tests that make a
//! kernel trap therefore do it in a child process running the same test binary, and check that
//! the error came back as a value (the child did not crash) and that fresh work succeeds.
use std::process::Command;

/// Name of the environment variable that tells a test it is the child.
pub const CHILD_ENV: &str = "GPUKIT_TEST_CHILD";

/// The child's argument when this process is one, e.g. `Some("1")`.
pub fn child_arg() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Run test `name` of this binary in a child process with `arg` in [`CHILD_ENV`]; returns its
/// exit status success and its stdout + stderr.
pub fn run_child(name: &str, arg: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, arg)
        .output()
        .expect("spawn the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("1 passed"), text)
}
