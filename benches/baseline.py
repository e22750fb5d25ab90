#!/usr/bin/env python3
"""CuPy and PyTorch baselines for gpukit's kernel suite.

Runs the same operations as the main program (`gpukit`), at the same sizes, on the same kind of
inputs (uniform random in [-1, 1), f16/bf16 rounded from f32 draws), with the same timing
method (CUDA events around each run on one stream, warm-up runs, then the median of
the timed runs; several input sets rotated when one would fit in L2), and writes JSON:

    {device, driver, cupy_version, torch_version, date,
     results: [{op, size, dtype, median_ms, min_ms, max_ms, impl, candidates, library}],  (CuPy)
     skipped: [{op, size, dtype, reason}],                                               (CuPy)
     torch_results: [...same...], torch_skipped: [...same...]}                           (torch)

Both libraries time every op, one op at a time (CuPy, then torch, then the next op), so both
see the same clocks. A library that is missing or has no GPU gets an empty column (`--libs`
picks them; exit 3 only when neither is usable). torch writes each op with its fused function
where there is one (torch.softmax, F.layer_norm, F.rms_norm, torch.cumsum, F.gelu,
F.cross_entropy), GEMM through cuBLAS (torch.matmul / F.linear; allow_tf32 only for
gemm_tf32; torch._scaled_mm for FP8); torch.compile is not used.

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
                  sizes M x N x K: 8192^3 (f16, bf16), 4096^3 (f16, bf16), and bf16 at
                  4096x14336x4096, 4096x4096x14336, 16384x4096x4096, 2048^3, 128x4096x4096
  gemm_tf32       C = A B, f32 in/out on TF32 tensor cores, 8192^3              f32
  gemm_fp8_e4m3   C = (sa A)(sb B), e4m3 x e4m3, per-tensor scales, bf16 out,
                  8192^3 (the dtype key is the output type)                     bf16
  gemm_bias_gelu  C = gelu_tanh(A B + bias[n]), 8192^3 (baselines: cuBLAS GEMM,
                  then a separate bias-GELU)                                    bf16
  gelu_fast sigmoid_fast exp_fast tanh_fast
                  gpukit's Accuracy::Fast maps; the baselines time their one
                  (accurate) way again under these keys                         f32
  inclusive_scan exclusive_scan also over integers (u32 = the i32 bits)       i32 u32
  bias_gelu       out = gelu_tanh(x + bias[col]), rows x cols                  f32 bf16
  layer_norm      (x - mean) / sqrt(var + 1e-5) * w + b per row               f32 bf16
  rms_norm        x / sqrt(mean(x^2) + 1e-5) * w per row                       f32 bf16
  add_rms_norm    sum = x + r, out = rms_norm(sum)                             f32 bf16
  cross_entropy   loss[r] = logsumexp(x[r]) - x[r][t[r]] (per row, no reduction),
                  at the vocabulary shape 2048x151936                          f32 bf16
  transpose       also a tall 65536x4096                                       f32

Case keys: (op, size, dtype) above is the key the main program looks up, with op = the suite
case's cupy_op() (its name by default), size = size_label(shape), dtype = Dtype::name().

Usage: python3 benches/baseline.py [--quick] [--size N] [--only PATTERN] [--device N]
       [--warmup N] [--reps N] [--out FILE] [--libs cupy,torch] [--list]
Exit status: 0 when the JSON was written (ops that failed are listed under "skipped" and
"torch_skipped"), 2 for bad arguments, 3 when neither CuPy nor torch is usable with a GPU.
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
                "gemv": 16384, "gemm": 8192, "stencil": 8192},
    "quick": {"vector": 1 << 24, "rows": (8192, 4096), "vocab": (256, 151936), "transpose": 4096,
              "gemv": 4096, "gemm": 2048, "stencil": 2048},
}
ALPHA = 1.5
FILL_VALUE = 0.5
FLOATS = ("f32", "f16", "bf16")
BINARY = ("add", "sub", "mul", "div")
MAPS = ("relu", "gelu", "sigmoid", "exp", "tanh")
REDUCTIONS = ("sum", "min", "max", "argmax", "dot", "l2_norm")
# gpukit's Accuracy::Fast maps: the baselines have one (accurate) way, timed again under this key.
FAST_MAPS = ("gelu", "sigmoid", "exp", "tanh")
# Row ops at `rows` (weights of `cols` elements; LayerNorm with a bias too; eps 1e-5).
ROW_OPS = ("bias_gelu", "layer_norm", "rms_norm", "add_rms_norm")
GEMM_SHAPES = ((4096, 4096, 4096), (8192, 8192, 8192), (4096, 14336, 4096), (4096, 4096, 14336),
               (16384, 4096, 4096), (2048, 2048, 2048), (128, 4096, 4096))
EPS = 1e-5
ITEM = {"f32": 4, "f16": 2, "bf16": 2, "f64": 8, "i32": 4, "u32": 4}


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
    items += [(op + "_fast", v, "f32") for op in FAST_MAPS]
    items += [(op, v, "f32") for op in REDUCTIONS]
    for op in ("inclusive_scan", "exclusive_scan"):
        items += [(op, v, dt) for dt in ("f32", "i32", "u32")]
    rows = tuple(sizes["rows"])
    vocab = tuple(sizes["vocab"])
    for shape in (rows, vocab):
        items += [(op, shape, dt) for op in ("softmax", "log_softmax") for dt in ("f32", "bf16")]
    for op in ROW_OPS:
        items += [(op, rows, dt) for dt in ("f32", "bf16")]
    items += [("cross_entropy", vocab, dt) for dt in ("f32", "bf16")]
    t = sizes["transpose"]
    items.append(("transpose", (t, t), "f32"))
    items.append(("transpose", rows, "f32"))
    g = sizes["gemv"]
    items.append(("gemv", (g, g), "f32"))
    m = sizes["gemm"]
    items.append(("sgemm", (m, m, m), "f32"))
    items += [("gemm", (m, m, m), dt) for dt in ("f16", "bf16")]
    # The Hopper GEMM issue's shapes (M, N, K), at every --quick/--size setting (the suite's
    # GEMM cases may use fixed shapes).
    items += [("gemm", s, dt) for s in ((4096, 4096, 4096), (8192, 8192, 8192))
              for dt in ("f16", "bf16") if s != (m, m, m)]
    items += [("gemm", s, "bf16") for s in GEMM_SHAPES
              if s not in ((4096, 4096, 4096), (8192, 8192, 8192), (m, m, m))]
    for op, dt in (("gemm_tf32", "f32"), ("gemm_fp8_e4m3", "bf16"), ("gemm_bias_gelu", "bf16")):
        items += [(op, (m, m, m), dt)]
        if m != 8192:
            items += [(op, (8192, 8192, 8192), dt)]
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
    if op.startswith("gemm") or op == "sgemm":
        return None
    if dtype in ("i32", "u32"):
        s = 4
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
        "log_softmax": 2, "transpose": 2, "bias_gelu": 2, "layer_norm": 2, "rms_norm": 2,
        "add_rms_norm": 4, "cross_entropy": 1,
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
        """Uniform [lo, hi) in `dtype`: f32 draws, rounded for f16, bf16 bit patterns;
        i32/u32: integers in [-1000, 1000) (u32: the same 32-bit patterns)."""
        if dtype in ("i32", "u32"):
            self.seed += 1
            rs = self.cp.random.RandomState(self.seed)
            x = rs.randint(-1000, 1000, shape).astype(self.cp.int32)
            return x if dtype == "i32" else x.view(self.cp.uint32)
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
             "f64": self.cp.float64, "i32": self.cp.int32, "u32": self.cp.uint32}[dtype]
        if dtype in ("i32", "u32"):
            return self.cp.zeros(shape, dtype=t)
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

    def op_gelu_fast(self, shape, dtype, copies):
        return self._map("gelu", shape, dtype, copies)

    def op_sigmoid_fast(self, shape, dtype, copies):
        return self._map("sigmoid", shape, dtype, copies)

    def op_exp_fast(self, shape, dtype, copies):
        return self._map("exp", shape, dtype, copies)

    def op_tanh_fast(self, shape, dtype, copies):
        return self._map("tanh", shape, dtype, copies)

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
        return self._scan_ways("cumsum(out=)", lambda i: cp.cumsum(sets[i][0], dtype=sets[i][0].dtype, out=sets[i][1]))

    def op_exclusive_scan(self, shape, dtype, copies):
        cp = self.cp
        sets = [(self.rand(shape, dtype), self.empty(shape, dtype)) for _ in range(copies)]

        def exclusive(i):
            x, o = sets[i]
            o[:1].fill(0)
            cp.cumsum(x[:-1], dtype=x.dtype, out=o[1:])

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

    # ---- row ops of the transformer block (CuPy expressions; bf16 only with a bf16 dtype) --

    def _row_inputs(self, shape, dtype, copies, n_inputs=1):
        """Per set: n_inputs native arrays of `shape` (None when bf16 has no CuPy dtype)."""
        sets = []
        for _ in range(copies):
            arrs = [self.native(self.rand(shape, dtype), dtype) for _ in range(n_inputs)]
            if any(a is None for a in arrs):
                raise RuntimeError("this CuPy has no bfloat16 dtype")
            sets.append(arrs)
        return sets

    def op_bias_gelu(self, shape, dtype, copies):
        cp = self.cp
        sets = self._row_inputs(shape, dtype, copies)
        bias = self._row_inputs((shape[1],), dtype, 1)[0][0]
        k = cp.ElementwiseKernel(
            "T x, T b", "T y",
            "float v = (float)x + (float)b; "
            "y = (T)(0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v))))",
            "gpukit_baseline_bias_gelu")
        return [("ElementwiseKernel gelu(x + bias)", lambda i: k(sets[i][0], bias))]

    def op_layer_norm(self, shape, dtype, copies):
        cp = self.cp
        sets = self._row_inputs(shape, dtype, copies)
        w, b = self._row_inputs((shape[1],), dtype, 1, 2)[0]

        def expr(i):
            x = sets[i][0].astype(cp.float32)
            mean = x.mean(axis=-1, keepdims=True)
            var = x.var(axis=-1, keepdims=True)
            return ((x - mean) / cp.sqrt(var + EPS) * w + b).astype(sets[i][0].dtype)

        return [("expression (f32 math)", expr)]

    def op_rms_norm(self, shape, dtype, copies):
        cp = self.cp
        sets = self._row_inputs(shape, dtype, copies)
        w = self._row_inputs((shape[1],), dtype, 1)[0][0]

        def expr(i):
            x = sets[i][0].astype(cp.float32)
            ms = cp.mean(x * x, axis=-1, keepdims=True)
            return (x / cp.sqrt(ms + EPS) * w).astype(sets[i][0].dtype)

        return [("expression (f32 math)", expr)]

    def op_add_rms_norm(self, shape, dtype, copies):
        cp = self.cp
        sets = self._row_inputs(shape, dtype, copies, 2)
        w = self._row_inputs((shape[1],), dtype, 1)[0][0]

        def expr(i):
            s = sets[i][0] + sets[i][1]
            x = s.astype(cp.float32)
            ms = cp.mean(x * x, axis=-1, keepdims=True)
            return (x / cp.sqrt(ms + EPS) * w).astype(s.dtype)

        return [("x + r, then expression (f32 math)", expr)]

    def op_cross_entropy(self, shape, dtype, copies):
        cp = self.cp
        sets = self._row_inputs(shape, dtype, copies)
        self.seed += 1
        t = cp.random.RandomState(self.seed).randint(0, shape[1], shape[0]).astype(cp.int64)
        rows = cp.arange(shape[0])

        def expr(i):
            x = sets[i][0].astype(cp.float32)
            m = x.max(axis=-1, keepdims=True)
            lse = cp.log(cp.exp(x - m).sum(axis=-1)) + m[:, 0]
            return lse - x[rows, t]

        return [("logsumexp expression - x[target] (f32 math)", expr)]

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


class TorchBench:
    """The same ops through PyTorch: each written with torch's fused function where there is
    one (torch.softmax, F.layer_norm, F.rms_norm, torch.cumsum, F.gelu, F.cross_entropy), cuBLAS
    through torch.matmul / F.linear for GEMM (TF32 only for gemm_tf32, via allow_tf32), and
    torch._scaled_mm for FP8. Timed like `Bench.time`: CUDA events on torch's current stream."""

    def __init__(self, torch, args):
        self.torch = torch
        self.F = torch.nn.functional
        self.args = args
        self.dev = torch.device("cuda", args.device)
        torch.cuda.set_device(self.dev)
        props = torch.cuda.get_device_properties(self.dev)
        self.device_name = props.name
        self.l2 = int(getattr(props, "L2_cache_size", 0) or 0)
        self.seed = 1
        self.dt = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16,
                   "f64": torch.float64, "i32": torch.int32, "u32": torch.int32}
        torch.backends.cuda.matmul.allow_tf32 = False

    def gen(self):
        self.seed += 1
        return self.torch.Generator(device=self.dev).manual_seed(self.seed)

    def rand(self, shape, dtype, lo=-1.0, hi=1.0):
        """Uniform [lo, hi) drawn in f32 and rounded to `dtype` (as the CuPy side);
        i32/u32: integers in [-1000, 1000) (u32 as the same 32-bit patterns)."""
        torch = self.torch
        if dtype in ("i32", "u32"):
            return torch.randint(-1000, 1000, shape, generator=self.gen(), device=self.dev,
                                 dtype=torch.int32)
        x = torch.rand(shape, generator=self.gen(), device=self.dev, dtype=torch.float32)
        return (x * (hi - lo) + lo).to(self.dt[dtype])

    def empty(self, shape, dtype):
        return self.torch.empty(shape, dtype=self.dt[dtype], device=self.dev)

    def time(self, fn, copies):
        torch = self.torch
        warmup, reps = self.args.warmup, self.args.reps
        stream = torch.cuda.current_stream(self.dev)
        for i in range(warmup):
            fn(i % copies)
        torch.cuda.synchronize(self.dev)
        events = []
        for i in range(reps):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record(stream)
            fn((warmup + i) % copies)
            end.record(stream)
            events.append((start, end))
        torch.cuda.synchronize(self.dev)
        times = sorted(s.elapsed_time(e) for s, e in events)
        mid = len(times) // 2
        median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
        return median, times[0], times[-1]

    run = Bench.run

    def free(self):
        self.torch.cuda.synchronize(self.dev)
        self.torch.cuda.empty_cache()

    # ---- element-wise ------------------------------------------------------------------

    def _sets(self, copies, *makers):
        return [tuple(m() for m in makers) for _ in range(copies)]

    def op_copy(self, shape, dtype, copies):
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.empty(shape, dtype))
        return [("out.copy_(x)", lambda i: sets[i][1].copy_(sets[i][0]))]

    def _binary(self, op, shape, dtype, copies):
        torch = self.torch
        lo = 0.5 if op == "div" else -1.0
        hi = 1.5 if op == "div" else 1.0
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.rand(shape, dtype, lo, hi),
                          lambda: self.empty(shape, dtype))
        f = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op]
        return [(f"torch.{op}(out=)", lambda i: f(sets[i][0], sets[i][1], out=sets[i][2])),
                (f"a {BINARY_OP[op]} b", lambda i: f(sets[i][0], sets[i][1]))]

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
        torch = self.torch
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.empty(shape, dtype))
        return [("torch.mul(x, 1.5, out=)", lambda i: torch.mul(sets[i][0], ALPHA, out=sets[i][1]))]

    def op_fill(self, shape, dtype, copies):
        sets = self._sets(copies, lambda: self.empty(shape, dtype))
        return [("out.fill_(0.5)", lambda i: sets[i][0].fill_(FILL_VALUE))]

    def _axpy(self, shape, dtype, copies):
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.rand(shape, dtype))
        return [("y.add_(x, alpha=1.5)", lambda i: sets[i][1].add_(sets[i][0], alpha=ALPHA))]

    def op_saxpy(self, shape, dtype, copies):
        return self._axpy(shape, dtype, copies)

    def op_axpy(self, shape, dtype, copies):
        return self._axpy(shape, dtype, copies)

    def _map(self, op, shape, dtype, copies):
        torch, F = self.torch, self.F
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.empty(shape, dtype))
        if op == "relu":
            return [("torch.relu(x)", lambda i: torch.relu(sets[i][0])),
                    ("torch.clamp_min(x, 0, out=)", lambda i: torch.clamp_min(sets[i][0], 0, out=sets[i][1]))]
        if op == "gelu":
            return [("F.gelu(x, approximate='tanh')", lambda i: F.gelu(sets[i][0], approximate="tanh"))]
        f = {"sigmoid": torch.sigmoid, "exp": torch.exp, "tanh": torch.tanh}[op]
        return [(f"torch.{op}(out=)", lambda i: f(sets[i][0], out=sets[i][1])),
                (f"torch.{op}(x)", lambda i: f(sets[i][0]))]

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

    def op_gelu_fast(self, shape, dtype, copies):
        return self._map("gelu", shape, dtype, copies)

    def op_sigmoid_fast(self, shape, dtype, copies):
        return self._map("sigmoid", shape, dtype, copies)

    def op_exp_fast(self, shape, dtype, copies):
        return self._map("exp", shape, dtype, copies)

    def op_tanh_fast(self, shape, dtype, copies):
        return self._map("tanh", shape, dtype, copies)

    # ---- reductions and scans ----------------------------------------------------------

    def _reduce(self, shape, dtype, copies, ways):
        sets = self._sets(copies, lambda: self.rand(shape, dtype))
        return [(name, (lambda f: lambda i: f(sets[i][0]))(f)) for name, f in ways]

    def op_sum(self, shape, dtype, copies):
        return self._reduce(shape, dtype, copies, [("torch.sum", self.torch.sum)])

    def op_min(self, shape, dtype, copies):
        return self._reduce(shape, dtype, copies, [("torch.amin", self.torch.amin),
                                                   ("torch.min", self.torch.min)])

    def op_max(self, shape, dtype, copies):
        return self._reduce(shape, dtype, copies, [("torch.amax", self.torch.amax),
                                                   ("torch.max", self.torch.max)])

    def op_argmax(self, shape, dtype, copies):
        return self._reduce(shape, dtype, copies, [("torch.argmax", self.torch.argmax)])

    def op_l2_norm(self, shape, dtype, copies):
        return self._reduce(shape, dtype, copies, [("torch.linalg.vector_norm", self.torch.linalg.vector_norm)])

    def op_dot(self, shape, dtype, copies):
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.rand(shape, dtype))
        return [("torch.dot", lambda i: self.torch.dot(sets[i][0], sets[i][1]))]

    def op_inclusive_scan(self, shape, dtype, copies):
        torch = self.torch
        t = self.dt[dtype]
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.empty(shape, dtype))
        # u32 runs on the int32 view: the same bits (addition mod 2^32).
        return [("torch.cumsum(out=)", lambda i: torch.cumsum(sets[i][0], 0, dtype=t, out=sets[i][1]))]

    def op_exclusive_scan(self, shape, dtype, copies):
        torch = self.torch
        t = self.dt[dtype]
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.empty(shape, dtype))

        def exclusive(i):
            x, out = sets[i]
            out[:1].zero_()
            torch.cumsum(x[:-1], 0, dtype=t, out=out[1:])

        return [("out[0]=0; torch.cumsum(x[:-1], out=out[1:])", exclusive)]

    # ---- rows ----------------------------------------------------------------------------

    def _rows(self, shape, dtype, copies, fn, name):
        sets = self._sets(copies, lambda: self.rand(shape, dtype))
        return [(name, lambda i: fn(sets[i][0]))]

    def op_softmax(self, shape, dtype, copies):
        return self._rows(shape, dtype, copies, lambda x: self.torch.softmax(x, -1), "torch.softmax(x, -1)")

    def op_log_softmax(self, shape, dtype, copies):
        return self._rows(shape, dtype, copies, lambda x: self.torch.log_softmax(x, -1),
                          "torch.log_softmax(x, -1)")

    def op_bias_gelu(self, shape, dtype, copies):
        F = self.F
        bias = self.rand((shape[1],), dtype)
        return self._rows(shape, dtype, copies, lambda x: F.gelu(x + bias, approximate="tanh"),
                          "F.gelu(x + bias, approximate='tanh')")

    def op_layer_norm(self, shape, dtype, copies):
        F = self.F
        w, b = self.rand((shape[1],), dtype), self.rand((shape[1],), dtype)
        return self._rows(shape, dtype, copies, lambda x: F.layer_norm(x, (shape[1],), w, b, EPS),
                          "F.layer_norm")

    def op_rms_norm(self, shape, dtype, copies):
        F = self.F
        w = self.rand((shape[1],), dtype)
        return self._rows(shape, dtype, copies, lambda x: F.rms_norm(x, (shape[1],), w, EPS), "F.rms_norm")

    def op_add_rms_norm(self, shape, dtype, copies):
        torch, F = self.torch, self.F
        w = self.rand((shape[1],), dtype)
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.rand(shape, dtype),
                          lambda: self.empty(shape, dtype))

        def run(i):
            x, r, s = sets[i]
            torch.add(x, r, out=s)
            F.rms_norm(s, (shape[1],), w, EPS)

        return [("torch.add(out=sum) + F.rms_norm(sum)", run)]

    def op_cross_entropy(self, shape, dtype, copies):
        torch, F = self.torch, self.F
        sets = self._sets(copies, lambda: self.rand(shape, dtype),
                          lambda: torch.randint(0, shape[1], (shape[0],), generator=self.gen(),
                                                device=self.dev, dtype=torch.int64))
        return [("F.cross_entropy(reduction='none')",
                 lambda i: F.cross_entropy(sets[i][0], sets[i][1], reduction="none"))]

    def op_transpose(self, shape, dtype, copies):
        sets = self._sets(copies, lambda: self.rand(shape, dtype), lambda: self.empty(shape[::-1], dtype))
        return [("out.copy_(x.t())", lambda i: sets[i][1].copy_(sets[i][0].t())),
                ("x.t().contiguous()", lambda i: sets[i][0].t().contiguous())]

    # ---- GEMV and GEMM (cuBLAS) ----------------------------------------------------------

    def op_gemv(self, shape, dtype, copies):
        torch = self.torch
        m, n = shape
        sets = self._sets(copies, lambda: self.rand((m, n), dtype), lambda: self.rand((n,), dtype),
                          lambda: self.empty((m,), dtype))
        return [("torch.mv(out=)", lambda i: torch.mv(sets[i][0], sets[i][1], out=sets[i][2]))]

    def _check(self, got, want, what):
        """A corner of a product against the f32 one, to catch a wrong layout."""
        if not bool(self.torch.allclose(got.float(), want.float(), rtol=3e-2, atol=3e-1)):
            raise RuntimeError(f"{what}: result differs from the f32 product")

    def _matmul_ways(self, a, b, c, what):
        """torch.matmul into c (A row-major m x k, B row-major k x n, as gpukit) and F.linear
        with B stored n x k (the nn.Linear weight layout), each checked once."""
        torch, F = self.torch, self.F
        bt = b.t().contiguous()
        corner = (a[:2].float() @ b[:, :8].float())

        def checked(fn):
            state = {"checked": False}

            def run(i):
                out = fn()
                if not state["checked"]:
                    torch.cuda.synchronize(self.dev)
                    self._check(out[:2, :8], corner, what)
                    state["checked"] = True
            return run

        return [("torch.matmul(out=)", checked(lambda: torch.matmul(a, b, out=c))),
                ("F.linear(a, B^T stored n x k)", checked(lambda: F.linear(a, bt)))]

    def op_sgemm(self, shape, dtype, copies):
        m, n, k = shape
        self.torch.backends.cuda.matmul.allow_tf32 = False
        return self._matmul_ways(self.rand((m, k), dtype), self.rand((k, n), dtype),
                                 self.empty((m, n), dtype), "sgemm")

    def op_gemm(self, shape, dtype, copies):
        m, n, k = shape
        return self._matmul_ways(self.rand((m, k), dtype), self.rand((k, n), dtype),
                                 self.empty((m, n), dtype), "gemm")

    def op_gemm_tf32(self, shape, dtype, copies):
        torch = self.torch
        m, n, k = shape
        ways = self._matmul_ways(self.rand((m, k), "f32"), self.rand((k, n), "f32"),
                                 self.empty((m, n), "f32"), "gemm_tf32")

        def tf32(fn):
            def run(i):
                torch.backends.cuda.matmul.allow_tf32 = True
                try:
                    fn(i)
                finally:
                    torch.backends.cuda.matmul.allow_tf32 = False
            return run

        return [(name + " allow_tf32", tf32(fn)) for name, fn in ways]

    def op_gemm_fp8_e4m3(self, shape, dtype, copies):
        """e4m3 x e4m3 with per-tensor scales, bf16 out: torch._scaled_mm (cuBLASLt). B is
        column-major (stored n x k), as _scaled_mm requires."""
        torch = self.torch
        m, n, k = shape
        e4m3 = torch.float8_e4m3fn
        a = self.rand((m, k), "f32").to(e4m3)
        b = self.rand((n, k), "f32").to(e4m3).t()
        sa = torch.tensor(1.0, device=self.dev)
        sb = torch.tensor(1.0, device=self.dev)
        corner = a[:2].float() @ b[:, :8].float()

        def way(fast_accum):
            state = {"checked": False}

            def run(i):
                out = torch._scaled_mm(a, b, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16,
                                       use_fast_accum=fast_accum)
                if not state["checked"]:
                    torch.cuda.synchronize(self.dev)
                    self._check(out[:2, :8], corner, "gemm_fp8_e4m3")
                    state["checked"] = True
            return run

        return [("torch._scaled_mm (per-tensor scales, bf16 out)", way(False)),
                ("torch._scaled_mm (per-tensor scales, bf16 out, use_fast_accum)", way(True))]

    def op_gemm_bias_gelu(self, shape, dtype, copies):
        """cuBLAS GEMM, then torch's bias-GELU as separate work (what a model does without
        torch.compile); addmm puts the bias in cuBLASLt's epilogue, GELU stays separate."""
        torch, F = self.torch, self.F
        m, n, k = shape
        a, b = self.rand((m, k), dtype), self.rand((k, n), dtype)
        bias = self.rand((n,), dtype)
        c = self.empty((m, n), dtype)
        bt = b.t().contiguous()
        return [
            ("torch.matmul(out=) + F.gelu(c + bias)",
             lambda i: F.gelu(torch.matmul(a, b, out=c) + bias, approximate="tanh")),
            ("torch.matmul(out=) + F.gelu(c.add_(bias))",
             lambda i: F.gelu(torch.matmul(a, b, out=c).add_(bias), approximate="tanh")),
            ("torch.addmm(bias) + F.gelu", lambda i: F.gelu(torch.addmm(bias, a, b), approximate="tanh")),
            ("F.linear(a, W, bias) + F.gelu", lambda i: F.gelu(F.linear(a, bt, bias), approximate="tanh")),
        ]


