//! CPU checks of gpukit-device through its test-kernel crate (`crates/device-tests/kernels`):
//! the module builds, every feature compiles to the PTX instructions it promises, and `ptxas`
//! assembles it without spills (when ptxas is installed).
use gpukit_builder::{ptx, ptxas};
use gpukit_device_tests::IMAGES;

fn module() -> &'static str {
    IMAGES[0].ptx
}

/// The body of `.entry name`.
fn entry(name: &str) -> &'static str {
    let ptx = module();
    let start = ptx
        .find(&format!(".entry {name}("))
        .unwrap_or_else(|| panic!("no .entry {name}"));
    let body = &ptx[start..];
    &body[..body.find("\n}").unwrap()]
}

fn assert_has(body: &str, what: &str, needles: &[&str]) {
    for n in needles {
        assert!(body.contains(n), "{what}: expected `{n}` in the PTX");
    }
}

#[test]
fn every_test_kernel_is_an_entry_and_nothing_is_unresolved() {
    let names: Vec<String> = ptx::entries(module()).into_iter().map(|e| e.name).collect();
    for k in [
        "index_3d",
        "grid_stride_fill",
        "tile_fill",
        "barrier_votes",
        "warp_u32",
        "warp_i32",
        "warp_f32",
        "block_reduce_f32",
        "block_reduce_i32",
        "block_reduce_u32",
        "histogram",
        "histogram_shared",
        "atomic_ops_u32",
        "message_passing",
        "atomic_add_f32",
        "atomic_add_f64",
        "atomic_ops_i64",
        "shared_reverse",
        "dynamic_reverse",
        "math_eval",
        "binary_eval",
        "f16_to_f32",
        "f32_to_f16",
        "bf16_to_f32",
        "f32_to_bf16",
        "f64_to_bf16",
        "bf16_arith",
        "f16_arith",
        "packed_pairs",
        "panic_on_demand",
        "shared_same_names",
        "center_rows",
        "warp_row_sums",
        "transpose_tiles",
    ] {
        assert!(names.iter().any(|n| n == k), "no .entry {k} in {names:?}");
    }
    assert_eq!(ptx::unresolved_externs(module()), Vec::<String>::new());
    assert!(module().contains(&format!(".target {}", IMAGES[0].arch)));
}

#[test]
fn generic_kernels_have_one_entry_per_instance() {
    let names: Vec<String> = ptx::entries(module()).into_iter().map(|e| e.name).collect();
    for k in [
        "axpb__f32",
        "axpb__f16",
        "axpb__bf16",
        "repeat__f32_2",
        "repeat__u32_5",
    ] {
        assert!(names.iter().any(|n| n == k), "no .entry {k} in {names:?}");
    }
    // No entry under the generic function's own name.
    assert!(!names.iter().any(|n| n == "axpb" || n == "repeat"));
}

#[test]
fn views_use_16_byte_accesses_without_local_memory() {
    // Eight bf16 per thread: one 16-byte load and one 16-byte store on the aligned path.
    for k in ["axpb__bf16", "axpb__f16"] {
        assert_has(entry(k), k, &["ld.global.nc.v4.b32", "st.global.v4.b32"]);
    }
    // Eight f32 per thread: two of each.
    assert_eq!(entry("axpb__f32").matches("st.global.v4.b32").count(), 2);
    // Rows: four chunk loads in flight, then 16-byte stores.
    let b = entry("center_rows");
    assert!(b.matches("ld.global.nc.v4.b32").count() >= 4, "{b}");
    assert_has(b, "center_rows", &["st.global.v4.b32"]);
    // Cache-hinted packets: one policy register, 16-byte accesses carrying it.
    assert_has(
        entry("hinted_copy"),
        "hinted_copy",
        &[
            "createpolicy.fractional.L2::evict_last.b64",
            "createpolicy.fractional.L2::evict_first.b64",
            "ld.global.nc.L1::no_allocate.L2::cache_hint.v4.b32",
            "st.L1::no_allocate.L2::cache_hint.v4.b32",
        ],
    );
    for k in [
        "hinted_copy",
        "axpb__bf16",
        "axpb__f32",
        "center_rows",
        "warp_row_sums",
        "transpose_tiles",
        "repeat__u32_5",
    ] {
        assert!(!entry(k).contains(".local"), "{k} uses local memory");
    }
}

