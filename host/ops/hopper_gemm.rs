//! Hopper (sm_90a) tensor-core GEMM through TMA and `wgmma`:
//! `C = act(alpha · A·Bᵀ + beta · C + bias)` with f32 accumulation, for bf16 / f16 inputs
//! (bf16, f16 or f32 out), fp8 inputs (e4m3 × e4m3 and e4m3 × e5m2, bf16 or f32 out; fold the
//! per-tensor scales into `alpha` with [`TensorGemm::fp8_scales`]) and tf32 (f32 inputs rounded
//! to tf32 by the copy engine, f32 out). The kernels are `gpu-kernels/src/hopper_gemm.rs`.
//!
//! Layout (as a linear layer stores its operands, and as cuBLAS `TN` / `torch.nn.functional.
//! linear` take them): A is m×k row-major (row stride `lda`), B is **n×k** row-major (row
//! stride `ldb`), so the product is A·Bᵀ; C is m×n row-major (row stride `ldc`); a batch is
//! `count` such triples `stride_a`, `stride_b`, `stride_c` elements apart.
//!
//! Everything is validated before launch (`Err(InvalidArgument)` naming the problem, C
//! untouched): lengths, the TMA rules (k, `lda`, `ldb` and the batch strides of A and B
//! multiples of 16 bytes, 16-byte aligned A and B), bias length, u32 limits. m = 0, n = 0 or
//! `count == 0` launches nothing; k = 0 gives `C = act(beta · C + bias)`. The kernels exist
//! only in the sm_90a image: on any other GPU the call returns an error naming the kernel
//! (the portable tensor-core path, [`Library::gemm`], works everywhere).
use super::{Library, invalid};
use crate::kernels::consts::hopper_gemm as hg;
use crate::kernels::{Hgemm, HgemmInstance};
use crate::runtime::half::{bf16, f16};
use crate::runtime::tensor_map::{Swizzle, TensorMap, TiledView};
use crate::runtime::{
    ClusterDims, DeviceBuffer, DeviceCopy, DeviceSlice, Error, KernelFn, LaunchConfig, Result,
    Stream,
};
use std::sync::Mutex;

/// Threads per CTA (one producer and two consumer warpgroups).
const THREADS: u32 = hg::HG_THREADS;
/// CTA tile: rows and columns of C.
const BM: usize = hg::HG_BM as usize;
const BN: usize = hg::HG_BN as usize;
/// Bytes of K per pipeline stage (one 128-byte swizzle row).
const BK_BYTES: usize = hg::HG_BK_BYTES as usize;
/// Dynamic shared memory per CTA.
const SHARED_BYTES: u32 = hg::HG_SHARED_BYTES;
/// f32 workspace per (tile, split) of split-K.
const SPLIT_TILE_FLOATS: usize = hg::HG_SPLIT_TILE_FLOATS as usize;
/// Tile rows per raster group (CTAs running together share A and B panels in L2).
const GROUP_M: u32 = 8;

/// The epilogue's activation, applied last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GemmActivation {
    /// `x`.
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// GELU, tanh form (`gelu(x, approximate="tanh")`).
    Gelu,
}

impl GemmActivation {
    fn code(self) -> u32 {
        match self {
            GemmActivation::None => hg::ACT_NONE,
            GemmActivation::Relu => hg::ACT_RELU,
            GemmActivation::Gelu => hg::ACT_GELU,
        }
    }
}

/// CTAs per cluster along M. Two share each B tile through TMA multicast (half the B
/// traffic); one measured as fast or faster on most shapes (`docs/TUNING.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GemmCluster {
    /// One CTA per cluster (no cluster launch).
    #[default]
    One,
    /// Clusters of two CTAs along M with B multicast.
    Two,
}

impl GemmCluster {
    fn size(self) -> usize {
        match self {
            GemmCluster::One => 1,
            GemmCluster::Two => 2,
        }
    }
}

/// A strided batch of [`TensorGemm`] products; strides in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorBatch {
    /// Number of products.
    pub count: usize,
    /// Elements from one A to the next (at least `m · lda`, a multiple of 16 bytes).
    pub stride_a: usize,
    /// Elements from one B to the next (at least `n · ldb`, a multiple of 16 bytes).
    pub stride_b: usize,
    /// Elements from one C to the next (at least `m · ldc`, so outputs do not overlap).
    pub stride_c: usize,
}

