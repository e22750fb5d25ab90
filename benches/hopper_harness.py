#!/usr/bin/env python3
"""Development harness for the Hopper GEMM kernels (gpu-kernels/src/hopper_gemm.rs).

Runs on the GPU machine, which has torch but no Rust: loads the sm_90a cubin built here through
ctypes to libcuda (cuModuleLoadData, cuTensorMapEncodeTiled, cuLaunchKernelEx with cluster
dimensions, cuFuncSetAttribute for the dynamic shared memory), takes data from torch tensors,
checks every case against torch in float64 (relative Frobenius error), and times the kernels with
CUDA events against torch.matmul (cuBLAS) in the same process.

    python3 benches/hopper_harness.py --cubin K.cubin [--out DIR] [--cases correct,speed]

Each group of cases runs in a worker subprocess under a timeout, so a deadlocked kernel costs
its own case, not the whole run; the parent prints one table at the end and writes JSON lines
to DIR/results.jsonl.
"""
import argparse
import ctypes
import json
import math
import os
import subprocess
import sys
import time

# ---------------------------------------------------------------------------------------------
# Driver API through ctypes
# ---------------------------------------------------------------------------------------------

CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
CU_FUNC_ATTRIBUTE_NUM_REGS = 4
CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3
CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4
CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16

DT = {"u8": 0, "u32": 2, "f16": 6, "f32": 7, "bf16": 9, "tf32": 11}
SWIZZLE_128B = 3
L2_PROMO_256B = 3


class LaunchAttr(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("pad", ctypes.c_uint32), ("value", ctypes.c_uint8 * 64)]


class LaunchConfig(ctypes.Structure):
    _fields_ = [
        ("gx", ctypes.c_uint32), ("gy", ctypes.c_uint32), ("gz", ctypes.c_uint32),
        ("bx", ctypes.c_uint32), ("by", ctypes.c_uint32), ("bz", ctypes.c_uint32),
        ("smem", ctypes.c_uint32), ("stream", ctypes.c_void_p),
        ("attrs", ctypes.POINTER(LaunchAttr)), ("nattrs", ctypes.c_uint32),
    ]