def parse_args(argv):
    p = argparse.ArgumentParser(description="CuPy baseline for gpukit's kernel suite")
    p.add_argument("--quick", action="store_true", help="smaller sizes (as gpukit --quick)")
    p.add_argument("--size", type=int, help="elements of the vector ops")
    p.add_argument("--only", default="", help='comma-separated substrings of "op/dtype"')
    p.add_argument("--device", type=int, default=0)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, help="timed runs (default 20, 5 with --quick)")
    p.add_argument("--out", default="results/baseline.json", help="JSON file to write")
    p.add_argument("--libs", default="cupy,torch",
                   help="comma-separated baselines to time: cupy, torch (default both)")
    p.add_argument("--list", action="store_true", help='print "op size dtype" lines and exit')
    a = p.parse_args(argv)
    if a.reps is None:
        a.reps = 5 if a.quick else 20
    if a.size is not None and a.size < 2:
        p.error("--size must be at least 2")
    a.reps = max(1, a.reps)
    a.libs = [x.strip() for x in a.libs.split(",") if x.strip()]
    bad = [x for x in a.libs if x not in ("cupy", "torch")]
    if bad or not a.libs:
        p.error(f"--libs takes cupy and/or torch, not {','.join(bad) or 'nothing'}")
    return a


def load_library(name, args):
    """(bench, version) for "cupy" or "torch", or (None, reason) when it is not usable here."""
    try:
        if name == "cupy":
            import cupy as cp
            import numpy as np

            return Bench(cp, np, args), cp.__version__
        import torch

        if not torch.cuda.is_available():
            return None, "torch has no CUDA device"
        return TorchBench(torch, args), torch.__version__
    except Exception as e:
        return None, f"{type(e).__name__}: {e}"


