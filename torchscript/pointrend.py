"""PointRend instance segmentation (R50-FPN Mask R-CNN + PointRend mask head) -> TorchScript detector archive.

The model; its command line (`stcn export pointrend`) is torchscript/export_pointrend.py, the
detectron2 checkpoint converter torchscript/detectron2_names.py.

Our own port (no detectron2 dependency) of detectron2 v0.6's
`projects/PointRend/configs/InstanceSegmentation/pointrend_rcnn_R_50_FPN_3x_coco.yaml` at inference, with
the study's `MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.01` (docs/detection.md, "What the study did"):

* input: detectron2's DefaultPredictor on an HxWx3 float array in [0,255]: ResizeShortestEdge(800, max 1333)
  (float input -> torch bilinear interpolation, align_corners=False), subtract PIXEL_MEAN
  [103.53, 116.28, 123.675] (BGR order, PIXEL_STD 1), zero padding to a multiple of 32;
* backbone: ResNet-50 (MSRA style: stride in the 1x1 conv, FrozenBN eps 1e-5), FPN p2..p5 (sum fusion,
  nearest x2 top-down), p6 = max_pool(p5, 1, stride 2);
* RPN: anchors 32..512 (one size per level), aspect ratios 0.5/1/2, offset 0; per level top 1000 logits,
  decode (weights 1,1,1,1, dw/dh clamp log(1000/16)), clip, drop empty boxes, NMS 0.7 per level, keep 1000;
* box head: ROIAlignV2 7x7 (aligned, sampling_ratio 0, levels floor(4 + log2(sqrt(area)/224 + 1e-8)) in
  2..5), fc1/fc2 1024 ReLU, 81-way softmax (background = LAST index 80), class-specific deltas
  (10,10,5,5), clip, score > thresh, per-class NMS 0.5, top 100;
* PointRend mask head (v0.6 `PointRendMaskHead`, ROI_MASK_HEAD.POOLER_TYPE ""): coarse head on 14x14
  point-sampled p2 features (regular grid, grid_sample align_corners False): 2x2/2 conv + ReLU, fc1/fc2
  (1024, ReLU), prediction 80x7x7; point head = 3 conv1d(256) + predictor on [p2 point features, coarse
  logits at the point] (coarse logits concatenated before every layer); adaptive subdivision with
  SUBDIVISION_STEPS 5 / 28*28 points from 7x7, which v0.6 shortens to: point head on a regular 28x28 grid,
  then 3 steps of x2 bilinear upsampling (56, 112, 224) recomputing the 784 most uncertain points
  (uncertainty = -|logit of the predicted class|);
* output: boxes rescaled to the input size and clipped, empty boxes dropped, sigmoid masks pasted into the
  image (grid_sample, full image as on CUDA) and thresholded at >= 0.5: binary masks, as the study's
  `pred_masks`.

The archive keeps the contract of our Mask R-CNN archive (torchscript/maskrcnn.py):

  forward(image: Tensor[H,W,3] uint8 RGB) -> Dict[str, Tensor] with
    boxes [N,4] float32 (x0,y0,x1,y1 input pixels), scores [N] float32 (descending),
    labels [N] int64 (COCO category ids 1..90, mapped from detectron2's contiguous 0..79),
    masks [N,1,H,W] float32 in {0,1}.

Channel order (`--channel-order`, baked into the archive, recorded in metadata): detectron2's weights
expect BGR (cfg INPUT.FORMAT "BGR"). The study handed DefaultPredictor an RGB array, so the network saw
R in its B slot (and B in its R slot). `rgb` (default) reproduces that: the RGB input goes to the network
unchanged. `bgr` flips the input to BGR first, what detectron2 intends. (The annotator's own
`--channel-order bgr` calls `forward_swapped`; leave it at rgb when the archive already chooses.)

Checkpoints: see torchscript/detectron2_names.py.
"""
import math
import os
import sys
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import boxes as box_ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_input import rgb_to_chw_float  # noqa: E402

