#!/usr/bin/env python3
"""CuPy baseline for gpukit's kernel suite.

Runs the same operations as the main program (`gpukit`), at the same sizes, on the same kind of
inputs (uniform random in [-1, 1), f16/bf16 rounded from f32 draws), with the same timing
method (CUDA events around each run on one stream, warm-up runs, then the median of
the timed runs; several input sets rotated when one would fit in L2), and writes JSON:

    {device, driver, cupy_version, date, results: [{op, size, dtype, median_ms, min_ms, max_ms,
     impl, candidates}], skipped: [{op, size, dtype, reason}]}

`size` is the shape joined by "x" ("268435456", "65536x4096", "8192x8192x8192").

Each op is written the ways a CuPy user would write it (a ufunc with `out=`, an expression, a
fused ElementwiseKernel/ReductionKernel, cupyx, cuBLAS through cp.matmul/cp.dot or gemmEx);
where there is a choice, every way is timed and the fastest is reported (`impl`), with all of
them under `candidates`. cuBLAS does GEMM and GEMV; CuPy's own kernels do the rest. FP32 GEMM
runs in FP32 (CUPY_TF32=0); f16/bf16 GEMM accumulates in f32 on the tensor cores.

bf16: when this CuPy supports a bfloat16 dtype (CuPy >= 14 with ml_dtypes) its ufuncs are
timed too; bf16 data is otherwise held as uint16 bit patterns and handled by fused kernels that
convert to and from f32, which is how one writes bf16 without dtype support.

The ops (each compared with the gpukit case of the same name):

  copy            dst = src (cudaMemcpyAsync device to device)                f32
  vector_add      out = a + b                                                 f32
  saxpy           y = 1.5 * x + y, in place                                   f32
  add sub mul div out = a op b (div: b uniform in [0.5, 1.5))                 f32 f16 bf16
  scale           out = 1.5 * x                                               f32 f16 bf16
  fill            out = 0.5                                                   f32 f16 bf16
  axpy            y = 1.5 * x + y, in place                                   f32 f16 bf16 f64
  relu gelu sigmoid exp tanh
                  out = f(x), computed in f32 (gelu: tanh approximation)      f32 f16 bf16
  sum min max argmax l2_norm
                  reduce x to one value (argmax: its index; l2_norm: sqrt(sum x^2))   f32
  dot             sum of x * y                                                f32
  inclusive_scan  out[i] = x[0] + ... + x[i]                                  f32
  exclusive_scan  out[0] = 0, out[i] = x[0] + ... + x[i-1]                    f32
  softmax log_softmax
                  along each row of a rows x cols matrix (65536x4096, and LLM
                  vocabulary rows 2048x151936)                                f32 bf16
  transpose       out = x^T, square                                           f32
  gemv            y = A x, A is m x n row-major (size "mxn")                  f32
  sgemm           C = A B, all row-major (size "mxnxk")                       f32
  gemm            C = A B with f32 accumulation, tensor cores                 f16 bf16

Usage: python3 benches/cupy_baseline.py [--quick] [--size N] [--only PATTERN] [--device N]
       [--warmup N] [--reps N] [--out FILE] [--list]
Exit status: 0 when the JSON was written (ops that failed are listed under "skipped"), 2 for
bad arguments, 3 when CuPy or a GPU is not usable.
"""
import argparse
import datetime
import json
import os
import sys
import time

os.environ.setdefault("CUPY_TF32", "0")

# Problem sizes; the same table as `Sizes` in benches/src/lib.rs (a unit test compares them).
SIZES = {
    "default": {"vector": 1 << 28, "rows": (65536, 4096), "vocab": (2048, 151936), "transpose": 16384,
                "gemv": 16384, "gemm": 8192},
    "quick": {"vector": 1 << 24, "rows": (8192, 4096), "vocab": (256, 151936), "transpose": 4096,
              "gemv": 4096, "gemm": 2048},
}
ALPHA = 1.5
FILL_VALUE = 0.5
FLOATS = ("f32", "f16", "bf16")
BINARY = ("add", "sub", "mul", "div")
MAPS = ("relu", "gelu", "sigmoid", "exp", "tanh")
REDUCTIONS = ("sum", "min", "max", "argmax", "dot", "l2_norm")
ITEM = {"f32": 4, "f16": 2, "bf16": 2, "f64": 8}


