"""Eager PyTorch reference of the official STCN inference loop (parity target for the native pipeline).

Our own code following the semantics of STCN's eval_davis.py / inference_core.py /
inference_memory_bank.py / aggregate.py (the normative rules of docs/stcn-python.md), with the weights of an exported
archive: `torch.jit.load(model).state_dict()` is loaded strictly into the eager network of stcn.py.

Usage:
  /usr/bin/python3 torchscript/reference_stcn.py --model stcn.pt --frames DIR --mask FIRST.png \
      [--masks DIR] [--resize-masks] [--size 480] [--top-k 20] [--mem-every 5] [--include-last] \
      --out DIR [--save-probs] [--threads N] [--time] [--device cpu|cuda[:N]] [--amp] [--warmup N]

Rules (docs/stcn-python.md has the full, normative description):
  * frames: *.jpg|*.jpeg|*.png in --frames sorted by file name; RGB via PIL; x/255, then
    (x - mean) / std with ImageNet mean/std, float32.
  * --size S (default 480; 0 = native): working size from the shorter side (torchvision Resize(int)):
    short -> S, long -> floor(S * long / short); resized with bilinear (align_corners=False,
    antialias=False) on the normalised tensor; no resize when the working size equals the native size.
    Masks: nearest (F.interpolate mode 'nearest') of the label map to the working size.
  * symmetric zero padding to a multiple of 16 (pad_divide_by), unpadded before output.
  * frame 0: probabilities = aggregate(one-hot first mask) (keep_bg); value encoded from them.
  * soft aggregation: bg = prod(1 - p), clamp [1e-7, 1 - 1e-7], logit, softmax over channels.
  * memory: frame 0 plus frames ti with ti % mem_every == 0 (absolute index); the last frame is
    never added; --include-last: every other frame goes to a single temporary slot (replaced by the
    next addition of any kind).
  * affinity (2 m.q - |m|^2) / 8 over the memory axis, top-k (min(top_k, N)) per query pixel,
    softmax over the k selected values in the max-subtracted (stable) form (the official code exps
    the raw values; identical in fp32 unless it overflows), readout = mem_v @ affinity.
  * objects joining later (--masks): see docs/stcn-python.md "Objects joining later".
  * output: unpad, bilinear resize (align_corners=False) back to the native size when a working size
    differs, argmax over [bg, objects] (first maximum wins), channel -> original label id.
Writes {:05d}.png (palette, frame 0 included; the index is the frame's position in sorted order),
with --save-probs {:05d}.f32 (float32 LE [K+1, H, W], K = all objects of the run in channel order,
zeros for objects that have not joined yet), objects.json and timing.json.
"""
import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stcn  # noqa: E402
from export_util import atomic_write_bytes  # noqa: E402

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
FRAME_EXTS = (".jpg", ".jpeg", ".png")


