//! CPU tests of the built module: what the builder embedded is loadable PTX with one `.entry`
//! per kernel for the chosen architecture, and `ptxas` assembles it.
use gpukit::kernels::IMAGES;
use gpukit_builder::{ptx, ptxas};

#[test]
fn every_kernel_has_an_entry_for_the_target_architecture() {
    assert!(!IMAGES.is_empty());
    for im in IMAGES {
        assert!(
            im.ptx.contains(&format!(".target {}", im.arch)),
            "{}",
            im.arch
        );
        let names: Vec<String> = ptx::entries(im.ptx).into_iter().map(|e| e.name).collect();
        for k in ["vector_add", "saxpy"] {
            assert!(names.iter().any(|n| n == k), "no .entry {k} in {names:?}");
        }
        assert_eq!(ptx::unresolved_externs(im.ptx), Vec::<String>::new());
    }
}

#[test]
fn saxpy_uses_fma_and_vector_accesses() {
    let ptx = IMAGES[0].ptx;
    let body = &ptx[ptx.find(".entry saxpy").unwrap()..];
    let body = &body[..body.find("\n}").unwrap()];
    assert!(
        body.contains("fma.rn.f32"),
        "saxpy must use an explicit FMA"
    );
    assert!(
        body.contains("ld.global.nc.v4"),
        "x must be read with 16-byte loads"
    );
    assert!(
        body.contains("st.v4") || body.contains("st.global.v4"),
        "y must be written with 16-byte stores"
    );
    // Panics become traps, not calls.
    assert!(body.contains("trap;"));
}

#[test]
fn reread_softmax_streams_with_l2_hints() {
    // Pass 1 keeps its lines in L2 for the re-read (evict-last), pass 2 reads and writes with
    // evict-first: 16-byte accesses carrying a policy register, in every instance.
    let ptx = IMAGES[0].ptx;
    for k in [
        "softmax_reread__f32",
        "softmax_reread__bf16",
        "log_softmax_reread__f32",
        "log_softmax_reread__bf16",
    ] {
        let body = &ptx[ptx.find(&format!(".entry {k}(")).unwrap()..];
        let body = &body[..body.find("\n}").unwrap()];
        for needle in [
            "createpolicy.fractional.L2::evict_last.b64",
            "createpolicy.fractional.L2::evict_first.b64",
            "ld.global.nc.L1::no_allocate.L2::cache_hint.v4.b32",
            "st.L1::no_allocate.L2::cache_hint.v4.b32",
        ] {
            assert!(body.contains(needle), "{k}: no `{needle}`");
        }
        assert!(!body.contains(".local"), "{k} uses local memory");
    }
}

#[test]
fn held_softmax_fills_its_ring_with_bulk_copies() {
    // One thread's bulk copies fill the ring, completing on the chunks' full mbarriers; the
    // consumers wait on those and hand chunks back by arrivals on the empty ones, with named
    // barriers among themselves. No per-thread `cp.async`, no local memory.
    let ptx = IMAGES[0].ptx;
    for k in [
        "softmax_held__f32",
        "softmax_held__bf16",
        "log_softmax_held__f32",
        "log_softmax_held__bf16",
    ] {
        let start = ptx.find(&format!(".entry {k}(")).unwrap();
        let rest = &ptx[start + 1..];
        let body = &rest[..rest.find(".entry ").unwrap_or(rest.len())];
        for needle in [
            "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes",
            "mbarrier.arrive.expect_tx.shared::cta.b64",
            "mbarrier.try_wait.parity.shared::cta.b64",
            "mbarrier.arrive.shared::cta.b64",
            "bar.sync",
            "atom.release.gpu.global.add.u32",
            "st.L1::no_allocate.L2::cache_hint.v4.b32",
        ] {
            assert!(body.contains(needle), "{k}: no `{needle}`");
        }
        assert!(!body.contains("cp.async.cg"), "{k} stages per thread");
        assert!(!body.contains(".local"), "{k} uses local memory");
    }
}

/// `ptxas` assembles every image when it is installed. CI installs it and sets
/// GPUKIT_REQUIRE_PTXAS=1 so that a missing ptxas fails instead of skipping.
#[test]
fn ptxas_assembles_the_module() {
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
        let names: Vec<&str> = report.iter().map(|r| r.kernel.as_str()).collect();
        assert!(
            names.contains(&"saxpy") && names.contains(&"vector_add"),
            "{names:?}"
        );
        for r in &report {
            assert!(!r.spills(), "{r}");
            // At most 255 registers per thread on sm_90; the SGEMM kernels are the largest (~140).
            assert!(r.registers > 0 && r.registers <= 255, "{r}");
            assert_eq!(r.stack_bytes, 0, "{r}");
        }
        // The embedded cubin (built by the same ptxas at build time) is a CUDA ELF.
        if let Some(cubin) = im.cubin {
            assert_eq!(&cubin[..4], b"\x7fELF");
        }
    }
}
