#!/usr/bin/python3
"""Which graph pass of optimize_for_inference moves STCN's numbers, and how far.

Applies the passes that `Stcn.load(..., { optimization })` runs in LibTorch, one at a time and
cumulatively, to every method of an STCN archive (encode_key, encode_value, decode) and reports the
largest absolute difference of each method's outputs against the archive as saved (eager TorchScript),
on one real frame at 480p:

  freeze            torch.jit.freeze of the module (constants inlined; the "freeze" optimization)
  +fold-conv-bn     batch norms folded into the preceding convolutions (changes weights by rounding)
  +conv-add-relu    convolution + add (+ ReLU) fused into one oneDNN kernel
  +to-mkldnn        convolutions converted to oneDNN ops with pre-packed weights in blocked layouts
  inference         torch::jit::optimize_for_inference, as the addon applies it

Run it at the native ISA and with DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 to see the ISA's share.

usage: bench/stcn-optimization-passes.py MODEL.pt FRAME.jpg MASK.png [--size 480] [--threads N]
"""
import argparse
import copy
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

METHODS = ["encode_key", "encode_value", "decode"]


def load_inputs(frame_path, mask_path, size):
    img = np.asarray(Image.open(frame_path).convert("RGB"), dtype=np.float32) / 255.0
    x = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    mask = np.asarray(Image.open(mask_path))
    ids = [i for i in np.unique(mask) if i != 0][:2]
    m = torch.stack([torch.from_numpy((mask == i).astype(np.float32)) for i in ids]).unsqueeze(1)
    h, w = x.shape[2:]
    if size:
        s = size / min(h, w)
        nh, nw = round(h * s), round(w * s)
        x = F.interpolate(x, (nh, nw), mode="bilinear", align_corners=False)
        m = F.interpolate(m, (nh, nw), mode="bilinear", align_corners=False)
    ph = (16 - x.shape[2] % 16) % 16
    pw = (16 - x.shape[3] % 16) % 16
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return F.pad(x, pad), F.pad(m, pad)


def frozen(module):
    """torch::jit::freeze_module alone (what LibTorch's freeze does to methods other than forward)."""
    out = torch.jit.RecursiveScriptModule(torch._C._freeze_module(module.eval()._c, METHODS))
    torch.jit.RecursiveScriptModule._finalize_scriptmodule(out)
    return out


def apply(module, passes):
    for name in METHODS:
        graph = getattr(module, name).graph
        for p in passes:
            p(graph)
    return module


def variants(path):
    base = torch.jit.load(path).eval()
    yield "freeze", frozen(torch.jit.load(path))
    yield "freeze+numerics", torch.jit.freeze(torch.jit.load(path).eval(), preserved_attrs=METHODS)
    fold = [torch._C._jit_pass_fold_frozen_conv_bn]
    yield "+fold-conv-bn", apply(frozen(torch.jit.load(path)), fold)
    fuse = fold + [torch._C._jit_pass_fuse_frozen_conv_add_relu]
    yield "+conv-add-relu", apply(frozen(torch.jit.load(path)), fuse)
    mkl = fuse + [torch._C._jit_pass_convert_frozen_ops_to_mkldnn]
    yield "+to-mkldnn", apply(frozen(torch.jit.load(path)), mkl)
    yield "to-mkldnn only", apply(frozen(torch.jit.load(path)), [torch._C._jit_pass_convert_frozen_ops_to_mkldnn])
    yield "inference", torch.jit.optimize_for_inference(torch.jit.load(path).eval(), other_methods=METHODS)
    del base


def run(module, x, m):
    k16, f16_thin, f16, f8, f4 = module.encode_key(x)
    value = module.encode_value(x, f16, m)
    # The frame's own value stands in for the memory readout (same shape and magnitude).
    probs = module.decode(value.squeeze(2) if value.dim() == 5 else value, f16_thin, f8, f4)
    return {"encode_key": [k16, f16_thin, f16, f8, f4], "encode_value": [value], "decode": [probs]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("frame")
    ap.add_argument("mask")
    ap.add_argument("--size", type=int, default=480)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, m = load_inputs(args.frame, args.mask, args.size)
    with torch.inference_mode():
        ref = run(torch.jit.load(args.model).eval(), x, m)
        isa = os.environ.get("ATEN_CPU_CAPABILITY", "native")
        print(f"ISA {isa}; input {tuple(x.shape)}; max |difference| against the archive as saved (eager)")
        print(f"{'variant':<16}" + "".join(f"{n:>16}" for n in METHODS))
        for name, module in variants(args.model):
            out = run(module, x, m)
            row = []
            for method in METHODS:
                d = max(float((a.to_dense() if a.is_mkldnn else a).sub(b).abs().max()) for a, b in zip(out[method], ref[method]))
                rel = d / max(float(t.abs().max()) for t in ref[method])
                row.append(f"{d:9.2e} ({rel:.0e})")
            print(f"{name:<16}" + "".join(f"{c:>16}" for c in row))


if __name__ == "__main__":
    main()
