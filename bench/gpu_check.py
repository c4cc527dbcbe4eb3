"""Python side of bench/gpu-check.sh (inputs, references, comparisons, the summary table).

  gpu_check.py env --device D                     torch/CUDA facts as JSON (exit 1 when D is unusable)
  gpu_check.py prepare --out DIR --width W --height H --frames T --objects K
                                                  a synthetic clip: DIR/frames/*.png (lossless, so the
                                                  reference and the driver see the same RGB),
                                                  DIR/frames.rgb (T x H x W x 3), DIR/mask.png, DIR/mask.u8
  gpu_check.py agreement --ours LABELS.u8 --ref DIR --width W --height H --frames T
                                                  per-frame label agreement (JSON)
  gpu_check.py maskrcnn-eager --model M.pt --device D --image IMG.rgb --width W --height H --out EAGER.json
                                                  [exporter options]: eager torchvision on D with the archive's weights
  gpu_check.py maskrcnn-compare --ours OURS.json --eager EAGER.json
  gpu_check.py summary --results DIR              the table (every *.json result of the run)

Only `env` and `maskrcnn-eager` import torch (each import costs seconds of CPU).
No network, no Node: only torch (and torchvision for Mask R-CNN) of the machine's Python.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "torchscript"))


def cmd_env(a):
    import torch

    info = {"torch": torch.__version__, "cuda_build": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
            "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "python": sys.executable}
    try:
        import torchvision  # noqa: F401
        info["torchvision"] = torchvision.__version__
    except Exception:  # noqa: BLE001
        info["torchvision"] = None
    if a.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print(json.dumps(info))
            print("gpu_check: --device %s but torch.cuda.is_available() is False" % a.device, file=sys.stderr)
            return 1
        info["gpu"] = torch.cuda.get_device_name(torch.device(a.device))
    print(json.dumps(info))
    return 0


def cmd_prepare(a):
    """Textured moving ellipses on a textured background; K objects in the first mask."""
    from PIL import Image

    rng = np.random.default_rng(16)
    H, W, T, K = a.height, a.width, a.frames, a.objects
    os.makedirs(os.path.join(a.out, "frames"), exist_ok=True)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    bg = (128 + 60 * np.sin(xx / 17.0)[..., None] * np.cos(yy / 23.0)[..., None] * np.array([1, 0.6, 0.3])).astype(np.float32)
    objs = []
    for k in range(K):
        objs.append({
            "cx": W * (0.3 + 0.4 * k / max(1, K - 1)), "cy": H * (0.4 + 0.2 * (k % 2)),
            "rx": W * 0.12, "ry": H * 0.18, "vx": W * 0.004 * (1 if k % 2 == 0 else -1), "vy": H * 0.002,
            "colour": rng.integers(30, 226, size=3).astype(np.float32),
        })
    raw = np.empty((T, H, W, 3), dtype=np.uint8)
    first = np.zeros((H, W), dtype=np.uint8)
    for t in range(T):
        img = bg + rng.normal(0, 4, size=(H, W, 3)).astype(np.float32)
        for k, o in enumerate(objs):
            cx, cy = o["cx"] + o["vx"] * t, o["cy"] + o["vy"] * t
            inside = ((xx - cx) / o["rx"]) ** 2 + ((yy - cy) / o["ry"]) ** 2 <= 1
            tex = o["colour"] + 30 * np.sin((xx + yy) / 5.0)[..., None]
            img[inside] = tex[inside]
            if t == 0:
                first[inside] = k + 1
        raw[t] = np.clip(img, 0, 255).astype(np.uint8)
        Image.fromarray(raw[t]).save(os.path.join(a.out, "frames", "%05d.png" % t))
    raw.tofile(os.path.join(a.out, "frames.rgb"))
    first.tofile(os.path.join(a.out, "mask.u8"))
    m = Image.fromarray(first, mode="P")
    m.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128] + [0] * (3 * 251))
    m.save(os.path.join(a.out, "mask.png"))
    print(json.dumps({"frames": T, "width": W, "height": H, "objects": int(first.max())}))
    return 0


def cmd_agreement(a):
    from PIL import Image

    ours = np.fromfile(a.ours, dtype=np.uint8).reshape(a.frames, a.height, a.width)
    per = []
    for t in range(a.frames):
        ref = np.array(Image.open(os.path.join(a.ref, "%05d.png" % t)))
        per.append(float((ref == ours[t]).mean()))
    print(json.dumps({"min": min(per), "mean": sum(per) / len(per), "per_frame": per}))
    return 0


def maskrcnn_args(extra):
    import export_maskrcnn

    return export_maskrcnn, export_maskrcnn.parser().parse_args(["--random-init", "--out", "unused.pt"] + extra)


def cmd_maskrcnn_eager(a, extra):
    import torch

    maskrcnn, args = maskrcnn_args(extra)
    device = torch.device(a.device)
    model = maskrcnn.make(args)
    scripted = torch.jit.load(a.model, map_location="cpu")
    model.load_state_dict(scripted.state_dict(), strict=True)  # the archive's exact weights
    model = model.to(device).eval()
    rgb = np.fromfile(a.image, dtype=np.uint8).reshape(a.height, a.width, 3)
    x = torch.from_numpy(rgb).to(device)  # uint8 [H,W,3] RGB, as the archive takes it
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        model(x)
        sync()
        t0 = time.perf_counter()
        det = model(x)
        sync()
        ms = (time.perf_counter() - t0) * 1000
    out = {"ms": ms}
    for name in ("boxes", "scores", "labels", "masks"):
        t = det[name].float().cpu()
        if name == "masks":
            t = (t >= 0.5).sum(dim=(1, 2, 3)).float()
        out[name] = t.reshape(-1).tolist()
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(json.dumps({"ms": ms, "detections": len(out["scores"])}))
    return 0


def cmd_maskrcnn_compare(a):
    ours = json.load(open(a.ours))
    eager = json.load(open(a.eager))
    n_ours, n_eager = len(ours["scores"]), len(eager["scores"])
    n = min(n_ours, n_eager)
    box = max((abs(p - q) for p, q in zip(ours["boxes"][: 4 * n], eager["boxes"][: 4 * n])), default=0.0)
    score = max((abs(p - q) for p, q in zip(ours["scores"][:n], eager["scores"][:n])), default=0.0)
    labels_equal = ours["labels"][:n] == eager["labels"][:n]
    mask_rel = max((abs(p - q) / max(1.0, q) for p, q in zip(ours["masks"][:n], eager["masks"][:n])), default=0.0)
    print(json.dumps({"detections_ours": n_ours, "detections_eager": n_eager, "max_box_diff_px": box, "max_score_diff": score,
                      "labels_equal": labels_equal, "max_mask_area_rel_diff": mask_rel, "ms_ours": ours["ms"], "ms_eager": eager["ms"]}))
    return 0


def cmd_summary(a):
    r = {}
    for name in sorted(os.listdir(a.results)):
        if name.endswith(".json"):
            with open(os.path.join(a.results, name)) as f:
                try:
                    r[name[:-5]] = json.loads(f.read().strip().splitlines()[-1])
                except (ValueError, IndexError):
                    r[name[:-5]] = None
    env = r.get("env") or {}
    rows = []
    ok = True

    def row(check, value, target, passed):
        nonlocal ok
        if passed is False:
            ok = False
        rows.append((check, value, target, {True: "ok", False: "FAIL", None: "-"}[passed]))

    device = a.device
    row("device", "%s (torch %s, CUDA %s)" % (env.get("gpu", device), env.get("torch"), env.get("cuda_build")), "", None)
    if "build" in r and r["build"]:
        row("engine + driver build (CMake, found torch)", "%.0f s" % r["build"]["seconds"], "", True)
    agr = r.get("agreement")
    if agr:
        row("STCN labels vs Python reference, fp32 (min/mean per frame)", "%.4f / %.4f" % (agr["min"], agr["mean"]), ">= 0.995 per frame", agr["min"] >= 0.995)
    for objects in (1, 2):
        for prec in ("fp32", "half"):
            ours = r.get("fps-ours-%d-%s" % (objects, prec))
            ref = r.get("fps-ref-%d-%s" % (objects, prec))
            if not ours:
                continue
            ratio = ours["fps"] / ref["fps"] if ref and ref.get("fps") else float("nan")
            label = "fp16 autocast" if device.startswith("cuda") and prec == "half" else ("bf16 autocast" if prec == "half" else "fp32")
            target = ""
            passed = None
            if device.startswith("cuda") and objects == 2 and prec == "half":
                target = ">= 60 FPS, >= 3x Python"
                passed = ours["fps"] >= 60 and ratio >= 3
            row("STCN FPS %s, %d object(s), %dx%d: ours / Python loop" % (label, objects, a.width, a.height),
                "%.2f / %.2f FPS (%.2fx)" % (ours["fps"], ref["fps"] if ref else float("nan"), ratio), target, passed)
    mr = r.get("maskrcnn")
    if mr:
        good = mr["detections_ours"] == mr["detections_eager"] and mr["labels_equal"] and mr["max_box_diff_px"] <= 0.5 and mr["max_score_diff"] <= 1e-3
        row("Mask R-CNN (our nms/roi_align) vs eager torchvision",
            "%d/%d dets, box %.2g px, score %.2g, mask area %.2g; %.0f / %.0f ms" % (
                mr["detections_ours"], mr["detections_eager"], mr["max_box_diff_px"], mr["max_score_diff"],
                mr["max_mask_area_rel_diff"], mr["ms_ours"], mr["ms_eager"]),
            "same detections, box <= 0.5 px", good)
    elif "maskrcnn-skipped" in r:
        row("Mask R-CNN vs eager torchvision", "skipped: %s" % (r["maskrcnn-skipped"] or {}).get("reason"), "", None)
    mem = r.get("memread")
    if mem:
        row("memory read on %s vs CPU (max |diff|)" % mem["device"], "%.2e (%.2f ms)" % (mem["maxAbsDiff"], mem["ms"]), "<= 1e-3", mem["maxAbsDiff"] <= 1e-3)
    crf = r.get("crf")
    if crf:
        row("CRF from %s probabilities vs CPU (max |dQ|, labels)" % device, "%.2e, %.5f (%.0f ms)" % (crf["maxAbsDiffQ"], crf["labelAgreement"], crf["ms"]),
            "labels >= 0.999", crf["labelAgreement"] >= 0.999)
    for name in sorted(k for k in r if k.endswith("-error")):
        row(name, (r[name] or {}).get("message", "?"), "", False)
    w = [max(len(str(x[i])) for x in rows + [("check", "value", "target", "")]) for i in range(4)]
    line = lambda x: "| " + " | ".join(str(v).ljust(w[i]) for i, v in enumerate(x)) + " |"
    print(line(("check", "value", "target", "")))
    print("|" + "|".join("-" * (n + 2) for n in w) + "|")
    for x in rows:
        print(line(x))
    print("gpu-check: %s" % ("all checks passed" if ok else "SOME CHECKS FAILED"))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("env")
    s.add_argument("--device", default="cpu")
    s = sub.add_parser("prepare")
    for k in ("width", "height", "frames", "objects"):
        s.add_argument("--" + k, type=int, required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("agreement")
    s.add_argument("--ours", required=True)
    s.add_argument("--ref", required=True)
    for k in ("width", "height", "frames"):
        s.add_argument("--" + k, type=int, required=True)
    s = sub.add_parser("maskrcnn-eager")
    for k in ("model", "device", "image", "out"):
        s.add_argument("--" + k, required=True)
    for k in ("width", "height"):
        s.add_argument("--" + k, type=int, required=True)
    s = sub.add_parser("maskrcnn-compare")
    s.add_argument("--ours", required=True)
    s.add_argument("--eager", required=True)
    s = sub.add_parser("summary")
    s.add_argument("--results", required=True)
    s.add_argument("--device", default="cpu")
    s.add_argument("--width", type=int, default=854)
    s.add_argument("--height", type=int, default=480)
    a, extra = p.parse_known_args()
    if a.cmd == "maskrcnn-eager":
        return cmd_maskrcnn_eager(a, extra)
    if extra:
        p.error("unknown arguments %s" % extra)
    return {"env": cmd_env, "prepare": cmd_prepare, "agreement": cmd_agreement, "maskrcnn-compare": cmd_maskrcnn_compare,
            "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
