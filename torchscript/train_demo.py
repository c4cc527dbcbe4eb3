"""Trains the demo model (torchscript/stcn_demo.py) on procedural clips and exports it.

STCN's training recipe in miniature (STCN `train.py`, `model/model.py`, `model/network.py`):
three frames of a clip in increasing order (gaps up to `max_skip`, growing over training), frame 0
with its ground-truth masks -> memory (key + per-object value); frame 1 is predicted by the memory
read (the training MemoryReader: (2 m^T q - |m|^2)/sqrt(64), softmax over the memory axis, no top-k),
decoded, soft-aggregated over the objects; its value (from the predicted probabilities) joins the
memory and frame 2 is predicted the same way. Loss: bootstrapped cross-entropy on the aggregated
logits of frames 1 and 2 (plain CE first, then the hardest top-p pixels, p falling to `top_p`).
1-2 objects per sample, Adam, seeded.

Training clips come from the project's one generator (ts/demo/generator.ts) through
`node dist/cli/generate-clips.js`, written once into a cache DAVIS root.

Usage (CPU, 2 threads; a CUDA GPU is used when available):
    nice -n 10 /usr/bin/python3 torchscript/train_demo.py --cache /tmp/demo-train/data \
        --out models/demo --steps 3000 --max-minutes 50

Writes <out>/stcn-demo.pt (TorchScript, metadata.json in _extra_files) at every checkpoint and at the
end, <out>/training-log.json (loss curve so far) and a resumable checkpoint <cache>/../checkpoint.pth.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stcn_demo import StcnDemo, aggregate_logits, memory_read, parameter_count  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def parse_seeds(text: str) -> List[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def generate(cache: str, seeds: str, frames: int, width: int, height: int) -> None:
    cli = os.path.join(ROOT, "dist", "cli", "generate-clips.js")
    if not os.path.exists(cli):
        raise SystemExit("%s is missing: build the TypeScript first (npx tsc -p tsconfig.json)" % cli)
    cmd = ["node", cli, "--out", cache, "--seeds", seeds, "--set", "train", "--frames", str(frames),
           "--width", str(width), "--height", str(height)]
    print("generating clips:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def load_clips(cache: str, names: List[str]) -> Tuple[np.ndarray, np.ndarray]:
    frames, masks = [], []
    for name in names:
        img_dir = os.path.join(cache, "JPEGImages", "480p", name)
        ann_dir = os.path.join(cache, "Annotations", "480p", name)
        files = sorted(f for f in os.listdir(img_dir) if f.endswith(".jpg"))
        frames.append(np.stack([np.array(Image.open(os.path.join(img_dir, f)).convert("RGB")) for f in files]))
        masks.append(np.stack([np.array(Image.open(os.path.join(ann_dir, f[:-4] + ".png"))) for f in files]))
    return np.stack(frames), np.stack(masks)


class Sampler:
    """Triplets of increasing frame indices and 1-2 target objects present on the first frame."""

    def __init__(self, frames: np.ndarray, masks: np.ndarray, rng: random.Random, min_area: int):
        self.frames = frames
        self.masks = masks
        self.rng = rng
        self.min_area = min_area

    def sample(self, max_skip: int, crop: int) -> Tuple[np.ndarray, np.ndarray, float]:
        n, t, h, w = self.masks.shape
        ch, cw = min(crop, h), min(crop, w)
        while True:
            c = self.rng.randrange(n)
            i0 = self.rng.randrange(0, t - 2)
            i1 = min(t - 2, i0 + self.rng.randint(1, max_skip))
            i2 = min(t - 1, i1 + self.rng.randint(1, max_skip))
            idx = [i0, i1, i2]
            # One crop window for the three frames (STCN crops its training triplets too).
            y0 = self.rng.randint(0, h - ch)
            x0 = self.rng.randint(0, w - cw)
            win = self.masks[c, idx, y0:y0 + ch, x0:x0 + cw]
            first = win[0]
            labels = [int(l) for l in np.unique(first) if l != 0 and (first == l).sum() >= self.min_area]
            if not labels:
                continue
            self.rng.shuffle(labels)
            k = 2 if len(labels) >= 2 and self.rng.random() < 0.8 else 1
            rgb = self.frames[c, idx, y0:y0 + ch, x0:x0 + cw]  # [3,ch,cw,3]
            tgt = np.zeros((3, 2, ch, cw), dtype=np.float32)
            for j, l in enumerate(labels[:k]):
                tgt[:, j] = win == l
            if self.rng.random() < 0.5:
                rgb = rgb[:, :, ::-1]
                tgt = tgt[..., ::-1]
            return np.ascontiguousarray(rgb), np.ascontiguousarray(tgt), float(k == 2)


def bootstrapped_ce(logits: torch.Tensor, target: torch.Tensor, top_p: float) -> torch.Tensor:
    raw = F.cross_entropy(logits, target, reduction="none").view(-1)
    if top_p >= 1.0:
        return raw.mean()
    num = max(1, int(raw.numel() * top_p))
    return torch.topk(raw, num, sorted=False)[0].mean()


def forward_triplet(model: StcnDemo, rgb: torch.Tensor, tgt: torch.Tensor, sel: torch.Tensor):
    """rgb [B,3,3,H,W] normalised, tgt [B,3,2,H,W], sel [B,2] -> (logits of frames 1 and 2 [B,3,H,W])."""
    b, t, _, h, w = rgb.shape
    k16, thin, f16, f8, f4 = model.encode_key(rgb.flatten(0, 1))
    hh, ww = k16.shape[-2:]

    def per(x: torch.Tensor) -> torch.Tensor:
        return x.view(b, t, *x.shape[1:])

    k16, thin, f16, f8, f4 = per(k16), per(thin), per(f16), per(f8), per(f4)

    def encode_value(ti: int, masks: torch.Tensor) -> torch.Tensor:
        # masks [B,2,H,W] -> values [B,2,C,h*w]; "others" = the other object's mask.
        vals = []
        for j in range(2):
            own = masks[:, j:j + 1]
            other = masks[:, 1 - j:2 - j]
            vals.append(model.value_encoder(rgb[:, ti], f16[:, ti], own, other))
        return torch.stack(vals, 1).flatten(3)

    def predict(ti: int, mem_k: torch.Tensor, mem_v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        q = k16[:, ti].flatten(2)
        probs = []
        for j in range(2):
            readout = memory_read(mem_k, mem_v[:, j], q).view(b, -1, hh, ww)
            probs.append(torch.sigmoid(model.decoder(torch.cat([readout, thin[:, ti]], 1), f8[:, ti], f4[:, ti])))
        prob = torch.cat(probs, 1) * sel.view(b, 2, 1, 1)
        logits = aggregate_logits(prob)
        return logits, torch.softmax(logits, 1)[:, 1:]

    v0 = encode_value(0, tgt[:, 0])
    mem_k = k16[:, 0].flatten(2)
    logits1, p1 = predict(1, mem_k, v0)
    v1 = encode_value(1, p1)
    mem_k = torch.cat([mem_k, k16[:, 1].flatten(2)], 2)
    mem_v = torch.cat([v0, v1], 3)
    logits2, _ = predict(2, mem_k, mem_v)
    return logits1, logits2


def to_label(tgt: torch.Tensor) -> torch.Tensor:
    """[B,2,H,W] one-hot (objects may overlap nowhere) -> class index [B,H,W] (0 = background)."""
    bg = (tgt.sum(1, keepdim=True) < 0.5).float()
    return torch.cat([bg, tgt], 1).argmax(1)


def export(model: StcnDemo, path: str, metadata: Dict) -> None:
    model = model.eval()
    scripted = torch.jit.script(StcnDemo())
    scripted.load_state_dict(model.state_dict())
    scripted.eval()
    tmp = path + ".tmp"
    torch.jit.save(scripted, tmp, _extra_files={"metadata.json": json.dumps(metadata, indent=1)})
    os.replace(tmp, path)


def write_json(path: str, data: Dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)


def run_demo_cli(model_path: str, seeds: str, mem_every: int) -> Dict:
    """`node dist/cli.js demo --seeds ... --json`: the native pipeline + the project's DAVIS evaluator."""
    import tempfile

    tmp = tempfile.mkdtemp(prefix="stcn-demo-eval-")
    cmd = ["node", os.path.join(ROOT, "dist", "cli.js"), "demo", "--model", model_path, "--seeds", seeds,
           "--mem-every", str(mem_every), "--out", tmp, "--json", "--quiet"]
    print(" ".join(cmd), flush=True)
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    # One JSON document on stdout: {"stcn", "command", "result"} (docs/cli.md).
    return json.loads(done.stdout)["result"]