class Slice(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class TensorMap(ctypes.Structure):
    _fields_ = [("words", ctypes.c_uint64 * 16)]


def aligned_tensor_map():
    """A TensorMap at a 64-byte aligned address (CUtensorMap is alignas(64))."""
    raw = ctypes.create_string_buffer(128 + 64)
    addr = (ctypes.addressof(raw) + 63) & ~63
    tm = TensorMap.from_address(addr)
    tm._raw = raw
    return tm


class Driver:
    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")

    def check(self, r, what):
        if r != 0:
            name = ctypes.c_char_p()
            self.lib.cuGetErrorName(r, ctypes.byref(name))
            raise RuntimeError(f"{what}: CUresult {r} {name.value.decode() if name.value else ''}")

    def load(self, image):
        mod = ctypes.c_void_p()
        self.check(self.lib.cuModuleLoadData(ctypes.byref(mod), ctypes.c_char_p(image)), "cuModuleLoadData")
        return mod

    def function(self, mod, name):
        f = ctypes.c_void_p()
        self.check(self.lib.cuModuleGetFunction(ctypes.byref(f), mod, name.encode()), f"cuModuleGetFunction {name}")
        return f

    def set_smem(self, f, nbytes):
        self.check(self.lib.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, ctypes.c_int(nbytes)),
                   "cuFuncSetAttribute(max dynamic smem)")

    def attr(self, f, a):
        v = ctypes.c_int()
        self.check(self.lib.cuFuncGetAttribute(ctypes.byref(v), a, f), "cuFuncGetAttribute")
        return v.value

    def sm_count(self):
        dev = ctypes.c_int()
        self.check(self.lib.cuCtxGetDevice(ctypes.byref(dev)), "cuCtxGetDevice")
        v = ctypes.c_int()
        self.check(self.lib.cuDeviceGetAttribute(ctypes.byref(v), CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "attr")
        return v.value

    def tensor_map(self, dtype, ptr, dims, strides_bytes, box, swizzle=SWIZZLE_128B):
        """dims innermost first; strides for dims[1:] in bytes."""
        tm = aligned_tensor_map()
        rank = len(dims)
        gdim = (ctypes.c_uint64 * rank)(*dims)
        gstr = (ctypes.c_uint64 * max(rank - 1, 1))(*strides_bytes)
        bdim = (ctypes.c_uint32 * rank)(*box)
        estr = (ctypes.c_uint32 * rank)(*([1] * rank))
        r = self.lib.cuTensorMapEncodeTiled(
            ctypes.byref(tm), ctypes.c_int(DT[dtype]), ctypes.c_uint32(rank), ctypes.c_void_p(ptr),
            gdim, gstr, bdim, estr, ctypes.c_int(0), ctypes.c_int(swizzle), ctypes.c_int(L2_PROMO_256B), ctypes.c_int(0))
        self.check(r, f"cuTensorMapEncodeTiled dims={dims} strides={strides_bytes} box={box}")
        return tm

    def max_active_clusters(self, f, grid, block, smem, cluster):
        cfg, _keep = self._config(grid, block, smem, cluster, None)
        n = ctypes.c_int()
        self.check(self.lib.cuOccupancyMaxActiveClusters(ctypes.byref(n), f, ctypes.byref(cfg)), "cuOccupancyMaxActiveClusters")
        return n.value

    def _config(self, grid, block, smem, cluster, stream):
        attrs = (LaunchAttr * 1)()
        nattrs = 0
        if cluster > 1:
            attrs[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
            dims = (ctypes.c_uint32 * 3)(cluster, 1, 1)
            ctypes.memmove(attrs[0].value, dims, 12)
            nattrs = 1
        cfg = LaunchConfig(grid, 1, 1, block, 1, 1, smem, ctypes.c_void_p(stream), attrs, nattrs)
        return cfg, attrs

    def prepared_launch(self, f, grid, block, smem, cluster, stream, params):
        """A launch with everything marshalled once: calling it costs one ctypes call."""
        cfg, attrs = self._config(grid, block, smem, cluster, stream)
        ptrs = (ctypes.c_void_p * len(params))(*[ctypes.cast(ctypes.pointer(p), ctypes.c_void_p) for p in params])
        fn = self.lib.cuLaunchKernelEx
        cfg_ref = ctypes.byref(cfg)

        def launch():
            r = fn(cfg_ref, f, ptrs, None)
            if r != 0:
                self.check(r, "cuLaunchKernelEx")
        launch.keep = (cfg, attrs, ptrs, params)
        return launch


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

HG_THREADS = 384
HG_BM, HG_BN, HG_BK_BYTES = 128, 256, 128
HG_SPLIT_TILE_FLOATS = HG_BM * HG_BN

# kernel -> (A type, B type, C type)
KERNELS = {
    "hgemm__bf16_bf16_bf16": ("bf16", "bf16", "bf16"),
    "hgemm__f16_f16_f16": ("f16", "f16", "f16"),
    "hgemm__bf16_bf16_f32": ("bf16", "bf16", "f32"),
    "hgemm__f16_f16_f32": ("f16", "f16", "f32"),
    "hgemm__e4m3_e4m3_bf16": ("e4m3", "e4m3", "bf16"),
    "hgemm__e4m3_e4m3_f32": ("e4m3", "e4m3", "f32"),
    "hgemm__e4m3_e5m2_bf16": ("e4m3", "e5m2", "bf16"),
    "hgemm__e4m3_e5m2_f32": ("e4m3", "e5m2", "f32"),
    "hgemm__tf32_tf32_f32": ("tf32", "tf32", "f32"),
}
ELEM_BYTES = {"bf16": 2, "f16": 2, "f32": 4, "tf32": 4, "e4m3": 1, "e5m2": 1}
MAP_DTYPE = {"bf16": "bf16", "f16": "f16", "tf32": "tf32", "e4m3": "u8", "e5m2": "u8"}


def torch_dtype(name):
    import torch
    return {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32, "tf32": torch.float32,
            "e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}[name]


def smem_bytes(stages=4):
    return 1024 + stages * (HG_BM + HG_BN) * HG_BK_BYTES + 2 * stages * 8 + 16


class Hgemm:
    def __init__(self, drv, mod, name, stages=4):
        self.drv, self.name = drv, name
        self.ta, self.tb, self.tc = KERNELS[name]
        self.f = drv.function(mod, name)
        self.smem = smem_bytes(stages)
        drv.set_smem(self.f, self.smem)
        self.regs = drv.attr(self.f, CU_FUNC_ATTRIBUTE_NUM_REGS)
        self.local = drv.attr(self.f, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES)

    def prepare(self, a, b, c, bias, alpha=1.0, beta=0.0, act=0, cluster=1, group_m=8, grid=None,
                splits=1, map_dtype=None):
        """a: (batch, M, K), b: (batch, N, K), c: (batch, M, N) contiguous torch tensors."""
        import torch
        drv = self.drv
        bt, m, k = a.shape
        n = b.shape[1]
        es = ELEM_BYTES[self.ta]
        bk = HG_BK_BYTES // es
        mdt = map_dtype or MAP_DTYPE[self.ta]
        mdt_b = map_dtype or MAP_DTYPE[self.tb]
        if k == 0:
            # Never read (no K blocks), but a map needs nonzero sizes and a real address.
            dummy = torch.zeros(HG_BN * HG_BK_BYTES, device="cuda", dtype=torch.uint8)
            ta = drv.tensor_map(mdt, dummy.data_ptr(), [bk, HG_BM, 1], [HG_BK_BYTES, HG_BM * HG_BK_BYTES],
                                [bk, HG_BM, 1])
            tb = drv.tensor_map(mdt_b, dummy.data_ptr(), [bk, HG_BN, 1], [HG_BK_BYTES, HG_BN * HG_BK_BYTES],
                                [bk, HG_BN // cluster, 1])
            a = b = dummy
        else:
            ta = drv.tensor_map(mdt, a.data_ptr(), [k, m, bt], [k * es, m * k * es], [bk, HG_BM, 1])
            tb = drv.tensor_map(mdt_b, b.data_ptr(), [k, n, bt], [k * es, n * k * es], [bk, HG_BN // cluster, 1])
        tiles = bt * math.ceil(math.ceil(m / HG_BM) / cluster) * math.ceil(n / HG_BN)
        if splits > 1:
            ws = torch.empty(tiles * cluster * splits * HG_SPLIT_TILE_FLOATS, device="cuda", dtype=torch.float32)
            cnt = torch.zeros(tiles * cluster * 2, device="cuda", dtype=torch.int32)
        else:
            ws = torch.empty(4, device="cuda", dtype=torch.float32)
            cnt = torch.zeros(4, device="cuda", dtype=torch.int32)
        cs = Slice(c.data_ptr(), c.numel())
        bs = Slice(bias.data_ptr(), bias.numel()) if bias is not None else Slice(c.data_ptr(), 0)
        wss = Slice(ws.data_ptr(), ws.numel() if splits > 1 else 0)
        cns = Slice(cnt.data_ptr(), cnt.numel() if splits > 1 else 0)
        params = [ta, tb, cs, bs, wss, cns,
                  ctypes.c_uint32(m), ctypes.c_uint32(n), ctypes.c_uint32(k), ctypes.c_uint32(bt),
                  ctypes.c_uint32(n), ctypes.c_uint64(m * n),
                  ctypes.c_float(alpha), ctypes.c_float(beta), ctypes.c_uint32(act), ctypes.c_uint32(group_m),
                  ctypes.c_uint32(splits)]
        if grid is None:
            sms = drv.sm_count()
            if cluster > 1:
                grid = cluster * drv.max_active_clusters(self.f, sms, HG_THREADS, self.smem, cluster)
            else:
                grid = sms
        grid = max(cluster, min(grid, cluster * tiles * splits))
        grid -= grid % cluster
        stream = torch.cuda.current_stream().cuda_stream
        launch = drv.prepared_launch(self.f, grid, HG_THREADS, self.smem, cluster, stream, params)

        def run():
            launch()
        run.keep = (a, b, c, bias, ws, cnt, params)
        run.grid = grid
        run.counters = cnt
        return run


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

def reference(a, b, c0, bias, alpha, beta, act):
    import torch
    r = alpha * torch.matmul(a.float().double(), b.float().double().transpose(1, 2))
    if beta != 0.0:
        r = r + beta * c0.double()
    if bias is not None:
        r = r + bias.double()
    if act == 1:
        r = torch.relu(r)
    elif act == 2:
        r = torch.nn.functional.gelu(r, approximate="tanh")
    return r


def rel_err(out, ref):
    d = (out.double() - ref).norm().item()
    return d / max(ref.norm().item(), 1e-300)


def time_pair(fns, rounds=7, target_ms=25.0):
    """Median ms per call of each function: back-to-back calls queued behind a GPU sleep (so
    the Python launch cost is hidden), the functions interleaved round by round (so clock
    drift under the power limit hits all of them alike)."""
    import torch
    reps = []
    for fn in fns:
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(5):
            fn()
        e.record()
        e.synchronize()
        est = s.elapsed_time(e) / 5
        reps.append(int(min(200, max(5, target_ms / max(est, 1e-3)))))
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            torch.cuda._sleep(int(3e6))
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            for _ in range(reps[i]):
                fn()
            e.record()
            e.synchronize()
            times[i].append(s.elapsed_time(e) / reps[i])
    out = []
    for t in times:
        t.sort()
        out.append(t[len(t) // 2])
    return out


def make_inputs(case, g):
    import torch
    ta, tb, tc = KERNELS[case["kernel"]]
    bt, m, n, k = case.get("batch", 1), case["m"], case["n"], case["k"]
    a = torch.randn(bt, m, k, device="cuda", generator=g).to(torch_dtype(ta))
    b = torch.randn(bt, n, k, device="cuda", generator=g).to(torch_dtype(tb))
    bias = torch.randn(n, device="cuda", generator=g).to(torch_dtype(tc)) if case.get("bias") else None
    if case.get("beta", 0.0) != 0.0:
        c = torch.randn(bt, m, n, device="cuda", generator=g).to(torch_dtype(tc))
    else:
        c = torch.full((bt, m, n), float("nan"), device="cuda", dtype=torch_dtype(tc))
    return a, b, bias, c


def tolerance(kernel):
    ta, tb, tc = KERNELS[kernel]
    if ta == "tf32":
        return 1e-3
    return 1e-2


def correctness_cases():
    cases = []
    base = dict(alpha=1.0, beta=0.0, act=0, bias=False, cluster=1, batch=1, splits=1)
    for name in ["hgemm__bf16_bf16_bf16", "hgemm__f16_f16_f16", "hgemm__bf16_bf16_f32", "hgemm__f16_f16_f32"]:
        for (m, n, k) in [(256, 512, 256), (77, 333, 264), (1000, 1000, 1000)]:
            for cl in (1, 2):
                cases.append(dict(base, kernel=name, m=m, n=n, k=k, cluster=cl))
    for name in ["hgemm__e4m3_e4m3_bf16", "hgemm__e4m3_e4m3_f32", "hgemm__e4m3_e5m2_bf16", "hgemm__e4m3_e5m2_f32"]:
        for (m, n, k) in [(256, 512, 256), (77, 333, 272), (1000, 1000, 2048)]:
            for cl in (1, 2):
                cases.append(dict(base, kernel=name, m=m, n=n, k=k, cluster=cl))
    for (m, n, k) in [(256, 512, 256), (77, 333, 264), (1000, 1000, 1000)]:
        for cl in (1, 2):
            cases.append(dict(base, kernel="hgemm__tf32_tf32_f32", m=m, n=n, k=k, cluster=cl))
            cases.append(dict(base, kernel="hgemm__tf32_tf32_f32", m=m, n=n, k=k, cluster=cl, map_dtype="f32"))
    for cl in (1, 2):
        cases.append(dict(base, kernel="hgemm__bf16_bf16_bf16", m=200, n=300, k=128, batch=3, cluster=cl))
        cases.append(dict(base, kernel="hgemm__bf16_bf16_bf16", m=520, n=1030, k=72,
                          alpha=0.5, beta=0.75, bias=True, act=2, cluster=cl))
        cases.append(dict(base, kernel="hgemm__f16_f16_f32", m=300, n=260, k=520,
                          alpha=-1.25, beta=0.5, bias=True, act=1, batch=2, cluster=cl))
        cases.append(dict(base, kernel="hgemm__bf16_bf16_bf16", m=64, n=64, k=0, beta=0.5, cluster=cl))
        # split-K: exact and ragged K ranges, with the full epilogue, twice (counters reset)
        cases.append(dict(base, kernel="hgemm__bf16_bf16_bf16", m=128, n=4096, k=4096, cluster=cl, splits=8, repeat=2))
        cases.append(dict(base, kernel="hgemm__bf16_bf16_f32", m=300, n=700, k=1000, cluster=cl, splits=3,
                          alpha=0.5, beta=-0.5, bias=True, act=2, batch=2, repeat=2))
        cases.append(dict(base, kernel="hgemm__e4m3_e4m3_bf16", m=128, n=1024, k=8192, cluster=cl, splits=16, repeat=2))
    for name in ("hgemm__bf16_bf16_bf16", "hgemm__bf16_bf16_f32", "hgemm__e4m3_e4m3_bf16"):
        for act in (1, 2):
            cases.append(dict(base, kernel=name, m=1024, n=2048, k=512, alpha=0.75, beta=0.5, bias=True, act=act))
    cases.append(dict(base, kernel="hgemm__bf16_bf16_bf16", m=8192, n=8192, k=8192, cluster=2))
    cases.append(dict(base, kernel="hgemm__e4m3_e4m3_bf16", m=8192, n=8192, k=8192, cluster=2))
    cases.append(dict(base, kernel="hgemm__tf32_tf32_f32", m=4096, n=4096, k=4096, cluster=2))
    return cases


def run_correct(drv, kernels, case):
    import torch
    g = torch.Generator(device="cuda").manual_seed(int.from_bytes(os.urandom(4), "little"))
    a, b, bias, c = make_inputs(case, g)
    c0 = c.clone()
    kern = kernels[case["kernel"]]
    run = kern.prepare(a, b, c, bias, case["alpha"], case["beta"], case["act"], case["cluster"],
                       splits=case["splits"], map_dtype=case.get("map_dtype"))
    errs = []
    ref = reference(a, b, c0, bias, case["alpha"], case["beta"], case["act"])
    for _ in range(case.get("repeat", 1)):
        c.copy_(c0)
        run()
        torch.cuda.synchronize()
        errs.append(rel_err(c, ref))
    err = max(errs)
    counters_clean = bool((run.counters == 0).all().item())
    return dict(err=err, ok=bool(err <= tolerance(case["kernel"]) and counters_clean), grid=run.grid,
                counters_clean=counters_clean)


def speed_cases(quick=False):
    cases = []
    big = (8192, 8192, 8192)
    for cl, gm in [(1, 8), (2, 8), (2, 16)]:
        cases.append(dict(kernel="hgemm__bf16_bf16_bf16", m=big[0], n=big[1], k=big[2], cluster=cl, group_m=gm))
    if quick:
        return cases
    for cl in (1, 2):
        cases.append(dict(kernel="hgemm__f16_f16_f16", m=8192, n=8192, k=8192, cluster=cl, group_m=8))
    for (m, n, k) in [(4096, 4096, 4096), (4096, 14336, 4096), (4096, 4096, 14336), (16384, 4096, 4096),
                      (2048, 2048, 2048), (128, 4096, 4096)]:
        for cl in (1, 2):
            cases.append(dict(kernel="hgemm__bf16_bf16_bf16", m=m, n=n, k=k, cluster=cl, group_m=8, splits="auto"))
    for sp in (2, 8):
        cases.append(dict(kernel="hgemm__bf16_bf16_bf16", m=128, n=4096, k=4096, cluster=1, group_m=8, splits=sp))
    for cl in (1, 2):
        cases.append(dict(kernel="hgemm__e4m3_e4m3_bf16", m=8192, n=8192, k=8192, cluster=cl, group_m=8))
        cases.append(dict(kernel="hgemm__e4m3_e5m2_bf16", m=8192, n=8192, k=8192, cluster=cl, group_m=8))
        cases.append(dict(kernel="hgemm__tf32_tf32_f32", m=8192, n=8192, k=8192, cluster=cl, group_m=8))
        cases.append(dict(kernel="hgemm__bf16_bf16_bf16", m=8192, n=8192, k=8192, cluster=cl, group_m=8,
                          bias=True, act=2, fused=True))
    # The second case again: the run-to-run spread of one configuration.
    cases.append(dict(cases[1]))
    return cases


def auto_splits(drv, m, n, k, kernel, cluster):
    es = ELEM_BYTES[KERNELS[kernel][0]]
    tiles = math.ceil(math.ceil(m / HG_BM) / cluster) * math.ceil(n / HG_BN) * cluster
    sms = drv.sm_count()
    k_blocks = math.ceil(k * es / HG_BK_BYTES)
    if tiles * 2 > sms:
        return 1
    # Half the SMs busy measured better than all of them at 128x4096x4096 (fewer partials to
    # add up in the last arriver).
    return max(1, min((sms // 2) // tiles, k_blocks // 4))


def run_speed(drv, kernels, case):
    import torch
    kname = case["kernel"]
    ta, tb, tc = KERNELS[kname]
    m, n, k = case["m"], case["n"], case["k"]
    g = torch.Generator(device="cuda").manual_seed(int.from_bytes(os.urandom(4), "little"))
    a, b, bias, c = make_inputs(dict(case, batch=1), g)
    splits = case.get("splits", 1)
    if splits == "auto":
        splits = auto_splits(drv, m, n, k, kname, case["cluster"])
    kern = kernels[kname]
    run = kern.prepare(a, b, c, bias, 1.0, 0.0, case.get("act", 0), case["cluster"], case["group_m"],
                       grid=case.get("grid"), splits=splits)
    a2, b2 = a[0], b[0]
    refs = {}
    if ta in ("bf16", "f16"):
        if case.get("fused"):
            refs["cublas+gelu"] = lambda: torch.nn.functional.gelu(torch.matmul(a2, b2.t()) + bias, approximate="tanh")
            refs["cublas"] = lambda: torch.matmul(a2, b2.t())
        else:
            refs["cublas"] = lambda: torch.matmul(a2, b2.t())
    elif ta == "tf32":
        torch.backends.cuda.matmul.allow_tf32 = True
        refs["cublas"] = lambda: torch.matmul(a2, b2.t())
    else:
        one = torch.ones((), device="cuda")
        refs["cublas"] = lambda: torch._scaled_mm(a2, b2.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        refs["cublas_fast"] = lambda: torch._scaled_mm(a2, b2.t(), scale_a=one, scale_b=one,
                                                       out_dtype=torch.bfloat16, use_fast_accum=True)
    names = list(refs)
    fns = [run] + [refs[x] for x in names]
    try:
        ts = time_pair(fns)
    except Exception as e:  # noqa: BLE001  (e.g. cuBLAS without this fp8 pairing)
        ts = time_pair([run]) + [float("nan")] * len(names)
        names = [x + " (" + str(e)[:60] + ")" for x in names]
    torch.backends.cuda.matmul.allow_tf32 = False
    ms = ts[0]
    torch.cuda.synchronize()
    rows = torch.randint(0, m, (64,), device="cuda")
    ref = reference(a[:, rows], b, None, bias, 1.0, 0.0, case.get("act", 0))
    err = rel_err(c[:, rows], ref)
    fl = 2.0 * m * n * k
    out = dict(ms=ms, tflops=fl / ms / 1e9, err=err, ok=bool(err <= tolerance(kname)), grid=run.grid, splits=splits)
    for nm, t in zip(names, ts[1:]):
        out[nm + "_ms"] = t
        out[nm + "_tflops"] = fl / t / 1e9
    out["ratio"] = ts[1] / ms
    out["ref_names"] = names
    return out


# ---------------------------------------------------------------------------------------------
# Device-library primitives (crates/device-tests/kernels/src/hopper.rs, cubin t.cubin)
# ---------------------------------------------------------------------------------------------

DT_U32 = 2


def primitive_cases():
    return [dict(kind="prim", name=n) for n in [
        "mbarrier_pipeline", "tma_roundtrip", "tma_multicast_roundtrip", "cluster_exchange_2",
        "cluster_exchange_4", "elect_lanes", "stmatrix_layout", "wgmma_bf16_n8", "wgmma_bf16_n64", "wgmma_bf16_n256",
        "wgmma_f16_n64_rs", "wgmma_e4m3_e5m2_n128", "wgmma_tf32_n32"]]


def fragment_to_matrix(frag, n):
    """d[t * R + i] (register i of warpgroup thread t) -> 64 x n matrix, by the documented
    wgmma accumulator layout."""
    import torch
    r_ = n // 2
    t = torch.arange(128).repeat_interleave(r_)
    i = torch.arange(r_).repeat(128)
    row = 16 * (t // 32) + (t % 32) // 4 + 8 * ((i // 2) % 2)
    col = 8 * (i // 4) + 2 * (t % 4) + i % 2
    out = torch.full((64, n), float("nan"), dtype=torch.float64)
    out[row, col] = frag.double().cpu()
    return out


def run_primitive(drv, mod, case):
    import torch
    name = case["name"]
    stream = torch.cuda.current_stream().cuda_stream

    def fn(kname, smem):
        f = drv.function(mod, kname)
        drv.set_smem(f, smem)
        return f

    def go(f, grid, block, smem, params, cluster=1, grid_yz=(1, 1)):
        cfg, attrs = drv._config(grid, block, smem, cluster, stream)
        cfg.gy, cfg.gz = grid_yz
        ptrs = (ctypes.c_void_p * len(params))(*[ctypes.cast(ctypes.pointer(p), ctypes.c_void_p) for p in params])
        drv.check(drv.lib.cuLaunchKernelEx(ctypes.byref(cfg), f, ptrs, None), "cuLaunchKernelEx")
        torch.cuda.synchronize()

    def sl(t):
        return Slice(t.data_ptr(), t.numel())

    if name == "mbarrier_pipeline":
        x = torch.randint(0, 2**31, (32 * 1000,), device="cuda", dtype=torch.int64).to(torch.int32)
        out = torch.full_like(x, -1)
        go(fn(name, 1024 + 4 * 128 + 64), 1, 64, 1024 + 4 * 128 + 64, [sl(x), sl(out)])
        exp = (3 * x.to(torch.int64) + 1) & 0xFFFFFFFF
        ok = bool((out.to(torch.int64) & 0xFFFFFFFF).eq(exp).all())
        return dict(ok=ok, err=0.0 if ok else 1.0)
    if name in ("tma_roundtrip", "tma_multicast_roundtrip"):
        rows, cols = (100, 68) if name == "tma_roundtrip" else (64, 64)
        src = torch.randint(0, 2**30, (rows, cols), device="cuda", dtype=torch.int32)
        smem = 32 * 128 + 1024 + 64
        if name == "tma_roundtrip":
            dst = torch.full_like(src, -7)
            ms = drv.tensor_map("u32", src.data_ptr(), [cols, rows], [cols * 4], [32, 32])
            md = drv.tensor_map("u32", dst.data_ptr(), [cols, rows], [cols * 4], [32, 32])
            go(fn(name, smem), math.ceil(cols / 32), 128, smem, [ms, md], grid_yz=(math.ceil(rows / 32), 1))
            ok = bool(dst.eq(src + 1).all())
        else:
            dst = torch.full((2 * rows, cols), -7, device="cuda", dtype=torch.int32)
            ms = drv.tensor_map("u32", src.data_ptr(), [cols, rows], [cols * 4], [32, 16])
            md = drv.tensor_map("u32", dst.data_ptr(), [cols, 2 * rows], [cols * 4], [32, 32])
            go(fn(name, smem), 2 * (cols // 32), 128, smem, [ms, md, ctypes.c_uint32(rows)], cluster=2,
               grid_yz=(rows // 32, 1))
            ok = bool(dst[:rows].eq(src).all() and dst[rows:].eq(src + 1).all())
        return dict(ok=ok, err=0.0 if ok else 1.0)
    if name.startswith("cluster_exchange"):
        size = int(name.rsplit("_", 1)[1])
        blocks = 4 * size
        out = torch.full((4 * blocks,), -1, device="cuda", dtype=torch.int32)
        go(fn("cluster_exchange", 1024 + 64), blocks, 32, 1024 + 64, [sl(out)], cluster=size)
        got = out.view(blocks, 4).cpu().tolist()
        exp = []
        for b in range(blocks):
            r = b % size
            nxt = (r + 1) % size
            exp.append([r, size, 1000 * nxt + (b - r + nxt), 1])
        ok = got == exp
        return dict(ok=ok, err=0.0 if ok else 1.0, detail=str(got[:3]))
    if name == "elect_lanes":
        out = torch.full((8,), -1, device="cuda", dtype=torch.int32)
        go(fn(name, 0), 2, 128, 0, [sl(out)])
        got = out.cpu().tolist()
        exp = [1000 if w % 2 == 0 else 1001 for w in range(8)]
        return dict(ok=got == exp, err=0.0 if got == exp else 1.0, detail=str(got))
    if name == "stmatrix_layout":
        x = torch.randint(0, 2**31, (128,), device="cuda", dtype=torch.int64).to(torch.int32)
        out = torch.zeros(1024, device="cuda", dtype=torch.int16)
        go(fn(name, 3072), 1, 32, 3072, [sl(x), sl(out)])
        xs = [v & 0xFFFFFFFF for v in x.cpu().tolist()]
        got = [v & 0xFFFF for v in out.cpu().tolist()]
        exp = [0] * 1024
        for l in range(32):
            for j in range(4):
                w = xs[4 * l + j]
                lo, hi = w & 0xFFFF, w >> 16
                r, c = l // 4, 2 * (l % 4)
                exp[64 * j + 8 * r + c], exp[64 * j + 8 * r + c + 1] = lo, hi
                # .trans: element (r, c) of matrix j lands at (c, r)
                exp[512 + 64 * j + 8 * c + r], exp[512 + 64 * j + 8 * (c + 1) + r] = lo, hi
        ok = got == exp
        return dict(ok=ok, err=0.0 if ok else 1.0)
    # wgmma_<types>_n<N>[_rs]
    parts = name.split("_")
    n = int([p for p in parts if p.startswith("n") and p[1:].isdigit()][0][1:])
    kind = "_".join(parts[1:parts.index("n%d" % n)])
    g = torch.Generator(device="cuda").manual_seed(int.from_bytes(os.urandom(4), "little"))

    def make(rows, ty):
        x = torch.randn(rows, {"bf16": 64, "f16": 64, "e4m3": 128, "e5m2": 128, "tf32": 32}[ty], device="cuda", generator=g)
        if ty == "tf32":
            v = x.contiguous().view(torch.int32) & ~0x1FFF  # tf32: the top 19 bits
            return v, v.view(torch.float32).double()
        q = x.to(torch_dtype(ty))
        return q.contiguous().view(torch.int32).reshape(rows, 32), q.float().double()
    ta, tb = {"bf16": ("bf16", "bf16"), "f16": ("f16", "f16"), "e4m3_e5m2": ("e4m3", "e5m2"), "tf32": ("tf32", "tf32")}[kind]
    a_bits, a_val = make(64, ta)
    b_bits, b_val = make(n, tb)
    d = torch.full((128 * n // 2,), float("nan"), device="cuda", dtype=torch.float32)
    smem = 1024 + 64 * 128 + n * 128
    go(fn(name, smem), 1, 128, smem, [sl(a_bits.reshape(-1)), sl(b_bits.reshape(-1)), sl(d)])
    got = fragment_to_matrix(d, n)
    ref = (a_val @ b_val.t()).cpu()
    err = rel_err(got, ref)
    return dict(ok=bool(err <= 1e-3), err=err)


# ---------------------------------------------------------------------------------------------
# Worker / parent
# ---------------------------------------------------------------------------------------------

def worker(args):
    import torch
    torch.zeros(1, device="cuda")  # primary context
    drv = Driver()
    image = open(args.cubin, "rb").read()
    mod = drv.load(image)
    kernels = {}
    for name in KERNELS:
        try:
            kernels[name] = Hgemm(drv, mod, name)
        except Exception as e:  # noqa: BLE001
            print(json.dumps(dict(kind="load", kernel=name, error=str(e))), flush=True)
    for name, kk in kernels.items():
        print(json.dumps(dict(kind="info", kernel=name, regs=kk.regs, local=kk.local, smem=kk.smem)), flush=True)
    tmod = None
    tpath = os.path.join(os.path.dirname(os.path.abspath(args.cubin)), "t.cubin")
    if os.path.exists(tpath):
        tmod = drv.load(open(tpath, "rb").read())
    cases = json.loads(args.worker_cases)
    for i, case in enumerate(cases):
        if i < args.start:
            continue
        print(json.dumps(dict(kind="start", index=i)), flush=True)
        t0 = time.time()
        try:
            if case["kind"] == "correct":
                r = run_correct(drv, kernels, case)
            elif case["kind"] == "prim":
                r = run_primitive(drv, tmod, case)
            else:
                r = run_speed(drv, kernels, case)
        except Exception as e:  # noqa: BLE001
            r = dict(ok=False, error=str(e)[:300])
        r.update(case=case, index=i, kind="result", secs=round(time.time() - t0, 2))
        print(json.dumps(r), flush=True)
        if "error" in r:
            try:
                torch.cuda.synchronize()
            except Exception:  # noqa: BLE001
                sys.exit(3)  # the context is dead (sticky error): the parent restarts after this case


def parent(args):
    cases = []
    groups = args.cases.split(",")
    if "primitives" in groups:
        cases += primitive_cases()
    if "correct" in groups:
        cases += [dict(c, kind="correct") for c in correctness_cases()]
    if "speed" in groups:
        cases += [dict(c, kind="speed") for c in speed_cases(args.quick)]
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "results.jsonl"), "w")
    results = {}
    start = 0
    timeouts = 0
    import selectors
    while start < len(cases):
        cmd = [sys.executable, __file__, "--cubin", args.cubin, "--worker-cases", json.dumps(cases),
               "--start", str(start)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        current = None
        deadline = time.time() + args.case_timeout + 60  # module load and torch start-up
        hung = False
        while True:
            if time.time() > deadline:
                proc.kill()
                hung = True
                break
            if not sel.select(timeout=1.0):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            log.write(line)
            log.flush()
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                print("worker:", line.rstrip())
                continue
            if msg.get("kind") == "start":
                current = msg["index"]
                deadline = time.time() + args.case_timeout
            elif msg.get("kind") == "result":
                results[msg["index"]] = msg
                current = None
            elif msg.get("kind") in ("info", "load"):
                print(json.dumps(msg))
        proc.wait()
        done = [i for i in results if i >= start]
        if current is not None and current not in results:
            why = "timeout (deadlock?)" if hung else f"worker died (exit {proc.returncode})"
            timeouts += hung
            results[current] = dict(case=cases[current], ok=False, error=why, index=current)
            log.write(json.dumps(results[current]) + "\n")
            start = current + 1
            if timeouts >= args.max_timeouts:
                print(f"{timeouts} cases timed out: stopping")
                break
        elif done and max(done) + 1 > start:
            start = max(done) + 1
        else:
            print(f"worker made no progress (exit {proc.returncode}); stopping")
            break
    print()
    print(f"{'case':<72} result")
    for i in range(len(cases)):
        r = results.get(i, dict(ok=False, error="not run"))
        c = cases[i]
        if c["kind"] == "prim":
            desc = f"PRIMITIVE {c['name']}"
            res = (f"err={r['err']:.2e} {'OK' if r['ok'] else 'FAIL'} {r.get('detail', '')}" if "err" in r
                   else r.get("error", "?"))
        elif c["kind"] == "correct":
            desc = (f"{c['kernel']} b{c['batch']} {c['m']}x{c['n']}x{c['k']} cl{c['cluster']} s{c['splits']} "
                    f"a{c['alpha']} b{c['beta']} bias{int(c['bias'])} act{c['act']}"
                    + (f" map={c['map_dtype']}" if c.get("map_dtype") else ""))
            res = f"err={r['err']:.2e} {'OK' if r['ok'] else 'FAIL'}" if "err" in r else r.get("error", "?")
        else:
            desc = (f"SPEED {c['kernel']} {c['m']}x{c['n']}x{c['k']} cl{c['cluster']} g{c['group_m']}"
                    + (" fused-bias-gelu" if c.get("fused") else "") + (f" grid{c['grid']}" if c.get("grid") else ""))
            if "ms" in r:
                refs = " ".join(f"{nm} {r[nm + '_tflops']:.0f}" for nm in r["ref_names"])
                res = (f"{r['tflops']:.0f} TF/s ({r['ms']:.3f} ms) | {refs} | {100 * r['ratio']:.1f}% "
                       f"err={r['err']:.1e} grid={r['grid']} s{r['splits']}")
            else:
                res = r.get("error", "?")
        print(f"{desc:<72} {res}")
    bad = sum(1 for i in range(len(cases)) if not results.get(i, {}).get("ok"))
    print(f"{len(cases) - bad}/{len(cases)} ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubin", required=True)
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/hopper_out"))
    ap.add_argument("--cases", default="primitives,correct,speed")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--case-timeout", type=float, default=30.0)
    ap.add_argument("--max-timeouts", type=int, default=3)
    ap.add_argument("--worker-cases")
    ap.add_argument("--start", type=int, default=0)
    args = ap.parse_args()
    if args.worker_cases:
        worker(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