def plan(sizes):
    """Every (op, shape, dtype) of the suite at `sizes`, in the program's table order."""
    n = sizes["vector"]
    v = (n,)
    items = [("copy", v, "f32"), ("vector_add", v, "f32"), ("saxpy", v, "f32")]
    for op in BINARY + ("scale", "fill", "axpy"):
        items += [(op, v, dt) for dt in FLOATS]
    items.append(("axpy", v, "f64"))
    for op in MAPS:
        items += [(op, v, dt) for dt in FLOATS]
    items += [(op, v, "f32") for op in REDUCTIONS]
    items += [("inclusive_scan", v, "f32"), ("exclusive_scan", v, "f32")]
    for rows in (tuple(sizes["rows"]), tuple(sizes["vocab"])):
        items += [(op, rows, dt) for op in ("softmax", "log_softmax") for dt in ("f32", "bf16")]
    t = sizes["transpose"]
    items.append(("transpose", (t, t), "f32"))
    g = sizes["gemv"]
    items.append(("gemv", (g, g), "f32"))
    m = sizes["gemm"]
    items.append(("sgemm", (m, m, m), "f32"))
    items += [("gemm", (m, m, m), dt) for dt in ("f16", "bf16")]
    return items


def label(shape):
    return "x".join(str(d) for d in shape)


def matches_only(pattern, op, dtype):
    """The program's --only: comma-separated terms, each a substring of "op/dtype"."""
    terms = [t.strip() for t in (pattern or "").split(",") if t.strip()]
    key = f"{op}/{dtype}"
    return not terms or any(t in key for t in terms)


def work_bytes(op, shape, dtype):
    """Bytes one run reads plus writes (None for the compute-bound GEMMs)."""
    s = ITEM[dtype]
    if op in ("sgemm", "gemm"):
        return None
    if op == "gemv":
        m, n = shape
        return (m * n + n + m) * s
    elems = 1
    for d in shape:
        elems *= d
    vectors = {
        "copy": 2, "vector_add": 3, "saxpy": 3, "add": 3, "sub": 3, "mul": 3, "div": 3,
        "scale": 2, "fill": 1, "axpy": 3, "sum": 1, "min": 1, "max": 1, "argmax": 1,
        "l2_norm": 1, "dot": 2, "inclusive_scan": 2, "exclusive_scan": 2, "softmax": 2,
        "log_softmax": 2, "transpose": 2,
    }.get(op, 2)
    return vectors * elems * s