#[test]
fn shared_arrays_never_share_a_symbol() {
    // Three uses named REVERSE_TILE (two kernels, one nested module): three distinct symbols.
    let mut names: Vec<&str> = module()
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".shared .align 16 .b8 "))
        .filter(|l| l.starts_with("REVERSE_TILE_gk"))
        .map(|l| &l[..l.find('[').unwrap()])
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "{names:?}");
    let b = entry("shared_same_names");
    assert_eq!(
        names.iter().filter(|n| b.contains(*n)).count(),
        2,
        "{names:?}"
    );
}

#[test]
fn device_asserts_record_their_site_and_trap() {
    let b = entry("panic_on_demand");
    // The assert's failure path calls the out-of-line recorder with a static site, then traps.
    assert_has(b, "panic_on_demand", &["call.uni", "trap;"]);
    // The message travels as a byte array in the module.
    let bytes: Vec<String> = "gpukit test assert"
        .bytes()
        .map(|b| b.to_string())
        .collect();
    assert!(
        module().contains(&bytes.join(", ")),
        "the message is in the module"
    );
    assert!(module().contains(".visible .global .align 8 .b8 GPUKIT_PANIC_RECORD[8]"));
}

#[test]
fn shared_memory_uses_shared_instructions() {
    for k in [
        "shared_reverse",
        "dynamic_reverse",
        "block_reduce_f32",
        "histogram_shared",
    ] {
        let b = entry(k);
        assert_has(b, k, &["ld.shared", "st.shared"]);
    }
    assert_has(
        entry("histogram_shared"),
        "shared atomics",
        &["atom.shared.add.u32"],
    );
    // 16-bit shared elements (the bf16 tile).
    assert_has(
        entry("shared_reverse"),
        "bf16 tile",
        &["st.shared.b16", "ld.shared.b16"],
    );
    // Static tiles are declared in the shared state space, dynamic memory as an extern array.
    assert!(module().contains(".shared .align 16 .b8 REVERSE_TILE_gk"));
    assert!(module().contains("[1024];"));
    assert!(module().contains(".extern .shared .align 16 .b8 gpukit_dynamic_smem[]"));
}

#[test]
fn warp_primitives_are_sync_instructions() {
    assert_has(
        entry("warp_u32"),
        "warp_u32",
        &[
            "shfl.sync.down.b32",
            "shfl.sync.up.b32",
            "shfl.sync.bfly.b32",
            "shfl.sync.idx.b32",
            "vote.sync.ballot.b32",
            "vote.sync.any.pred",
            "vote.sync.all.pred",
            "activemask.b32",
            "redux.sync.add",
            "redux.sync.min.u32",
            "redux.sync.max.u32",
        ],
    );
    assert_has(
        entry("warp_i32"),
        "warp_i32",
        &["redux.sync.min.s32", "redux.sync.max.s32"],
    );
    assert_has(
        entry("warp_f32"),
        "warp_f32",
        &["shfl.sync.bfly.b32", "cvt.rn.f16x2.f32"],
    );
}

#[test]
fn barriers_and_fences_are_emitted() {
    assert_has(
        entry("barrier_votes"),
        "barrier_votes",
        &[
            "bar.red.popc.u32",
            "bar.red.and.pred",
            "bar.red.or.pred",
            "bar.warp.sync",
            "fence.sc.cta",
            "fence.sc.gpu",
            "fence.sc.sys",
        ],
    );
    assert_has(entry("block_reduce_f32"), "block reduce", &["bar.sync"]);
}

#[test]
fn atomics_carry_their_scope_and_ordering() {
    assert_has(entry("histogram"), "histogram", &["red.global.add.u32"]);
    assert_has(
        entry("atomic_add_f32"),
        "f32",
        &["atom.global.add.f32", "red.global.add.f32"],
    );
    assert_has(
        entry("atomic_add_f64"),
        "f64",
        &["atom.global.add.f64", "atom.acq_rel.sys.global.add.f64"],
    );
    assert_has(
        entry("atomic_ops_u32"),
        "atomic_ops_u32",
        &[
            "atom.global.add.u32",
            "atom.acquire.gpu.global.min.u32",
            "atom.release.gpu.global.max.u32",
            "atom.acq_rel.gpu.global.cas.b32",
            "ld.relaxed.gpu.global",
            // SeqCst = fence.sc + acquire RMW.
            "fence.sc.gpu",
            "atom.acquire.gpu.global.or.b32",
            "atom.relaxed.sys.global.xor.b32",
            "fence.sc.sys",
            "atom.acquire.sys.global.add.u32",
            "atom.acq_rel.gpu.global.exch.b32",
            "atom.relaxed.cta.global.add.u32",
        ],
    );
    assert_has(
        entry("message_passing"),
        "message_passing",
        &[
            "st.relaxed.gpu.global",
            "st.release.gpu.global",
            "ld.acquire.gpu.global",
            "ld.acquire.sys.global",
        ],
    );
    assert_has(
        entry("atomic_ops_i64"),
        "i64",
        &[
            "atom.global.add.u64",
            "atom.global.min.s64",
            "atom.global.max.s64",
        ],
    );
    // The backend's own (ordering-dropping) atomics are not what the library emits.
    assert!(!entry("atomic_ops_u32").contains("atom.global.cas.b32"));
}

