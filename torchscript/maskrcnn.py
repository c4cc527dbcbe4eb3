"""torchvision's Mask R-CNN (ResNet-50 FPN, COCO) as a TorchScript detector archive.

The model; its command line (`stcn export maskrcnn`) is torchscript/export_maskrcnn.py.

The model is `torchvision.models.detection.maskrcnn_resnet50_fpn` as the study used it
(`pretrained=True`: FrozenBatchNorm2d backbone, 91 COCO classes) with torchvision's defaults: internal
resize min 800 / max 1333, ImageNet normalisation inside the model, box score threshold 0.05, NMS 0.5,
at most 100 detections sorted by score. Every default can be changed for tests (smaller images, a lower
score threshold) and the values used are recorded in the archive's metadata.

The archive is `torch.jit.script` of a thin wrapper:

  forward(image: Tensor[H,W,3] uint8 RGB) -> Dict[str, Tensor] with
    boxes  [N,4] float32 (x0,y0,x1,y1, input pixels), scores [N] float32 (descending),
    labels [N] int64 (COCO category ids 1..90), masks [N,1,H,W] float32 soft masks in [0,1].

The image is converted to float [3,H,W] in [0,1] inside the archive (torchscript/image_input.py);
`forward_swapped(image)` is the same with R and B swapped. (Scripted torchvision detectors return `(losses, detections)` for a List[Tensor] input; the wrapper
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
or unexpected keys / wrong shapes are refused naming them (CheckpointError; the exporter exits 2).
"""
import os
import sys
from typing import Dict, List, Optional, Tuple

import torch
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.mask_rcnn import MaskRCNN
from torchvision.ops.misc import FrozenBatchNorm2d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_input import rgb_to_chw_float  # noqa: E402

DEFAULTS = {
    "min_size": 800,
    "max_size": 1333,
    "box_score_thresh": 0.05,
    "box_nms_thresh": 0.5,
    "box_detections_per_img": 100,
}
NUM_CLASSES = 91


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not match the model (the message names the keys)."""


class Detector(torch.nn.Module):
    """One image in, the detections of that image out (see the module docstring)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.detect(rgb_to_chw_float(image, False))

    @torch.jit.export
    def forward_swapped(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        """forward() on the image with R and B swapped (the annotator's channel order "bgr")."""
        return self.detect(rgb_to_chw_float(image, True))

    def detect(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        # GeneralizedRCNN.forward's inference path, step by step (calling it directly would make the
        # scripted model warn "RCNN always returns a (Losses, Detections) tuple" on every call).
        model = self.model
        original_sizes: List[Tuple[int, int]] = [(x.shape[-2], x.shape[-1])]
        images, _ = model.transform([x], None)
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
        num_classes=NUM_CLASSES,
        min_size=int(config["min_size"]),
        max_size=int(config["max_size"]),
        box_score_thresh=float(config["box_score_thresh"]),
        box_nms_thresh=float(config["box_nms_thresh"]),
        box_detections_per_img=int(config["box_detections_per_img"]),
    )
    return model.eval()


def load_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Loads torchvision's COCO state_dict strictly (CheckpointError names what does not match)."""
    try:
        state = torch.load(path, map_location="cpu")
    except Exception as error:  # noqa: BLE001 - reported with the file name
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error
    if isinstance(state, dict):
        for key in ("model", "state_dict"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} is not a state_dict")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"checkpoint {path} does not match maskrcnn_resnet50_fpn: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}), "
            f"{len(wrong)} wrong shape (e.g. {wrong[:3]})")
    model.load_state_dict(state, strict=True)


def make(config: Dict[str, float], checkpoint: Optional[str] = None, seed: int = 0,
         class_bias: Optional[Dict[int, float]] = None) -> Detector:
    """The eager detector (also the tests' reference): `config` as DEFAULTS, weights from `checkpoint` or
    seeded random init; `class_bias` (random init only) adds to the classifier bias of those classes."""
    model = build(config, seed=seed)
    if checkpoint:
        load_checkpoint(model, checkpoint)
    if class_bias:
        if checkpoint:
            raise ValueError("--class-bias is for --random-init test models only")
        with torch.no_grad():
            for cls, value in class_bias.items():
                if not 0 <= cls < NUM_CLASSES:
                    raise ValueError(f"--class-bias class {cls} outside 0..{NUM_CLASSES - 1}")
                model.roi_heads.box_predictor.cls_score.bias[cls] += value
    return Detector(model).eval()
