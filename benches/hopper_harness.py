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

DT = {"u8": 0, "f16": 6, "f32": 7, "bf16": 9, "tf32": 11}
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

    def launch(self, f, grid, block, smem, cluster, stream, params):
        cfg, _keep = self._config(grid, block, smem, cluster, stream)
        ptrs = (ctypes.c_void_p * len(params))(*[ctypes.cast(ctypes.pointer(p), ctypes.c_void_p) for p in params])
        self.check(self.lib.cuLaunchKernelEx(ctypes.byref(cfg), f, ptrs, None), "cuLaunchKernelEx")


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

HG_THREADS = 384
HG_BM, HG_BN, HG_BK = 128, 256, 64


def smem_bytes(stages=4):
    return 1024 + stages * (HG_BM * HG_BK * 2 + HG_BN * HG_BK * 2) + 2 * stages * 8


class Hgemm:
    def __init__(self, drv, mod, name, stages=4):
        self.drv, self.name = drv, name
        self.f = drv.function(mod, name)
        self.smem = smem_bytes(stages)
        drv.set_smem(self.f, self.smem)
        self.regs = drv.attr(self.f, CU_FUNC_ATTRIBUTE_NUM_REGS)
        self.local = drv.attr(self.f, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES)

    def prepare(self, a, b, c, bias, alpha=1.0, beta=0.0, act=0, cluster=1, group_m=8, grid=None):
        """a: (batch, M, K), b: (batch, N, K), c: (batch, M, N) contiguous torch tensors."""
        import torch
        drv = self.drv
        bt, m, k = a.shape
        n = b.shape[1]
        ity = {torch.bfloat16: "bf16", torch.float16: "f16"}[a.dtype]
        es = a.element_size()
        if k == 0:
            # Never read (no K blocks), but a map needs nonzero sizes and a real address.
            dummy = torch.zeros(HG_BN * HG_BK, device="cuda", dtype=a.dtype)
            ta = drv.tensor_map(ity, dummy.data_ptr(), [HG_BK, HG_BM, 1], [HG_BK * es, HG_BM * HG_BK * es],
                                [HG_BK, HG_BM, 1])
            tb = drv.tensor_map(ity, dummy.data_ptr(), [HG_BK, HG_BN, 1], [HG_BK * es, HG_BN * HG_BK * es],
                                [HG_BK, HG_BN // cluster, 1])
            a = b = dummy
        else:
            ta = drv.tensor_map(ity, a.data_ptr(), [k, m, bt], [k * es, m * k * es], [HG_BK, HG_BM, 1])
            tb = drv.tensor_map(ity, b.data_ptr(), [k, n, bt], [k * es, n * k * es], [HG_BK, HG_BN // cluster, 1])
        cs = Slice(c.data_ptr(), c.numel())
        bs = Slice(bias.data_ptr(), bias.numel()) if bias is not None else Slice(c.data_ptr(), 0)
        params = [ta, tb, cs, bs,
                  ctypes.c_uint32(m), ctypes.c_uint32(n), ctypes.c_uint32(k), ctypes.c_uint32(bt),
                  ctypes.c_uint32(n), ctypes.c_uint64(m * n),
                  ctypes.c_float(alpha), ctypes.c_float(beta), ctypes.c_uint32(act), ctypes.c_uint32(group_m)]
        if grid is None:
            sms = drv.sm_count()
            if cluster > 1:
                grid = cluster * drv.max_active_clusters(self.f, sms, HG_THREADS, self.smem, cluster)
            else:
                grid = sms
        tiles = bt * math.ceil(m / HG_BM) * math.ceil(n / HG_BN)
        grid = max(cluster, min(grid, cluster * math.ceil(tiles / cluster)))
        stream = torch.cuda.current_stream().cuda_stream
        keep = (a, b, c, bias)

        def run():
            drv.launch(self.f, grid, HG_THREADS, self.smem, cluster, stream, params)
        run.keep = keep
        run.grid = grid
        return run


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

def reference(a, b, c0, bias, alpha, beta, act):
    import torch
    r = alpha * torch.matmul(a.double(), b.double().transpose(1, 2))
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


def time_ms(fn, warm=5, reps=30):
    import torch
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


TORCH_DT = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}


def correctness_cases():
    cases = []
    base = dict(alpha=1.0, beta=0.0, act=0, bias=False, cluster=1, batch=1)
    for name, ity, oty in [("hgemm_bf16_bf16", "bf16", "bf16"), ("hgemm_f16_f16", "f16", "f16"),
                           ("hgemm_bf16_f32", "bf16", "f32"), ("hgemm_f16_f32", "f16", "f32")]:
        for (m, n, k) in [(256, 512, 256), (77, 333, 264), (1000, 1000, 1000), (128, 4096, 4096)]:
            for cl in (1, 2):
                cases.append(dict(base, kernel=name, ity=ity, oty=oty, m=m, n=n, k=k, cluster=cl))
    for cl in (1, 2):
        cases.append(dict(base, kernel="hgemm_bf16_bf16", ity="bf16", oty="bf16", m=200, n=300, k=128, batch=3, cluster=cl))
        cases.append(dict(base, kernel="hgemm_bf16_bf16", ity="bf16", oty="bf16", m=520, n=1030, k=72,
                          alpha=0.5, beta=0.75, bias=True, act=2, cluster=cl))
        cases.append(dict(base, kernel="hgemm_f16_f32", ity="f16", oty="f32", m=300, n=260, k=520,
                          alpha=-1.25, beta=0.5, bias=True, act=1, batch=2, cluster=cl))
        cases.append(dict(base, kernel="hgemm_bf16_bf16", ity="bf16", oty="bf16", m=64, n=64, k=0, beta=0.5, cluster=cl))
    cases.append(dict(base, kernel="hgemm_bf16_bf16", ity="bf16", oty="bf16", m=8192, n=8192, k=8192, cluster=2))
    return cases


def run_correct(drv, kernels, case):
    import torch
    dt = lambda s: getattr(torch, TORCH_DT[s])
    g = torch.Generator(device="cuda").manual_seed(hash(json.dumps(case, sort_keys=True)) & 0xFFFFFFFF)
    bt, m, n, k = case["batch"], case["m"], case["n"], case["k"]
    a = torch.randn(bt, m, k, device="cuda", generator=g).to(dt(case["ity"]))
    b = torch.randn(bt, n, k, device="cuda", generator=g).to(dt(case["ity"]))
    bias = torch.randn(n, device="cuda", generator=g).to(dt(case["oty"])) if case["bias"] else None
    if case["beta"] != 0.0:
        c = torch.randn(bt, m, n, device="cuda", generator=g).to(dt(case["oty"]))
    else:
        c = torch.full((bt, m, n), float("nan"), device="cuda", dtype=dt(case["oty"]))
    c0 = c.clone()
    kern = kernels[case["kernel"]]
    run = kern.prepare(a, b, c, bias, case["alpha"], case["beta"], case["act"], case["cluster"])
    run()
    torch.cuda.synchronize()
    ref = reference(a, b, c0, bias, case["alpha"], case["beta"], case["act"])
    err = rel_err(c, ref)
    tol = 1e-2
    return dict(err=err, ok=bool(err <= tol), grid=run.grid)


def speed_cases(quick=False):
    cases = []
    shapes = [(8192, 8192, 8192)] if quick else [
        (8192, 8192, 8192), (4096, 4096, 4096), (4096, 14336, 4096), (4096, 4096, 14336),
        (16384, 4096, 4096), (2048, 2048, 2048), (128, 4096, 4096)]
    for (m, n, k) in shapes:
        for name, ity in [("hgemm_bf16_bf16", "bf16"), ("hgemm_f16_f16", "f16")]:
            if ity == "f16" and (m, n, k) != (8192, 8192, 8192):
                continue
            for cl in (1, 2):
                for gm in ((8, 16) if (m, n, k) == (8192, 8192, 8192) else (8,)):
                    cases.append(dict(kernel=name, ity=ity, m=m, n=n, k=k, cluster=cl, group_m=gm))
    return cases


def run_speed(drv, kernels, case):
    import torch
    dt = getattr(torch, TORCH_DT[case["ity"]])
    m, n, k = case["m"], case["n"], case["k"]
    a = torch.randn(1, m, k, device="cuda").to(dt)
    b = torch.randn(1, n, k, device="cuda").to(dt)
    c = torch.full((1, m, n), float("nan"), device="cuda", dtype=dt)
    kern = kernels[case["kernel"]]
    run = kern.prepare(a, b, c, None, 1.0, 0.0, 0, case["cluster"], case["group_m"])
    ms = time_ms(run)
    # Correctness of the timed configuration (sampled rows against float64).
    torch.cuda.synchronize()
    rows = torch.randint(0, m, (64,), device="cuda")
    ref = torch.matmul(a[0, rows].double(), b[0].double().t())
    err = rel_err(c[0, rows], ref)
    a2, b2 = a[0], b[0]
    ms_ref = time_ms(lambda: torch.matmul(a2, b2.t()))
    fl = 2.0 * m * n * k
    return dict(ms=ms, tflops=fl / ms / 1e9, cublas_ms=ms_ref, cublas_tflops=fl / ms_ref / 1e9,
                ratio=ms_ref / ms, err=err, ok=bool(err <= 1e-2), grid=run.grid)


# ---------------------------------------------------------------------------------------------
# Worker / parent
# ---------------------------------------------------------------------------------------------

KERNELS = ["hgemm_bf16_bf16", "hgemm_f16_f16", "hgemm_bf16_f32", "hgemm_f16_f32"]


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
    cases = json.loads(args.worker_cases)
    for i, case in enumerate(cases):
        if i < args.start:
            continue
        print(json.dumps(dict(kind="start", index=i)), flush=True)
        t0 = time.time()
        try:
            if case["kind"] == "correct":
                r = run_correct(drv, kernels, case)
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
    print(f"{'case':<70} {'result':>40}")
    for i in range(len(cases)):
        r = results.get(i, dict(ok=False, error="not run"))
        c = cases[i]
        if c["kind"] == "correct":
            desc = (f"{c['kernel']} b{c['batch']} {c['m']}x{c['n']}x{c['k']} cl{c['cluster']} a{c['alpha']} "
                    f"b{c['beta']} bias{int(c['bias'])} act{c['act']}")
            res = f"err={r['err']:.2e} {'OK' if r['ok'] else 'FAIL'}" if "err" in r else r.get("error", "?")
        else:
            desc = f"SPEED {c['kernel']} {c['m']}x{c['n']}x{c['k']} cl{c['cluster']} g{c['group_m']}"
            res = (f"{r['tflops']:.0f} TF/s vs cuBLAS {r['cublas_tflops']:.0f} = {100 * r['ratio']:.1f}% "
                   f"err={r['err']:.1e} grid={r['grid']}") if "ms" in r else r.get("error", "?")
        print(f"{desc:<70} {res:>40}")
    bad = sum(1 for i in range(len(cases)) if not results.get(i, {}).get("ok"))
    print(f"{len(cases) - bad}/{len(cases)} ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubin", required=True)
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/hopper_out"))
    ap.add_argument("--cases", default="correct,speed")
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
