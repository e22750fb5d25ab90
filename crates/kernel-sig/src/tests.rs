use super::*;

fn one(src: &str) -> KernelSig {
    let mut ks = kernels_in_file(src).unwrap();
    assert_eq!(ks.len(), 1);
    ks.remove(0)
}

fn err(src: &str) -> String {
    kernels_in_file(src).unwrap_err().to_string()
}

#[test]
fn parses_params_and_contract() {
    let src = r#"
        /// y = a*x + y
        #[kernel(same_len(x, y), elements = y, items_per_thread = 4, block = 128)]
        pub fn saxpy(a: f32, x: &[f32], mut y: OutSlice<f32, GridStride>) {}
        mod inner { #[gpu::kernel] fn fill(v: u32, out: OutSlice<u32>, n: usize) {} }
    "#;
    let ks = kernels_in_file(src).unwrap();
    assert_eq!(ks.len(), 2);
    let s = &ks[0];
    assert_eq!(s.name, "saxpy");
    assert_eq!(
        s.params.iter().map(|p| p.kind.clone()).collect::<Vec<_>>(),
        vec![
            ParamKind::Scalar(ElemTy::Known(Elem::F32)),
            ParamKind::In(ElemTy::Known(Elem::F32)),
            ParamKind::Out(ElemTy::Known(Elem::F32), View::GridStride)
        ]
    );
    assert_eq!(
        s.contract.same_len,
        vec![vec!["x".to_string(), "y".to_string()]]
    );
    assert_eq!(
        s.contract.grid,
        GridRule::Elements {
            count: "y".into(),
            per_thread: 4,
            grid_stride: true
        }
    );
    assert_eq!(s.contract.block, (128, 1));
    assert_eq!(s.docs, vec![" y = a*x + y".to_string()]);
    assert_eq!(s.line, 4);
    assert_eq!(ks[1].name, "fill");
    // The default view is one element per thread, and it decides the grid.
    assert_eq!(
        ks[1].contract.grid,
        GridRule::Elements {
            count: "out".into(),
            per_thread: 1,
            grid_stride: false
        }
    );
    assert_eq!(ks[1].contract.block, (256, 1));
    let lb = one("#[kernel(launch_bounds(256, 3))] fn k(a: f32) {}");
    assert_eq!(lb.contract.launch_bounds, Some((256, Some(3))));
    assert!(err("#[kernel(launch_bounds(2048))] fn k(a: f32) {}").contains("launch_bounds("));
}

#[test]
fn tensor_maps_and_arch_gating() {
    let hk =
        one("#[kernel(arch = \"sm_90a\", launch_bounds(384, 1))] fn h(a: TensorMap, x: &[f32]) {}");
    assert_eq!(hk.contract.arch.as_deref(), Some("sm_90a"));
    assert_eq!(hk.params[0].kind, ParamKind::TensorMap);
    assert_eq!(hk.params[0].kind.elem(), None);
    assert!(!hk.params[0].kind.is_slice());
    assert!(err("#[kernel(arch = \"hopper\")] fn k(a: f32) {}").contains("arch must name"));
    assert!(err("#[kernel(arch = sm_90a)] fn k(a: f32) {}").contains("arch must name"));
    // A tensor map is 128 bytes in every instance of a generic kernel.
    let g = one(
        "#[kernel(instances(f32, f64), arch = \"sm_90a\", elements = n)] fn g<T: Num>(m: TensorMap, s: T, n: u32) {}",
    );
    let e = g.entries();
    assert_eq!(e.len(), 2);
    assert_eq!(
        e[0].param_sizes,
        vec![("m".into(), 128), ("s".into(), 4), ("n".into(), 4)]
    );
    assert_eq!(
        e[1].param_sizes,
        vec![("m".into(), 128), ("s".into(), 8), ("n".into(), 4)]
    );
    assert!(err("#[kernel(elements = m)] fn k(m: TensorMap) {}").contains("needs a slice"));
}

#[test]
fn generic_kernels_have_one_entry_per_instance() {
    let k = one(
        "#[kernel(instances(f32, f16, Bf16))] pub fn relu<T: Act>(a: &[T], out: OutSlice<T, PerThread<8>>, n: u32) {}",
    );
    assert_eq!(k.generics, vec![Generic::Type("T".into())]);
    let e = k.entries();
    assert_eq!(
        e.iter().map(|e| e.entry.as_str()).collect::<Vec<_>>(),
        vec!["relu__f32", "relu__f16", "relu__bf16"]
    );
    assert_eq!(
        e[2].param_sizes,
        vec![("a".into(), 16), ("out".into(), 16), ("n".into(), 4)]
    );
    assert_eq!(
        k.contract.grid,
        GridRule::Elements {
            count: "out".into(),
            per_thread: 8,
            grid_stride: false
        }
    );
    // A generic scalar takes the instance's size; const parameters make tuples.
    let k = one(
        "#[kernel(instances((f32, 32), (f64, 64)))] fn t<T, const W: usize>(s: T, o: OutSlice<T>) {}",
    );
    let e = k.entries();
    assert_eq!(e[0].entry, "t__f32_32");
    assert_eq!(e[1].entry, "t__f64_64");
    assert_eq!(e[1].param_sizes[0], ("s".into(), 8));
    assert_eq!(
        e[1].args,
        vec![InstanceArg::Type(Elem::F64), InstanceArg::Const(64)]
    );
}

#[test]
fn generic_kernels_need_valid_instances() {
    assert!(err("#[kernel] fn k<T>(x: &[T]) {}").contains("lists the instances"));
    assert!(err("#[kernel(instances(f32))] fn k(x: &[f32]) {}").contains("for generic kernels"));
    assert!(
        err("#[kernel(instances(String))] fn k<T>(x: &[T]) {}")
            .contains("not a kernel element type")
    );
    assert!(err("#[kernel(instances(f32, f32))] fn k<T>(x: &[T]) {}").contains("twice"));
    assert!(
        err("#[kernel(instances(f32))] fn k<T, const N: usize>(x: &[T]) {}").contains("as a tuple")
    );
    assert!(
        err("#[kernel(instances((f32, x)))] fn k<T, const N: usize>(x: &[T]) {}")
            .contains("integer literal")
    );
    assert!(err("#[kernel(instances(4))] fn k<const N: u32>(x: &[f32]) {}").contains("`usize`"));
    assert!(err("#[kernel(instances(f32))] fn k<'a, T>(x: &[T]) {}").contains("lifetime"));
}

#[test]
fn views_are_parsed_with_their_geometry() {
    let k = one(
        "#[kernel(len(x) == rows * cols)] fn n(x: &[f32], rows: u32, cols: u32, y: OutSlice<f32, gpu::BlockRows<cols>>) {}",
    );
    assert_eq!(
        k.params[3].kind,
        ParamKind::Out(
            ElemTy::Known(Elem::F32),
            View::BlockRows(Geom::Param("cols".into()))
        )
    );
    assert_eq!(
        k.contract.grid,
        GridRule::Rows {
            out: "y".into(),
            row_len: Geom::Param("cols".into()),
            per_warp: false
        }
    );
    let k = one("#[kernel] fn h(x: &[u8], bins: OutSlice<u32, BlockRows<256>>) {}");
    assert_eq!(
        k.params[1].kind,
        ParamKind::Out(ElemTy::Known(Elem::U32), View::BlockRows(Geom::Lit(256)))
    );
    let k = one("#[kernel] fn w(x: &[f32], y: OutSlice<f32, WarpRows<COLS>>) {}");
    assert_eq!(
        k.contract.grid,
        GridRule::Rows {
            out: "y".into(),
            row_len: Geom::Const("COLS".into()),
            per_warp: true
        }
    );
    let k =
        one("#[kernel] fn s(x: &[f32], cols: u32, y: OutSlice<f32, BlockTiles<32, 8, cols>>) {}");
    assert_eq!(
        k.contract.grid,
        GridRule::Tiles {
            out: "y".into(),
            cols: Geom::Param("cols".into()),
            w: 32,
            h: 8,
            per_thread: false
        }
    );
    assert_eq!(k.contract.block, (32, 8));
    let k = one("#[kernel] fn a(x: &[u32], y: OutSlice<u32, Atomic>) {}");
    assert_eq!(k.contract.grid, GridRule::None);
}

#[test]
fn views_and_options_must_agree() {
    assert!(
        err("#[kernel(items_per_thread = 4)] fn k(x: &[f32], o: OutSlice<f32>) {}")
            .contains("items_per_thread = 4 disagrees")
    );
    assert!(
        err("#[kernel(grid_stride)] fn k(x: &[f32], o: OutSlice<f32, PerThread<4>>) {}")
            .contains("grid_stride caps the grid")
    );
    assert!(
        err("#[kernel(elements = o)] fn k(c: u32, o: OutSlice<f32, BlockRows<c>>) {}")
            .contains("drop `elements`")
    );
    assert!(
        err("#[kernel] fn k(c: f32, o: OutSlice<f32, BlockRows<c>>) {}")
            .contains("must be an integer parameter")
    );
    assert!(err("#[kernel] fn k(o: OutSlice<f32, BlockRows>) {}").contains("BlockRows<len>"));
    assert!(err("#[kernel] fn k(o: OutSlice<f32, Rows<c>>) {}").contains("unknown ownership view"));
    assert!(err("#[kernel] fn k(o: OutSlice<f32, PerThread<x>>) {}").contains("integer literal"));
    assert!(err("#[kernel(block = (32, 8))] fn k(o: OutSlice<f32>) {}").contains("2D block"));
}

#[test]
fn relations_are_parsed_and_printed() {
    let k = one(
        "#[kernel(len(x) == rows * cols, len(gamma) == cols, len(bins) == 256, len(x) >= n + 1, len(x) % 4 == 0, len(y) == (rows - 1) * (cols + 2))]
         fn k(x: &[f32], gamma: &[f32], bins: OutSlice<u32, Atomic>, rows: u32, cols: usize, n: u64, y: &[f32]) {}",
    );
    let texts: Vec<String> = k.contract.relations.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        texts,
        vec![
            "len(x) == rows * cols",
            "len(gamma) == cols",
            "len(bins) == 256",
            "len(x) >= n + 1",
            "len(x) % 4 == 0",
            "len(y) == (rows - 1) * (cols + 2)",
        ]
    );
    let r = &k.contract.relations[0];
    assert_eq!(r.subject(), "x");
    assert_eq!(
        r.leaves(),
        vec![
            Term::Len("x".into()),
            Term::Param("rows".into()),
            Term::Param("cols".into())
        ]
    );
    let r = one("#[kernel(n <= len(x))] fn k(x: &[f32], n: u32) {}");
    assert_eq!(r.contract.relations[0].subject(), "x");
    let sub = one("#[kernel(len(x) == a - (b - c))] fn k(x: &[f32], a: u32, b: u32, c: u32) {}");
    assert_eq!(
        sub.contract.relations[0].to_string(),
        "len(x) == a - (b - c)"
    );
}

