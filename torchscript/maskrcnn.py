"""Export torchvision's Mask R-CNN (ResNet-50 FPN, COCO) to a TorchScript detector archive.

Usage:
  /usr/bin/python3 torchscript/maskrcnn.py --checkpoint maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --out maskrcnn.pt
  /usr/bin/python3 torchscript/maskrcnn.py --random-init --seed 0 --out maskrcnn.pt [--box-score-thresh 0.0]
  options: --min-size 800 --max-size 1333 --box-score-thresh 0.05 --box-nms-thresh 0.5
           --detections-per-img 100 --class-bias CLASS=VALUE (random-init only)

The model is `torchvision.models.detection.maskrcnn_resnet50_fpn` as the study used it
(`pretrained=True`: FrozenBatchNorm2d backbone, 91 COCO classes) with torchvision's defaults: internal
resize min 800 / max 1333, ImageNet normalisation inside the model, box score threshold 0.05, NMS 0.5,
at most 100 detections sorted by score. Every default can be changed for tests (smaller images, a lower
score threshold) and the values used are recorded in the archive's metadata.

The archive is `torch.jit.script` of a thin wrapper:

  forward(image: Tensor[3,H,W] float32 RGB in [0,1]) -> Dict[str, Tensor] with
    boxes  [N,4] float32 (x0,y0,x1,y1, input pixels), scores [N] float32 (descending),
    labels [N] int64 (COCO category ids 1..90), masks [N,1,H,W] float32 soft masks in [0,1].

(Scripted torchvision detectors return `(losses, detections)` for a List[Tensor] input; the wrapper
runs the same inference steps as GeneralizedRCNN.forward on one image and returns its detections.) The scripted graph calls `torchvision::nms` and
`torchvision::roi_align`, which the stcn-node addon provides (cpp/detection_ops.cpp); no Python or
libtorchvision is needed at run time. Metadata (`extra/metadata.json`):
  {"model": "maskrcnn", "kind": "detector", "input": {...}, "config": {...}, "source", "source_sha256",
   "seed", "torch", "torchvision"}.

Random init (--random-init --seed N, for tests): torchvision's default init under torch.manual_seed(N).
Every class then scores about 1/91, below the 0.05 default floor, so tests pass a lower
--box-score-thresh or --class-bias (adds VALUE to the classifier bias of CLASS, making that class
score high) so that detections exist.

Checkpoints: a state_dict with torchvision's key names (the COCO file
`maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth`), optionally wrapped in {"model"|"state_dict": ...}. Missing
or unexpected keys / wrong shapes are refused naming them (exit code 2).

Exit codes: 0 ok, 2 bad input (unreadable checkpoint, key mismatch, bad arguments).
"""
import argparse
import os
import sys
import time
from typing import Dict, List, Tuple

import torch
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.mask_rcnn import MaskRCNN
from torchvision.ops.misc import FrozenBatchNorm2d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_util import save_scripted, sha256_of  # noqa: E402

DEFAULTS = {
    "min_size": 800,
    "max_size": 1333,
    "box_score_thresh": 0.05,
    "box_nms_thresh": 0.5,
    "box_detections_per_img": 100,
}