#[test]
fn math_has_fast_and_accurate_forms() {
    let b = entry("math_eval");
    assert_has(
        b,
        "math_eval",
        &[
            "ex2.approx.ftz.f32",
            "lg2.approx.ftz.f32",
            "sin.approx.ftz.f32",
            "cos.approx.ftz.f32",
            "tanh.approx.f32",
            "rsqrt.approx.ftz.f32",
            "sqrt.approx.ftz.f32",
            "rcp.approx.ftz.f32",
            "sqrt.rn.f32",
            "fma.rn.f32",
        ],
    );
    assert_has(
        entry("binary_eval"),
        "binary_eval",
        &[
            "min.f32",
            "max.f32",
            "min.NaN.f32",
            "max.NaN.f32",
            "fma.rn.f32",
        ],
    );
}

#[test]
fn half_precision_conversions_and_arithmetic() {
    assert_has(entry("f32_to_bf16"), "f32_to_bf16", &["cvt.rn.bf16.f32"]);
    assert_has(entry("f32_to_f16"), "f32_to_f16", &["cvt.rn.f16.f32"]);
    assert_has(entry("f16_to_f32"), "f16_to_f32", &["cvt.f32.f16"]);
    assert_has(
        entry("f64_to_bf16"),
        "f64_to_bf16",
        &["cvt.rz.f32.f64", "cvt.rn.bf16.f32"],
    );
    assert_has(
        entry("bf16_arith"),
        "bf16_arith",
        &["fma.rn.bf16", "cvt.rn.bf16.f32"],
    );
    assert_has(
        entry("packed_pairs"),
        "packed_pairs",
        &[
            "cvt.rn.f16x2.f32",
            "cvt.rn.bf16x2.f32",
            "fma.rn.f16x2",
            "fma.rn.bf16x2",
        ],
    );
}

#[test]
fn panics_record_their_location_then_trap() {
    let m = module();
    assert!(
        m.contains(".visible .global .align 8 .b8 GPUKIT_PANIC_RECORD[8]")
            || m.contains(".visible .global .align 8 .u64 GPUKIT_PANIC_RECORD"),
        "the panic-record global must be visible for cuModuleGetGlobal"
    );
    assert!(m.contains("ld.volatile.global.b64") && m.contains("[GPUKIT_PANIC_RECORD]"));
    // The handler publishes at system scope, then traps.
    assert!(m.contains("atom.relaxed.sys.global.cas.b32"));
    assert!(m.contains("trap;"));
    // The kernel crate's own file name is in the module (locations are reported).
    assert!(
        m.contains(&bytes_of("src/panics.rs")),
        "location string of src/panics.rs"
    );
}

/// How a string appears in a PTX `.b8` initialiser.
fn bytes_of(s: &str) -> String {
    s.bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ptxas` assembles the test module without spills. CI sets GPUKIT_REQUIRE_PTXAS=1 so that a
/// missing ptxas fails instead of skipping.
#[test]
fn ptxas_assembles_the_test_kernels_without_spills() {
    let Some(bin) = ptxas::find(None) else {
        assert!(
            std::env::var_os("GPUKIT_REQUIRE_PTXAS").is_none(),
            "GPUKIT_REQUIRE_PTXAS is set but no ptxas was found"
        );
        eprintln!("skipped: no ptxas on this machine");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for im in IMAGES {
        let p = dir.path().join(format!("{}.ptx", im.arch));
        std::fs::write(&p, im.ptx).unwrap();
        let report = ptxas::assemble(&bin, &p, im.arch, &dir.path().join("k.cubin")).unwrap();
        assert!(report.len() >= 30, "{} kernels reported", report.len());
        for r in &report {
            assert!(!r.spills(), "{r}");
            // The only stack frame is the panic handler's record path (`panic-location`, on for
            // these kernels), which runs just before the trap; it stays small.
            assert!(r.stack_bytes <= 1024, "{r}");
        }
    }
}
