"""`stcn export pointrend`: PointRend R50-FPN (detectron2 pointrend_rcnn_R_50_FPN_3x_coco) -> TorchScript
detector archive.

Usage:
  /usr/bin/python3 torchscript/export_pointrend.py --checkpoint model_final_edd263.pkl --out pointrend.pt
  /usr/bin/python3 torchscript/export_pointrend.py --random-init --seed 0 --out pointrend.pt

The model and the archive's contract are in torchscript/pointrend.py, the checkpoint converter in
torchscript/detectron2_names.py; `--help` lists the options and their defaults.
Exit codes: 0 ok, 2 bad input (unreadable checkpoint, key mismatch, bad arguments).
"""
import argparse
import os
import sys
from typing import Dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pointrend  # noqa: E402
from detectron2_names import ConversionError  # noqa: E402
from export_util import add_detector_arguments, export_detector, fail, parse_class_bias, weights_parser  # noqa: E402

PROG = "export_pointrend.py"


def parser() -> argparse.ArgumentParser:
    d = pointrend.DEFAULTS
    p = weights_parser("Export PointRend (detectron2 pointrend_rcnn_R_50_FPN_3x_coco) to TorchScript",
                       "detectron2 model_final_edd263.pkl")
    add_detector_arguments(p, d, "detections_per_img", "detectron2 contiguous ids")
    p.add_argument("--channel-order", choices=["rgb", "bgr"], default=d["channel_order"],
                   help="what the network sees: rgb = the study (RGB into BGR weights), bgr = detectron2's intent")
    p.add_argument("--score-thresh", type=float, default=d["score_thresh"], help="detection score floor, strict >")
    p.add_argument("--nms-thresh", type=float, default=d["nms_thresh"], help="per-class NMS IoU")
    p.add_argument("--residual-scale", type=float, default=0.2,
                   help="random-init only: FrozenBN scale of each bottleneck's last conv (keeps activations bounded)")
    return p


def config_of(args: argparse.Namespace) -> Dict[str, object]:
    return {
        "min_size": args.min_size,
        "max_size": args.max_size,
        "score_thresh": args.score_thresh,
        "nms_thresh": args.nms_thresh,
        "detections_per_img": args.detections_per_img,
        "channel_order": args.channel_order,
    }


def make(args: argparse.Namespace) -> pointrend.PointRend:
    """The eager model the arguments describe (also the tests' reference); refusals exit 2."""
    try:
        return pointrend.make(config_of(args), checkpoint=args.checkpoint, seed=args.seed, residual_scale=args.residual_scale,
                              class_bias=parse_class_bias(args.class_bias, PROG))
    except ConversionError as error:
        fail(PROG, f"checkpoint {args.checkpoint} does not match pointrend_rcnn_R_50_FPN_3x_coco: {error}")
    except ValueError as error:
        fail(PROG, str(error))


def main() -> None:
    args = parser().parse_args()
    export_detector(PROG, args, make, {
        "model": "pointrend",
        "output": {"boxes": "[N,4] xyxy", "scores": "[N]", "labels": "[N] COCO ids", "masks": "[N,1,H,W] binary 0/1"},
        "channel_order": args.channel_order,
        "config": dict(config_of(args), class_bias=args.class_bias, pixel_mean_bgr=pointrend.PIXEL_MEAN,
                       rpn_pre_nms_topk=1000, rpn_post_nms_topk=1000, rpn_nms_thresh=0.7,
                       subdivision_steps=5, subdivision_num_points=784, mask_threshold=0.5),
    })


if __name__ == "__main__":
    main()