class InputError(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Sizes, padding, resizing
# --------------------------------------------------------------------------------------------------
def working_size(h: int, w: int, size: int) -> Tuple[int, int]:
    """torchvision Resize(int) rule: the shorter side becomes `size`, the longer floor(size*long/short)
    (integer arithmetic; equal to Python's int(size * long / short) for all image sizes). When h == w
    both become `size`. size 0 = native."""
    if size <= 0:
        return h, w
    if w <= h:  # width is the shorter side (or equal)
        return (size * h) // w, size
    return size, (size * w) // h


def pad_amounts(h: int, w: int, d: int = 16) -> Tuple[int, int, int, int]:
    """(left, right, top, bottom) of STCN's pad_divide_by: rounded up to a multiple of d, split
    symmetrically with the smaller half first."""
    nh = h if h % d == 0 else h + d - h % d
    nw = w if w % d == 0 else w + d - w % d
    lh, uh = (nh - h) // 2, (nh - h) - (nh - h) // 2
    lw, uw = (nw - w) // 2, (nw - w) - (nw - w) // 2
    return lw, uw, lh, uh


def pad(x: torch.Tensor, p: Tuple[int, int, int, int]) -> torch.Tensor:
    return F.pad(x, p) if sum(p) > 0 else x


def unpad(x: torch.Tensor, p: Tuple[int, int, int, int]) -> torch.Tensor:
    lw, uw, lh, uh = p
    if lh + uh > 0:
        x = x[:, :, lh:-uh] if uh > 0 else x[:, :, lh:]
    if lw + uw > 0:
        x = x[:, :, :, lw:-uw] if uw > 0 else x[:, :, :, lw:]
    return x


def normalise(rgb: np.ndarray) -> torch.Tensor:
    """HWC uint8 -> [1,3,H,W] float32: x/255 (ToTensor), then (x - mean) / std (Normalize)."""
    x = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div(255)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(3, 1, 1)
    return x.sub(mean).div(std).unsqueeze(0)


def resize_image(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)


def resize_labels(labels: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    if labels.shape == tuple(size):
        return labels
    t = torch.from_numpy(labels.astype(np.float32))[None, None]
    return F.interpolate(t, size=size, mode="nearest")[0, 0].to(torch.uint8).numpy()


# --------------------------------------------------------------------------------------------------
# Aggregation, memory
# --------------------------------------------------------------------------------------------------
def aggregate(prob: torch.Tensor) -> torch.Tensor:
    """[k,1,H,W] object probabilities -> [k+1,1,H,W] (keep_bg=True)."""
    new_prob = torch.cat([torch.prod(1 - prob, dim=0, keepdim=True), prob], 0).clamp(1e-7, 1 - 1e-7)
    logits = torch.log(new_prob / (1 - new_prob))
    return F.softmax(logits, dim=0)


def softmax_w_top(x: torch.Tensor, top: int) -> torch.Tensor:
    """Top-k softmax over dim 1 of x [1,N,HW]. Stable form: the official code exps the raw top values
    (x_exp = values.exp_()); subtracting the per-column maximum (values[:, 0], topk is sorted) gives
    the same softmax in exact arithmetic and cannot overflow."""
    top = min(top, x.shape[1])
    values, indices = torch.topk(x, k=top, dim=1)
    x_exp = torch.exp(values - values[:, :1])
    x_exp = x_exp / torch.sum(x_exp, dim=1, keepdim=True)
    return torch.zeros_like(x).scatter_(1, indices, x_exp)


class MemoryFrame:
    def __init__(self, index: int, key: torch.Tensor, value: torch.Tensor):
        self.index = index  # absolute frame index
        self.key = key  # [1, 64, hw]
        self.value = value  # [k_enabled_at_index, 512, hw] (channel order = enabled order)


class Memory:
    """Frame-major memory bank. Permanent frames plus one optional temporary slot (include_last),
    cleared at every addition (as inference_memory_bank.add_memory)."""

    def __init__(self, top_k: int):
        self.top_k = top_k
        self.frames: List[MemoryFrame] = []
        self.temp: Optional[MemoryFrame] = None

    def add(self, index: int, key: torch.Tensor, value: torch.Tensor, is_temp: bool) -> None:
        self.temp = None
        f = MemoryFrame(index, key.flatten(start_dim=2), value.flatten(start_dim=2))
        if is_temp and self.frames:
            self.temp = f
        else:
            self.frames.append(f)

    def read(self, qk: torch.Tensor, start_frame: int, lo: int, hi: int) -> torch.Tensor:
        """Readout for objects lo..hi-1 (enabled order) that joined at `start_frame`: only memory
        frames with index >= start_frame take part (they are the ones holding these objects' values)."""
        _, _, h, w = qk.shape
        frames = [f for f in self.frames if f.index >= start_frame]
        if self.temp is not None and self.temp.index >= start_frame:
            frames.append(self.temp)
        mk = torch.cat([f.key for f in frames], 2)
        mv = torch.cat([f.value[lo:hi] for f in frames], 2)
        qk = qk.flatten(start_dim=2)
        ck = mk.shape[1]
        # Official _global_matching, same operation order.
        a = mk.pow(2).sum(1).unsqueeze(2)
        b = 2 * (mk.transpose(1, 2) @ qk)
        affinity = (-a + b) / math.sqrt(ck)  # [1, N, HW]
        affinity = softmax_w_top(affinity, self.top_k)
        readout = torch.bmm(mv, affinity.expand(hi - lo, -1, -1))
        return readout.view(hi - lo, mv.shape[1], h, w)


# --------------------------------------------------------------------------------------------------
# IO
# --------------------------------------------------------------------------------------------------
def davis_palette() -> List[int]:
    """PASCAL-VOC bit-interleaved colour map (= DAVIS palette), 256 entries."""
    out: List[int] = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.extend([r, g, b])
    return out


def list_frames(folder: str) -> List[str]:
    if not os.path.isdir(folder):
        raise InputError("--frames: not a folder: %s" % folder)
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(FRAME_EXTS))
    if not names:
        raise InputError("--frames: no .jpg/.jpeg/.png frames in %s" % folder)
    return names


def read_rgb(path: str) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as e:  # noqa: BLE001
        raise InputError("cannot decode frame %s: %s" % (path, e))


def read_labels(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise InputError("mask not found: %s" % path)
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L", "1"):
                raise InputError("mask %s has mode %s: expected a palette (P) or greyscale (L) PNG of label ids" % (path, im.mode))
            return np.asarray(im.convert("L") if im.mode == "1" else im).astype(np.uint8).copy()
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001
        raise InputError("cannot decode mask %s: %s" % (path, e))


def write_png(path: str, labels: np.ndarray, palette: List[int]) -> None:
    import io

    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette(palette)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------------
def load_model(path: str) -> stcn.STCN:
    if not os.path.isfile(path):
        raise InputError("--model: file not found: %s" % path)
    extra = {"metadata.json": ""}
    try:
        scripted = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    except Exception as e:  # noqa: BLE001
        raise InputError("--model: cannot load TorchScript archive %s: %s" % (path, str(e).splitlines()[0]))
    meta = json.loads(extra["metadata.json"] or "{}")
    if meta.get("model") != "stcn":
        raise InputError("--model: %s is not an STCN export (metadata model=%r)" % (path, meta.get("model")))
    model = stcn.STCN()
    model.load_state_dict(scripted.state_dict(), strict=True)
    return model.eval()


def one_hot(labels: np.ndarray, ids: List[int]) -> torch.Tensor:
    """[len(ids),1,H,W] float32."""
    t = torch.from_numpy(labels.astype(np.int64))
    return torch.stack([(t == i).float() for i in ids], 0).unsqueeze(1)


def run(args) -> Dict[str, object]:
    if not os.path.isfile(args.model):
        raise InputError("--model: file not found: %s" % args.model)
    names = list_frames(args.frames)
    T = len(names)

    # ---- image IO (not timed) ----
    rgbs = [read_rgb(os.path.join(args.frames, n)) for n in names]
    H0, W0 = rgbs[0].shape[:2]
    for n, im in zip(names, rgbs):
        if im.shape[:2] != (H0, W0):
            raise InputError("frame %s is %dx%d but frame %s is %dx%d (all frames must have one size)"
                             % (n, im.shape[1], im.shape[0], names[0], W0, H0))
    size = working_size(H0, W0, args.size)

    def load_mask(path: str) -> np.ndarray:
        lab = read_labels(path)
        if lab.shape != (H0, W0) and not args.resize_masks:
            raise InputError("mask %s is %dx%d but the frames are %dx%d (pass --resize-masks to resize it, nearest, to the working size)"
                             % (path, lab.shape[1], lab.shape[0], W0, H0))
        return resize_labels(lab, size)

    stems = [os.path.splitext(n)[0] for n in names]
    first_path = args.mask if args.mask else os.path.join(args.masks, stems[0] + ".png")
    first = load_mask(first_path)
    ids: List[int] = [int(i) for i in np.unique(first) if i != 0]
    if not ids:
        raise InputError("first mask %s has no objects (all pixels are 0)" % first_path)
    join_frame: Dict[int, int] = {i: 0 for i in ids}
    # Later masks: frame index -> (new ids sorted, labels at working size)
    joins: Dict[int, Tuple[List[int], np.ndarray]] = {}
    if args.masks:
        if not os.path.isdir(args.masks):
            raise InputError("--masks: not a folder: %s" % args.masks)
        index_of = {s: i for i, s in enumerate(stems)}
        for n in sorted(os.listdir(args.masks)):
            if not n.lower().endswith(".png"):
                continue
            stem = os.path.splitext(n)[0]
            if stem not in index_of:
                raise InputError("mask %s has no frame %s.* in %s" % (os.path.join(args.masks, n), stem, args.frames))
            ti = index_of[stem]
            if ti == 0:
                continue  # frame 0's objects come from the first mask
            lab = load_mask(os.path.join(args.masks, n))
            new = [int(i) for i in np.unique(lab) if i != 0 and int(i) not in join_frame]
            if new:
                for i in new:
                    join_frame[i] = ti
                joins[ti] = (new, lab)
    all_ids = sorted(join_frame, key=lambda i: (join_frame[i], i))  # channel order over the whole run
    K = len(all_ids)

    device = torch.device(args.device)
    model = load_model(args.model).to(device)  # after the input checks: bad input is refused quickly
    p = pad_amounts(size[0], size[1])
    resized = size != (H0, W0)
    # Before the timer, like the official loader (on --device, as its `.cuda()` before processing).
    imgs = [pad(resize_image(normalise(im).to(device), size), p) for im in rgbs]
    del rgbs

    os.makedirs(args.out, exist_ok=True)
    palette = davis_palette()
    lut = np.zeros(K + 1, dtype=np.uint8)
    lut[1:] = np.array(all_ids, dtype=np.uint8)

    outputs: List[Tuple[np.ndarray, Optional[np.ndarray]]] = []

    def emit(prob: torch.Tensor, n_enabled: int) -> None:
        """prob [n_enabled+1,1,Hp,Wp] -> labels (and probs [K+1,H0,W0]) at output resolution."""
        x = unpad(prob, p)
        if resized:
            x = F.interpolate(x, size=(H0, W0), mode="bilinear", align_corners=False)
        labels = torch.argmax(x[:, 0], dim=0).cpu().numpy()
        probs = None
        if args.save_probs:
            full = torch.zeros((K + 1, H0, W0), dtype=torch.float32)
            full[: n_enabled + 1] = x[:, 0].float().cpu()
            probs = full.numpy()
        outputs.append((lut[labels], probs))

    mem = Memory(args.top_k)
    if args.warmup > 0:
        # Untimed calls of the three networks on frame 0 (lazy library initialisation, kernel choice),
        # as a long-running process would have made them before this video.
        with torch.inference_mode(), torch.autocast(device.type, enabled=args.amp, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16):
            for _ in range(args.warmup):
                k16, f16_thin, f16, f8, f4 = model.encode_key(imgs[0])
                v = model.encode_value(imgs[0], f16, torch.ones_like(imgs[0][:, :1]).repeat(K, 1, 1, 1))
                model.decode(v, f16_thin, f8, f4)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    # --amp: float16 autocast on CUDA, as the official eval_davis.py --amp.
    with torch.inference_mode(), torch.autocast(device.type, enabled=args.amp, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16):
        # enabled objects in channel order; groups = (join frame, lo, hi) over enabled order
        enabled = [i for i in all_ids if join_frame[i] == 0]
        groups: List[Tuple[int, int, int]] = [(0, 0, len(enabled))]
        mask0 = pad(one_hot(first, enabled), p).to(device)
        prob = aggregate(mask0)
        k16, _, f16, _, _ = model.encode_key(imgs[0])
        mem.add(0, k16, model.encode_value(imgs[0], f16, prob[1:]), is_temp=False)
        emit(prob, len(enabled))
        for ti in range(1, T):
            k16, f16_thin, f16, f8, f4 = model.encode_key(imgs[ti])
            readout = torch.cat([mem.read(k16, start, lo, hi) for (start, lo, hi) in groups], 0)
            prob = aggregate(model.decode(readout, f16_thin, f8, f4))
            joining = ti in joins
            if joining:
                new, lab = joins[ti]
                m = pad(one_hot(lab, new), p).to(device)  # [n_new,1,Hp,Wp]
                region = m.sum(0, keepdim=True) > 0.5  # [1,1,Hp,Wp]
                prob = prob.masked_fill(region, 0.0)
                prob = aggregate(torch.cat([prob[1:], m], 0))
                groups.append((ti, len(enabled), len(enabled) + len(new)))
                enabled.extend(new)
            if ti != T - 1:
                is_mem = joining or (ti % args.mem_every == 0)
                if args.include_last or is_mem:
                    mem.add(ti, k16, model.encode_value(imgs[ti], f16, prob[1:]), is_temp=not is_mem)
            emit(prob, len(enabled))
    sync()
    seconds = time.perf_counter() - t0

    # ---- writing (not timed) ----
    for ti, (labels, probs) in enumerate(outputs):
        write_png(os.path.join(args.out, "%05d.png" % ti), labels, palette)
        if probs is not None:
            atomic_write_bytes(os.path.join(args.out, "%05d.f32" % ti), probs.astype("<f4").tobytes())
    objects = {
        "ids": all_ids,
        "join_frames": [join_frame[i] for i in all_ids],
        "native_size": [H0, W0],
        "working_size": list(size),
        "padded_size": [size[0] + p[2] + p[3], size[1] + p[0] + p[1]],
        "pad_lrtb": list(p),
        "frames": names,
    }
    atomic_write_bytes(os.path.join(args.out, "objects.json"), json.dumps(objects, indent=1).encode())
    timing = {"frames": T, "seconds_propagation": seconds, "fps": T / seconds if seconds > 0 else None}
    atomic_write_bytes(os.path.join(args.out, "timing.json"), json.dumps(timing).encode())
    return timing


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Eager reference of the official STCN inference loop.")
    ap.add_argument("--model", required=True, help="archive written by export_stcn.py (its state_dict is used)")
    ap.add_argument("--frames", required=True, help="folder of frames (*.jpg|*.jpeg|*.png, sorted by name)")
    ap.add_argument("--mask", help="first-frame mask (palette/greyscale PNG of label ids)")
    ap.add_argument("--masks", help="folder of <frame-stem>.png masks; a later file introduces its new ids from that frame on")
    ap.add_argument("--resize-masks", action="store_true", help="accept masks whose size differs from the frames (nearest resize)")
    ap.add_argument("--size", type=int, default=480, help="shorter side of the working size; 0 = native (default 480)")
    ap.add_argument("--top-k", type=int, default=20)
    ap.add_argument("--mem-every", type=int, default=5)
    ap.add_argument("--include-last", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--save-probs", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    ap.add_argument("--time", action="store_true", help="print frames / seconds / fps")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu; cuda for the GPU check)")
    ap.add_argument("--warmup", type=int, default=0, help="untimed network calls on frame 0 before the timer (default 0)")
    ap.add_argument("--amp", action="store_true", help="autocast (float16 on CUDA as the official --amp, bfloat16 on CPU)")
    args = ap.parse_args(argv)
    if not args.mask and not args.masks:
        ap.error("give --mask FIRST.png and/or --masks DIR")
    if args.size < 0:
        ap.error("--size must be >= 0")
    if args.top_k < 1:
        ap.error("--top-k must be >= 1")
    if args.mem_every < 1:
        ap.error("--mem-every must be >= 1")
    if args.threads < 0:
        ap.error("--threads must be >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        timing = run(args)
    except InputError as e:
        print("reference_stcn: error: %s" % e, file=sys.stderr)
        return 2
    if args.time:
        print("frames %d  seconds %.3f  fps %.3f" % (timing["frames"], timing["seconds_propagation"], timing["fps"] or 0.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
