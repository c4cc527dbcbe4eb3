"""Compact STCN for the demo ("stcn-demo"): the same exported methods, signatures and memory-read
interface as the full model (torchscript/stcn.py), with narrow backbones so it trains on a CPU in
minutes and runs at hundreds of frames per second on small clips.

Contract (float32; H, W multiples of 16; h = H/16, w = W/16) - identical to the full model where the
tensors cross into the native memory read and back into the decoder:

    encode_key(frame [1,3,H,W])  -> (k16 [1,64,h,w], f16_thin [1,512,h,w],
                                     f16 [1,128,h,w], f8 [1,64,H/8,W/8], f4 [1,32,H/4,W/4])
    encode_value(frame [1,3,H,W], f16 [1,128,h,w], masks [k,1,H,W]) -> values [k,512,h,w]
    decode(readout [k,512,h,w], f16_thin [1,512,h,w], f8, f4)       -> probabilities [k,1,H,W]

k16 (64 channels: the affinity divides by sqrt(64)), values (512) and f16_thin (512) keep the full
model's widths; f16 / f8 / f4 only travel back into this model's own methods and are narrow.

Structure (names follow the full model's top level): key_encoder (ResNet-like, 24-32-64-128 channels,
BasicBlocks), key_proj (3x3 conv -> 64), key_comp (1x1 conv -> 512), value_encoder (5-channel input
image + own mask + others, 16-32-64-128 channels, fused with the key's f16 through ResBlocks and a
CBAM gate, 1x1 -> 512), decoder (compress 1024 -> 128, two skip-upsampling stages at /8 and /4,
3x3 prediction conv, bilinear x4).
"""
from typing import List, Optional, Tuple

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stcn import ResBlock  # noqa: E402  (the full model's pre-activation residual block)

KEY_DIM = 64
VALUE_DIM = 512
THIN_DIM = 512
F16_DIM = 128
F8_DIM = 64
F4_DIM = 32


class BasicBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN + identity (or 1x1 conv + BN), ReLU."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x
        if self.downsample is not None:
            identity = self.downsample(x)
        return F.relu(out + identity)


