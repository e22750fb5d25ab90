//! CPU checks of the device library's Hopper primitives through the sm_90a build of its test
//! kernels (`crates/device-tests/kernels/src/hopper.rs`): each kernel exists only in that image
//! and compiles to the instructions the primitive promises (mbarrier pipeline, TMA loads,
//! multicast and stores, clusters and distributed shared memory, `elect.sync`,
//! `griddepcontrol`, `stmatrix`, wgmma for every input type and both A sources).
use gpukit_device_tests::IMAGES;

fn hopper_tests() -> &'static str {
    IMAGES
        .iter()
        .find(|i| i.arch == "sm_90a")
        .expect("no sm_90a image")
        .ptx
}

/// The body of `.entry name` (up to the next entry).
fn entry<'a>(ptx: &'a str, name: &str) -> &'a str {
    let start = ptx
        .find(&format!(".entry {name}("))
        .unwrap_or_else(|| panic!("no .entry {name}"));
    let body = &ptx[start..];
    let end = body[1..].find(".entry ").map_or(body.len(), |e| e + 1);
    &body[..end]
}

fn assert_has(body: &str, what: &str, needles: &[&str]) {
    for n in needles {
        assert!(body.contains(n), "{what}: expected `{n}` in the PTX");
    }
}

#[test]
fn hopper_test_kernels_are_only_in_the_sm90a_image() {
    let portable = IMAGES
        .iter()
        .find(|i| i.arch == "sm_90")
        .expect("no sm_90 image")
        .ptx;
    assert!(hopper_tests().contains(".target sm_90a"));
    for k in ["mbarrier_pipeline", "tma_roundtrip", "wgmma_bf16_n256"] {
        assert!(hopper_tests().contains(&format!(".entry {k}(")));
        assert!(!portable.contains(&format!(".entry {k}(")));
    }
}

#[test]
fn device_primitives_emit_their_instructions() {
    let t = hopper_tests();
    assert_has(
        entry(t, "mbarrier_pipeline"),
        "pipeline",
        &[
            "mbarrier.try_wait.parity",
            "mbarrier.arrive.expect_tx",
            "mbarrier.inval.shared::cta.b64",
        ],
    );
    assert_has(
        entry(t, "tma_roundtrip"),
        "tma",
        &[
            "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes",
            "cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group",
            "cp.async.bulk.commit_group",
            "cp.async.bulk.wait_group.read 0",
            "cp.async.bulk.wait_group 0",
            "fence.proxy.async.shared::cta",
        ],
    );
    assert_has(
        entry(t, "tma_multicast_roundtrip"),
        "multicast",
        &[
            ".multicast::cluster",
            "mbarrier.expect_tx.relaxed.cta.shared::cta.b64",
        ],
    );
    assert_has(
        entry(t, "cluster_exchange"),
        "cluster",
        &[
            "ld.shared::cluster.u32",
            "mapa.shared::cluster.u32",
            "%cluster_nctarank",
            "mbarrier.arrive.shared::cluster.b64",
        ],
    );
    assert_has(
        entry(t, "elect_lanes"),
        "elect",
        &[
            "elect.sync",
            "griddepcontrol.wait",
            "griddepcontrol.launch_dependents",
        ],
    );
    assert_has(
        entry(t, "stmatrix_layout"),
        "stmatrix",
        &[
            "stmatrix.sync.aligned.m8n8.x4.shared.b16",
            "stmatrix.sync.aligned.m8n8.x4.trans.shared.b16",
        ],
    );
    for (k, mma) in [
        ("wgmma_bf16_n8", "m64n8k16.f32.bf16.bf16"),
        ("wgmma_bf16_n64", "m64n64k16.f32.bf16.bf16"),
        ("wgmma_bf16_n256", "m64n256k16.f32.bf16.bf16"),
        ("wgmma_f16_n64_rs", "m64n64k16.f32.f16.f16"),
        ("wgmma_e4m3_e5m2_n128", "m64n128k32.f32.e4m3.e5m2"),
        ("wgmma_tf32_n32", "m64n32k8.f32.tf32.tf32"),
        ("wgmma_f16_n64", "m64n64k16.f32.f16.f16"),
        ("wgmma_bf16_n128_rs", "m64n128k16.f32.bf16.bf16"),
        ("wgmma_e4m3_n64", "m64n64k32.f32.e4m3.e4m3"),
        ("wgmma_e5m2_n32", "m64n32k32.f32.e5m2.e5m2"),
    ] {
        assert_has(
            entry(t, k),
            k,
            &[&format!("wgmma.mma_async.sync.aligned.{mma}")],
        );
    }
}

#[test]
fn tma_3d_and_setmaxnreg_kernels_emit_their_instructions() {
    let t = hopper_tests();
    assert_has(
        entry(t, "tma_roundtrip_3d"),
        "tma 3-D",
        &[
            "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes",
            "cp.async.bulk.tensor.3d.global.shared::cta.tile.bulk_group",
        ],
    );
    assert_has(
        entry(t, "setmaxnreg_roles"),
        "setmaxnreg",
        &[
            "setmaxnreg.dec.sync.aligned.u32 24",
            "setmaxnreg.inc.sync.aligned.u32 64",
            ".maxntid 256, 1, 1",
        ],
    );
}

/// The 2-D TMA round trips hung on the H200 when LLVM duplicated the block (cluster) barrier
/// between two `if t == 0` sections into the first one: warp 0 then split between two
/// `.aligned` barrier instructions. Each of these kernels must keep exactly one barrier
/// instruction per barrier of its source.
#[test]
fn barriers_between_single_thread_sections_are_not_duplicated() {
    let t = hopper_tests();
    for (k, needle, count) in [
        ("tma_roundtrip", "bar.sync", 2),
        ("tma_roundtrip_3d", "bar.sync", 2),
        ("tma_multicast_roundtrip", "barrier.cluster.arrive", 2),
        ("cluster_exchange", "barrier.cluster.arrive", 2),
        ("mbarrier_pipeline", "bar.sync", 2),
    ] {
        let n = entry(t, k).matches(needle).count();
        assert_eq!(
            n, count,
            "{k}: {n} × `{needle}` in the PTX, expected {count}"
        );
    }
}

/// `BlockTileMut::stream_rows` stages rows with bulk copies on mbarriers and reads them with
/// shared-memory instructions in both Hopper images: the portable sm_90 build is PTX 8.0 too,
/// so a user's default build takes the fast path.
#[test]
fn stream_rows_uses_bulk_copies_in_both_hopper_images() {
    for image in IMAGES.iter().filter(|i| i.arch.starts_with("sm_90")) {
        assert!(
            image.ptx.contains(".version 8.0"),
            "{}: not PTX 8.0",
            image.arch
        );
        for k in ["stream_stencil", "stream_five_rows"] {
            assert_has(
                entry(image.ptx, k),
                &format!("{k} ({})", image.arch),
                &[
                    "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes",
                    "mbarrier.arrive.expect_tx",
                    "mbarrier.try_wait.parity",
                    "ld.shared.v4",
                    "bar.warp.sync",
                ],
            );
        }
    }
}
