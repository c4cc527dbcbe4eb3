import json, sys, torch
sys.path.insert(0, sys.argv[1] + "/torchscript")
import export_maskrcnn
torch.set_num_threads(1)
out, w, h = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
args = export_maskrcnn.parser().parse_args(sys.argv[5:] + ["--out", out + "/unused.pt"])
eager = export_maskrcnn.make(args)
# The archive holds exactly these weights.
scripted = torch.jit.load(out + "/m.pt")
se, ss = eager.state_dict(), scripted.state_dict()
assert set(se) == set(ss), "state_dict keys differ"
assert all(torch.equal(se[k], ss[k]) for k in se), "weights differ"
rgb = torch.frombuffer(bytearray(open(out + "/frame.rgb", "rb").read()), dtype=torch.uint8).reshape(h, w, 3)
# the archive's input: uint8 [H,W,3] RGB, converted inside the model (torchscript/image_input.py)
with torch.no_grad():
    d = eager(rgb)
for k in ("boxes", "scores", "masks"):
    d[k].contiguous().numpy().astype("float32").tofile(out + "/ref_" + k + ".f32")
json.dump({"threads": torch.get_num_threads(), "count": int(d["scores"].numel()), "labels": d["labels"].tolist(), "masks_shape": list(d["masks"].shape)}, open(out + "/ref.json", "w"))