#[test]
fn relations_with_wrong_types_are_rejected_with_reasons() {
    assert!(
        err("#[kernel(len(x) == scale)] fn k(x: &[f32], scale: f32) {}")
            .contains("`scale` has type f32: length relations use integer parameters")
    );
    assert!(
        err("#[kernel(len(n) == 4)] fn k(x: &[f32], n: u32) {}")
            .contains("`n` is a scalar of type u32, not a slice")
    );
    assert!(
        err("#[kernel(x == 4)] fn k(x: &[f32]) {}")
            .contains("a relation reads its length as `len(x)`")
    );
    assert!(err("#[kernel(len(z) == 4)] fn k(x: &[f32]) {}").contains("no parameter named `z`"));
    assert!(
        err("#[kernel(n == 4)] fn k(x: &[f32], n: u32) {}").contains("at least one `len(slice)`")
    );
    assert!(err("#[kernel(len(x) == 2.5)] fn k(x: &[f32]) {}").contains("expected `len(slice)`"));
    assert!(err("#[kernel(len(x) == n << 2)] fn k(x: &[f32], n: u32) {}").contains("+ - * / %"));
}

#[test]
fn rejects_bad_signatures_with_reasons() {
    assert!(err("#[kernel] fn k(x: &mut [f32]) {}").contains("OutSlice"));
    assert!(err("#[kernel] fn k(x: &[String]) {}").contains("unsupported element type"));
    assert!(err("#[kernel] fn k() -> f32 { 0.0 }").contains("returns nothing"));
    assert!(
        err("#[kernel(same_len(x, z))] fn k(x: &[f32], y: &[f32]) {}")
            .contains("no parameter named `z`")
    );
    assert!(err("#[kernel(same_len(x, a))] fn k(x: &[f32], a: f32) {}").contains("not a slice"));
    assert!(err("#[kernel(elements = a)] fn k(a: f32) {}").contains("integer"));
    assert!(err("#[kernel(block = 2048)] fn k(a: f32) {}").contains("1024"));
    assert!(err("#[kernel(speed = 3)] fn k(a: f32) {}").contains("unknown kernel option"));
}

