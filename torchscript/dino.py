"""DINO Vision Transformer (ViT-S/16, ViT-B/16, and the /8 variants) for LOST, scriptable with TorchScript.

Parameter names and shapes are those of the official DINO ``vision_transformer.py`` (``cls_token``,
``pos_embed``, ``patch_embed.proj.*``, ``blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*``,
``norm.*``; the classification head is ``Identity`` and has no parameters), so the official
checkpoints (``dino_deitsmall16_pretrain.pth``, ``dino_vitbase16_pretrain.pth``) load with
``strict=True``. The architecture is the official one (docs/lost.md, "What is computed, and how it matches the study"): pre-norm blocks,
LayerNorm eps 1e-6, qkv bias, MLP ratio 4, exact GELU, head dim 64, attention scale 64**-0.5, and the
positional-embedding interpolation with explicit bicubic *scale factors* ``(rows + 0.1) / g`` and
``(cols + 0.1) / g`` (g = sqrt(number of pretraining patches) = 14 for 224 px at /16).

Extra TorchScript methods (all take one image; batch size 1):

* ``preprocess(image)``: uint8 RGB ``(H, W, 3)`` (HWC, what an image decoder gives) or float
  ``(3, H, W)`` / ``(1, 3, H, W)`` already scaled to [0, 1] (ToTensor output) -> ImageNet-normalised
  ``(1, 3, Hp, Wp)`` zero-padded *after* normalisation at the bottom and right to multiples of the patch
  size (LOST's preparation; docs/lost.md, "What is computed", step 1).
* ``last_qkv(image)``: queries, keys and values of the last block for the patch tokens (CLS dropped),
  each ``(N, D)`` with N = (Hp/p)*(Wp/p) in row-major grid order, heads concatenated as in the Linear
  output (keys = columns [D, 2D) of ``blocks[-1].attn.qkv(norm1(x))``; docs/lost.md, "What is computed", step 2).
* ``features(image, which)``: one of those (``which`` = "k", "q" or "v").
* ``lost_gram(image, which)``: ``(A, rows, cols)`` with ``A = F @ F.T`` (N x N, float32) of the chosen
  features: LOST's only matrix product, done here on the module's device so only A crosses to Node.
* ``grid_size(height, width)``: ``[rows, cols]`` of the patch grid for an unpadded image.
* ``get_last_selfattention(x)`` and ``forward(x)`` as in the official model, on a preprocessed batch.
"""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ARCHS = {
    # name: (embed_dim, num_heads)
    "vit_tiny": (192, 3),
    "vit_small": (384, 6),
    "vit_base": (768, 12),
}


class PatchEmbed(nn.Module):
    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768):
        super().__init__()
        self.num_patches = (img_size // patch_size) * (img_size // patch_size)
        self.img_size = img_size
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out), attn


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.attn(self.norm1(x))
        x = x + y
        return x + self.mlp(self.norm2(x))

    @torch.jit.export
    def attention(self, x: torch.Tensor) -> torch.Tensor:
        _, attn = self.attn(self.norm1(x))
        return attn

    @torch.jit.export
    def qkv(self, x: torch.Tensor) -> torch.Tensor:
        """The qkv Linear output on norm1(x): (B, tokens, 3D), columns [q | k | v]."""
        return self.attn.qkv(self.norm1(x))