def copies_for(working_set, l2_bytes):
    """Input sets to rotate through: together at least 4x L2 when one set is under 2x L2."""
    if not working_set or not l2_bytes or working_set >= 2 * l2_bytes:
        return 1
    return max(1, min(64, -(-4 * l2_bytes // working_set)))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def nvidia_driver_version():
    try:
        with open("/proc/driver/nvidia/version") as f:
            line = f.readline()
    except OSError:
        return None
    if "Kernel Module" not in line:
        return None
    for w in line.split("Kernel Module", 1)[1].split():
        if w[:1].isdigit() and "." in w:
            return w
    return None


BF16_PREAMBLE = r"""
__device__ __forceinline__ float bf2f(unsigned short h) {
    return __uint_as_float(((unsigned int)h) << 16);
}
__device__ __forceinline__ unsigned short f2bf(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}
"""

# Per dtype: CuPy type name in kernels, load-to-float and store-from-float.
KTYPE = {
    "f32": ("float32", "#define LD(x) ((float)(x))\n#define ST(v) ((float)(v))\n"),
    "f16": ("float16", "#define LD(x) ((float)(x))\n#define ST(v) (float16((float)(v)))\n"),
    "bf16": ("uint16", BF16_PREAMBLE + "#define LD(x) bf2f(x)\n#define ST(v) f2bf(v)\n"),
    "f64": ("float64", "#define LD(x) ((double)(x))\n#define ST(v) ((double)(v))\n"),
}

GELU = "0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)))"
MAP_BODY = {
    "relu": "fmaxf(v, 0.0f)",
    "gelu": GELU,
    "sigmoid": "1.0f / (1.0f + expf(-v))",
    "exp": "expf(v)",
    "tanh": "tanhf(v)",
}
BINARY_OP = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


class Bench:
    def __init__(self, cp, np, args):
        self.cp = cp
        self.np = np
        self.args = args
        self.dev = cp.cuda.Device(args.device)
        self.dev.use()
        props = cp.cuda.runtime.getDeviceProperties(args.device)
        name = props["name"]
        self.device_name = name.decode() if isinstance(name, bytes) else str(name)
        self.l2 = int(props.get("l2CacheSize", 0))
        # CuPy's default stream: every CuPy and cuBLAS call below is queued on it, so the
        # events around a run see all of that run's work.
        self.stream = cp.cuda.Stream.null
        self.kernels = {}
        self.seed = 1
        self.bf16 = self._native_bf16()

    # ---- inputs ------------------------------------------------------------------------

    def _native_bf16(self):
        """CuPy's bfloat16 dtype when this CuPy supports one (ml_dtypes), else None."""
        try:
            import ml_dtypes

            dt = self.np.dtype(ml_dtypes.bfloat16)
            a = self.cp.ones(4, dtype=dt)
            if float((a + a)[0]) != 2.0:
                return None
            return dt
        except Exception:
            return None

    def f32(self, shape, lo=-1.0, hi=1.0):
        self.seed += 1
        rs = self.cp.random.RandomState(self.seed)
        return rs.uniform(lo, hi, shape, dtype=self.cp.float32)

    def to_bf16_bits(self, x32):
        k = self.kernel(
            "to_bf16", "bf16", "float32 x", "uint16 y", "y = f2bf(x)")
        out = self.cp.empty(x32.shape, dtype=self.cp.uint16)
        k(x32, out)
        return out

    def bf16_bits_to_f32(self, b):
        k = self.kernel("from_bf16", "bf16", "uint16 x", "float32 y", "y = bf2f(x)")
        out = self.cp.empty(b.shape, dtype=self.cp.float32)
        k(b, out)
        return out

    def rand(self, shape, dtype, lo=-1.0, hi=1.0):
        """Uniform [lo, hi) in `dtype`: f32 draws, rounded for f16, bf16 bit patterns."""
        x = self.f32(shape, lo, hi)
        if dtype == "f32":
            return x
        if dtype == "f16":
            return x.astype(self.cp.float16)
        if dtype == "f64":
            return x.astype(self.cp.float64)
        return self.to_bf16_bits(x)

    def empty(self, shape, dtype):
        t = {"f32": self.cp.float32, "f16": self.cp.float16, "bf16": self.cp.uint16,
             "f64": self.cp.float64}[dtype]
        # Bytes 0xff (NaN for floats), like the program's outputs.
        return self.cp.full(shape, 0xFFFF if dtype == "bf16" else float("nan"), dtype=t)

    def native(self, a, dtype):
        """`a` as an array a ufunc can take: bf16 bits viewed as CuPy's bfloat16, if any."""
        if dtype != "bf16":
            return a
        return a.view(self.bf16) if self.bf16 is not None else None

    # ---- kernels -----------------------------------------------------------------------

    def kernel(self, name, dtype, ins, outs, body):
        key = (name, dtype, ins, outs, body)
        if key not in self.kernels:
            ktype, preamble = KTYPE[dtype]
            self.kernels[key] = self.cp.ElementwiseKernel(
                ins.replace("D", ktype),
                outs.replace("D", ktype),
                body,
                f"gpukit_baseline_{name}_{dtype}",
                preamble=preamble,
            )
        return self.kernels[key]

    # ---- timing ------------------------------------------------------------------------

    def time(self, fn, copies):
        cp = self.cp
        warmup, reps = self.args.warmup, self.args.reps
        for i in range(warmup):
            fn(i % copies)
        self.stream.synchronize()
        events = []
        for i in range(reps):
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record(self.stream)
            fn((warmup + i) % copies)
            end.record(self.stream)
            events.append((start, end))
        self.stream.synchronize()
        times = sorted(cp.cuda.get_elapsed_time(s, e) for s, e in events)
        mid = len(times) // 2
        median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
        return median, times[0], times[-1]

    def run(self, op, shape, dtype):
        ws = work_bytes(op, shape, dtype)
        copies = copies_for(ws, self.l2) if ws else 1
        candidates = getattr(self, "op_" + op)(shape, dtype, copies)
        best, timings, errors = None, {}, {}
        for impl, fn in candidates:
            if fn is None:
                continue
            try:
                t = self.time(fn, copies)
            except Exception as e:  # one way failing does not lose the op
                errors[impl] = f"{type(e).__name__}: {e}"
                continue
            timings[impl] = round(t[0], 6)
            if best is None or t[0] < best[1][0]:
                best = (impl, t)
        if best is None:
            raise RuntimeError("; ".join(f"{k}: {v}" for k, v in errors.items()) or "no way to run it")
        impl, (median, lo, hi) = best
        r = {
            "op": op, "size": label(shape), "dtype": dtype, "median_ms": median,
            "min_ms": lo, "max_ms": hi, "impl": impl, "reps": self.args.reps,
            "rotated_sets": copies, "candidates": timings,
        }
        if errors:
            r["candidate_errors"] = errors
        return r

    # ---- element-wise ------------------------------------------------------------------

    def op_copy(self, shape, dtype, copies):
        sets = [(self.rand(shape, dtype), self.empty(shape, dtype)) for _ in range(copies)]

        def memcpy(k):
            src, dst = sets[k]
            dst.data.copy_from_device_async(src.data, src.nbytes, self.stream)

        def copyto(k):
            src, dst = sets[k]
            self.cp.copyto(dst, src)

        return [("cudaMemcpyAsync", memcpy), ("cp.copyto", copyto)]

    def _binary(self, op, shape, dtype, copies):
        cp = self.cp
        lo_b = 0.5 if op == "div" else -1.0
        hi_b = 1.5 if op == "div" else 1.0
        sets = [
            (self.rand(shape, dtype), self.rand(shape, dtype, lo_b, hi_b), self.empty(shape, dtype))
            for _ in range(copies)
        ]
        k = self.kernel(op, dtype, "D a, D b", "D out", f"out = ST(LD(a) {BINARY_OP[op]} LD(b))")
        ufunc = {"add": cp.add, "sub": cp.subtract, "mul": cp.multiply, "div": cp.divide}[op]
        ways = [("ElementwiseKernel", lambda i: k(*sets[i]))]
        if self.native(sets[0][0], dtype) is not None:
            nat = [tuple(self.native(a, dtype) for a in s) for s in sets]
            ways.append((f"{ufunc.__name__}(out=)", lambda i: ufunc(nat[i][0], nat[i][1], out=nat[i][2])))
        return ways

    def op_vector_add(self, shape, dtype, copies):
        return self._binary("add", shape, dtype, copies)

    def op_add(self, shape, dtype, copies):
        return self._binary("add", shape, dtype, copies)

    def op_sub(self, shape, dtype, copies):
        return self._binary("sub", shape, dtype, copies)

    def op_mul(self, shape, dtype, copies):
        return self._binary("mul", shape, dtype, copies)

    def op_div(self, shape, dtype, copies):
        return self._binary("div", shape, dtype, copies)

    def op_scale(self, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.empty(shape, dtype)) for _ in range(copies)]
        k = self.kernel("scale", dtype, "D x, float32 alpha", "D out", "out = ST(alpha * LD(x))")
        ways = [("ElementwiseKernel", lambda i: k(sets[i][0], ALPHA, sets[i][1]))]
        if self.native(sets[0][0], dtype) is not None:
            nat = [tuple(self.native(a, dtype) for a in s) for s in sets]
            ways.append(("multiply(out=)", lambda i: cp.multiply(nat[i][0], ALPHA, out=nat[i][1])))
        return ways

    def op_fill(self, shape, dtype, copies):
        outs = [self.empty(shape, dtype) for _ in range(copies)]
        value = FILL_VALUE if dtype != "bf16" else 0x3F00  # bf16 bits of 0.5
        k = self.kernel("fill", dtype, "float32 v", "D out", "out = ST(v)")
        return [
            ("ndarray.fill", lambda i: outs[i].fill(value)),
            ("ElementwiseKernel", lambda i: k(FILL_VALUE, outs[i])),
        ]

    def _axpy(self, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.rand(shape, dtype)) for _ in range(copies)]
        if dtype == "f64":
            k = self.kernel("axpy", dtype, "D x, float64 alpha", "D y", "y = fma(alpha, x, y)")
        else:
            k = self.kernel("axpy", dtype, "D x, float32 alpha", "D y", "y = ST(fmaf(alpha, LD(x), LD(y)))")
        ways = [("ElementwiseKernel", lambda i: k(sets[i][0], ALPHA, sets[i][1]))]
        if self.native(sets[0][0], dtype) is not None:
            nat = [tuple(self.native(a, dtype) for a in s) for s in sets]

            def expr(i):
                x, y = nat[i]
                y += ALPHA * x

            ways.append(("y += alpha * x", expr))
        return ways

    def op_saxpy(self, shape, dtype, copies):
        return self._axpy(shape, dtype, copies)

    def op_axpy(self, shape, dtype, copies):
        return self._axpy(shape, dtype, copies)

    def _map(self, op, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.empty(shape, dtype)) for _ in range(copies)]
        k = self.kernel(op, dtype, "D x", "D out", f"float v = LD(x); out = ST({MAP_BODY[op]})")
        ways = [("ElementwiseKernel", lambda i: k(*sets[i]))]
        if self.native(sets[0][0], dtype) is None:
            return ways
        nat = [tuple(self.native(a, dtype) for a in s) for s in sets]

        if op == "relu":
            ways.append(("maximum(out=)", lambda i: cp.maximum(nat[i][0], 0, out=nat[i][1])))
        elif op == "exp":
            ways.append(("exp(out=)", lambda i: cp.exp(nat[i][0], out=nat[i][1])))
        elif op == "tanh":
            ways.append(("tanh(out=)", lambda i: cp.tanh(nat[i][0], out=nat[i][1])))
        elif op == "sigmoid":
            def sigmoid(i):
                x, o = nat[i]
                cp.divide(1, 1 + cp.exp(-x), out=o)

            ways.append(("1 / (1 + exp(-x))", sigmoid))
        elif op == "gelu":
            def gelu(i):
                x, o = nat[i]
                cp.multiply(0.5 * x, 1 + cp.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)), out=o)

            ways.append(("expression", gelu))
        return ways

    def op_relu(self, shape, dtype, copies):
        return self._map("relu", shape, dtype, copies)

    def op_gelu(self, shape, dtype, copies):
        return self._map("gelu", shape, dtype, copies)

    def op_sigmoid(self, shape, dtype, copies):
        return self._map("sigmoid", shape, dtype, copies)

    def op_exp(self, shape, dtype, copies):
        return self._map("exp", shape, dtype, copies)

    def op_tanh(self, shape, dtype, copies):
        return self._map("tanh", shape, dtype, copies)

    # ---- reductions and scans ----------------------------------------------------------

    def _with_accelerators(self, kind, accels, fn):
        """`fn` run with CuPy's reduction or routine accelerators set to `accels`."""
        from cupy._core import _accelerator as acc

        get = getattr(acc, f"get_{kind}_accelerators")
        set_ = getattr(acc, f"set_{kind}_accelerators")

        def run(i):
            saved = get()
            set_(accels)
            try:
                fn(i)
            finally:
                set_(saved)

        return run

    def _reduce_ways(self, name, fn):
        """The default CuPy path, and with CUB on and off for reductions."""
        ways = [(name, fn)]
        try:
            ways.append((name + " [cub]", self._with_accelerators("reduction", ["cub"], fn)))
            ways.append((name + " [no accelerator]", self._with_accelerators("reduction", [], fn)))
        except Exception:
            pass
        return ways

    def _reduction(self, op, shape, dtype, copies):
        cp = self.cp
        xs = [self.rand(shape, dtype) for _ in range(copies)]
        if op == "argmax":
            out = cp.empty((), dtype=cp.int64)
            return self._reduce_ways("argmax(out=)", lambda i: cp.argmax(xs[i], out=out))
        out = cp.empty((), dtype=cp.float32)
        if op in ("sum", "min", "max"):
            f = {"sum": cp.sum, "min": cp.min, "max": cp.max}[op]
            return self._reduce_ways(f"{op}(out=)", lambda i: f(xs[i], out=out))
        # l2_norm
        rk = cp.ReductionKernel("float32 x", "float32 y", "x * x", "a + b", "y = sqrt(a)", "0",
                                "gpukit_baseline_l2_norm")
        ways = [("linalg.norm", lambda i: cp.linalg.norm(xs[i])),
                ("ReductionKernel", lambda i: rk(xs[i], out=out))]
        try:
            import cupy.cublas as cb

            ways.append(("cublas.nrm2", lambda i: cb.nrm2(xs[i], out=out)))
        except Exception:
            pass
        return ways

    def op_sum(self, shape, dtype, copies):
        return self._reduction("sum", shape, dtype, copies)

    def op_min(self, shape, dtype, copies):
        return self._reduction("min", shape, dtype, copies)

    def op_max(self, shape, dtype, copies):
        return self._reduction("max", shape, dtype, copies)

    def op_argmax(self, shape, dtype, copies):
        return self._reduction("argmax", shape, dtype, copies)

    def op_l2_norm(self, shape, dtype, copies):
        return self._reduction("l2_norm", shape, dtype, copies)

    def op_dot(self, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.rand(shape, dtype)) for _ in range(copies)]
        out = cp.empty((), dtype=cp.float32)
        rk = cp.ReductionKernel("float32 x, float32 y", "float32 z", "x * y", "a + b", "z = a", "0",
                                "gpukit_baseline_dot")
        ways = [("dot(out=)", lambda i: cp.dot(sets[i][0], sets[i][1], out=out)),
                ("ReductionKernel", lambda i: rk(sets[i][0], sets[i][1], out=out))]
        try:
            import cupy.cublas as cb

            ways.append(("cublas.dot", lambda i: cb.dot(sets[i][0], sets[i][1], out=out)))
        except Exception:
            pass
        return ways

    def _scan_ways(self, name, fn):
        ways = [(name, fn)]
        try:
            ways.append((name + " [cub]", self._with_accelerators("routine", ["cub"], fn)))
        except Exception:
            pass
        return ways

    def op_inclusive_scan(self, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.empty(shape, dtype)) for _ in range(copies)]
        return self._scan_ways("cumsum(out=)", lambda i: cp.cumsum(sets[i][0], out=sets[i][1]))

    def op_exclusive_scan(self, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.empty(shape, dtype)) for _ in range(copies)]

        def exclusive(i):
            x, o = sets[i]
            o[:1].fill(0)
            cp.cumsum(x[:-1], out=o[1:])

        return self._scan_ways("out[0] = 0; cumsum(x[:-1], out=out[1:])", exclusive)

    # ---- rows, transpose, GEMV, GEMM ---------------------------------------------------

    def _softmax_bf16(self, log, sets):
        """bf16 rows held as uint16 bits: fused kernels that compute in f32 (and, when this CuPy
        has a bfloat16 dtype, the cupyx function and the expression on it)."""
        cp = self.cp
        tag = "log" if log else "exp"
        row_max = cp.ReductionKernel("uint16 x", "float32 m", "bf2f(x)", "fmaxf(a, b)", "m = a",
                                     "-3.402823466e+38f", "gpukit_baseline_row_max_bf16",
                                     reduce_type="float", preamble=BF16_PREAMBLE)
        sum_exp = cp.ReductionKernel("uint16 x, float32 m", "float32 s", "expf(bf2f(x) - m)",
                                     "a + b", "s = a", "0", "gpukit_baseline_sum_exp_bf16",
                                     reduce_type="float", preamble=BF16_PREAMBLE)
        body = "y = f2bf(bf2f(x) - m - logf(s))" if log else "y = f2bf(expf(bf2f(x) - m) / s)"
        final = cp.ElementwiseKernel("uint16 x, float32 m, float32 s", "uint16 y", body,
                                     "gpukit_baseline_softmax_bf16_" + tag, preamble=BF16_PREAMBLE)

        def fused(i):
            x, o = sets[i]
            m = row_max(x, axis=1, keepdims=True)
            s = sum_exp(x, m, axis=1, keepdims=True)
            final(x, m, s, o)

        ways = [("max + ReductionKernel + ElementwiseKernel (bf16 bits)", fused)]
        if self.native(sets[0][0], "bf16") is None:
            return ways
        nat = [tuple(self.native(a, "bf16") for a in s) for s in sets]
        try:
            import cupyx.scipy.special as sp

            f = sp.log_softmax if log else sp.softmax
            ways.append((f"cupyx.scipy.special.{f.__name__}", lambda i: f(nat[i][0], axis=1)))
        except Exception:
            pass

        def expression(i):
            x, o = nat[i]
            m = x.max(axis=1, keepdims=True)
            cp.subtract(x, m, out=o)
            if log:
                o -= cp.log(cp.exp(o).sum(axis=1, keepdims=True))
            else:
                cp.exp(o, out=o)
                o /= o.sum(axis=1, keepdims=True)

        ways.append(("expression", expression))
        return ways

    def _softmax(self, log, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.empty(shape, dtype)) for _ in range(copies)]
        if dtype == "bf16":
            return self._softmax_bf16(log, sets)
        ways = []
        try:
            import cupyx.scipy.special as sp

            f = sp.log_softmax if log else sp.softmax
            ways.append((f"cupyx.scipy.special.{f.__name__}", lambda i: f(sets[i][0], axis=1)))
        except Exception:
            pass

        def expression(i):
            x, o = sets[i]
            m = x.max(axis=1, keepdims=True)
            cp.subtract(x, m, out=o)
            if log:
                o -= cp.log(cp.exp(o).sum(axis=1, keepdims=True))
            else:
                cp.exp(o, out=o)
                o /= o.sum(axis=1, keepdims=True)

        ways.append(("expression", expression))
        sum_exp = cp.ReductionKernel("float32 x, float32 m", "float32 s", "expf(x - m)", "a + b",
                                     "s = a", "0", "gpukit_baseline_sum_exp")
        body = "y = x - m - logf(s)" if log else "y = expf(x - m) / s"
        final = cp.ElementwiseKernel("float32 x, float32 m, float32 s", "float32 y", body,
                                     "gpukit_baseline_softmax_" + ("log" if log else "exp"))

        def fused(i):
            x, o = sets[i]
            m = x.max(axis=1, keepdims=True)
            s = sum_exp(x, m, axis=1, keepdims=True)
            final(x, m, s, o)

        ways.append(("max + ReductionKernel + ElementwiseKernel", fused))
        return ways

    def op_softmax(self, shape, dtype, copies):
        return self._softmax(False, shape, dtype, copies)

    def op_log_softmax(self, shape, dtype, copies):
        return self._softmax(True, shape, dtype, copies)

    def op_transpose(self, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.empty(shape[::-1], dtype)) for _ in range(copies)]
        return [
            ("copyto(out, x.T)", lambda i: cp.copyto(sets[i][1], sets[i][0].T)),
            ("ascontiguousarray(x.T)", lambda i: cp.ascontiguousarray(sets[i][0].T)),
        ]

    def op_gemv(self, shape, dtype, copies):
        cp = self.cp
        m, n = shape
        sets = [(self.rand((m, n), dtype), self.rand((n,), dtype), self.empty((m,), dtype))
                for _ in range(copies)]
        return [
            ("matmul(out=)", lambda i: cp.matmul(sets[i][0], sets[i][1], out=sets[i][2])),
            ("dot(out=)", lambda i: cp.dot(sets[i][0], sets[i][1], out=sets[i][2])),
        ]

    def op_sgemm(self, shape, dtype, copies):
        cp = self.cp
        m, n, k = shape
        a, b, c = self.rand((m, k), dtype), self.rand((k, n), dtype), self.empty((m, n), dtype)
        return [
            ("matmul(out=)", lambda i: cp.matmul(a, b, out=c)),
            ("dot(out=)", lambda i: cp.dot(a, b, out=c)),
        ]

    def _gemm_ex(self, a, b, c, m, n, k, dtype):
        """cublasGemmEx with f32 accumulation on row-major a (m x k), b (k x n), c (m x n):
        column-major C^T = B^T A^T."""
        from cupy_backends.cuda.libs import cublas

        np = self.np
        data_type = {"f16": 2, "bf16": 14}[dtype]  # CUDA_R_16F, CUDA_R_16BF
        compute = getattr(cublas, "CUBLAS_COMPUTE_32F", 68)
        algo = getattr(cublas, "CUBLAS_GEMM_DEFAULT", -1)
        op_n = getattr(cublas, "CUBLAS_OP_N", 0)
        one = np.array(1.0, dtype=np.float32)
        zero = np.array(0.0, dtype=np.float32)
        handle = self.cp.cuda.device.get_cublas_handle()

        def run(i):
            cublas.setStream(handle, self.stream.ptr)
            cublas.setPointerMode(handle, getattr(cublas, "CUBLAS_POINTER_MODE_HOST", 0))
            cublas.gemmEx(handle, op_n, op_n, n, m, k, one.ctypes.data, b.data.ptr, data_type, n,
                          a.data.ptr, data_type, k, zero.ctypes.data, c.data.ptr, data_type, n,
                          compute, algo)

        return run

    def _check_gemm(self, a, b, c, dtype):
        """A few elements of c against an f32 product, to catch a wrong layout."""
        cp = self.cp
        f = (lambda x: self.bf16_bits_to_f32(x)) if dtype == "bf16" else (lambda x: x.astype(cp.float32))
        want = f(a[:2]) @ f(b[:, :8])
        got = f(c[:2, :8])
        if not bool(cp.allclose(got, want, rtol=2e-2, atol=2e-1)):
            raise RuntimeError("gemmEx result differs from the f32 product")

    def op_gemm(self, shape, dtype, copies):
        cp = self.cp
        m, n, k = shape
        a, b, c = self.rand((m, k), dtype), self.rand((k, n), dtype), self.empty((m, n), dtype)
        ex = self._gemm_ex(a, b, c, m, n, k, dtype)

        def checked_once(i, state={"checked": False}):
            ex(i)
            if not state["checked"]:
                self.stream.synchronize()
                self._check_gemm(a, b, c, dtype)
                state["checked"] = True

        ways = [("cublasGemmEx (f32 accumulate)", checked_once)]
        na, nb, nc = self.native(a, dtype), self.native(b, dtype), self.native(c, dtype)
        if na is not None:
            ways.append(("matmul(out=)", lambda i: cp.matmul(na, nb, out=nc)))
        return ways


