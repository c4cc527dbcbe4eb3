"""Export a DINO ViT (torchscript/dino.py) to TorchScript for `stcn annotate --method lost|lost-crf`.

Usage:
  /usr/bin/python3 torchscript/export_dino.py --arch vit_small|vit_base [--patch-size 16|8]
      (--checkpoint FILE [--checkpoint-key teacher] | --random-init --seed N) --out dino.pt

--checkpoint     an official DINO backbone checkpoint (e.g. dino_deitsmall16_pretrain.pth,
                 dino_vitbase16_pretrain.pth): a plain state_dict, loaded with strict=True.
--checkpoint-key take the state_dict under this key of a training checkpoint (e.g. "teacher" of
                 DINO's *_full_checkpoint.pth); the prefixes "module." and "backbone." are removed and
                 the projection head ("head.*") is dropped, as DINO's own utils.load_pretrained_weights
                 does. Every remaining key must then match strictly.
--random-init    the official initialisation drawn from --seed (tests and smoke runs; no download).

A mismatched checkpoint is refused (exit status 2) with the missing, unexpected and wrongly shaped
keys listed, and a hint when the checkpoint is evidently another architecture.

The archive holds metadata.json (in _extra_files): model "dino", arch, patch size, embed dim, heads,
depth, weights, normalisation constants, methods, torch version, creation time.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dino import ARCHS, IMAGENET_MEAN, IMAGENET_STD, VisionTransformer  # noqa: E402
from export_util import save_scripted, sha256_of  # noqa: E402


class CheckpointError(Exception):
    pass


def extract_state_dict(obj, key):
    if key:
        if not isinstance(obj, dict) or key not in obj:
            keys = sorted(obj.keys()) if isinstance(obj, dict) else []
            raise CheckpointError(f"checkpoint has no key {key!r} (top-level keys: {keys[:20]})")
        sd = obj[key]
        out = {}
        for k, v in sd.items():
            for prefix in ("module.", "backbone."):
                if k.startswith(prefix):
                    k = k[len(prefix):]
            if k.startswith("head."):
                continue
            out[k] = v
        return out
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        keys = sorted(obj.keys()) if isinstance(obj, dict) else []
        raise CheckpointError(
            "checkpoint is not a plain state_dict of tensors"
            + (f" (top-level keys: {keys[:20]}; pass --checkpoint-key, e.g. teacher)" if keys else ""))
    return dict(obj)


def guess_arch(sd):
    pe = sd.get("pos_embed")
    if isinstance(pe, torch.Tensor) and pe.dim() == 3:
        for name, (dim, _) in ARCHS.items():
            if pe.shape[2] == dim:
                return name, pe.shape[1] - 1
    return None, None


def check_state_dict(model: VisionTransformer, sd) -> None:
    """Raises CheckpointError listing every offending key unless sd matches model exactly."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in expected if k in sd and tuple(sd[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shapes):
        return
    lines = [f"checkpoint does not match DINO {model.arch}/{model.patch_size} "
             f"({len(expected)} keys expected, {len(sd)} found):"]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing))
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
    if shapes:
        lines.append(f"  wrong shapes ({len(shapes)}): " + "; ".join(shapes))
    arch, npos = guess_arch(sd)
    if arch and arch != model.arch:
        lines.append(f"  hint: pos_embed width suggests --arch {arch}")
    if npos and npos != expected["pos_embed"].shape[1] - 1:
        g = int(round(npos ** 0.5))
        if g > 0 and 224 % g == 0:
            lines.append(f"  hint: {npos} position embeddings suggest --patch-size {224 // g}")
    raise CheckpointError("\n".join(lines))


def build(arch: str, patch_size: int, checkpoint=None, checkpoint_key=None, seed=None):
    model = VisionTransformer(arch=arch, patch_size=patch_size)
    if checkpoint is not None:
        try:
            obj = torch.load(checkpoint, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - reported, not swallowed
            raise CheckpointError(f"cannot read checkpoint {checkpoint}: {e}") from e
        sd = extract_state_dict(obj, checkpoint_key)
        check_state_dict(model, sd)
        model.load_state_dict(sd, strict=True)
        weights = {"source": "checkpoint", "file": os.path.basename(checkpoint), "sha256": sha256_of(checkpoint)}
        if checkpoint_key:
            weights["key"] = checkpoint_key
    else:
        model.init_random(seed)
        weights = {"source": "random-init", "seed": seed}
    return model.eval(), weights


def export(model: VisionTransformer, weights, out: str) -> None:
    meta = {
        "model": "dino",
        "arch": model.arch,
        "patch_size": model.patch_size,
        "embed_dim": model.embed_dim,
        "num_heads": model.num_heads,
        "depth": model.depth,
        "weights": weights,
        "normalization": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "padding": "zeros, bottom/right"},
        "methods": ["preprocess", "last_qkv", "features", "lost_gram", "grid_size", "get_last_selfattention", "forward"],
        "torch": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    scripted = torch.jit.script(model)
    save_scripted(scripted, out, meta)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Export DINO ViT to TorchScript for LOST.")
    p.add_argument("--arch", required=True, choices=["vit_small", "vit_base", "vit_tiny"])
    p.add_argument("--patch-size", type=int, default=16, choices=[16, 8])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="official DINO backbone checkpoint (.pth)")
    src.add_argument("--random-init", action="store_true", help="official init from --seed (no weights)")
    p.add_argument("--checkpoint-key", help="state_dict key inside a training checkpoint, e.g. teacher")
    p.add_argument("--seed", type=int, help="seed for --random-init")
    p.add_argument("--out", required=True, help="output TorchScript archive (.pt)")
    a = p.parse_args(argv)
    if a.random_init and a.seed is None:
        p.error("--random-init needs --seed N")
    if a.checkpoint_key and not a.checkpoint:
        p.error("--checkpoint-key needs --checkpoint")
    torch.manual_seed(0 if a.seed is None else a.seed)
    try:
        model, weights = build(a.arch, a.patch_size, a.checkpoint, a.checkpoint_key, a.seed)
    except CheckpointError as e:
        print(f"export_dino: {e}", file=sys.stderr)
        return 2
    export(model, weights, a.out)
    print(f"export_dino: wrote {a.out} ({a.arch}/{a.patch_size}, {weights['source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