class CBAM(nn.Module):
    """Channel gate (avg + max pooled through a shared MLP) then spatial gate (7x7 conv on max/mean)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, channels // reduction), nn.ReLU(), nn.Linear(channels // reduction, channels))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3))))
        x = x * scale.unsqueeze(2).unsqueeze(3)
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(pooled))


class KeyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 24, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        self.res2 = nn.Sequential(BasicBlock(24, F4_DIM, 2), BasicBlock(F4_DIM, F4_DIM))
        self.layer2 = nn.Sequential(BasicBlock(F4_DIM, F8_DIM, 2), BasicBlock(F8_DIM, F8_DIM))
        self.layer3 = nn.Sequential(BasicBlock(F8_DIM, F16_DIM, 2), BasicBlock(F16_DIM, F16_DIM))

    def forward(self, f: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(f)))
        f4 = self.res2(x)
        f8 = self.layer2(f4)
        f16 = self.layer3(f8)
        return f16, f8, f4


class ValueEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(5, 16, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = BasicBlock(16, 32, 2)
        self.layer2 = BasicBlock(32, 64, 2)
        self.layer3 = BasicBlock(64, 128, 2)
        self.block1 = ResBlock(128 + F16_DIM, 128)
        self.attention = CBAM(128)
        self.block2 = ResBlock(128, 128)
        self.out = nn.Conv2d(128, VALUE_DIM, 1)

    def forward(self, image: torch.Tensor, key_f16: torch.Tensor, mask: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(torch.cat([image, mask, others], 1))))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.block1(torch.cat([x, key_f16], 1))
        x = self.block2(x + self.attention(x))
        return self.out(x)


class UpsampleBlock(nn.Module):
    def __init__(self, skip_c: int, up_c: int, out_c: int):
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_c, up_c, 3, padding=1)
        self.out_conv = ResBlock(up_c, out_c)

    def forward(self, skip_f: torch.Tensor, up_f: torch.Tensor) -> torch.Tensor:
        # skip_f has batch 1 (or the same batch) and up_f batch k: broadcasting, as the full model.
        x = self.skip_conv(skip_f) + F.interpolate(up_f, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.out_conv(x)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.reduce = nn.Conv2d(VALUE_DIM + THIN_DIM, 128, 1)
        self.compress = ResBlock(128, 128)
        self.up_16_8 = UpsampleBlock(F8_DIM, 128, 64)
        self.up_8_4 = UpsampleBlock(F4_DIM, 64, 32)
        self.pred = nn.Conv2d(32, 1, 3, padding=1)

    def forward(self, f16: torch.Tensor, f8: torch.Tensor, f4: torch.Tensor) -> torch.Tensor:
        x = self.compress(self.reduce(f16))
        x = self.up_16_8(f8, x)
        x = self.up_8_4(f4, x)
        x = self.pred(F.relu(x))
        return F.interpolate(x, scale_factor=4.0, mode="bilinear", align_corners=False)


class StcnDemo(nn.Module):
    def __init__(self):
        super().__init__()
        self.key_encoder = KeyEncoder()
        self.value_encoder = ValueEncoder()
        self.key_proj = nn.Conv2d(F16_DIM, KEY_DIM, 3, padding=1)
        self.key_comp = nn.Conv2d(F16_DIM, THIN_DIM, 1)
        self.decoder = Decoder()

    @torch.jit.export
    def encode_key(self, frame: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        f16, f8, f4 = self.key_encoder(frame)
        return self.key_proj(f16), self.key_comp(f16), f16, f8, f4

    @torch.jit.export
    def encode_value(self, frame: torch.Tensor, f16: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        k = masks.shape[0]
        # others of object i = sum of the other objects' masks (zeros when k == 1).
        others = masks.sum(dim=0, keepdim=True) - masks
        return self.value_encoder(frame.expand(k, -1, -1, -1), f16.expand(k, -1, -1, -1), masks, others)

    @torch.jit.export
    def decode(self, readout: torch.Tensor, f16_thin: torch.Tensor, f8: torch.Tensor, f4: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(readout, f16_thin, f8, f4))

    def decode_logits(self, readout: torch.Tensor, f16_thin: torch.Tensor, f8: torch.Tensor, f4: torch.Tensor) -> torch.Tensor:
        k = readout.shape[0]
        if f16_thin.shape[0] != k:
            f16_thin = f16_thin.expand(k, -1, -1, -1)
        return self.decoder(torch.cat([readout, f16_thin], 1), f8, f4)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return self.encode_key(frame)[0]


def memory_read(mem_k: torch.Tensor, mem_v: torch.Tensor, qk: torch.Tensor) -> torch.Tensor:
    """STCN's training MemoryReader: mem_k [B,64,N], mem_v [B,C,N], qk [B,64,HW] -> readout [B,C,HW].
    affinity = (2 m^T q - |m|^2) / sqrt(64), softmax over the memory axis (no top-k)."""
    a_sq = mem_k.pow(2).sum(1).unsqueeze(2)
    ab = mem_k.transpose(1, 2) @ qk
    affinity = (2 * ab - a_sq) / (mem_k.shape[1] ** 0.5)
    affinity = torch.softmax(affinity, dim=1)
    return mem_v @ affinity


def aggregate_logits(prob: torch.Tensor) -> torch.Tensor:
    """Soft aggregation (docs/stcn-python.md, normative rule 9) returning logits: prob [B,k,H,W] -> [B,k+1,H,W] (softmax = probs)."""
    bg = torch.prod(1 - prob, dim=1, keepdim=True)
    p = torch.cat([bg, prob], 1).clamp(1e-7, 1 - 1e-7)
    return torch.log(p / (1 - p))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build() -> StcnDemo:
    return StcnDemo().eval()


__all__: List[str] = ["StcnDemo", "build", "memory_read", "aggregate_logits", "parameter_count", "KEY_DIM", "VALUE_DIM"]