class VisionTransformer(nn.Module):
    """DINO's ViT backbone (num_classes = 0, head = Identity) plus the LOST feature methods."""

    def __init__(self, arch: str = "vit_small", patch_size: int = 16, img_size: int = 224, depth: int = 12):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; expected one of {sorted(ARCHS)}")
        embed_dim, num_heads = ARCHS[arch]
        self.arch = arch
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.depth = depth
        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(img_size, patch_size, 3, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Identity()

    def init_random(self, seed: int) -> None:
        """The official initialisation (trunc-normal std 0.02 for tokens and Linear weights, zero biases,
        unit LayerNorms), drawn from a generator seeded with `seed` (deterministic across runs)."""
        g = torch.Generator().manual_seed(seed)

        def trunc_normal(t: torch.Tensor, std: float = 0.02) -> None:
            with torch.no_grad():
                v = torch.randn(t.shape, generator=g) * std
                t.copy_(v.clamp(-2.0, 2.0))

        trunc_normal(self.pos_embed)
        trunc_normal(self.cls_token)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                trunc_normal(m.weight, std=math.sqrt(1.0 / (3 * self.patch_size * self.patch_size)))
                nn.init.zeros_(m.bias)

    # --- official forward path -------------------------------------------------------------------

    def interpolate_pos_encoding(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        # (The official code calls the input height `w` and the width `h`; the math is the same.)
        npatch = x.shape[1] - 1
        n = self.pos_embed.shape[1] - 1
        if npatch == n and w == h:
            return self.pos_embed
        class_pos_embed = self.pos_embed[:, 0]
        patch_pos_embed = self.pos_embed[:, 1:]
        dim = x.shape[-1]
        g = int(math.sqrt(float(n)))
        rows = h // self.patch_size
        cols = w // self.patch_size
        # The +0.1 avoids floating-point error in the output size; the scale factors (not an output
        # size) drive PyTorch's source-coordinate mapping, exactly as in the official code.
        r0 = rows + 0.1
        c0 = cols + 0.1
        patch_pos_embed = F.interpolate(
            patch_pos_embed.reshape(1, g, g, dim).permute(0, 3, 1, 2),
            scale_factor=[r0 / math.sqrt(float(n)), c0 / math.sqrt(float(n))],
            mode="bicubic",
            align_corners=False,
        )
        if patch_pos_embed.shape[-2] != rows or patch_pos_embed.shape[-1] != cols:
            raise RuntimeError("positional embedding interpolation produced a wrong grid size")
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)

    def prepare_tokens(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        h = x.shape[2]
        w = x.shape[3]
        x = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(b, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        return x + self.interpolate_pos_encoding(x, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The official forward: the normalised CLS token (B, D) of a preprocessed batch."""
        x = self.prepare_tokens(x)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return x[:, 0]

    @torch.jit.export
    def get_last_selfattention(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's attention (B, heads, tokens, tokens) of a preprocessed batch."""
        x = self.prepare_tokens(x)
        attn = torch.empty(0)
        for i, blk in enumerate(self.blocks):
            if i < self.depth - 1:
                x = blk(x)
            else:
                attn = blk.attention(x)
        return attn

    # --- LOST feature methods ----------------------------------------------------------------------

    @torch.jit.export
    def grid_size(self, height: int, width: int) -> List[int]:
        """Patch-grid [rows, cols] for an unpadded height x width image (ceil to the patch size)."""
        p = self.patch_size
        return [(height + p - 1) // p, (width + p - 1) // p]

    @torch.jit.export
    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 (H, W, 3) RGB, or float (3, H, W) / (1, 3, H, W) in [0, 1] -> normalised, padded (1, 3, Hp, Wp)."""
        if image.dtype == torch.uint8:
            if image.dim() != 3 or image.shape[2] != 3:
                raise ValueError("a uint8 image must be (H, W, 3) RGB")
            x = image.permute(2, 0, 1).unsqueeze(0).to(torch.float32) / 255.0
        else:
            if image.dim() == 3:
                x = image.unsqueeze(0)
            else:
                x = image
            if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
                raise ValueError("a float image must be (3, H, W) or (1, 3, H, W) with values in [0, 1]")
            x = x.to(torch.float32)
        mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std  # IMAGENET_MEAN / IMAGENET_STD (TorchScript needs literals)
        p = self.patch_size
        h = x.shape[2]
        w = x.shape[3]
        pad_h = (p - h % p) % p
        pad_w = (p - w % p) % p
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [0, pad_w, 0, pad_h], value=0.0)
        return x

    @torch.jit.export
    def last_qkv(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys, values (each (N, D)) of the last block for the patch tokens of one image."""
        x = self.prepare_tokens(self.preprocess(image))
        qkv = torch.empty(0)
        for i, blk in enumerate(self.blocks):
            if i < self.depth - 1:
                x = blk(x)
            else:
                qkv = blk.qkv(x)
        d = self.embed_dim
        patches = qkv[0, 1:, :]
        return patches[:, 0:d].contiguous(), patches[:, d:2 * d].contiguous(), patches[:, 2 * d:3 * d].contiguous()

    @torch.jit.export
    def features(self, image: torch.Tensor, which: str = "k") -> torch.Tensor:
        """The last block's "k" (keys, LOST's default), "q" or "v" for the patch tokens, (N, D)."""
        q, k, v = self.last_qkv(image)
        if which == "k":
            return k
        if which == "q":
            return q
        if which == "v":
            return v
        raise ValueError("feature must be \"k\", \"q\" or \"v\", got \"" + which + "\"")

    @torch.jit.export
    def lost_gram(self, image: torch.Tensor, which: str = "k") -> Tuple[torch.Tensor, int, int]:
        """(A = F F^T as float32 (N, N), rows, cols) for LOST; F = features(image, which)."""
        f = self.features(image, which)
        if image.dtype == torch.uint8:
            h = image.shape[0]
            w = image.shape[1]
        else:
            h = image.shape[-2]
            w = image.shape[-1]
        grid = self.grid_size(h, w)
        return (f @ f.t()).to(torch.float32).contiguous(), grid[0], grid[1]


def official_keys(depth: int = 12) -> List[str]:
    """The state_dict keys of an official DINO ViT checkpoint (in module order)."""
    keys = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"]
    for i in range(depth):
        for part in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"):
            keys += [f"blocks.{i}.{part}.weight", f"blocks.{i}.{part}.bias"]
    return keys + ["norm.weight", "norm.bias"]