PIXEL_MEAN = [103.53, 116.28, 123.675]  # BGR, detectron2 Base-RCNN-FPN
PIXEL_STD = [1.0, 1.0, 1.0]
ANCHOR_SIZES = [32.0, 64.0, 128.0, 256.0, 512.0]
ASPECT_RATIOS = [0.5, 1.0, 2.0]
STRIDES = [4, 8, 16, 32, 64]  # p2..p6 (written as 4 * 2 ** level inside scripted code)
NUM_CLASSES = 80
# detectron2's COCO contiguous id (0..79) -> COCO category id
COCO_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
            31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
            56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82,
            84, 85, 86, 87, 88, 89, 90]

DEFAULTS = {
    "min_size": 800,
    "max_size": 1333,
    "score_thresh": 0.01,  # the study; the yaml's default is 0.05
    "nms_thresh": 0.5,
    "detections_per_img": 100,
    "channel_order": "rgb",
}


# ------------------------------------------------------------------------------------------------
# Backbone: ResNet-50 (detectron2 names) + FPN

class FrozenBN(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("weight", torch.ones(n))
        self.register_buffer("bias", torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + 1e-5).rsqrt()
        bias = self.bias - self.running_mean * scale
        return x * scale.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


class ConvBN(nn.Conv2d):
    """Conv2d without bias followed by FrozenBN, stored as `<name>.weight` + `<name>.norm.*`."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0):
        super().__init__(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.norm = FrozenBN(cout)
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(F.conv2d(x, self.weight, None, self.stride, self.padding))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, stride: int):
        super().__init__()
        self.shortcut = ConvBN(cin, cout, 1, stride) if cin != cout else nn.Identity()
        self.conv1 = ConvBN(cin, mid, 1, stride)  # STRIDE_IN_1X1 (MSRA weights)
        self.conv2 = ConvBN(mid, mid, 3, 1, 1)
        self.conv3 = ConvBN(mid, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.conv1(x))
        y = F.relu(self.conv2(y))
        y = self.conv3(y)
        return F.relu(y + self.shortcut(x))


class Stem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBN(3, 64, 7, 2, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.relu(self.conv1(x)), kernel_size=3, stride=2, padding=1)


def stage(n: int, cin: int, mid: int, cout: int, stride: int) -> nn.Sequential:
    blocks = [Bottleneck(cin if i == 0 else cout, mid, cout, stride if i == 0 else 1) for i in range(n)]
    return nn.Sequential(*blocks)


class ResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Stem()
        self.res2 = stage(3, 64, 64, 256, 1)
        self.res3 = stage(4, 256, 128, 512, 2)
        self.res4 = stage(6, 512, 256, 1024, 2)
        self.res5 = stage(3, 1024, 512, 2048, 2)

    def forward(self, x: Tensor) -> List[Tensor]:
        x = self.stem(x)
        c2 = self.res2(x)
        c3 = self.res3(c2)
        c4 = self.res4(c3)
        c5 = self.res5(c4)
        return [c2, c3, c4, c5]


class FPNBackbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.bottom_up = ResNet50()
        self.fpn_lateral2 = nn.Conv2d(256, 256, 1)
        self.fpn_output2 = nn.Conv2d(256, 256, 3, padding=1)
        self.fpn_lateral3 = nn.Conv2d(512, 256, 1)
        self.fpn_output3 = nn.Conv2d(256, 256, 3, padding=1)
        self.fpn_lateral4 = nn.Conv2d(1024, 256, 1)
        self.fpn_output4 = nn.Conv2d(256, 256, 3, padding=1)
        self.fpn_lateral5 = nn.Conv2d(2048, 256, 1)
        self.fpn_output5 = nn.Conv2d(256, 256, 3, padding=1)

    def forward(self, x: Tensor) -> List[Tensor]:
        c2, c3, c4, c5 = self.bottom_up(x)
        t5 = self.fpn_lateral5(c5)
        t4 = self.fpn_lateral4(c4) + F.interpolate(t5, scale_factor=2.0, mode="nearest")
        t3 = self.fpn_lateral3(c3) + F.interpolate(t4, scale_factor=2.0, mode="nearest")
        t2 = self.fpn_lateral2(c2) + F.interpolate(t3, scale_factor=2.0, mode="nearest")
        p5 = self.fpn_output5(t5)
        p6 = F.max_pool2d(p5, kernel_size=1, stride=2, padding=0)
        return [self.fpn_output2(t2), self.fpn_output3(t3), self.fpn_output4(t4), p5, p6]


# ------------------------------------------------------------------------------------------------
# Boxes

def decode(deltas: Tensor, boxes: Tensor, wx: float, wy: float, ww: float, wh: float) -> Tensor:
    """detectron2 Box2BoxTransform.apply_deltas: deltas [R, 4k] on boxes [R, 4] -> [R, 4k]."""
    clamp = math.log(1000.0 / 16)
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    ctr_x = boxes[:, 0] + 0.5 * widths
    ctr_y = boxes[:, 1] + 0.5 * heights
    dx = deltas[:, 0::4] / wx
    dy = deltas[:, 1::4] / wy
    dw = (deltas[:, 2::4] / ww).clamp(max=clamp)
    dh = (deltas[:, 3::4] / wh).clamp(max=clamp)
    px = dx * widths[:, None] + ctr_x[:, None]
    py = dy * heights[:, None] + ctr_y[:, None]
    pw = torch.exp(dw) * widths[:, None]
    ph = torch.exp(dh) * heights[:, None]
    out = torch.stack([px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph], dim=2)
    return out.reshape(deltas.shape)


def clip(boxes: Tensor, h: int, w: int) -> Tensor:
    x0 = boxes[..., 0].clamp(min=0.0, max=float(w))
    y0 = boxes[..., 1].clamp(min=0.0, max=float(h))
    x1 = boxes[..., 2].clamp(min=0.0, max=float(w))
    y1 = boxes[..., 3].clamp(min=0.0, max=float(h))
    return torch.stack([x0, y0, x1, y1], dim=-1)


def cell_anchors() -> Tensor:
    """[5 levels, 3 ratios, 4] anchors centred on 0 (detectron2 DefaultAnchorGenerator, computed in Python floats)."""
    out = []
    for size in ANCHOR_SIZES:
        level = []
        area = size * size
        for ratio in ASPECT_RATIOS:
            w = math.sqrt(area / ratio)
            h = ratio * w
            level.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
        out.append(level)
    return torch.tensor(out, dtype=torch.float32)


class RPNHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(256, 256, 3, padding=1)
        self.objectness_logits = nn.Conv2d(256, 3, 1)
        self.anchor_deltas = nn.Conv2d(256, 12, 1)


class RPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rpn_head = RPNHead()
        self.register_buffer("cell_anchors", cell_anchors(), persistent=False)
        self.pre_nms_topk = 1000
        self.post_nms_topk = 1000
        self.nms_thresh = 0.7

    def forward(self, features: List[Tensor], h: int, w: int) -> Tensor:
        boxes_all: List[Tensor] = []
        scores_all: List[Tensor] = []
        levels_all: List[Tensor] = []
        for i, f in enumerate(features):
            t = F.relu(self.rpn_head.conv(f))
            logits = self.rpn_head.objectness_logits(t)  # [1, A, H, W]
            deltas = self.rpn_head.anchor_deltas(t)  # [1, A*4, H, W]
            fh, fw = f.shape[-2], f.shape[-1]
            logits = logits.permute(0, 2, 3, 1).reshape(-1)  # (H, W, A)
            deltas = deltas.view(1, 3, 4, fh, fw).permute(0, 3, 4, 1, 2).reshape(-1, 4)
            stride = 4 * 2 ** i  # p2..p6: 4..64
            sx = torch.arange(0, fw * stride, step=stride, dtype=torch.float32, device=f.device)
            sy = torch.arange(0, fh * stride, step=stride, dtype=torch.float32, device=f.device)
            yy, xx = torch.meshgrid(sy, sx, indexing="ij")
            xx = xx.reshape(-1)
            yy = yy.reshape(-1)
            shifts = torch.stack([xx, yy, xx, yy], dim=1)
            anchors = (shifts.view(-1, 1, 4) + self.cell_anchors[i].view(1, -1, 4)).reshape(-1, 4)
            proposals = decode(deltas, anchors, 1.0, 1.0, 1.0, 1.0)
            k = min(self.pre_nms_topk, logits.numel())
            sorted_scores, order = logits.sort(descending=True)  # v0.6 sorts (not topk)
            top_scores, top_idx = sorted_scores[:k], order[:k]
            boxes_all.append(proposals[top_idx])
            scores_all.append(top_scores)
            levels_all.append(torch.full((k,), i, dtype=torch.int64, device=f.device))
        boxes = torch.cat(boxes_all)
        scores = torch.cat(scores_all)
        levels = torch.cat(levels_all)
        valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(scores)
        boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
        boxes = clip(boxes, h, w)
        keep = ((boxes[:, 2] - boxes[:, 0]) > 0) & ((boxes[:, 3] - boxes[:, 1]) > 0)
        boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
        keep_idx = box_ops.batched_nms(boxes, scores, levels, self.nms_thresh)
        keep_idx = keep_idx[: self.post_nms_topk]
        return boxes[keep_idx]


# ------------------------------------------------------------------------------------------------
# ROI heads

class BoxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(256 * 7 * 7, 1024)
        self.fc2 = nn.Linear(1024, 1024)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(x, 1)
        return F.relu(self.fc2(F.relu(self.fc1(x))))


class BoxPredictor(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_score = nn.Linear(1024, NUM_CLASSES + 1)
        self.bbox_pred = nn.Linear(1024, NUM_CLASSES * 4)


class CoarseHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.reduce_spatial_dim_conv = nn.Conv2d(256, 256, 2, stride=2)
        self.fc1 = nn.Linear(256 * 7 * 7, 1024)
        self.fc2 = nn.Linear(1024, 1024)
        self.prediction = nn.Linear(1024, NUM_CLASSES * 7 * 7)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.reduce_spatial_dim_conv(x))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.prediction(x).view(x.shape[0], -1, 7, 7)


class PointHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Conv1d(256 + NUM_CLASSES, 256, 1)
        self.fc2 = nn.Conv1d(256 + NUM_CLASSES, 256, 1)
        self.fc3 = nn.Conv1d(256 + NUM_CLASSES, 256, 1)
        self.predictor = nn.Conv1d(256 + NUM_CLASSES, NUM_CLASSES, 1)

    def forward(self, fine: Tensor, coarse: Tensor) -> Tensor:
        x = torch.cat([fine, coarse], dim=1)
        x = torch.cat([F.relu(self.fc1(x)), coarse], dim=1)
        x = torch.cat([F.relu(self.fc2(x)), coarse], dim=1)
        x = torch.cat([F.relu(self.fc3(x)), coarse], dim=1)
        return self.predictor(x)


def point_sample(x: Tensor, coords: Tensor) -> Tensor:
    """x [R,C,H,W], coords [R,P,2] in [0,1] -> [R,C,P] (grid_sample bilinear, align_corners False, zeros)."""
    out = F.grid_sample(x, 2.0 * coords.unsqueeze(2) - 1.0, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.squeeze(3)


def regular_grid(r: int, side: int, device: torch.device) -> Tensor:
    """[r, side*side, 2] cell centres of a side x side grid in [0,1]^2, x fastest (an affine grid, as detectron2)."""
    aff = torch.tensor([[[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]], device=device)
    g = F.affine_grid(aff, [1, 1, side, side], align_corners=False)
    return g.view(1, -1, 2).expand(r, -1, -1)


def fine_features(p2: Tensor, boxes: Tensor, coords: Tensor) -> Tensor:
    """p2 [1,C,h,w] (stride 4), boxes [R,4] image pixels, coords [R,P,2] box-relative -> [R,C,P]."""
    x = coords[:, :, 0] * (boxes[:, None, 2] - boxes[:, None, 0]) + boxes[:, None, 0]
    y = coords[:, :, 1] * (boxes[:, None, 3] - boxes[:, None, 1]) + boxes[:, None, 1]
    scale = torch.tensor([p2.shape[-1] * 4.0, p2.shape[-2] * 4.0], device=p2.device)
    img = torch.stack([x, y], dim=2) / scale
    out = F.grid_sample(p2, (2.0 * img - 1.0).unsqueeze(0), mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.squeeze(0).transpose(0, 1)


class MaskHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.coarse_head = CoarseHead()
        self.point_head = PointHead()


class ROIHeads(nn.Module):
    def __init__(self, score_thresh: float, nms_thresh: float, detections: int):
        super().__init__()
        self.box_head = BoxHead()
        self.box_predictor = BoxPredictor()
        self.mask_head = MaskHead()
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections = detections
        # SUBDIVISION_STEPS 5 from OUTPUT_SIDE_RESOLUTION 7 with 28*28 points: v0.6 skips the steps whose
        # points would all be recomputed anyway, starting from a 28x28 grid with 3 steps left.
        self.subdivision_points = 28 * 28
        self.subdivision_init = 28
        self.subdivision_steps = 3

    def pool(self, features: List[Tensor], boxes: Tensor) -> Tensor:
        """ROIAlignV2 7x7 over p2..p5 with detectron2's level assignment."""
        size = torch.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
        levels = torch.floor(4.0 + torch.log2(size / 224.0 + 1e-8)).clamp(min=2.0, max=5.0).to(torch.int64) - 2
        out = torch.zeros(boxes.shape[0], 256, 7, 7, dtype=boxes.dtype, device=boxes.device)
        rois = torch.cat([torch.zeros_like(boxes[:, :1]), boxes], dim=1)
        for lvl in range(4):
            idx = torch.nonzero(levels == lvl).squeeze(1)
            if idx.numel() > 0:
                pooled = torch.ops.torchvision.roi_align(features[lvl], rois[idx], 1.0 / float(4 * 2 ** lvl), 7, 7, 0, True)
                out[idx] = pooled.to(out.dtype)
        return out

    def forward(self, features: List[Tensor], proposals: Tensor, h: int, w: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        x = self.box_head(self.pool(features, proposals))
        logits = self.box_predictor.cls_score(x)
        deltas = self.box_predictor.bbox_pred(x)
        probs = F.softmax(logits, dim=-1)
        boxes = decode(deltas, proposals, 10.0, 10.0, 5.0, 5.0)
        valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(probs).all(dim=1)
        boxes, probs = boxes[valid], probs[valid]
        boxes = clip(boxes.view(boxes.shape[0], -1, 4), h, w)
        probs = probs[:, :-1]  # background is the last class
        mask = probs > self.score_thresh
        inds = torch.nonzero(mask)  # (proposal, class), row-major
        boxes = boxes[mask]
        scores = probs[mask]
        classes = inds[:, 1]
        keep = box_ops.batched_nms(boxes, scores, classes, self.nms_thresh)[: self.detections]
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        return boxes, scores, classes, self.masks(features[0], boxes, classes)

    def masks(self, p2: Tensor, boxes: Tensor, classes: Tensor) -> Tensor:
        """Mask logits [R, 1, 224, 224] of each box's class (PointRend adaptive subdivision, v0.6)."""
        r = boxes.shape[0]
        if r == 0:
            return torch.zeros(0, 1, 7, 7, dtype=p2.dtype, device=p2.device)
        head = self.mask_head
        coarse = head.coarse_head(fine_features(p2, boxes, regular_grid(r, 14, p2.device)).reshape(r, 256, 14, 14))
        side = self.subdivision_init
        coords = regular_grid(r, side, p2.device)
        point_logits = head.point_head(fine_features(p2, boxes, coords), point_sample(coarse, coords))
        mask_logits = point_logits.reshape(r, point_logits.shape[1], side, side)
        arange = torch.arange(r, device=p2.device)
        for _ in range(self.subdivision_steps):
            mask_logits = F.interpolate(mask_logits, scale_factor=2.0, mode="bilinear", align_corners=False)
            hh, ww = mask_logits.shape[-2], mask_logits.shape[-1]
            uncertainty = -torch.abs(mask_logits[arange, classes])  # [R, H, W]
            k = min(hh * ww, self.subdivision_points)
            idx = torch.topk(uncertainty.reshape(r, hh * ww), k=k, dim=1)[1]
            coords = torch.zeros(r, k, 2, dtype=torch.float32, device=p2.device)
            coords[:, :, 0] = 1.0 / ww / 2.0 + (idx % ww).to(torch.float32) * (1.0 / ww)
            coords[:, :, 1] = 1.0 / hh / 2.0 + torch.div(idx, ww, rounding_mode="floor").to(torch.float32) * (1.0 / hh)
            point_logits = head.point_head(fine_features(p2, boxes, coords), point_sample(coarse, coords))
            c = mask_logits.shape[1]
            mask_logits = mask_logits.reshape(r, c, hh * ww).scatter_(2, idx.unsqueeze(1).expand(-1, c, -1), point_logits).view(r, c, hh, ww)
        return mask_logits[arange, classes].unsqueeze(1)


class PointRend(nn.Module):
    """One image in, its detections out (see the module docstring). State_dict names = detectron2's."""

    def __init__(self, config: Dict[str, object]):
        super().__init__()
        self.backbone = FPNBackbone()
        self.proposal_generator = RPN()
        self.roi_heads = ROIHeads(float(config["score_thresh"]), float(config["nms_thresh"]), int(config["detections_per_img"]))
        self.min_size = int(config["min_size"])
        self.max_size = int(config["max_size"])
        self.bgr = str(config["channel_order"]) == "bgr"
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(3, 1, 1), persistent=False)
        self.register_buffer("coco_ids", torch.tensor(COCO_IDS, dtype=torch.int64), persistent=False)

    def resized(self, h: int, w: int) -> Tuple[int, int]:
        """detectron2 ResizeShortestEdge.get_output_shape."""
        size = float(self.min_size)
        scale = size / float(min(h, w))
        if h < w:
            nh, nw = size, scale * w
        else:
            nh, nw = scale * h, size
        if max(nh, nw) > self.max_size:
            s = float(self.max_size) / max(nh, nw)
            nh = nh * s
            nw = nw * s
        return int(nh + 0.5), int(nw + 0.5)

    def forward(self, image: Tensor) -> Dict[str, Tensor]:
        return self.detect(rgb_to_chw_float(image, False))

    @torch.jit.export
    def forward_swapped(self, image: Tensor) -> Dict[str, Tensor]:
        """forward() on the image with R and B swapped (the annotator's channel order "bgr")."""
        return self.detect(rgb_to_chw_float(image, True))

    def detect(self, rgb: Tensor) -> Dict[str, Tensor]:
        oh, ow = rgb.shape[1], rgb.shape[2]
        x = rgb * 255.0
        if self.bgr:
            x = x.flip(0)
        nh, nw = self.resized(oh, ow)
        x = F.interpolate(x.unsqueeze(0), size=(nh, nw), mode="bilinear", align_corners=False)
        x = (x - self.pixel_mean) / self.pixel_std
        ph = int(math.ceil(nh / 32.0)) * 32
        pw = int(math.ceil(nw / 32.0)) * 32
        x = F.pad(x, (0, pw - nw, 0, ph - nh), value=0.0)
        features = self.backbone(x)
        proposals = self.proposal_generator(features, nh, nw)
        boxes, scores, classes, mask_logits = self.roi_heads(features[:4], proposals, nh, nw)
        # detector_postprocess: rescale to the input size, clip, drop empty boxes, paste masks
        sx = float(ow) / float(nw)
        sy = float(oh) / float(nh)
        boxes = boxes * torch.tensor([sx, sy, sx, sy], device=boxes.device)
        boxes = clip(boxes, oh, ow)
        keep = ((boxes[:, 2] - boxes[:, 0]) > 0) & ((boxes[:, 3] - boxes[:, 1]) > 0)
        boxes, scores, classes, mask_logits = boxes[keep], scores[keep], classes[keep], mask_logits[keep]
        masks = paste(mask_logits.sigmoid(), boxes, oh, ow) >= 0.5
        return {"boxes": boxes, "scores": scores, "labels": self.coco_ids[classes], "masks": masks.to(torch.float32)}


def paste(masks: Tensor, boxes: Tensor, h: int, w: int) -> Tensor:
    """detectron2 _do_paste_mask over the full image: masks [N,1,M,M], boxes [N,4] -> [N,1,h,w]."""
    n = masks.shape[0]
    if n == 0:
        return torch.zeros(0, 1, h, w, dtype=masks.dtype, device=masks.device)
    x0, y0, x1, y1 = torch.split(boxes, 1, dim=1)
    img_y = torch.arange(0, h, device=boxes.device, dtype=torch.float32) + 0.5
    img_x = torch.arange(0, w, device=boxes.device, dtype=torch.float32) + 0.5
    img_y = (img_y - y0) / (y1 - y0) * 2 - 1
    img_x = (img_x - x0) / (x1 - x0) * 2 - 1
    gx = img_x[:, None, :].expand(n, h, w)
    gy = img_y[:, :, None].expand(n, h, w)
    grid = torch.stack([gx, gy], dim=3)
    return F.grid_sample(masks.to(torch.float32), grid, align_corners=False)


def make(config: Dict[str, object], checkpoint: Optional[str] = None, seed: int = 0, residual_scale: float = 0.2,
         class_bias: Optional[Dict[int, float]] = None) -> PointRend:
    """The eager model (also the tests' reference): `config` as DEFAULTS, weights from a detectron2
    `checkpoint` (detectron2_names.ConversionError when it does not match) or seeded random init."""
    torch.manual_seed(0 if checkpoint else seed)
    model = PointRend(config)
    if not checkpoint:
        # detectron2's init of the box predictor (FastRCNNOutputLayers): normal std 0.01 / 0.001, bias 0
        with torch.no_grad():
            nn.init.normal_(model.roi_heads.box_predictor.cls_score.weight, std=0.01)
            nn.init.normal_(model.roi_heads.box_predictor.bbox_pred.weight, std=0.001)
            nn.init.zeros_(model.roi_heads.box_predictor.cls_score.bias)
            nn.init.zeros_(model.roi_heads.box_predictor.bbox_pred.bias)
            # Keep random activations in range: without trained norms every residual add doubles the
            # variance (16 blocks); damp each block's last FrozenBN scale instead.
            for name, buf in model.backbone.bottom_up.named_buffers():
                if name.endswith("conv3.norm.weight"):
                    buf.fill_(residual_scale)
    else:
        from detectron2_names import convert, read_checkpoint  # the converter builds a PointRend itself

        model.load_state_dict(convert(read_checkpoint(checkpoint)), strict=True)
    if class_bias:
        if checkpoint:
            raise ValueError("--class-bias is for --random-init test models only")
        with torch.no_grad():
            for cls, value in class_bias.items():
                if not 0 <= cls <= NUM_CLASSES:
                    raise ValueError(f"--class-bias class {cls} outside 0..{NUM_CLASSES} (detectron2 contiguous ids, 80 = background)")
                model.roi_heads.box_predictor.cls_score.bias[cls] += value
    return model.eval()
