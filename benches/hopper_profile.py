#!/usr/bin/env python3
"""One launch of a Hopper GEMM kernel and one of cuBLAS on the same problem, for Nsight Compute:
    ncu --clock-control none --section SpeedOfLight ... -k regex:"hgemm|gemm|nvjet" \
        python3 benches/hopper_profile.py --cubin K.cubin [--kernel hgemm_bf16_bf16] [--cluster 1]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hopper_harness as hh  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubin", required=True)
    ap.add_argument("--kernel", default="hgemm__bf16_bf16_bf16")
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--cluster", type=int, default=1)
    ap.add_argument("--no-cublas", action="store_true")
    args = ap.parse_args()
    import torch
    torch.zeros(1, device="cuda")
    drv = hh.Driver()
    mod = drv.load(open(args.cubin, "rb").read())
    kern = hh.Hgemm(drv, mod, args.kernel)
    n = args.size
    case = dict(kernel=args.kernel, m=n, n=n, k=n)
    a, b, bias, c = hh.make_inputs(case, torch.Generator(device="cuda").manual_seed(1))
    run = kern.prepare(a, b, c, None, cluster=args.cluster)
    run()
    torch.cuda.synchronize()
    if not args.no_cublas:
        torch.matmul(a[0], b[0].t())
        torch.cuda.synchronize()
    print("profiled", args.kernel, n, "cluster", args.cluster, "grid", run.grid)


if __name__ == "__main__":
    main()