/// One Hopper GEMM call: `C = act(alpha · A·Bᵀ + beta · C + bias)`, A m×k, B n×k, C m×n.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorGemm {
    /// Rows of A and C.
    pub m: usize,
    /// Rows of B, columns of C.
    pub n: usize,
    /// Columns of A and B.
    pub k: usize,
    /// Row strides of A, B and C in elements (`k`, `k`, `n` when packed).
    pub lda: usize,
    /// Row stride of B.
    pub ldb: usize,
    /// Row stride of C.
    pub ldc: usize,
    /// `None`: one product.
    pub batch: Option<TensorBatch>,
    /// Scale of the product (fp8: times both per-tensor scales).
    pub alpha: f32,
    /// Scale of C's previous value; 0 never reads C.
    pub beta: f32,
    /// Activation applied after the bias.
    pub activation: GemmActivation,
    /// Cluster shape.
    pub cluster: GemmCluster,
}

impl TensorGemm {
    /// `C = A·Bᵀ` for packed A (m×k), B (n×k), C (m×n).
    pub fn new(m: usize, n: usize, k: usize) -> TensorGemm {
        TensorGemm {
            m,
            n,
            k,
            lda: k,
            ldb: k,
            ldc: n,
            batch: None,
            alpha: 1.0,
            beta: 0.0,
            activation: GemmActivation::None,
            cluster: GemmCluster::One,
        }
    }

    /// `C = alpha · A·Bᵀ + beta · C`.
    pub fn scaled(self, alpha: f32, beta: f32) -> TensorGemm {
        TensorGemm {
            alpha,
            beta,
            ..self
        }
    }

    /// Folds fp8 per-tensor scales (dequantised value = scale · stored value) into `alpha`.
    pub fn fp8_scales(self, scale_a: f32, scale_b: f32) -> TensorGemm {
        TensorGemm {
            alpha: self.alpha * scale_a * scale_b,
            ..self
        }
    }

    /// With an activation.
    pub fn activation(self, activation: GemmActivation) -> TensorGemm {
        TensorGemm { activation, ..self }
    }

    /// With a cluster shape.
    pub fn cluster(self, cluster: GemmCluster) -> TensorGemm {
        TensorGemm { cluster, ..self }
    }

    /// `count` packed products (each matrix right after the previous one).
    pub fn packed_batch(self, count: usize) -> TensorGemm {
        let batch = TensorBatch {
            count,
            stride_a: self.m.saturating_mul(self.lda),
            stride_b: self.n.saturating_mul(self.ldb),
            stride_c: self.m.saturating_mul(self.ldc),
        };
        TensorGemm {
            batch: Some(batch),
            ..self
        }
    }

    fn count(&self) -> usize {
        self.batch.map_or(1, |b| b.count)
    }

    fn strides(&self) -> (usize, usize, usize) {
        match self.batch {
            Some(b) => (b.stride_a, b.stride_b, b.stride_c),
            None => (
                self.m.saturating_mul(self.lda),
                self.n.saturating_mul(self.ldb),
                self.m.saturating_mul(self.ldc),
            ),
        }
    }
}

pub use crate::runtime::fp8::{Fp8E4M3, Fp8E5M2};

/// An input element type of [`Library::gemm_tc`]: how its tensor map is built.
pub trait TcOperand: DeviceCopy {
    #[doc(hidden)]
    fn tensor_map<'a>(mem: &'a DeviceSlice<Self>, view: &TiledView<'_>) -> Result<TensorMap<'a>>;
}

macro_rules! tc_operand {
    ($($t:ty),*) => {$(
        impl TcOperand for $t {
            fn tensor_map<'a>(
                mem: &'a DeviceSlice<Self>,
                view: &TiledView<'_>,
            ) -> Result<TensorMap<'a>> {
                TensorMap::tiled(mem, view)
            }
        }
    )*};
}
tc_operand!(bf16, f16, Fp8E4M3, Fp8E5M2);

/// f32 inputs run as tf32: the copy engine rounds them on the way into shared memory.
impl TcOperand for f32 {
    fn tensor_map<'a>(mem: &'a DeviceSlice<f32>, view: &TiledView<'_>) -> Result<TensorMap<'a>> {
        TensorMap::tiled_tf32(mem, view)
    }
}