def parse_args(argv):
    p = argparse.ArgumentParser(description="CuPy baseline for gpukit's kernel suite")
    p.add_argument("--quick", action="store_true", help="smaller sizes (as gpukit --quick)")
    p.add_argument("--size", type=int, help="elements of the vector ops")
    p.add_argument("--only", default="", help='comma-separated substrings of "op/dtype"')
    p.add_argument("--device", type=int, default=0)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, help="timed runs (default 20, 5 with --quick)")
    p.add_argument("--out", default="results/cupy.json", help="JSON file to write")
    p.add_argument("--list", action="store_true", help='print "op size dtype" lines and exit')
    a = p.parse_args(argv)
    if a.reps is None:
        a.reps = 5 if a.quick else 20
    if a.size is not None and a.size < 2:
        p.error("--size must be at least 2")
    a.reps = max(1, a.reps)
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = dict(SIZES["quick" if args.quick else "default"])
    if args.size is not None:
        sizes["vector"] = args.size
    items = [it for it in plan(sizes) if matches_only(args.only, it[0], it[2])]
    if args.list:
        for op, shape, dtype in items:
            print(op, label(shape), dtype)
        return 0
    try:
        import cupy as cp
        import numpy as np

        bench = Bench(cp, np, args)
    except Exception as e:
        log(f"cupy_baseline: no usable CuPy or GPU: {type(e).__name__}: {e}")
        return 3
    cuda = cp.cuda.runtime.driverGetVersion()
    cuda = f"CUDA {cuda // 1000}.{cuda % 1000 // 10}"
    module = nvidia_driver_version()
    doc = {
        "device": bench.device_name,
        "driver": f"{module} ({cuda})" if module else cuda,
        "cupy_version": cp.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bf16_dtype": bench.bf16 is not None,
        "warmup": args.warmup,
        "reps": args.reps,
        "results": [],
        "skipped": [],
    }
    log(f"cupy_baseline: CuPy {cp.__version__} on {bench.device_name}, {len(items)} ops"
        f"{'' if bench.bf16 is not None else ' (bf16 as uint16 bits: no bfloat16 dtype)'}")
    pool = cp.get_default_memory_pool()
    start = time.time()
    for i, (op, shape, dtype) in enumerate(items):
        tag = f"[{i + 1}/{len(items)}] {op} {label(shape)} {dtype}"
        try:
            r = bench.run(op, shape, dtype)
            doc["results"].append(r)
            log(f"{tag}: {r['median_ms']:.4f} ms ({r['impl']})")
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"
            doc["skipped"].append({"op": op, "size": label(shape), "dtype": dtype, "reason": reason})
            log(f"{tag}: SKIPPED: {reason}")
        finally:
            bench.stream.synchronize()
            pool.free_all_blocks()
    doc["elapsed_s"] = round(time.time() - start, 1)
    out_dir = os.path.dirname(args.out)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    log(f"cupy_baseline: {len(doc['results'])} ops timed, {len(doc['skipped'])} skipped, "
        f"{doc['elapsed_s']} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
