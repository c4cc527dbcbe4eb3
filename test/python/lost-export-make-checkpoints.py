import sys, torch
out = sys.argv[1]
def official(dim, patch=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    sd = {"cls_token": r(1, 1, dim), "pos_embed": r(1, (224 // patch) ** 2 + 1, dim),
          "patch_embed.proj.weight": r(dim, 3, patch, patch), "patch_embed.proj.bias": r(dim)}
    for i in range(12):
        p = f"blocks.{i}."
        sd[p + "norm1.weight"] = 1 + r(dim); sd[p + "norm1.bias"] = r(dim)
        sd[p + "attn.qkv.weight"] = r(3 * dim, dim); sd[p + "attn.qkv.bias"] = r(3 * dim)
        sd[p + "attn.proj.weight"] = r(dim, dim); sd[p + "attn.proj.bias"] = r(dim)
        sd[p + "norm2.weight"] = 1 + r(dim); sd[p + "norm2.bias"] = r(dim)
        sd[p + "mlp.fc1.weight"] = r(4 * dim, dim); sd[p + "mlp.fc1.bias"] = r(4 * dim)
        sd[p + "mlp.fc2.weight"] = r(dim, 4 * dim); sd[p + "mlp.fc2.bias"] = r(dim)
    sd["norm.weight"] = 1 + r(dim); sd["norm.bias"] = r(dim)
    return sd
base = official(768, seed=1)
torch.save(base, f"{out}/vitb16.pth")
small = official(384, seed=2)
torch.save(small, f"{out}/vits16.pth")
# DINO's training-checkpoint layout: {"teacher": {"backbone.<key>": ..., "head.<...>": ...}, ...}
teacher = {"backbone." + k: v for k, v in small.items()}
teacher["head.mlp.0.weight"] = torch.zeros(8, 384); teacher["head.last_layer.weight_g"] = torch.ones(1, 8)
torch.save({"teacher": teacher, "student": {}, "epoch": 100}, f"{out}/full.pth")
bad = dict(small)
bad["blocks.3.attn.qkv.weight_renamed"] = bad.pop("blocks.3.attn.qkv.weight")
bad["extra.thing"] = torch.zeros(1)
bad["norm.bias"] = torch.zeros(385)
torch.save(bad, f"{out}/bad.pth")
print(len(base))
