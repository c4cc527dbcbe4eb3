"""detectron2 checkpoint names -> our PointRend state_dict (torchscript/pointrend.py), strictly.

Checkpoint: detectron2's `model_final_edd263.pkl`, a pickle {"model": {name: numpy array}, "__author__":
...} with detectron2 names. The converter maps every name strictly onto the v0.6 module names
(`roi_heads.mask_head.coarse_head.fc1`, `roi_heads.mask_head.point_head.fc1`, ...), also accepting the
older generations detectron2 itself renames on load: `roi_heads.mask_head.coarse_head.coarse_mask_fc*`
(the Nov 2020 re-upload that model_final_edd263.pkl is, written by the code of that date) and the
original `roi_heads.mask_coarse_head.*` / `roi_heads.mask_point_head.*`. The buffers `pixel_mean`,
`pixel_std`, `proposal_generator.anchor_generator.cell_anchors.{0..4}` may be present and must agree with
the config; everything else missing, unexpected, duplicated or wrongly shaped is refused naming the keys
(ConversionError; the exporter exits 2). A torch-saved dict of tensors with the same names also works.
"""
import os
import pickle
import sys
from typing import Dict, Tuple

import torch
from torch import Tensor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pointrend import DEFAULTS, PIXEL_MEAN, PIXEL_STD, PointRend, cell_anchors  # noqa: E402

OPTIONAL_BUFFERS = ["pixel_mean", "pixel_std"] + [f"proposal_generator.anchor_generator.cell_anchors.{i}" for i in range(5)]
# Older generations of PointRend names -> detectron2 v0.6 module names (what PointRendROIHeads /
# ConvFCHead._load_from_state_dict rename on load): the Jan 2020 release
# (roi_heads.mask_coarse_head.coarse_mask_fc1, roi_heads.mask_point_head.fc1) and the Nov 2020 re-upload
# model_final_edd263.pkl (roi_heads.mask_head.coarse_head.coarse_mask_fc1).
RENAMES = [
    ("roi_heads.mask_coarse_head.coarse_mask_fc", "roi_heads.mask_head.coarse_head.fc"),
    ("roi_heads.mask_coarse_head.", "roi_heads.mask_head.coarse_head."),
    ("roi_heads.mask_point_head.", "roi_heads.mask_head.point_head."),
    ("roi_heads.mask_head.coarse_head.coarse_mask_fc", "roi_heads.mask_head.coarse_head.fc"),
]


class ConversionError(ValueError):
    pass


def detectron2_keys() -> Dict[str, Tuple[int, ...]]:
    """Every tensor name (and shape) of the detectron2 checkpoint this model loads (v0.6-era names)."""
    model = PointRend(dict(DEFAULTS))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def convert(weights: Dict[str, object]) -> Dict[str, Tensor]:
    """detectron2 {name: numpy array | tensor} -> our state_dict, strictly (ConversionError names the offending keys)."""
    import numpy as np

    expected = detectron2_keys()
    state: Dict[str, Tensor] = {}
    renamed: Dict[str, str] = {}
    for name, value in weights.items():
        new = name
        for old_prefix, new_prefix in RENAMES:
            if new.startswith(old_prefix):
                new = new_prefix + new[len(old_prefix):]
                break
        if new in state:
            raise ConversionError(f"{name} and {renamed[new]} both map to {new}")
        renamed[new] = name
        if isinstance(value, np.ndarray):
            tensor = torch.from_numpy(np.ascontiguousarray(value))
        elif isinstance(value, Tensor):
            tensor = value
        else:
            raise ConversionError(f"{name}: not an array ({type(value).__name__})")
        state[new] = tensor.to(torch.float32) if tensor.is_floating_point() else tensor
    optional = {}
    for k in OPTIONAL_BUFFERS:
        if k in state:
            optional[k] = state.pop(k)
    missing = [k for k in expected if k not in state]
    unexpected = [renamed[k] for k in state if k not in expected]
    wrong = [f"{renamed[k]} {tuple(state[k].shape)} != {v}" for k, v in expected.items() if k in state and tuple(state[k].shape) != v]
    if missing or unexpected or wrong:
        raise ConversionError(
            f"{len(missing)} missing (e.g. {missing[:5]}), {len(unexpected)} unexpected (e.g. {unexpected[:5]}), "
            f"{len(wrong)} wrong shape (e.g. {wrong[:5]})")
    # Buffers that older detectron2 versions saved: they must agree with our config.
    refs = {"pixel_mean": torch.tensor(PIXEL_MEAN).view(3, 1, 1), "pixel_std": torch.tensor(PIXEL_STD).view(3, 1, 1)}
    anchors = cell_anchors()
    for i in range(5):
        refs[f"proposal_generator.anchor_generator.cell_anchors.{i}"] = anchors[i]
    for k, v in optional.items():
        ref = refs[k]
        if tuple(v.shape) != tuple(ref.shape) and v.numel() == ref.numel():
            v = v.reshape(ref.shape)
        if tuple(v.shape) != tuple(ref.shape) or not torch.allclose(v.to(torch.float32), ref, atol=1e-3):
            raise ConversionError(f"{renamed[k]} {tuple(v.shape)} does not match the config ({ref.flatten().tolist()})")
    return state


def read_checkpoint(path: str) -> Dict[str, object]:
    """detectron2 .pkl ({"model": {...}} of numpy arrays) or a torch-saved dict; the inner name -> array dict."""
    try:
        with open(path, "rb") as f:
            data = pickle.load(f, encoding="latin1")
    except Exception:  # noqa: BLE001 - not a plain pickle: try torch
        try:
            data = torch.load(path, map_location="cpu")
        except Exception as error:  # noqa: BLE001
            raise ConversionError(f"cannot read checkpoint {path}: {error}") from error
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]
    if not isinstance(data, dict):
        raise ConversionError(f"checkpoint {path} is not a dict of arrays")
    return data
