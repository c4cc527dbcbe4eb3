import json, sys, torch
sys.path.insert(0, sys.argv[1] + "/torchscript")
import export_pointrend
torch.set_num_threads(1)
out, w, h = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
args = export_pointrend.parser().parse_args(sys.argv[5:] + ["--out", out + "/unused.pt"])
eager = export_pointrend.make(args)
scripted = torch.jit.load(out + "/m.pt")
se, ss = eager.state_dict(), scripted.state_dict()
assert set(ss) - set(se) == {"coco_ids", "pixel_mean", "pixel_std", "proposal_generator.cell_anchors"}, "state_dict keys differ"
assert all(torch.equal(se[k], ss[k]) for k in se), "weights differ"
rgb = torch.frombuffer(bytearray(open(out + "/frame.rgb", "rb").read()), dtype=torch.uint8).reshape(h, w, 3)
with torch.no_grad():
    d = eager(rgb)
    # --channel-order bgr == the rgb model fed the channel-swapped image
    bgr = export_pointrend.make(export_pointrend.parser().parse_args(sys.argv[5:] + ["--out", "x", "--channel-order", "bgr"]))
    db = bgr(rgb)
    dr = eager(rgb.flip(2).contiguous())
    # no detection above the floor: empty outputs of the right shapes (scripted, torchvision kernels)
    none = torch.jit.script(export_pointrend.make(export_pointrend.parser().parse_args(sys.argv[5:] + ["--out", "x", "--score-thresh", "0.999"])))(rgb)
empty_shapes = {k: list(v.shape) for k, v in none.items()}
swap_equal = all(torch.equal(db[k], dr[k]) for k in d)
swap_differs = db["scores"].shape != d["scores"].shape or not torch.equal(db["scores"], d["scores"])
for k in ("boxes", "scores", "masks"):
    d[k].contiguous().numpy().astype("float32").tofile(out + "/ref_" + k + ".f32")
json.dump({"threads": torch.get_num_threads(), "count": int(d["scores"].numel()), "labels": d["labels"].tolist(),
           "masks_shape": list(d["masks"].shape), "swap_equal": swap_equal, "swap_differs": swap_differs,
           "empty_shapes": empty_shapes},
          open(out + "/ref.json", "w"))