/// The arguments of one `hgemm` launch, after validation and planning.
#[doc(hidden)]
pub struct HgemmLaunch<'a, O: DeviceCopy> {
    pub cfg: LaunchConfig,
    /// `Some`: launched as clusters of this shape.
    pub cluster: Option<ClusterDims>,
    pub a: &'a TensorMap<'a>,
    pub b: &'a TensorMap<'a>,
    pub c: &'a mut DeviceSlice<O>,
    pub bias: &'a DeviceSlice<O>,
    pub workspace: &'a mut DeviceSlice<f32>,
    pub counters: &'a mut DeviceSlice<u32>,
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub batches: u32,
    pub ldc: u32,
    pub stride_c: u64,
    pub alpha: f32,
    pub beta: f32,
    pub act: u32,
    pub group_m: u32,
    pub splits: u32,
}

/// Inputs `Self` (A) × `B` with output `O` that the Hopper GEMM was compiled for (its
/// `#[kernel(instances(..))]`): bf16×bf16 and f16×f16 → bf16/f16 (same type) or f32;
/// e4m3×e4m3 and e4m3×e5m2 → bf16 or f32; f32×f32 (tf32) → f32. Implemented for exactly the
/// generated launcher's instances, so another combination does not compile.
pub trait TcKernel<B: TcOperand, O: DeviceCopy>: TcOperand {
    /// The loaded instance, or why it is absent on this device.
    #[doc(hidden)]
    fn function(k: &Hgemm) -> Result<&KernelFn>;
    /// Launches the instance through its typed launcher.
    #[doc(hidden)]
    fn launch(k: &Hgemm, s: &Stream, l: HgemmLaunch<'_, O>) -> Result<()>;
}

impl<A: TcOperand, B: TcOperand, O: DeviceCopy> TcKernel<B, O> for A
where
    (A, B, O): HgemmInstance,
{
    fn function(k: &Hgemm) -> Result<&KernelFn> {
        k.function::<A, B, O>()
    }

    fn launch(k: &Hgemm, s: &Stream, l: HgemmLaunch<'_, O>) -> Result<()> {
        let HgemmLaunch {
            cfg,
            cluster,
            a,
            b,
            c,
            bias,
            workspace,
            counters,
            m,
            n,
            k: kd,
            batches,
            ldc,
            stride_c,
            alpha,
            beta,
            act,
            group_m,
            splits,
        } = l;
        match cluster {
            Some(cl) => k.launch_cluster::<A, B, O>(
                s, &cfg, cl, a, b, c, bias, workspace, counters, m, n, kd, batches, ldc, stride_c,
                alpha, beta, act, group_m, splits,
            ),
            None => k.launch_with::<A, B, O>(
                s, &cfg, a, b, c, bias, workspace, counters, m, n, kd, batches, ldc, stride_c,
                alpha, beta, act, group_m, splits,
            ),
        }
    }
}

/// Split-K scratch: partial tiles and arrival counters (zero between launches; the kernel
/// leaves them zero). Reusable across calls on one stream at a time.
pub struct TcScratch {
    workspace: DeviceBuffer<f32>,
    counters: DeviceBuffer<u32>,
}

/// Launch plan of one call (no GPU needed to compute it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcPlan {
    /// Output tiles per cluster rank (`count · ⌈⌈m/128⌉/cluster⌉ · ⌈n/256⌉`).
    pub tiles: usize,
    /// K splits (1: none).
    pub splits: usize,
    /// f32 elements of split-K workspace needed (0 without split-K).
    pub workspace_floats: usize,
    /// Counters needed (0 without split-K).
    pub counters: usize,
}

/// The plan for `g` with `elem_bytes`-byte inputs on a GPU of `sms` SMs: split K only when
/// there are fewer than half as many tiles as SMs (then fill about half the SMs, at least
/// four K blocks per split), as measured best on the H200.
pub fn tc_plan(g: &TensorGemm, elem_bytes: usize, sms: usize) -> TcPlan {
    let cl = g.cluster.size();
    let tiles = g.count() * g.m.div_ceil(BM).div_ceil(cl) * g.n.div_ceil(BN);
    let k_blocks = (g.k * elem_bytes).div_ceil(BK_BYTES);
    let splits = if tiles == 0 || tiles * cl * 2 > sms {
        1
    } else {
        ((sms / 2) / (tiles * cl)).min(k_blocks / 4).max(1)
    };
    let (workspace_floats, counters) = if splits > 1 {
        (tiles * cl * splits * SPLIT_TILE_FLOATS, tiles * cl * 2)
    } else {
        (0, 0)
    };
    TcPlan {
        tiles,
        splits,
        workspace_floats,
        counters,
    }
}

const OP: &str = "gemm_tc";