def evaluate_heldout(out: str, seeds: str, train_seeds: str, val_seeds: str, mem_every_candidates: List[int]) -> Dict:
    """Picks the memory interval on validation clips (`val_seeds`), then scores <out>/stcn-demo.pt once
    on the held-out clips (`seeds`); both seed sets are disjoint from the training seeds and from each
    other. Writes <out>/training-record.json (training log + validation + held-out numbers) and adds
    the held-out summary to the model's metadata.json."""
    train = set(parse_seeds(train_seeds))
    held = parse_seeds(seeds)
    val = parse_seeds(val_seeds)
    for name, group in (("held-out", held), ("validation", val)):
        overlap = sorted(train.intersection(group))
        if overlap:
            raise SystemExit("%s seeds overlap the training seeds: %s" % (name, overlap[:5]))
    if set(held).intersection(val):
        raise SystemExit("held-out and validation seeds overlap")
    model_path = os.path.join(out, "stcn-demo.pt")
    validation = []
    for m in mem_every_candidates:
        g = run_demo_cli(model_path, val_seeds, m)["global"]
        validation.append({"mem_every": m, "J&F-Mean": g["J&F-Mean"], "J-Mean": g["J-Mean"], "F-Mean": g["F-Mean"]})
        print("validation mem_every %d: J&F %.3f" % (m, g["J&F-Mean"]), flush=True)
    best = max(validation, key=lambda v: (v["J&F-Mean"], v["mem_every"]))["mem_every"]
    res = run_demo_cli(model_path, seeds, best)
    g = res["global"]
    heldout = {
        "seeds": seeds,
        "clips": len(res["clips"]),
        "objects": len(res["objects"]),
        "J&F-Mean": g["J&F-Mean"],
        "J-Mean": g["J-Mean"],
        "F-Mean": g["F-Mean"],
        "J-Recall": g["J-Recall"],
        "F-Recall": g["F-Recall"],
        "fps": round(res["fps"], 1),
        "mem_every": best,
        "top_k": 20,
        "size": 128,
        "protocol": "stcn demo pipeline (native memory read, top-k 20, working size 128, mem_every chosen on the "
                    "validation seeds) + ts/davis evaluator (DAVIS 2017 semi-supervised)",
        "per_object": res["objects"],
    }
    with open(os.path.join(out, "training-log.json")) as fh:
        rec = json.load(fh)
    rec["validation"] = {"seeds": val_seeds, "runs": validation, "chosen_mem_every": best}
    rec["heldout"] = heldout
    write_json(os.path.join(out, "training-record.json"), rec)
    extra = {"metadata.json": ""}
    module = torch.jit.load(model_path, _extra_files=extra)
    meta = json.loads(extra["metadata.json"] or "{}")
    meta["heldout"] = {k: v for k, v in heldout.items() if k != "per_object"}
    meta["recommended"] = {"mem_every": best, "top_k": 20, "size": 128}
    torch.jit.save(module, model_path + ".tmp", _extra_files={"metadata.json": json.dumps(meta, indent=1)})
    os.replace(model_path + ".tmp", model_path)
    print("held-out J&F %.3f J %.3f F %.3f on %d clips (mem_every %d)" % (g["J&F-Mean"], g["J-Mean"], g["F-Mean"], len(res["clips"]), best), flush=True)
    return heldout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/stcn-demo-train/data", help="DAVIS root of the training clips (generated when missing)")
    ap.add_argument("--seeds", default="100000-100399", help="training clip seeds (A-B or list)")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "demo"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (1 is several times faster than 2 when other processes share the cores)")
    ap.add_argument("--max-minutes", type=float, default=55.0,
                    help="compute budget: stop (and export) after this much CPU time of the training process "
                         "(= wall time on unshared cores; with --threads 1, one core)")
    ap.add_argument("--max-wall-minutes", type=float, default=90.0,
                    help="hard wall-clock cap (other processes sharing the cores stretch the wall time)")
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--top-p", type=float, default=0.25)
    ap.add_argument("--crop", type=int, default=96, help="square training crop (multiple of 16)")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--checkpoint", default="", help="resumable checkpoint (default <cache>/../checkpoint.pth)")
    ap.add_argument("--heldout-seeds", default="900000-900019", help="seeds of the held-out clips (never used in training)")
    ap.add_argument("--val-seeds", default="800000-800019", help="seeds of the validation clips (choose mem_every)")
    ap.add_argument("--mem-every-candidates", default="5,2,1", help="memory intervals tried on the validation clips")
    ap.add_argument("--evaluate-only", action="store_true", help="only score <out>/stcn-demo.pt on the held-out clips")
    ap.add_argument("--no-evaluate", action="store_true", help="skip the held-out evaluation after training")
    args = ap.parse_args()
    if args.evaluate_only:
        evaluate_heldout(args.out, args.heldout_seeds, args.seeds, args.val_seeds, [int(m) for m in args.mem_every_candidates.split(",")])
        return

    start = time.time()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    seeds = parse_seeds(args.seeds)
    names = ["synth-%06d" % s for s in seeds]
    listed = os.path.join(args.cache, "ImageSets", "2017", "train.txt")
    have = set(open(listed).read().split()) if os.path.exists(listed) else set()
    if not all(n in have for n in names):
        generate(args.cache, args.seeds, args.frames, args.width, args.height)
    frames, masks = load_clips(args.cache, names)
    print("loaded %d clips %s in %.1fs" % (len(names), frames.shape, time.time() - start), flush=True)

    model = StcnDemo().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-7)
    sampler = Sampler(frames, masks, random.Random(args.seed), min_area=max(8, args.width * args.height // 400))
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = args.checkpoint or os.path.join(os.path.dirname(os.path.abspath(args.cache)), "checkpoint.pth")
    curve: List[Dict] = []
    step0 = 0
    elapsed_before = 0.0
    cpu_before = 0.0
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step0, curve, elapsed_before = ck["step"], ck["curve"], ck["elapsed"]
        cpu_before = ck.get("cpu", ck["elapsed"])
        sampler.rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        print("resumed at step %d" % step0, flush=True)

    train_start = time.time()
    cpu_start = time.process_time()

    def wall() -> float:
        return elapsed_before + time.time() - train_start

    def cpu() -> float:
        return cpu_before + time.process_time() - cpu_start

    def budget_used() -> float:
        return max(cpu() / 60 / args.max_minutes, wall() / 60 / args.max_wall_minutes)

    def record(step: int, final: bool) -> Dict:
        return {
            "model": "stcn-demo",
            "parameters": parameter_count(model),
            "seed": args.seed,
            "steps": step,
            "planned_steps": args.steps,
            "batch": args.batch,
            "lr": args.lr,
            "train_seeds": args.seeds,
            "clip": {"width": args.width, "height": args.height, "frames": args.frames},
            "crop": args.crop,
            "max_minutes": args.max_minutes,
            "max_wall_minutes": args.max_wall_minutes,
            "wall_seconds": round(wall(), 1),
            "cpu_seconds": round(cpu(), 1),
            "threads": args.threads,
            "device": str(device),
            "final": final,
            "loss_curve": curve,
        }

    def save(step: int, final: bool) -> None:
        rec = record(step, final)
        meta = {k: v for k, v in rec.items() if k != "loss_curve"}
        export(model.cpu(), os.path.join(args.out, "stcn-demo.pt"), meta)
        model.to(device).train()
        write_json(os.path.join(args.out, "training-log.json"), rec)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "curve": curve,
                    "elapsed": rec["wall_seconds"], "cpu": rec["cpu_seconds"], "rng": sampler.rng.getstate(), "torch_rng": torch.get_rng_state()}, ckpt_path)

    mean, std = MEAN.to(device), STD.to(device)
    window: List[float] = []
    iou_window: List[float] = []
    step = step0
    while step < args.steps:
        if budget_used() >= 1.0:
            print("time budget reached at step %d (cpu %.1f min, wall %.1f min)" % (step, cpu() / 60, wall() / 60), flush=True)
            break
        # Schedule position: steps done or wall time used, whichever is further (a run cut short by its
        # time budget still ends with a decayed learning rate and the long gaps).
        frac = min(1.0, max(step / args.steps, budget_used()))
        lr = args.lr * (min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))))
        for g in opt.param_groups:
            g["lr"] = lr
        max_skip = int(round(3 + 9 * min(1.0, frac / 0.6)))
        top_p = 1.0 if frac < 0.2 else max(args.top_p, 1.0 - (1.0 - args.top_p) * (frac - 0.2) / 0.4)
        batch = [sampler.sample(max_skip, args.crop) for _ in range(args.batch)]
        rgb = torch.from_numpy(np.stack([b[0] for b in batch])).to(device).permute(0, 1, 4, 2, 3).float().div_(255)
        rgb = ((rgb.flatten(0, 1) - mean) / std).view(rgb.shape)
        tgt = torch.from_numpy(np.stack([b[1] for b in batch])).to(device)
        sel = torch.tensor([[1.0, b[2]] for b in batch], device=device)

        logits1, logits2 = forward_triplet(model, rgb, tgt, sel)
        y1, y2 = to_label(tgt[:, 1]), to_label(tgt[:, 2])
        loss = bootstrapped_ce(logits1, y1, top_p) + bootstrapped_ce(logits2, y2, top_p)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1

        with torch.no_grad():
            pred = logits2.argmax(1)
            inter = ((pred > 0) & (y2 > 0) & (pred == y2)).sum().item()
            union = ((pred > 0) | (y2 > 0)).sum().item()
        window.append(loss.item())
        iou_window.append(inter / max(1, union))
        if step % 10 == 0:
            entry = {"step": step, "loss": round(float(np.mean(window)), 5), "iou": round(float(np.mean(iou_window)), 4),
                     "lr": round(lr, 7), "max_skip": max_skip, "top_p": round(top_p, 3),
                     "seconds": round(wall(), 1), "cpu_seconds": round(cpu(), 1)}
            curve.append(entry)
            window, iou_window = [], []
            print(json.dumps(entry), flush=True)
        if step % args.checkpoint_every == 0:
            save(step, False)
    save(step, True)
    print("done: %d steps in %.1f min wall, %.1f min cpu" % (step, wall() / 60, cpu() / 60), flush=True)
    if not args.no_evaluate:
        evaluate_heldout(args.out, args.heldout_seeds, args.seeds, args.val_seeds, [int(m) for m in args.mem_every_candidates.split(",")])


if __name__ == "__main__":
    main()
