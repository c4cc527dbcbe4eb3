"""The image contract of every exported model: frames arrive as uint8 RGB, height x width x 3 (the bytes
the addon decodes, copied once into a tensor); each archive turns them into what its network expects
inside TorchScript, so no pixel loop runs in JavaScript. (STCN is fed through its native session,
which does the same for its own normalisation; see docs/architecture.md.)"""
import torch
from torch import Tensor


def rgb_to_chw_float(image: Tensor, swap_rb: bool = False) -> Tensor:
    """uint8 [H,W,3] RGB -> float32 [3,H,W] in [0,1], contiguous; `swap_rb` gives BGR instead (the
    archives' `forward_swapped`)."""
    if image.dim() != 3 or image.size(2) != 3 or image.dtype != torch.uint8:
        raise ValueError("expected an image tensor [H,W,3] uint8 (RGB)")
    x = image.permute(2, 0, 1).to(torch.float32).div(255.0)
    if swap_rb:
        x = x.flip(0)
    return x.contiguous()
