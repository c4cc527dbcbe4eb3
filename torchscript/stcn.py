"""STCN evaluation network (Cheng et al., NeurIPS 2021), TorchScript-friendly.

Module and parameter names follow the official `model/eval_network.py` exactly, so the official
`stcn.pth` state_dict (405 entries, docs/stcn-python.md "Exporting the model") loads with `strict=True`:

    key_encoder   ResNet-50 stem + layer1 (named `res2`) + layer2 + layer3, convs without bias
    value_encoder ResNet-18 (5 input channels, convs WITH bias) + fuser (ResBlocks + CBAM)
    key_proj      KeyProjection: `key_proj.key_proj` 3x3 conv 1024 -> 64
    key_comp      3x3 conv 1024 -> 512
    decoder       compress / up_16_8 / up_8_4 / pred

Building the architecture never downloads anything (torchvision ResNet-50 with weights=None, our own
ResNet-18 variant). Exported methods (the fixed contract used by the native pipeline; all float32):

    encode_key(frame [1,3,H,W])                   -> (k16 [1,64,h,w], f16_thin [1,512,h,w],
                                                      f16 [1,1024,h,w], f8 [1,512,H/8,W/8],
                                                      f4 [1,256,H/4,W/4])
    encode_value(frame [1,3,H,W], f16 [1,1024,h,w], masks [k,1,H,W]) -> values [k,512,h,w]
    decode(readout [k,512,h,w], f16_thin [1,512,h,w], f8, f4)        -> probabilities [k,1,H,W]

H and W are the padded size (multiples of 16), h = H/16, w = W/16.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

KEY_DIM = 64
VALUE_DIM = 512
OFFICIAL_KEY_COUNT = 405


# --------------------------------------------------------------------------------------------------
# Key encoder: torchvision ResNet-50 (v1.5, no conv biases), truncated after layer3.
# --------------------------------------------------------------------------------------------------
class KeyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        from torchvision.models import resnet50

        resnet = resnet50(weights=None)  # architecture only: never downloads
        self.conv1 = resnet.conv1
        self.bn1 = resnet.bn1
        self.relu = resnet.relu
        self.maxpool = resnet.maxpool
        self.res2 = resnet.layer1
        self.layer2 = resnet.layer2
        self.layer3 = resnet.layer3

    def forward(self, f: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.conv1(f)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        f4 = self.res2(x)
        f8 = self.layer2(f4)
        f16 = self.layer3(f8)
        return f16, f8, f4


# --------------------------------------------------------------------------------------------------
# Value encoder: STCN's modified ResNet-18 (extra input channels, every conv has a bias).
# --------------------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        out = self.relu(out)
        return out


def _res18_layer(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    downsample: Optional[nn.Module] = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride), nn.BatchNorm2d(planes))
    layers: List[nn.Module] = [BasicBlock(inplanes, planes, stride, downsample)]
    for _ in range(1, blocks):
        layers.append(BasicBlock(planes, planes))
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    """Pre-activation residual block without BN; 3x3 conv `downsample` on the raw input when dims differ."""

    def __init__(self, indim: int, outdim: int):
        super().__init__()
        if indim == outdim:
            self.downsample = None
        else:
            self.downsample = nn.Conv2d(indim, outdim, kernel_size=3, padding=1)
        self.conv1 = nn.Conv2d(indim, outdim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(outdim, outdim, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.conv1(F.relu(x))
        r = self.conv2(F.relu(r))
        if self.downsample is not None:
            x = self.downsample(x)
        return x + r


class ChannelGate(nn.Module):
    """CBAM channel gate; avg + max global pools through one shared MLP (keys mlp.1, mlp.3)."""

    def __init__(self, gate_channels: int, reduction_ratio: int = 16):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Flatten(),
            nn.Linear(gate_channels, gate_channels // reduction_ratio),
            nn.ReLU(),
            nn.Linear(gate_channels // reduction_ratio, gate_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # As the official code: avg_pool2d / max_pool2d with kernel = stride = (H, W) (same float
        # summation order as the official pooling), each through the MLP, summed (avg first).
        hw: List[int] = [x.size(2), x.size(3)]
        avg = self.mlp(F.avg_pool2d(x, hw, stride=hw))
        mx = self.mlp(F.max_pool2d(x, hw, stride=hw))
        scale = torch.sigmoid(avg + mx).unsqueeze(2).unsqueeze(3)
        return x * scale


class SpatialConv(nn.Module):
    """STCN's `BasicConv(2, 1, 7, padding=3, relu=False)` as used by the spatial gate: conv only (bias)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size=7, stride=1, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class SpatialGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.spatial = SpatialConv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ChannelPool: cat(max over C, mean over C)
        pooled = torch.cat([torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAM(nn.Module):
    def __init__(self, gate_channels: int, reduction_ratio: int = 16):
        super().__init__()
        self.ChannelGate = ChannelGate(gate_channels, reduction_ratio)
        self.SpatialGate = SpatialGate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class FeatureFusionBlock(nn.Module):
    def __init__(self, indim: int, outdim: int):
        super().__init__()
        self.block1 = ResBlock(indim, outdim)
        self.attention = CBAM(outdim)
        self.block2 = ResBlock(outdim, outdim)

    def forward(self, x: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, f16], 1)
        x = self.block1(x)
        r = self.attention(x)
        x = self.block2(x + r)
        return x


class ValueEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3 + 2, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = _res18_layer(64, 64, 2, 1)
        self.layer2 = _res18_layer(64, 128, 2, 2)
        self.layer3 = _res18_layer(128, 256, 2, 2)
        self.fuser = FeatureFusionBlock(1024 + 256, 512)

    def forward(self, image: torch.Tensor, key_f16: torch.Tensor, mask: torch.Tensor, other_masks: torch.Tensor) -> torch.Tensor:
        f = torch.cat([image, mask, other_masks], 1)
        x = self.conv1(f)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.fuser(x, key_f16)


class KeyProjection(nn.Module):
    def __init__(self, indim: int, keydim: int):
        super().__init__()
        self.key_proj = nn.Conv2d(indim, keydim, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.key_proj(x)


# --------------------------------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------------------------------
class UpsampleBlock(nn.Module):
    def __init__(self, skip_c: int, up_c: int, out_c: int):
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_c, up_c, kernel_size=3, padding=1)
        self.out_conv = ResBlock(up_c, out_c)

    def forward(self, skip_f: torch.Tensor, up_f: torch.Tensor) -> torch.Tensor:
        x = self.skip_conv(skip_f)
        # skip_f has batch 1, up_f batch k: broadcasting (as in the official code).
        x = x + F.interpolate(up_f, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.out_conv(x)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.compress = ResBlock(1024, 512)
        self.up_16_8 = UpsampleBlock(512, 512, 256)
        self.up_8_4 = UpsampleBlock(256, 256, 256)
        self.pred = nn.Conv2d(256, 1, kernel_size=3, padding=1, stride=1)

    def forward(self, f16: torch.Tensor, f8: torch.Tensor, f4: torch.Tensor) -> torch.Tensor:
        x = self.compress(f16)
        x = self.up_16_8(f8, x)
        x = self.up_8_4(f4, x)
        x = self.pred(F.relu(x))
        x = F.interpolate(x, scale_factor=4.0, mode="bilinear", align_corners=False)
        return x


# --------------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------------
class STCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.key_encoder = KeyEncoder()
        self.value_encoder = ValueEncoder()
        self.key_proj = KeyProjection(1024, keydim=KEY_DIM)
        self.key_comp = nn.Conv2d(1024, 512, kernel_size=3, padding=1)
        self.decoder = Decoder()

    @torch.jit.export
    def encode_key(self, frame: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        f16, f8, f4 = self.key_encoder(frame)
        k16 = self.key_proj(f16)
        f16_thin = self.key_comp(f16)
        return k16, f16_thin, f16, f8, f4

    @torch.jit.export
    def encode_value(self, frame: torch.Tensor, f16: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        k = masks.shape[0]
        frames = frame.repeat(k, 1, 1, 1)
        # "others" of object i = sum of the masks of all j != i, summed in the same order as the
        # official list comprehension (torch.sum over dim 0 of masks[j != i]); zeros when k == 1.
        others: List[torch.Tensor] = []
        for i in range(k):
            rest = torch.cat([masks[:i], masks[i + 1:]], 0)
            others.append(torch.sum(rest, dim=0, keepdim=True))
        other = torch.cat(others, 0)
        return self.value_encoder(frames, f16.repeat(k, 1, 1, 1), masks, other)

    @torch.jit.export
    def decode(self, readout: torch.Tensor, f16_thin: torch.Tensor, f8: torch.Tensor, f4: torch.Tensor) -> torch.Tensor:
        k = readout.shape[0]
        x = torch.cat([readout, f16_thin.expand(k, -1, -1, -1)], 1)
        return torch.sigmoid(self.decoder(x, f8, f4))

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        # Trivial entry point (TorchScript needs one method to be compiled from forward). Returns k16.
        return self.encode_key(frame)[0]


# --------------------------------------------------------------------------------------------------
# Checkpoint handling
# --------------------------------------------------------------------------------------------------
def build() -> STCN:
    """The architecture with PyTorch's default init, in eval mode."""
    return STCN().eval()


def official_key_shapes() -> "OrderedDict[str, Tuple[int, ...]]":
    """Every state_dict key of the official checkpoint with its shape (405 entries)."""
    sd = STCN().state_dict()
    return OrderedDict((k, tuple(v.shape)) for k, v in sd.items())


class CheckpointMismatch(Exception):
    def __init__(self, missing: List[str], unexpected: List[str], wrong_shape: List[str]):
        self.missing = missing
        self.unexpected = unexpected
        self.wrong_shape = wrong_shape
        super().__init__(self.describe())

    def describe(self, limit: int = 5) -> str:
        parts: List[str] = []
        for name, items in (("missing", self.missing), ("unexpected", self.unexpected), ("wrong shape", self.wrong_shape)):
            if items:
                more = "" if len(items) <= limit else ", ... (%d more)" % (len(items) - limit)
                parts.append("%d %s: %s%s" % (len(items), name, ", ".join(items[:limit]), more))
        return "; ".join(parts)


def normalize_state_dict(raw: object) -> "OrderedDict[str, torch.Tensor]":
    """Official-loader normalisation: unwrap {'state_dict'|'model'|'network': ...} containers, strip a
    `module.` prefix carried by every key (DataParallel), move tensors to CPU float, and zero-pad a 4-channel stage-0
    `value_encoder.conv1.weight` to 5 channels (as eval_davis.py does)."""
    sd = raw
    if isinstance(sd, dict) and not any(isinstance(v, torch.Tensor) for v in sd.values()):
        for key in ("state_dict", "model", "network"):
            if key in sd and isinstance(sd[key], dict):
                sd = sd[key]
                break
    if not isinstance(sd, dict):
        raise ValueError("checkpoint is not a state_dict (got %s)" % type(raw).__name__)
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    # The prefix is stripped only when every key carries it (a whole DataParallel state_dict).
    strip = len(sd) > 0 and all(isinstance(k, str) and k.startswith("module.") for k in sd)
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise ValueError("checkpoint entry %r is not a tensor (%s)" % (k, type(v).__name__))
        name = k[len("module."):] if strip else k
        out[name] = v.detach().to("cpu")
    w = out.get("value_encoder.conv1.weight")
    if w is not None and w.dim() == 4 and w.shape[1] == 4:
        pad = torch.zeros((w.shape[0], 1, w.shape[2], w.shape[3]), dtype=w.dtype)
        out["value_encoder.conv1.weight"] = torch.cat([w, pad], 1)
    return out


def check_state_dict(sd: Dict[str, torch.Tensor]) -> None:
    """Raises CheckpointMismatch naming missing / unexpected / wrong-shape keys."""
    want = official_key_shapes()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    wrong = [
        "%s %s (expected %s)" % (k, tuple(sd[k].shape), want[k])
        for k in want
        if k in sd and tuple(sd[k].shape) != want[k]
    ]
    if missing or unexpected or wrong:
        raise CheckpointMismatch(missing, unexpected, wrong)


def load_checkpoint(path: str) -> STCN:
    """Loads an official-format checkpoint (CUDA-saved tensors are mapped to CPU) strictly."""
    raw = torch.load(path, map_location="cpu")
    sd = normalize_state_dict(raw)
    check_state_dict(sd)
    model = STCN()
    model.load_state_dict(sd, strict=True)
    return model.eval()


def random_init(seed: int, key_proj_scale: float = 0.08) -> STCN:
    """Seeded random weights (PyTorch default init under torch.manual_seed(seed)); BN running stats
    are also randomised (mean ~ N(0, 0.05), var ~ U(0.9, 1.1)) so that BN is not the identity.
    key_proj weights are multiplied by `key_proj_scale`: with unscaled random weights the 64-d keys
    have a std of ~13, the affinities (2 m.q - |m|^2)/8 reach thousands and exp() overflows in the
    official (non max-subtracted) top-k softmax."""
    torch.manual_seed(seed)
    model = STCN()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape, generator=g) * 0.05)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape, generator=g) * 0.2 + 0.9)
        model.key_proj.key_proj.weight.mul_(key_proj_scale)
    return model.eval()
