"""Tiny scripted STCN-shaped models for the bad-input tests (no weights, no training).

Usage: bad-inputs-stcn-models.py OUT_DIR
Writes into OUT_DIR:
  good.pt                 follows the module contract (k16 64, f16_thin 512, values 512, sigmoid probabilities)
  wrong-value-channels.pt encode_value returns 256 channels (the decoder is made to accept them)
  nan.pt                  decode returns NaN everywhere
  nan-at-runtime.pt       decode returns NaN only on frames larger than 64x64 (the load probe passes)
  bad-key-channels.pt     encode_key's k16 has 32 channels
"""
import os
import sys

import torch
import torch.nn.functional as F


class Fake(torch.nn.Module):
    def __init__(self, value_channels: int, key_channels: int, nan_mode: int):
        super().__init__()
        self.value_channels = value_channels
        self.key_channels = key_channels
        # 0: none, 1: always NaN, 2: NaN on frames above 64x64
        self.nan_mode = nan_mode

    @torch.jit.export
    def encode_key(self, frame: torch.Tensor):
        h = frame.shape[2] // 16
        w = frame.shape[3] // 16
        x16 = F.avg_pool2d(frame, 16)
        x8 = F.avg_pool2d(frame, 8)
        x4 = F.avg_pool2d(frame, 4)
        k16 = x16.mean(1, keepdim=True).repeat(1, self.key_channels, 1, 1)
        f16_thin = x16.mean(1, keepdim=True).repeat(1, 512, 1, 1)
        f16 = x16.repeat(1, 4, 1, 1)
        f8 = x8.repeat(1, 2, 1, 1)
        f4 = x4.repeat(1, 2, 1, 1)
        return k16[:, :, :h, :w], f16_thin[:, :, :h, :w], f16[:, :, :h, :w], f8, f4

    @torch.jit.export
    def encode_value(self, frame: torch.Tensor, f16: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        m = F.avg_pool2d(masks, 16)
        return (m * 4.0 - 2.0).repeat(1, self.value_channels, 1, 1)

    @torch.jit.export
    def decode(self, readout: torch.Tensor, f16_thin: torch.Tensor, f8: torch.Tensor, f4: torch.Tensor) -> torch.Tensor:
        logits = readout.mean(1, keepdim=True)
        probs = torch.sigmoid(F.interpolate(logits, scale_factor=16.0, mode="nearest"))
        if self.nan_mode == 1 or (self.nan_mode == 2 and f4.shape[2] * f4.shape[3] > 16 * 16):
            probs = probs * float("nan")
        return probs

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return frame


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, args in {
        "good": (512, 64, 0),
        "wrong-value-channels": (256, 64, 0),
        "nan": (512, 64, 1),
        "nan-at-runtime": (512, 64, 2),
        "bad-key-channels": (512, 32, 0),
    }.items():
        torch.jit.save(torch.jit.script(Fake(*args)), os.path.join(out, name + ".pt"))


if __name__ == "__main__":
    main()
