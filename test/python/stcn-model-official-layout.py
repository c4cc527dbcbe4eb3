import sys
import json, torch
sd = torch.load(sys.argv[1], map_location="cpu")
learn = sum(v.numel() for k, v in sd.items() if not (k.endswith("running_mean") or k.endswith("running_var") or k.endswith("num_batches_tracked")))
ke_bias = [k for k in sd if k.startswith("key_encoder.") and "conv" in k and k.endswith(".bias")]
print(json.dumps({"n": len(sd), "learn": learn, "ke_bias": ke_bias,
  "shapes": {k: list(v.shape) for k, v in sd.items()}}))
