//! CPU checks of the Hopper (sm_90a) build of `gpu-kernels`: the architecture-specific kernels
//! exist only in the sm_90a image, they use TMA, mbarriers, clusters and wgmma, tensor-map
//! parameters are 64-byte aligned, and `ptxas -arch=sm_90a` assembles them with no stack, no
//! spills and no "Potential Performance Loss" (serialized wgmma, ignored setmaxnreg). When
//! `nvdisasm` is installed, the SASS shows `HGMMA`/`QGMMA` and no local memory. (The device
//! library's Hopper primitives are checked in `crates/device-tests/tests/hopper_ptx.rs`.)
use gpukit::runtime::ModuleImage;
use gpukit_builder::{arch, ptx, ptxas};
use std::path::PathBuf;

const GEMMS: [&str; 9] = [
    "hgemm__bf16_bf16_bf16",
    "hgemm__f16_f16_f16",
    "hgemm__bf16_bf16_f32",
    "hgemm__f16_f16_f32",
    "hgemm__e4m3_e4m3_bf16",
    "hgemm__e4m3_e4m3_f32",
    "hgemm__e4m3_e5m2_bf16",
    "hgemm__e4m3_e5m2_f32",
    "hgemm__tf32_tf32_f32",
];

fn image(images: &'static [ModuleImage], arch: &str) -> &'static ModuleImage {
    images
        .iter()
        .find(|i| i.arch == arch)
        .unwrap_or_else(|| panic!("no {arch} image"))
}

fn hopper() -> &'static str {
    image(gpukit::kernels::IMAGES, "sm_90a").ptx
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
fn hopper_kernels_are_only_in_the_sm90a_image() {
    let names: Vec<String> = ptx::entries(hopper()).into_iter().map(|e| e.name).collect();
    for k in GEMMS {
        assert!(
            names.iter().any(|n| n == k),
            "no .entry {k} in the sm_90a image"
        );
    }
    // The portable kernels are in the Hopper image too (it replaces the sm_90 one there).
    assert!(names.iter().any(|n| n == "gemm_mma_f32__bf16"));
    assert!(hopper().contains(".target sm_90a"));
    assert!(hopper().contains(".version 8."));
    let portable = image(gpukit::kernels::IMAGES, "sm_90").ptx;
    for k in GEMMS {
        assert!(
            !portable.contains(&format!(".entry {k}(")),
            "{k} in the sm_90 image"
        );
    }
    assert_eq!(ptx::unresolved_externs(hopper()), Vec::<String>::new());
}

#[test]
fn gemm_kernels_use_tma_mbarriers_clusters_and_wgmma() {
    for k in GEMMS {
        let b = entry(hopper(), k);
        assert_has(
            b,
            k,
            &[
                // Tensor maps: 64-byte aligned by-value parameters, used in place.
                &format!(".param .align 64 .b8 {k}_param_0[128]"),
                &format!(".param .align 64 .b8 {k}_param_1[128]"),
                "cvta.param.u64",
                "prefetch.tensormap",
                // launch_bounds(384, 1), for setmaxnreg.
                ".maxntid 384, 1, 1",
                ".minnctapersm 1",
                "setmaxnreg.dec.sync.aligned.u32 24",
                "setmaxnreg.inc.sync.aligned.u32 240",
                // The pipeline.
                "mbarrier.init.shared::cta.b64",
                "fence.mbarrier_init.release.cluster",
                "mbarrier.try_wait.parity.shared::cta.b64",
                "mbarrier.arrive.expect_tx.shared::cta.b64",
                "mbarrier.arrive.shared::cta.b64",
                "mapa.shared::cluster.u32",
                "mbarrier.arrive.shared::cluster.b64",
                "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes",
                ".multicast::cluster",
                "barrier.cluster.arrive.release.aligned",
                "barrier.cluster.wait.acquire.aligned",
                "%cluster_ctarank",
                // wgmma.
                "wgmma.fence.sync.aligned",
                "wgmma.commit_group.sync.aligned",
                "wgmma.wait_group.sync.aligned 1",
                "wgmma.wait_group.sync.aligned 0",
            ],
        );
        assert!(!b.contains(".local"), "{k} has a local-memory frame");
        let mma = match k {
            "hgemm__bf16_bf16_bf16" | "hgemm__bf16_bf16_f32" => "m64n256k16.f32.bf16.bf16",
            "hgemm__f16_f16_f16" | "hgemm__f16_f16_f32" => "m64n256k16.f32.f16.f16",
            "hgemm__e4m3_e4m3_bf16" | "hgemm__e4m3_e4m3_f32" => "m64n256k32.f32.e4m3.e4m3",
            "hgemm__e4m3_e5m2_bf16" | "hgemm__e4m3_e5m2_f32" => "m64n256k32.f32.e4m3.e5m2",
            _ => "m64n256k8.f32.tf32.tf32",
        };
        assert_has(b, k, &[&format!("wgmma.mma_async.sync.aligned.{mma}")]);
    }
}

/// A scratch directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gpukit-hopper-ptx-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn ptxas_assembles_gemms_without_spills_or_serialization() {
    let Some(ptxas_bin) = ptxas::find(None) else {
        eprintln!("ptxas not found: skipping the assembly check (CI installs it)");
        return;
    };
    let dir = scratch("gemm");
    let ptx_path = dir.join("k.ptx");
    std::fs::write(&ptx_path, hopper()).unwrap();
    let cubin = dir.join("k.cubin");
    let (report, notes) =
        ptxas::assemble_with_notes(&ptxas_bin, &ptx_path, "sm_90a", &cubin).unwrap();
    for k in GEMMS {
        let r = report
            .iter()
            .find(|r| r.kernel == k)
            .unwrap_or_else(|| panic!("no ptxas report for {k}"));
        assert!(!r.spills() && r.stack_bytes == 0, "{r}");
        assert!(r.registers <= 168, "{r}: above the 384-thread cap");
        for n in &notes {
            assert_ne!(arch::note_function(n), Some(k), "{n}");
        }
    }
    // SASS, when nvdisasm is there (it ships beside ptxas in the PyPI wheel).
    let nvdisasm = ptxas_bin.with_file_name("nvdisasm");
    if !nvdisasm.is_file() {
        eprintln!("nvdisasm not found: skipping the SASS check");
        return;
    }
    let out = std::process::Command::new(&nvdisasm)
        .arg("-c")
        .arg(&cubin)
        .output()
        .unwrap();
    let sass = String::from_utf8_lossy(&out.stdout);
    for k in GEMMS {
        let start = sass
            .find(&format!(".text.{k}:"))
            .unwrap_or_else(|| panic!("no SASS for {k}"));
        let body = &sass[start..];
        let body = &body[..body[1..].find(".section").map_or(body.len(), |e| e + 1)];
        let gmma = if k.contains("e4m3") {
            "QGMMA.64x256x32"
        } else {
            "HGMMA.64x256x"
        };
        assert!(body.contains(gmma), "{k}: no {gmma} in the SASS");
        assert!(body.contains("UTMALDG.3D"), "{k}: no TMA load in the SASS");
        for bad in ["LDL", "STL"] {
            assert!(!body.contains(bad), "{k}: {bad} (local memory) in the SASS");
        }
        // Not serialized: a chain of four HGMMAs ends in one group barrier, not one each.
        let (mmas, waits) = (
            body.matches("GMMA.64x256").count(),
            body.matches("WARPGROUP.DEPBAR").count(),
        );
        assert!(
            waits < mmas,
            "{k}: {waits} group waits for {mmas} wgmma (serialized)"
        );
    }
}