def time_one(bench, op, shape, dtype):
    """bench.run, or a skip entry naming why not."""
    try:
        if not hasattr(bench, "op_" + op):
            raise NotImplementedError(f"no {type(bench).__name__} formulation of {op}")
        return bench.run(op, shape, dtype), None
    except Exception as e:
        return None, {"op": op, "size": label(shape), "dtype": dtype,
                      "reason": f"{type(e).__name__}: {e}"}
    finally:
        try:
            if isinstance(bench, Bench):
                bench.stream.synchronize()
                bench.cp.get_default_memory_pool().free_all_blocks()
            else:
                bench.free()
        except Exception:
            pass


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
    libs = {}
    for name in args.libs:
        bench, version = load_library(name, args)
        if bench is None:
            log(f"baseline: {name} not usable, its column stays empty: {version}")
        else:
            libs[name] = (bench, version)
    if not libs:
        log("baseline: neither CuPy nor torch is usable with a GPU here")
        return 3
    cupy = libs.get("cupy", (None, None))[0]
    torch_bench = libs.get("torch", (None, None))[0]
    any_bench = cupy or torch_bench
    if cupy is not None:
        cuda = cupy.cp.cuda.runtime.driverGetVersion()
    else:
        cuda = torch_bench.torch._C._cuda_getDriverVersion() if hasattr(
            torch_bench.torch._C, "_cuda_getDriverVersion") else 0
    cuda = f"CUDA {cuda // 1000}.{cuda % 1000 // 10}" if cuda else "CUDA ?"
    module = nvidia_driver_version()
    doc = {
        "device": any_bench.device_name,
        "driver": f"{module} ({cuda})" if module else cuda,
        "cupy_version": libs["cupy"][1] if cupy else "",
        "torch_version": libs["torch"][1] if torch_bench else "",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bf16_dtype": bool(cupy and cupy.bf16 is not None),
        "warmup": args.warmup,
        "reps": args.reps,
        "results": [],
        "skipped": [],
        "torch_results": [],
        "torch_skipped": [],
    }
    log(f"baseline: {', '.join(f'{k} {v[1]}' for k, v in libs.items())} on {any_bench.device_name}, "
        f"{len(items)} ops")
    start = time.time()
    for i, (op, shape, dtype) in enumerate(items):
        tag = f"[{i + 1}/{len(items)}] {op} {label(shape)} {dtype}"
        line = []
        # One op at a time in both libraries, so both see the same clocks and temperature.
        for name, key in (("cupy", "results"), ("torch", "torch_results")):
            if name not in libs:
                continue
            r, skip = time_one(libs[name][0], op, shape, dtype)
            if r is not None:
                r["library"] = name
                doc[key].append(r)
                line.append(f"{name} {r['median_ms']:.4f} ms ({r['impl']})")
            else:
                doc["skipped" if name == "cupy" else "torch_skipped"].append(skip)
                line.append(f"{name} SKIPPED ({skip['reason']})")
        log(f"{tag}: " + "; ".join(line))
    doc["elapsed_s"] = round(time.time() - start, 1)
    out_dir = os.path.dirname(args.out)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    log(f"baseline: CuPy {len(doc['results'])} timed / {len(doc['skipped'])} skipped, torch "
        f"{len(doc['torch_results'])} / {len(doc['torch_skipped'])}, {doc['elapsed_s']} s; "
        f"wrote {args.out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
