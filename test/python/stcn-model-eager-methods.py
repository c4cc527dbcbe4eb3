import sys
import json, os, torch
import reference_stcn
out = sys.argv[2]; H, W = int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)
model = reference_stcn.load_model(sys.argv[1])
g = torch.Generator().manual_seed(11)
frame = torch.randn(1, 3, H, W, generator=g)
masks = torch.rand(3, 1, H, W, generator=g)
readout = torch.randn(2, 512, H // 16, W // 16, generator=g) * 20
tensors = {"frame": frame, "masks3": masks, "readout": readout}
with torch.inference_mode():
    k16, f16_thin, f16, f8, f4 = model.encode_key(frame)
    tensors.update(k16=k16, f16_thin=f16_thin, f16=f16, f8=f8, f4=f4)
    tensors["value3"] = model.encode_value(frame, f16, masks)
    tensors["value1"] = model.encode_value(frame, f16, masks[:1])
    tensors["probs2"] = model.decode(readout, f16_thin, f8, f4)
    tensors["probs_v"] = model.decode(tensors["value3"], f16_thin, f8, f4)
shapes = {}
for k, v in tensors.items():
    v.contiguous().numpy().astype("<f4").tofile(os.path.join(out, k + ".f32"))
    shapes[k] = list(v.shape)
json.dump({"shapes": shapes}, open(os.path.join(out, "shapes.json"), "w"))