#[test]
fn bytes_per_thread_sizes_the_grid_by_the_slices_bytes() {
    let k = one(
        "#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, instances(f32, Bf16))] fn relu<T: E>(a: &[T], out: OutSlice<T, Manual>) {}",
    );
    assert_eq!(k.contract.bytes_per_thread, Some(32));
    assert!(matches!(k.contract.grid, GridRule::Elements { ref count, .. } if count == "out"));
    assert!(
        err("#[kernel(elements = out, bytes_per_thread = 24)] fn k(out: OutSlice<f32, Manual>) {}")
            .contains("multiple of 16")
    );
    assert!(
        err("#[kernel(elements = out, bytes_per_thread = 32, items_per_thread = 8)] fn k(out: OutSlice<f32, Manual>) {}")
            .contains("not both")
    );
    assert!(
        err("#[kernel(bytes_per_thread = 32)] fn k(out: OutSlice<f32, Manual>) {}")
            .contains("elements = p")
    );
    assert!(
        err("#[kernel(elements = out, bytes_per_thread = 32)] fn k(out: OutSlice<f32, PerThread<4>>) {}")
            .contains("PerThread")
    );
}

#[test]
fn strided_packets_view_takes_a_literal_and_a_bytes_grid() {
    let k = one(
        "#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, instances(f32, Bf16))] fn relu<T: E>(a: &[T], out: OutSlice<T, StridedPackets<2>>) {}",
    );
    assert!(matches!(
        k.params[1].kind,
        ParamKind::Out(_, View::StridedPackets(2))
    ));
    assert_eq!(View::StridedPackets(2).marker(), "StridedPackets");
    assert_eq!(View::StridedPackets(2).geometry(), None);
    assert!(matches!(k.contract.grid, GridRule::Elements { ref count, .. } if count == "out"));
    // Without `elements`, nothing sizes the grid (as for Manual outputs).
    let bare = one("#[kernel] fn k(out: OutSlice<f32, StridedPackets<1>>) {}");
    assert_eq!(bare.contract.grid, GridRule::None);
    assert!(
        err("#[kernel] fn k(out: OutSlice<f32, StridedPackets>) {}").contains("StridedPackets<K>")
    );
}