/// The split-K scratch lent to calls without one (no split: the kernel never touches it; the
/// launch still needs real slices), allocated on first use.
#[derive(Default)]
pub(crate) struct HopperKernels(Mutex<Option<TcScratch>>);

fn too_big(what: &str, v: usize) -> Error {
    invalid(OP, format!("{what} = {v} exceeds u32"))
}

/// Checks `g` against the buffer lengths and the TMA rules (see the module docs).
pub fn validate_tc(
    g: &TensorGemm,
    in_bytes: usize,
    lens: (usize, usize, usize),
    bias: Option<usize>,
) -> Result<()> {
    let TensorGemm {
        m,
        n,
        k,
        lda,
        ldb,
        ldc,
        ..
    } = *g;
    let shapes = format!("m={m} n={n} k={k}");
    if !g.alpha.is_finite() || !g.beta.is_finite() {
        return Err(invalid(
            OP,
            format!("alpha = {} and beta = {} must be finite", g.alpha, g.beta),
        ));
    }
    if lda < k || ldb < k || ldc < n {
        return Err(invalid(
            OP,
            format!("row strides lda={lda} ldb={ldb} ldc={ldc} are below k={k} / n={n}"),
        ));
    }
    for (what, v) in [("m", m), ("n", n), ("k", k), ("ldc", ldc)] {
        if u32::try_from(v).is_err() {
            return Err(too_big(what, v));
        }
    }
    let count = g.count();
    if u32::try_from(count).is_err() {
        return Err(too_big("batch count", count));
    }
    let (sa, sb, sc) = g.strides();
    if count > 1 {
        for (name, stride, rows, ld) in [("A", sa, m, lda), ("B", sb, n, ldb), ("C", sc, m, ldc)] {
            if stride < rows.saturating_mul(ld) || stride == 0 {
                return Err(invalid(
                    OP,
                    format!(
                        "batch stride of {name} = {stride} is below its matrix ({rows} rows of {ld}; {shapes} batch={count})"
                    ),
                ));
            }
        }
    }
    if m == 0 || n == 0 || count == 0 {
        return Ok(());
    }
    if k > 0 {
        for (what, v) in [("k", k), ("lda", lda), ("ldb", ldb)] {
            if !(v * in_bytes).is_multiple_of(16) {
                return Err(invalid(
                    OP,
                    format!(
                        "{what} = {v} is {} bytes: the TMA needs a multiple of 16 bytes ({} elements); pad the rows or use Library::gemm",
                        v * in_bytes,
                        16 / in_bytes
                    ),
                ));
            }
        }
        if count > 1 {
            for (what, v) in [("stride_a", sa), ("stride_b", sb)] {
                if !(v * in_bytes).is_multiple_of(16) {
                    return Err(invalid(
                        OP,
                        format!("{what} = {v} is not a multiple of 16 bytes (a TMA rule)"),
                    ));
                }
            }
        }
    }
    let need = |stride: usize, rows: usize, ld: usize, cols: usize| -> Result<usize> {
        (count - 1)
            .checked_mul(stride)
            .and_then(|x| x.checked_add((rows - 1).checked_mul(ld)?))
            .and_then(|x| x.checked_add(cols))
            .ok_or_else(|| invalid(OP, format!("the extent of {shapes} overflows usize")))
    };
    let mut checks = vec![("C", lens.2, need(sc, m, ldc, n)?)];
    if k > 0 {
        checks.push(("A", lens.0, need(sa, m, lda, k)?));
        checks.push(("B", lens.1, need(sb, n, ldb, k)?));
    }
    for (name, len, want) in checks {
        if len < want {
            return Err(invalid(
                OP,
                format!("{name} has {len} elements, but {shapes} batch={count} needs {want}"),
            ));
        }
    }
    if let Some(len) = bias
        && len != n
    {
        return Err(invalid(
            OP,
            format!("bias has {len} elements, but n = {n} columns need exactly {n}"),
        ));
    }
    if count > 1 && u64::try_from(sc).is_err() {
        return Err(too_big("stride_c", sc));
    }
    Ok(())
}

impl Library {
    /// Split-K scratch big enough for `g` with inputs `T` on this GPU (none needed: an empty
    /// one). Pass it to [`Library::gemm_tc`] to let small problems split K.
    pub fn tc_scratch<T: TcOperand>(&self, g: &TensorGemm) -> Result<TcScratch> {
        let plan = tc_plan(
            g,
            std::mem::size_of::<T>(),
            self.gpu.props().sm_count as usize,
        );
        Ok(TcScratch {
            workspace: self.gpu.alloc_zeroed(plan.workspace_floats.max(4))?,
            counters: self.gpu.alloc_zeroed(plan.counters.max(4))?,
        })
    }

