#!/usr/bin/env python3
"""ResNet-18 reference for gpukit's network (issue 13): weights, inputs, torch logits, torch timings.

  weights   writes torchvision's resnet18 parameters as safetensors (f32, torchvision's names).
            Pretrained ImageNet weights when this torchvision can load them (cached or
            downloadable) and --pretrained is given; otherwise a seeded random initialisation
            whose batch-norm running statistics are first calibrated on random images (so
            activations keep a sane scale through 20 layers, also in f16) and then perturbed,
            and whose batch-norm scales and shifts are random: folding them into the
            convolutions is really exercised.
  reference writes random u8 NHWC images (seeded) and torch's logits for them, one tensor per
            dtype (`logits.f16`, `logits.bf16`, `logits.f32`, all stored as f32), plus, for the
            first --layers images, every block's output in f32 NHWC (`act.<layer>`), from the
            same weights on the GPU (channels-last, inference mode).
  bench     times torch (eager and CUDA-graph replay, CUDA events, median) per dtype and batch
            and prints one JSON line per case. `f32` is torch's default f32 (cuDNN convolutions
            may use TF32: torch.backends.cudnn.allow_tf32 defaults to True); `f32-notf32` is f32
            with TF32 disabled in cuDNN and cuBLAS, the arithmetic the f32 reference uses.

Preprocessing is the network's input kernel's: x = (u8 / 255 - mean) / std per RGB channel with
ImageNet's mean and std, in f32, then rounded to the run's dtype.

Usage: python3 benches/resnet18_torch.py weights --out W [--seed S] [--pretrained]
       python3 benches/resnet18_torch.py reference --weights W --out R [--images N] [--seed S]
                                                   [--layers K] [--dtypes f16,bf16,f32]
       python3 benches/resnet18_torch.py bench --weights W [--batches 1,256] [--dtypes ...]
"""
import argparse
import json
import sys

import numpy as np
import torch
from torch import nn

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32,
          "f32-notf32": torch.float32}
# Every module whose output the per-layer comparison looks at, in forward order ("stem" is the
# first convolution with its batch norm and ReLU).
LAYERS = ["stem", "maxpool"] + [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)] + [
    "avgpool",
    "fc",
]


class BasicBlock(nn.Module):
    """torchvision's BasicBlock, with the same parameter names (used when torchvision is absent)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + idt)


class ResNet18(nn.Module):
    """torchvision's resnet18 in plain torch (same parameter names and initialisation scheme)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (cout, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], 1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_model(pretrained):
    try:
        import torchvision

        if pretrained:
            try:
                m = torchvision.models.resnet18(weights="IMAGENET1K_V1")
                return m, "torchvision resnet18, pretrained IMAGENET1K_V1"
            except Exception as e:  # no cache and no network
                print(f"pretrained weights not loadable ({type(e).__name__}: {e}); random init",
                      file=sys.stderr)
        return torchvision.models.resnet18(weights=None), "torchvision resnet18, random init"
    except ImportError:
        return ResNet18(), "plain-torch resnet18 (torchvision absent), random init"


