//! Mistyped launches do not compile: the launchers are generated from the kernels' signatures.
#[test]
fn mistyped_launches_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