    /// `C = act(alpha · A·Bᵀ + beta · C + bias)` on the Hopper kernels (module docs: layout,
    /// rules). `bias` has n elements (one per column of C). `scratch` (from
    /// [`Library::tc_scratch`]) lets problems with fewer tiles than SMs split K; `None` never
    /// splits. Queued on `s`; no synchronisation.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_tc<A, B, O>(
        &self,
        s: &Stream,
        g: &TensorGemm,
        a: &DeviceSlice<A>,
        b: &DeviceSlice<B>,
        c: &mut DeviceSlice<O>,
        bias: Option<&DeviceSlice<O>>,
        scratch: Option<&mut TcScratch>,
    ) -> Result<()>
    where
        A: TcKernel<B, O>,
        B: TcOperand,
        O: DeviceCopy,
    {
        let in_bytes = std::mem::size_of::<A>();
        validate_tc(
            g,
            in_bytes,
            (a.len(), b.len(), c.len()),
            bias.map(|x| x.len()),
        )?;
        let count = g.count();
        if g.m == 0 || g.n == 0 || count == 0 {
            return Ok(());
        }
        let hgemm = &self.kernels.hgemm;
        // Absent on devices other than sm_90a: the launcher's error names the kernel and why.
        let kernel = A::function(hgemm)?;
        let sms = self.gpu.props().sm_count as usize;
        let cl = g.cluster.size();
        let mut plan = tc_plan(g, in_bytes, sms);
        let mut lent;
        let (workspace, counters) = match scratch {
            Some(sc) if plan.splits > 1 => {
                if sc.workspace.len() < plan.workspace_floats || sc.counters.len() < plan.counters {
                    return Err(invalid(
                        OP,
                        format!(
                            "split-K scratch holds {} floats and {} counters, but this call needs {} and {} (make it with tc_scratch for the largest call)",
                            sc.workspace.len(),
                            sc.counters.len(),
                            plan.workspace_floats,
                            plan.counters
                        ),
                    ));
                }
                (&mut sc.workspace[..], &mut sc.counters[..])
            }
            _ => {
                plan.splits = 1;
                lent = self.hopper.0.lock().unwrap_or_else(|e| e.into_inner());
                if lent.is_none() {
                    *lent = Some(TcScratch {
                        workspace: self.gpu.alloc_zeroed(4)?,
                        counters: self.gpu.alloc_zeroed(4)?,
                    });
                }
                let sc = lent.as_mut().expect("allocated above");
                (&mut sc.workspace[..0], &mut sc.counters[..0])
            }
        };

        // Tensor maps: 3-D (K, rows, batch), 128-byte swizzle, box of one 128-byte K row by
        // 128 rows (A) or 256 / cluster rows (B).
        let bk = (BK_BYTES / in_bytes) as u32;
        let (sa, sb, sc) = g.strides();
        let a_box = [bk, BM as u32, 1];
        let b_box = [bk, (BN / cl) as u32, 1];
        let dummy;
        let (ta, tb) = if g.k == 0 {
            // Never read (no K blocks), but a map needs nonzero sizes and a real address.
            dummy = self.gpu.alloc_zeroed::<u8>(BN * BK_BYTES)?;
            let view = |rows: usize, boxes: &[u32; 3]| {
                let dims = [BK_BYTES as u64, rows as u64, 1];
                let strides = [BK_BYTES as u64, (rows * BK_BYTES) as u64];
                let boxes = [BK_BYTES as u32, boxes[1], 1];
                TensorMap::tiled(
                    &dummy,
                    &TiledView {
                        dims: &dims,
                        strides: &strides,
                        boxes: &boxes,
                        swizzle: Swizzle::B128,
                    },
                )
            };
            (view(BM, &a_box)?, view(BN, &b_box)?)
        } else {
            let a_dims = [g.k as u64, g.m as u64, count as u64];
            let a_strides = [g.lda as u64, sa.max(g.m * g.lda) as u64];
            let b_dims = [g.k as u64, g.n as u64, count as u64];
            let b_strides = [g.ldb as u64, sb.max(g.n * g.ldb) as u64];
            let ta = A::tensor_map(
                a,
                &TiledView {
                    dims: &a_dims,
                    strides: &a_strides,
                    boxes: &a_box,
                    swizzle: Swizzle::B128,
                },
            )?;
            let tb = B::tensor_map(
                b,
                &TiledView {
                    dims: &b_dims,
                    strides: &b_strides,
                    boxes: &b_box,
                    swizzle: Swizzle::B128,
                },
            )?;
            (ta, tb)
        };

        let cfg0 = LaunchConfig::linear(cl as u32, THREADS).with_shared(SHARED_BYTES);
        let resident = if cl > 1 {
            cl * kernel.max_active_clusters(&cfg0, ClusterDims(cl as u32, 1, 1))? as usize
        } else {
            sms
        };
        let mut grid = resident.min(cl * plan.tiles * plan.splits).max(cl);
        grid -= grid % cl;
        let cfg = LaunchConfig::linear(grid as u32, THREADS).with_shared(SHARED_BYTES);
        // No bias: an empty slice (the kernel tests `bias.is_empty()`), split off C's front.
        let (c_front, c) = c.split_at_mut(0);
        let bias = match bias {
            Some(x) => x,
            None => &*c_front,
        };
        A::launch(
            hgemm,
            s,
            HgemmLaunch {
                cfg,
                cluster: (cl > 1).then_some(ClusterDims(cl as u32, 1, 1)),
                a: &ta,
                b: &tb,
                c,
                bias,
                workspace,
                counters,
                m: g.m as u32,
                n: g.n as u32,
                k: g.k as u32,
                batches: count as u32,
                ldc: g.ldc as u32,
                stride_c: sc.max(g.m * g.ldc) as u64,
                alpha: g.alpha,
                beta: g.beta,
                act: g.activation.code(),
                group_m: GROUP_M,
                splits: plan.splits as u32,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        let g = TensorGemm::new(129, 257, 80);
        let ok = (129 * 80, 257 * 80, 129 * 257);
        assert!(validate_tc(&g, 2, ok, Some(257)).is_ok());
        let e = validate_tc(&g, 2, (ok.0 - 1, ok.1, ok.2), None).unwrap_err();
        assert!(e.to_string().contains("A has"), "{e}");
        let e = validate_tc(&g, 2, ok, Some(256)).unwrap_err();
        assert!(e.to_string().contains("bias"), "{e}");
        let odd = TensorGemm::new(4, 4, 12);
        let e = validate_tc(&odd, 2, (48, 48, 16), None).unwrap_err();
        assert!(e.to_string().contains("16 bytes"), "{e}");
        // fp8: 16 elements per 16 bytes; tf32: 4.
        assert!(validate_tc(&TensorGemm::new(4, 4, 16), 1, (64, 64, 16), None).is_ok());
        assert!(validate_tc(&TensorGemm::new(4, 4, 8), 1, (32, 32, 16), None).is_err());
        assert!(validate_tc(&TensorGemm::new(4, 4, 4), 4, (16, 16, 16), None).is_ok());
        // Empty problems pass whatever the TMA rules; k = 0 needs only C.
        assert!(validate_tc(&TensorGemm::new(0, 4, 3), 2, (0, 12, 0), None).is_ok());
        assert!(validate_tc(&TensorGemm::new(3, 4, 0), 2, (0, 0, 12), None).is_ok());
        let batch = TensorGemm::new(8, 8, 8).packed_batch(3);
        assert!(validate_tc(&batch, 2, (192, 192, 192), None).is_ok());
        let e = validate_tc(&batch, 2, (192, 192, 191), None).unwrap_err();
        assert!(e.to_string().contains("C has"), "{e}");
        let bad = TensorGemm::new(2, 2, 8).scaled(f32::NAN, 0.0);
        assert!(validate_tc(&bad, 2, (16, 16, 4), None).is_err());
    }

    #[test]
    fn split_k_only_for_few_tiles() {
        let big = tc_plan(&TensorGemm::new(8192, 8192, 8192), 2, 132);
        assert_eq!((big.splits, big.workspace_floats), (1, 0));
        let thin = tc_plan(&TensorGemm::new(128, 4096, 4096), 2, 132);
        assert_eq!(thin.tiles, 16);
        assert_eq!(thin.splits, 4);
        assert_eq!(thin.workspace_floats, 16 * 4 * SPLIT_TILE_FLOATS);
        assert_eq!(thin.counters, 32);
        let short_k = tc_plan(&TensorGemm::new(128, 256, 64), 2, 132);
        assert_eq!(short_k.splits, 1);
    }
}
