#!/usr/bin/env python3
"""Checks and times gpukit's ResNet-18 kernels (gpu-kernels/src/conv.rs) straight from their
cubin, with no Rust host code: a small driver-API layer (ctypes over libcuda, in torch's context)
launches them on torch tensors, so each kernel is compared with torch on the GPU, then the whole
network runs from a weights file as the Rust host runs it with `--pipeline shallow` (same
folding, same layer plan, same tile and split-K choices) and its logits and per-layer activations are compared with the
ones benches/resnet18_torch.py wrote. Finally the forward is captured in a CUDA graph and timed
(CUDA events, median), with per-layer times.

Usage: python3 benches/resnet18_ptx_check.py --cubin K.cubin --weights W --reference R
                                             [--out results.json] [--dtypes f16,bf16]
"""
import argparse
import ctypes
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

SMS = 132
BK = 32
# name: (threads, BM, BN)
TILES = {"big": (256, 128, 128), "c64": (256, 128, 64), "small": (128, 64, 64)}
STAGES = 4
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
TDT = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}


class Slice(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class Driver:
    def __init__(self, cubin):
        torch.zeros(1, device="cuda")  # primary context, current on this thread
        self.cu = ctypes.CDLL("libcuda.so.1")
        self.mod = ctypes.c_void_p()
        data = open(cubin, "rb").read()
        self.check(self.cu.cuModuleLoadData(ctypes.byref(self.mod), data), "cuModuleLoadData")
        self.funcs = {}
        self.shared = {}
        self.dummy = torch.zeros(8, dtype=torch.float32, device="cuda")

    def check(self, rc, what):
        if rc != 0:
            name = ctypes.c_char_p()
            self.cu.cuGetErrorName(rc, ctypes.byref(name))
            raise RuntimeError(f"{what}: CUDA error {rc} {name.value}")

    def func(self, name, shared=0):
        if name not in self.funcs:
            f = ctypes.c_void_p()
            self.check(self.cu.cuModuleGetFunction(ctypes.byref(f), self.mod, name.encode()), name)
            self.funcs[name] = f
        f = self.funcs[name]
        if shared > 48 * 1024 and self.shared.get(name, 0) < shared:
            self.check(self.cu.cuFuncSetAttribute(f, 8, shared), f"{name} max dynamic shared")
            self.shared[name] = shared
        return f

    def sl(self, t):
        if t is None or t.numel() == 0:
            return Slice(self.dummy.data_ptr(), 0)
        assert t.is_contiguous()
        return Slice(t.data_ptr(), t.numel())

    def launch(self, name, grid, block, shared, args):
        f = self.func(name, shared)
        cargs = []
        for a in args:
            if isinstance(a, int):
                cargs.append(ctypes.c_uint32(a))
            else:
                cargs.append(self.sl(a))
        params = (ctypes.c_void_p * len(cargs))(*[ctypes.cast(ctypes.pointer(a), ctypes.c_void_p) for a in cargs])
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        gx, gy, gz = grid
        self.check(self.cu.cuLaunchKernel(f, gx, gy, gz, block, 1, 1, shared, stream, params, None), name)


def cdiv(a, b):
    return (a + b - 1) // b


def plan_conv(m, cout, kdim):
    """Tile shape and split-K factor for a convolution (the Rust host uses the same rule)."""
    tiles_k = cdiv(kdim, BK)
    tile = "c64" if cout <= 64 else "big"
    _, bm, bn = TILES[tile]
    blocks = cdiv(m, bm) * cdiv(cout, bn)
    splits = 1
    if blocks < 2 * SMS:
        tile = "small"
        _, bm, bn = TILES[tile]
        blocks = cdiv(m, bm) * cdiv(cout, bn)
        if blocks < SMS:
            splits = max(1, min(cdiv(2 * SMS, blocks), tiles_k // 4))
            splits = cdiv(tiles_k, cdiv(tiles_k, splits))  # no empty z-slices
    return tile, splits


def conv(drv, dt, x, wt, bias, res, geom, relu, out, ws_pool, tile=None, splits=None, f32_out=False):
    """x: (n,h,w,c) NHWC; wt: (k, ks, ks, c); out: (n,oh,ow,k). Returns out."""
    n, h, w, c, oh, ow, k, ks, stride, pad = geom
    m, kdim = n * oh * ow, ks * ks * c
    if tile is None:
        tile, splits = plan_conv(m, k, kdim)
    threads, bm, bn = TILES[tile]
    shared = STAGES * (bm + bn) * 64
    grid = (cdiv(m, bm), cdiv(k, bn), splits)
    scalars = [n, h, w, c, oh, ow, k, ks, stride, pad, int(relu), splits]
    if splits == 1 and not f32_out:
        drv.launch(f"conv_{tile}_{dt}", grid, threads, shared, [x, wt, bias, res] + scalars + [out, None])
        return out
    ws = ws_pool(splits * m * k)
    drv.launch(f"conv_{tile}_{dt}", grid, threads, shared, [x, wt, bias, res] + scalars + [None, ws])
    total = out.numel()
    rdt = "f32" if f32_out else dt
    drv.launch(f"conv_reduce_{rdt}", (min(cdiv(total, 256), 4 * SMS * 8), 1, 1), 256, 0,
               [ws, bias, res, k, splits, int(relu), out])
    return out


class Net:
    """ResNet-18 from a torchvision state dict: batch norm folded into the convolutions (in f64),
    weights as (k, ks, ks, c) with the first convolution's 3 input channels padded to 8."""

    def __init__(self, drv, sd, dt):
        self.drv, self.dt = drv, dt
        tdt = TDT[dt]
        self.convs = {}

        def fold(conv, bn, cin_pad=None):
            w = sd[conv + ".weight"].double()
            g, b = sd[bn + ".weight"].double(), sd[bn + ".bias"].double()
            mu, var = sd[bn + ".running_mean"].double(), sd[bn + ".running_var"].double()
            s = g / torch.sqrt(var + 1e-5)
            w = (w * s[:, None, None, None]).permute(0, 2, 3, 1)  # k, ks, ks, c
            if cin_pad:
                w = F.pad(w, (0, cin_pad - w.shape[3]))
            bias = (b - mu * s).float().cuda()
            return {"w": w.to(tdt).contiguous().cuda(), "b": bias, "ks": w.shape[1]}

        self.convs["conv1"] = fold("conv1", "bn1", 8)
        for i in range(1, 5):
            for j in range(2):
                p = f"layer{i}.{j}"
                self.convs[p + ".conv1"] = fold(p + ".conv1", p + ".bn1")
                self.convs[p + ".conv2"] = fold(p + ".conv2", p + ".bn2")
                if p + ".downsample.0.weight" in sd:
                    self.convs[p + ".downsample"] = fold(p + ".downsample.0", p + ".downsample.1")
        self.fc_w = sd["fc.weight"].to(tdt).contiguous().cuda()  # 1000 x 512 = (k, 1, 1, c)
        self.fc_b = sd["fc.bias"].float().contiguous().cuda()
        self.norm = torch.tensor(MEAN + STD, dtype=torch.float32, device="cuda")
        self.ws = {}

    def ws_pool(self, n):
        t = self.ws.get("ws")
        if t is None or t.numel() < n:
            t = torch.empty(max(n, 1 << 20), dtype=torch.float32, device="cuda")
            self.ws["ws"] = t
        return t[:n]

    def alloc(self, batch):
        """Activation buffers, planned once per batch size (reused by graph replays)."""
        tdt = TDT[self.dt]
        e = lambda *s: torch.empty(s, dtype=tdt, device="cuda")
        b = {"x": e(batch, 224, 224, 8), "stem": e(batch, 112, 112, 64), "pool": e(batch, 56, 56, 64)}
        hw, c = 56, 64
        for i, cout in enumerate([64, 128, 256, 512], 1):
            hw = hw if i == 1 else hw // 2
            for j in range(2):
                b[f"layer{i}.{j}.t"] = e(batch, hw, hw, cout)
                b[f"layer{i}.{j}.ds"] = e(batch, hw, hw, cout)
                b[f"layer{i}.{j}"] = e(batch, hw, hw, cout)
        b["avg"] = e(batch, 512)
        b["logits"] = torch.empty(batch, 1000, dtype=torch.float32, device="cuda")
        # Split-K runs only when a convolution has fewer tiles than SMs: its workspace stays
        # below 2 * 264 tiles of 64 x 64 floats; the linear layer's f32 partials are batch x 1000.
        self.ws_pool(max(1 << 22, 4 * batch * 1000))
        return b

    def forward(self, img, b, trace=None):
        """img: (n,224,224,3) u8 on the GPU. `trace(name)` is called after each step."""
        drv, dt = self.drv, self.dt
        n = img.shape[0]
        tr = trace or (lambda name: None)
        drv.launch(f"input_u8_{dt}", (cdiv(n * 224 * 224, 256), 1, 1), 256, 0, [img, self.norm, b["x"]])
        tr("input")
        c1 = self.convs["conv1"]
        conv(drv, dt, b["x"], c1["w"], c1["b"], None, (n, 224, 224, 8, 112, 112, 64, 7, 2, 3), True, b["stem"], self.ws_pool)
        tr("stem")
        drv.launch(f"maxpool3s2_{dt}", (cdiv(n * 56 * 56 * 8, 256), 1, 1), 256, 0,
                   [b["stem"], n, 112, 112, 64, 56, 56, b["pool"]])
        tr("maxpool")
        x, hw, cin = b["pool"], 56, 64
        for i, cout in enumerate([64, 128, 256, 512], 1):
            for j in range(2):
                p = f"layer{i}.{j}"
                stride = 2 if (i > 1 and j == 0) else 1
                ohw = hw // stride
                idt = x
                if p + ".downsample" in self.convs:
                    d = self.convs[p + ".downsample"]
                    conv(drv, dt, x, d["w"], d["b"], None, (n, hw, hw, cin, ohw, ohw, cout, 1, stride, 0), False, b[p + ".ds"], self.ws_pool)
                    idt = b[p + ".ds"]
                c_1, c_2 = self.convs[p + ".conv1"], self.convs[p + ".conv2"]
                conv(drv, dt, x, c_1["w"], c_1["b"], None, (n, hw, hw, cin, ohw, ohw, cout, 3, stride, 1), True, b[p + ".t"], self.ws_pool)
                conv(drv, dt, b[p + ".t"], c_2["w"], c_2["b"], idt, (n, ohw, ohw, cout, ohw, ohw, cout, 3, 1, 1), True, b[p], self.ws_pool)
                x, hw, cin = b[p], ohw, cout
                tr(p)
        drv.launch(f"avgpool_{dt}", (cdiv(n * 512 // 8, 256), 1, 1), 256, 0, [x, n, 49, 512, b["avg"]])
        tr("avgpool")
        conv(drv, dt, b["avg"], self.fc_w, self.fc_b, None, (n, 1, 1, 512, 1, 1, 1000, 1, 1, 0), False, b["logits"], self.ws_pool, f32_out=True)
        tr("fc")
        return b["logits"]


def rel_err(got, ref):
    """max |got - ref| / max |ref| (over all elements)."""
    got, ref = got.double(), ref.double()
    return ((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def kernel_checks(drv, results):
    """Each kernel against torch on random data, including edge shapes and every tile/split."""
    torch.manual_seed(5)
    ws = {}

    def pool(nel):
        if ws.get("t") is None or ws["t"].numel() < nel:
            ws["t"] = torch.empty(nel, dtype=torch.float32, device="cuda")
        return ws["t"][:nel]

    cases = [
        # n, h, w, c, k, ks, stride, pad
        (2, 224, 224, 8, 64, 7, 2, 3),
        (3, 13, 11, 24, 40, 3, 2, 1),
        (2, 28, 28, 64, 128, 1, 2, 0),
        (1, 7, 7, 512, 512, 3, 1, 1),
        (5, 1, 1, 512, 1000, 1, 1, 0),
        (4, 15, 15, 128, 136, 3, 1, 1),
    ]
    for dt in ["f16", "bf16"]:
        tdt = TDT[dt]
        for (n, h, w, c, k, ks, s, p) in cases:
            oh, ow = (h + 2 * p - ks) // s + 1, (w + 2 * p - ks) // s + 1
            x = torch.randn(n, h, w, c, device="cuda").to(tdt)
            wt = (torch.randn(k, ks, ks, c, device="cuda") / math.sqrt(ks * ks * c)).to(tdt)
            bias = torch.randn(k, device="cuda")
            res = torch.randn(n, oh, ow, k, device="cuda").to(tdt)
            ref = F.conv2d(x.double().permute(0, 3, 1, 2), wt.double().permute(0, 3, 1, 2), bias.double(), s, p)
            ref = (ref.permute(0, 2, 3, 1) + res.double()).clamp_min(0)
            for tile in TILES:
                for splits in [1, 3]:
                    out = torch.full((n, oh, ow, k), float("nan"), dtype=tdt, device="cuda")
                    conv(drv, dt, x, wt, bias, res, (n, h, w, c, oh, ow, k, ks, s, p), True, out, pool, tile=tile, splits=splits)
                    torch.cuda.synchronize()
                    e = rel_err(out, ref)
                    ok = e < (1e-2 if dt == "bf16" else 2e-3) and not torch.isnan(out.float()).any().item()
                    results.append({"check": "conv", "dtype": dt, "shape": [n, h, w, c, k, ks, s, p],
                                    "tile": tile, "splits": splits, "rel_err": e, "ok": ok})
        # Linear-layer use: f32 output without residual or ReLU.
        x = torch.randn(3, 512, device="cuda").to(tdt)
        wt = torch.randn(1000, 512, device="cuda").to(tdt) / 20
        bias = torch.randn(1000, device="cuda")
        out = torch.empty(3, 1000, device="cuda")
        conv(drv, dt, x, wt, bias, None, (3, 1, 1, 512, 1, 1, 1000, 1, 1, 0), False, out, pool, f32_out=True)
        ref = x.double() @ wt.double().T + bias.double()
        e = rel_err(out, ref)
        results.append({"check": "linear", "dtype": dt, "rel_err": e, "ok": e < 1e-5})
        # Max pool, average pool, input conversion.
        x = torch.randn(3, 17, 13, 64, device="cuda").to(tdt)
        oh, ow = (17 - 1) // 2 + 1, (13 - 1) // 2 + 1
        out = torch.empty(3, oh, ow, 64, dtype=tdt, device="cuda")
        drv.launch(f"maxpool3s2_{dt}", (cdiv(3 * oh * ow * 8, 256), 1, 1), 256, 0, [x, 3, 17, 13, 64, oh, ow, out])
        ref = F.max_pool2d(x.float().permute(0, 3, 1, 2), 3, 2, 1).permute(0, 2, 3, 1)
        e = rel_err(out, ref)
        results.append({"check": "maxpool", "dtype": dt, "rel_err": e, "ok": e == 0.0})
        x = torch.randn(5, 7, 7, 512, device="cuda").to(tdt)
        out = torch.empty(5, 512, dtype=tdt, device="cuda")
        drv.launch(f"avgpool_{dt}", (cdiv(5 * 64, 256), 1, 1), 256, 0, [x, 5, 49, 512, out])
        ref = x.double().mean(dim=(1, 2))
        e = rel_err(out, ref)
        results.append({"check": "avgpool", "dtype": dt, "rel_err": e, "ok": e < (8e-3 if dt == "bf16" else 1e-3)})
        img = torch.randint(0, 256, (2, 9, 7, 3), dtype=torch.uint8, device="cuda")
        norm = torch.tensor(MEAN + STD, device="cuda")
        out = torch.empty(2, 9, 7, 8, dtype=tdt, device="cuda")
        drv.launch(f"input_u8_{dt}", (1, 1, 1), 256, 0, [img, norm, out])
        ref = (img.double() / 255 - norm[:3].double()) / norm[3:].double()
        e = max(rel_err(out[..., :3], ref), out[..., 3:].abs().max().item())
        results.append({"check": "input", "dtype": dt, "rel_err": e, "ok": e < (8e-3 if dt == "bf16" else 1e-3)})


def network_checks(drv, sd, ref, dtypes, results):
    images = ref["images"].cuda()
    nimg = images.shape[0]
    for dt in dtypes:
        net = Net(drv, sd, dt)
        b = net.alloc(nimg)
        logits = net.forward(images, b).clone()
        torch.cuda.synchronize()
        row = {"check": "network", "dtype": dt, "images": nimg}
        for rdt in ["f16", "bf16", "f32"]:
            key = f"logits.{rdt}"
            if key not in ref:
                continue
            r = ref[key].cuda()
            per_img = ((logits - r).abs().amax(1) / r.abs().amax(1)).cpu()
            top1 = (logits.argmax(1) == r.argmax(1)).sum().item()
            top5 = sum(len(set(a.tolist()) & set(c.tolist())) for a, c in
                       zip(logits.topk(5, 1).indices.cpu(), r.topk(5, 1).indices.cpu())) / (5 * nimg)
            row[f"vs_torch_{rdt}"] = {"max_rel": per_img.max().item(), "median_rel": per_img.median().item(),
                                      "top1_agree": top1, "top5_overlap": top5}
        own = row.get(f"vs_torch_{dt}", {})
        row["ok"] = own.get("max_rel", 1) <= 1e-2 and own.get("top1_agree", 0) >= math.ceil(0.99 * nimg)
        # Distinct top-1 classes among the reference's images: tells whether top-1 agreement
        # is a meaningful test with these weights.
        row["distinct_top1_torch"] = len(set(ref[f"logits.{dt}"].argmax(1).tolist())) if f"logits.{dt}" in ref else None
        results.append(row)
        # Per-layer comparison on the first images the reference kept.
        nl = None
        for k in ref:
            if k.startswith("act.f32."):
                nl = ref[k].shape[0]
                break
        if nl:
            b = net.alloc(nl)
            acts = {}
            names = {"stem": "stem", "maxpool": "pool", "avgpool": "avg", "fc": "logits"}

            def keep(name):
                key = names.get(name, name)
                if key in b:
                    acts[name] = b[key].clone()
            net.forward(images[:nl], b, keep)
            torch.cuda.synchronize()
            layers = {}
            for name, got in acts.items():
                for rdt in [dt, "f32"]:
                    key = f"act.{rdt}.{name}"
                    if key in ref:
                        layers.setdefault(name, {})[f"vs_{rdt}"] = rel_err(got.reshape(ref[key].shape), ref[key].cuda())
            results.append({"check": "layers", "dtype": dt, "images": nl, "layers": layers})


def timings(drv, sd, dtypes, batches, results):
    for dt in dtypes:
        net = Net(drv, sd, dt)
        for n in batches:
            images = torch.randint(0, 256, (n, 224, 224, 3), dtype=torch.uint8, device="cuda")
            b = net.alloc(n)
            reps = 200 if n <= 8 else 30
            for _ in range(3):
                net.forward(images, b)
            torch.cuda.synchronize()
            # Per-layer times (eager launches, events between steps).
            evs = []

            def mark(name):
                e = torch.cuda.Event(enable_timing=True)
                e.record()
                evs.append((name, e))
            per = {}
            for _ in range(5):
                evs.clear()
                mark("start")
                net.forward(images, b, mark)
                torch.cuda.synchronize()
                for (_, a), (name, e) in zip(evs, evs[1:]):
                    per.setdefault(name, []).append(a.elapsed_time(e))
            per = {k: float(np.median(v)) for k, v in per.items()}
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                net.forward(images, b)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                net.forward(images, b)
            for _ in range(10):
                g.replay()
            torch.cuda.synchronize()
            ts = []
            for _ in range(reps):
                a, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                g.replay()
                e.record()
                e.synchronize()
                ts.append(a.elapsed_time(e))
            row = {"impl": "gpukit-ptx", "dtype": dt, "batch": n, "graph_ms": float(np.median(ts)),
                   "per_layer_ms": per}
            results.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "per_layer_ms"}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cubin", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--out", default="ptx_check.json")
    p.add_argument("--dtypes", default="f16,bf16")
    p.add_argument("--batches", default="1,256")
    a = p.parse_args()
    from safetensors.torch import load_file

    drv = Driver(a.cubin)
    results = []
    dtypes = a.dtypes.split(",")
    try:
        kernel_checks(drv, results)
        bad = [r for r in results if not r["ok"]]
        print(f"kernel checks: {len(results) - len(bad)}/{len(results)} ok", flush=True)
        for r in bad:
            print("  FAIL", json.dumps(r))
        sd = load_file(a.weights)
        ref = load_file(a.reference)
        network_checks(drv, sd, ref, dtypes, results)
        for r in results:
            if r["check"] in ("network", "layers"):
                print(json.dumps(r), flush=True)
        timings(drv, sd, dtypes, [int(v) for v in a.batches.split(",")], results)
    finally:
        json.dump(results, open(a.out, "w"), indent=1)
    sys.exit(0 if all(r.get("ok", True) for r in results) else 1)


if __name__ == "__main__":
    main()
