"""Eager-Python references for test/lost-*.test.ts (not shipped; run with /usr/bin/python3).

Usage: lost-reference.py JOBS.json, JOBS = a list of ["keys", ...] / ["lost", ...] argument lists
(one Python start for several references):

  keys MODEL.pt RGB.raw H W OUT_DIR
      Loads MODEL.pt's weights strictly into an eager torchscript/dino.py VisionTransformer and
      extracts the last block's q/k/v the way LOST does (a forward hook on blocks[-1].attn.qkv during
      get_last_selfattention), on an input prepared like LOST (torchvision ToTensor + Normalize, zero
      pad bottom/right after normalisation). Writes q.f32, k.f32, v.f32 (N x D) and meta.json.

  lost GRAM.f32 ROWS COLS H W K PATCH OUT_DIR
      LOST as in the official object_discovery.py (patch_scoring, seed, potentials, similars, M as a
      float32 torch.sum, 4-connected component containing the seed, detect_box with clamping), with a
      stable sort for the seed/candidate order, and the mask upsampled with F.interpolate
      mode="nearest-exact" to H x W. Writes result.json and labels.u8.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as T

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "torchscript"))
from dino import VisionTransformer  # noqa: E402

torch.set_num_threads(max(1, os.cpu_count() or 1))


def keys(model_path, raw_path, h, w, out_dir):
    extra = {"metadata.json": ""}
    scripted = torch.jit.load(model_path, map_location="cpu", _extra_files=extra)
    meta = json.loads(extra["metadata.json"])
    model = VisionTransformer(meta["arch"], patch_size=meta["patch_size"])
    model.load_state_dict(scripted.state_dict(), strict=True)
    model.eval()
    rgb = np.fromfile(raw_path, dtype=np.uint8).reshape(h, w, 3)
    x = T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])(rgb)
    p = meta["patch_size"]
    hp, wp = (h + p - 1) // p * p, (w + p - 1) // p * p
    padded = torch.zeros(1, 3, hp, wp)
    padded[0, :, :h, :w] = x
    captured = {}
    model.blocks[-1].attn.qkv.register_forward_hook(lambda m, i, o: captured.__setitem__("qkv", o))
    with torch.no_grad():
        attn = model.get_last_selfattention(padded)
    nh, tokens = attn.shape[1], attn.shape[2]
    qkv = captured["qkv"].reshape(1, tokens, 3, nh, -1 // nh).permute(2, 0, 3, 1, 4)
    os.makedirs(out_dir, exist_ok=True)
    for i, name in enumerate("qkv"):
        f = qkv[i].transpose(1, 2).reshape(1, tokens, -1)[0, 1:]
        f.contiguous().numpy().astype(np.float32).tofile(os.path.join(out_dir, f"{name}.f32"))
    with open(os.path.join(out_dir, "meta.json"), "w") as fh:
        json.dump({"rows": hp // p, "cols": wp // p, "dim": int(qkv.shape[-1] * nh)}, fh)


def components4(fg, seed_rc):
    rows, cols = fg.shape
    seen = np.zeros_like(fg, dtype=bool)
    stack = [seed_rc]
    seen[seed_rc] = True
    while stack:
        r, c = stack.pop()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < rows and 0 <= cc < cols and fg[rr, cc] and not seen[rr, cc]:
                seen[rr, cc] = True
                stack.append((rr, cc))
    return seen


def lost(gram_path, rows, cols, h, w, k, patch, out_dir):
    n = rows * cols
    A = torch.from_numpy(np.fromfile(gram_path, dtype=np.float32).reshape(n, n))
    S = A.clone()
    S.fill_diagonal_(0)
    S[S < 0] = 0
    cent = -torch.sum(S > 0, dim=1).type(torch.float32)
    order = torch.sort(cent, descending=True, stable=True).indices
    seed = order[0]
    potentials = order[:k]
    similars = potentials[A[seed, potentials] > 0.0]
    M = torch.sum(A[similars, :], dim=0)
    fg = (M.reshape(rows, cols) > 0.0).numpy()
    sr, sc = int(seed) // cols, int(seed) % cols
    assert fg[sr, sc], "seed in background"
    comp = components4(fg, (sr, sc))
    ys, xs = np.where(comp)
    box = [int(xs.min()) * patch, int(ys.min()) * patch, (int(xs.max()) + 1) * patch, (int(ys.max()) + 1) * patch]
    box[2] = min(box[2], w)
    box[3] = min(box[3], h)
    up = F.interpolate(torch.from_numpy(comp.astype(np.float32))[None, None], size=(h, w), mode="nearest-exact")
    os.makedirs(out_dir, exist_ok=True)
    up[0, 0].numpy().astype(np.uint8).tofile(os.path.join(out_dir, "labels.u8"))
    with open(os.path.join(out_dir, "result.json"), "w") as fh:
        json.dump({
            "seed": int(seed),
            "degree": [int(-v) for v in cent.tolist()],
            "potentials": [int(v) for v in potentials.tolist()],
            "similars": [int(v) for v in similars.tolist()],
            "patches": [int(v) for v in np.flatnonzero(comp.reshape(-1))],
            "box": box,
        }, fh)


def run(job):
    cmd, a = job[0], job[1:]
    if cmd == "keys":
        keys(a[0], a[1], int(a[2]), int(a[3]), a[4])
    elif cmd == "lost":
        lost(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), int(a[6]), a[7])
    else:
        sys.exit(f"unknown job {cmd}")


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        for job in json.load(fh):
            run(job)
