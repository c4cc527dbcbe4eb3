"""`stcn export maskrcnn`: torchvision Mask R-CNN R50-FPN (COCO) -> TorchScript detector archive.

Usage:
  /usr/bin/python3 torchscript/export_maskrcnn.py --checkpoint maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --out maskrcnn.pt
  /usr/bin/python3 torchscript/export_maskrcnn.py --random-init --seed 0 --out maskrcnn.pt [--box-score-thresh 0.0]

The model and the archive's contract are in torchscript/maskrcnn.py; `--help` lists the options and
their defaults. Exit codes: 0 ok, 2 bad input (unreadable checkpoint, key mismatch, bad arguments).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import maskrcnn  # noqa: E402
from export_util import add_detector_arguments, export_detector, fail, parse_class_bias, weights_parser  # noqa: E402

PROG = "export_maskrcnn.py"


def parser() -> argparse.ArgumentParser:
    d = maskrcnn.DEFAULTS
    p = weights_parser("Export torchvision Mask R-CNN R50-FPN to TorchScript",
                       "torchvision COCO state_dict (maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth)")
    add_detector_arguments(p, d, "box_detections_per_img", "COCO category ids")
    p.add_argument("--box-score-thresh", type=float, default=d["box_score_thresh"], help="detection score floor")
    p.add_argument("--box-nms-thresh", type=float, default=d["box_nms_thresh"], help="per-class NMS IoU")
    return p


def config_of(args: argparse.Namespace):
    return {
        "min_size": args.min_size,
        "max_size": args.max_size,
        "box_score_thresh": args.box_score_thresh,
        "box_nms_thresh": args.box_nms_thresh,
        "box_detections_per_img": args.detections_per_img,
    }


def make(args: argparse.Namespace) -> maskrcnn.Detector:
    """The eager detector the arguments describe (also the tests' reference); refusals exit 2."""
    try:
        return maskrcnn.make(config_of(args), checkpoint=args.checkpoint, seed=args.seed if args.random_init else 0,
                             class_bias=parse_class_bias(args.class_bias, PROG))
    except (maskrcnn.CheckpointError, ValueError) as error:
        fail(PROG, str(error))


def main() -> None:
    args = parser().parse_args()
    export_detector(PROG, args, make, {
        "model": "maskrcnn",
        "output": {"boxes": "[N,4] xyxy", "scores": "[N]", "labels": "[N] COCO ids", "masks": "[N,1,H,W] soft"},
        "config": dict(config_of(args), class_bias=args.class_bias),
    })


if __name__ == "__main__":
    main()