class Detector(torch.nn.Module):
    """One image in, the detections of that image out (see the module docstring)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        if image.dim() != 3 or image.size(0) != 3:
            raise ValueError("expected an image tensor [3,H,W] (RGB in [0,1])")
        # GeneralizedRCNN.forward's inference path, step by step (calling it directly would make the
        # scripted model warn "RCNN always returns a (Losses, Detections) tuple" on every call).
        model = self.model
        original_sizes: List[Tuple[int, int]] = [(image.shape[-2], image.shape[-1])]
        images, _ = model.transform([image], None)
        features = model.backbone(images.tensors)
        proposals, _ = model.rpn(images, features, None)
        detections, _ = model.roi_heads(features, proposals, images.image_sizes, None)
        detections = model.transform.postprocess(detections, images.image_sizes, original_sizes)
        return detections[0]


def build(config: Dict[str, float], seed: int = 0) -> torch.nn.Module:
    """Mask R-CNN R50-FPN with the pretrained architecture (FrozenBatchNorm2d), seeded default init."""
    torch.manual_seed(seed)
    backbone = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(backbone, 3)
    model = MaskRCNN(
        backbone,
        num_classes=91,
        min_size=int(config["min_size"]),
        max_size=int(config["max_size"]),
        box_score_thresh=float(config["box_score_thresh"]),
        box_nms_thresh=float(config["box_nms_thresh"]),
        box_detections_per_img=int(config["box_detections_per_img"]),
    )
    return model.eval()


def fail(message: str) -> None:
    print(f"maskrcnn.py: {message}", file=sys.stderr)
    sys.exit(2)


def load_checkpoint(model: torch.nn.Module, path: str) -> None:
    try:
        state = torch.load(path, map_location="cpu")
    except Exception as error:  # noqa: BLE001 - reported with the file name
        fail(f"cannot read checkpoint {path}: {error}")
    if isinstance(state, dict):
        for key in ("model", "state_dict"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        fail(f"checkpoint {path} is not a state_dict")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        fail(f"checkpoint {path} does not match maskrcnn_resnet50_fpn: "
             f"{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}), "
             f"{len(wrong)} wrong shape (e.g. {wrong[:3]})")
    model.load_state_dict(state, strict=True)


def parse_class_bias(items: List[str]) -> Dict[int, float]:
    out: Dict[int, float] = {}
    for item in items:
        try:
            cls, value = item.split("=", 1)
            out[int(cls)] = float(value)
        except ValueError:
            fail(f"--class-bias expects CLASS=VALUE, got {item!r}")
    return out


def make(args: argparse.Namespace) -> torch.nn.Module:
    """The eager detector wrapper described by the arguments (also used by tests as the reference)."""
    config = {
        "min_size": args.min_size,
        "max_size": args.max_size,
        "box_score_thresh": args.box_score_thresh,
        "box_nms_thresh": args.box_nms_thresh,
        "box_detections_per_img": args.detections_per_img,
    }
    model = build(config, seed=args.seed if args.random_init else 0)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    biases = parse_class_bias(args.class_bias)
    if biases:
        if not args.random_init:
            fail("--class-bias is for --random-init test models only")
        with torch.no_grad():
            for cls, value in biases.items():
                if not 0 <= cls < 91:
                    fail(f"--class-bias class {cls} outside 0..90")
                model.roi_heads.box_predictor.cls_score.bias[cls] += value
    return Detector(model).eval()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Export torchvision Mask R-CNN R50-FPN to TorchScript")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="torchvision COCO state_dict (maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth)")
    src.add_argument("--random-init", action="store_true", help="seeded random weights (tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output TorchScript archive (.pt)")
    p.add_argument("--min-size", type=int, default=DEFAULTS["min_size"])
    p.add_argument("--max-size", type=int, default=DEFAULTS["max_size"])
    p.add_argument("--box-score-thresh", type=float, default=DEFAULTS["box_score_thresh"])
    p.add_argument("--box-nms-thresh", type=float, default=DEFAULTS["box_nms_thresh"])
    p.add_argument("--detections-per-img", type=int, default=DEFAULTS["box_detections_per_img"])
    p.add_argument("--class-bias", action="append", default=[], metavar="CLASS=VALUE",
                   help="add VALUE to the classifier bias of CLASS (random-init test models)")
    return p


def main() -> None:
    args = parser().parse_args()
    if args.checkpoint and not os.path.isfile(args.checkpoint):
        fail(f"checkpoint not found: {args.checkpoint}")
    detector = make(args)
    scripted = torch.jit.script(detector)
    meta = {
        "model": "maskrcnn",
        "kind": "detector",
        "input": {"layout": "CHW", "dtype": "float32", "range": [0, 1], "channels": "RGB"},
        "output": {"boxes": "[N,4] xyxy", "scores": "[N]", "labels": "[N] COCO ids", "masks": "[N,1,H,W] soft"},
        "config": {
            "min_size": args.min_size,
            "max_size": args.max_size,
            "box_score_thresh": args.box_score_thresh,
            "box_nms_thresh": args.box_nms_thresh,
            "box_detections_per_img": args.detections_per_img,
            "class_bias": args.class_bias,
        },
        "source": os.path.basename(args.checkpoint) if args.checkpoint else "random-init",
        "source_sha256": sha256_of(args.checkpoint) if args.checkpoint else None,
        "seed": args.seed if args.random_init else None,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_scripted(scripted, args.out, meta)
    print(f"maskrcnn.py: wrote {args.out} ({meta['source']})")


if __name__ == "__main__":
    main()