def random_images(n, seed, size=224):
    """Uniform random u8 NHWC RGB images, seeded."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def normalise(images_u8, device):
    """u8 NHWC → f32 NCHW (channels-last memory), (x / 255 - mean) / std."""
    x = torch.from_numpy(images_u8).to(device).float() / 255.0
    x = (x - torch.tensor(MEAN, device=device)) / torch.tensor(STD, device=device)
    return x.permute(0, 3, 1, 2)


def make_weights(seed, pretrained, device):
    torch.manual_seed(seed)
    model, origin = build_model(pretrained)
    if "random" in origin:
        model = model.to(device)
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        model.train()
        with torch.no_grad():
            for i in range(4):
                model(normalise(random_images(16, seed + 1000 + i), device))
            g = torch.Generator(device="cpu").manual_seed(seed + 1)
            for bn in bns:
                c = bn.num_features
                u = lambda lo, hi: (torch.rand(c, generator=g) * (hi - lo) + lo).to(device)
                sd = bn.running_var.sqrt()
                bn.running_mean += 0.2 * sd * torch.randn(c, generator=g).to(device)
                bn.running_var *= u(0.7, 1.4)
                bn.weight.copy_(u(0.5, 1.5))
                bn.bias.copy_(0.2 * torch.randn(c, generator=g).to(device))
    model = model.cpu().eval()
    tensors = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    return model, tensors, origin


def load_model(path, device):
    from safetensors.torch import load_file

    model, _ = build_model(False)
    missing, unexpected = model.load_state_dict(load_file(path), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"{path}: missing {missing}, unexpected {unexpected}")
    return model.to(device).eval()


def cmd_weights(a):
    from safetensors.torch import save_file

    device = "cuda" if torch.cuda.is_available() else "cpu"
    _, tensors, origin = make_weights(a.seed, a.pretrained, device)
    save_file(tensors, a.out, metadata={"origin": origin, "seed": str(a.seed)})
    print(f"wrote {a.out}: {len(tensors)} tensors ({origin})")


def forward_with_acts(model, x):
    acts = {}
    hooks = []

    def keep(name):
        def hook(_m, _i, out):
            acts[name] = out.detach().float()
        return hook

    named = dict(model.named_modules())
    named["stem"] = model.relu  # the top-level ReLU runs once, right after bn1
    for name in LAYERS:
        hooks.append(named[name].register_forward_hook(keep(name)))
    try:
        logits = model(x)
    finally:
        for h in hooks:
            h.remove()
    out = {}
    for name, t in acts.items():
        if t.dim() == 4:
            t = t.permute(0, 2, 3, 1)  # NHWC
        out[name] = t.reshape(t.shape[0], -1) if name == "avgpool" else t
    return logits.float(), out


def cmd_reference(a):
    from safetensors.torch import save_file

    device = "cuda"
    # The f32 reference is f32: no TF32 inside cuDNN or cuBLAS.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    images = random_images(a.images, a.seed)
    out = {"images": torch.from_numpy(images)}
    for name in a.dtypes.split(","):
        dt = DTYPES[name]
        model = load_model(a.weights, device).to(dt).to(memory_format=torch.channels_last)
        logits = []
        with torch.inference_mode():
            for s in range(0, a.images, 64):
                x = normalise(images[s:s + 64], device).to(dt).contiguous(memory_format=torch.channels_last)
                logits.append(model(x).float().cpu())
            out[f"logits.{name}"] = torch.cat(logits)
            if a.layers > 0:
                x = normalise(images[: a.layers], device).to(dt).contiguous(memory_format=torch.channels_last)
                _, acts = forward_with_acts(model, x)
                for k, v in acts.items():
                    out[f"act.{name}.{k}"] = v.cpu().contiguous()
    save_file({k: v.contiguous() for k, v in out.items()}, a.out)
    print(f"wrote {a.out}: {a.images} images, logits for {a.dtypes}")
    # torch's own 16-bit error against its f32, measured as gpukit's is (per image max |d| /
    # max |f32 logit|): eager torch rounds each convolution's output to the dtype, applies batch
    # norm as a separate kernel (parameters in the dtype too, after model.to(dtype)) and rounds
    # again, and adds the residual in the dtype; gpukit folds batch norm into f32 weights before
    # rounding them and rounds once per convolution after bias, residual and ReLU in f32.
    if "logits.f32" in out:
        ref = out["logits.f32"].double()
        for name in a.dtypes.split(","):
            if name == "f32":
                continue
            got = out[f"logits.{name}"].double()
            rel = ((got - ref).abs().amax(1) / ref.abs().amax(1)).max().item()
            top1 = (got.argmax(1) == ref.argmax(1)).sum().item()
            print(f"torch {name} vs torch f32: logits max rel err {rel:.2e}, "
                  f"top-1 agree {top1}/{a.images}")


def time_ms(fn, reps, warmup=10):
    for _ in range(warmup):
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
    return float(np.median(times))


def cmd_bench(a):
    device = "cuda"
    rows = []
    for name in a.dtypes.split(","):
        dt = DTYPES[name]
        # torch's defaults, except for f32-notf32 (strict f32, as the reference).
        tf32 = name != "f32-notf32"
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        model = load_model(a.weights, device).to(dt).to(memory_format=torch.channels_last)
        for b in [int(v) for v in a.batches.split(",")]:
            x = normalise(random_images(b, 7), device).to(dt).contiguous(memory_format=torch.channels_last)
            reps = 200 if b <= 8 else 30
            with torch.inference_mode():
                eager = time_ms(lambda: model(x), reps)
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for _ in range(3):
                        model(x)
                torch.cuda.current_stream().wait_stream(s)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    model(x)
                graph = time_ms(g.replay, reps)
            row = {"impl": "torch", "dtype": name, "batch": b, "eager_ms": eager, "graph_ms": graph,
                   "cudnn_tf32": torch.backends.cudnn.allow_tf32, "torch": torch.__version__}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("weights")
    w.add_argument("--out", required=True)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--pretrained", action="store_true")
    r = sub.add_parser("reference")
    r.add_argument("--weights", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--images", type=int, default=100)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--layers", type=int, default=2)
    r.add_argument("--dtypes", default="f16,bf16,f32")
    b = sub.add_parser("bench")
    b.add_argument("--weights", required=True)
    b.add_argument("--batches", default="1,256")
    b.add_argument("--dtypes", default="f16,bf16,f32,f32-notf32")
    a = p.parse_args()
    {"weights": cmd_weights, "reference": cmd_reference, "bench": cmd_bench}[a.cmd](a)


if __name__ == "__main__":
    main()
