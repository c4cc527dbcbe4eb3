import pickle, sys, json, torch, torchvision  # noqa: F401 (registers torchvision::nms / roi_align for torch.jit.load)
sys.path.insert(0, sys.argv[4] + "/torchscript")
import detectron2_names
pkl = pickle.load(open(sys.argv[1], "rb"))["model"]
state = torch.jit.load(sys.argv[2]).state_dict()
optional = {"pixel_mean", "pixel_std"} | {"proposal_generator.anchor_generator.cell_anchors.%d" % i for i in range(5)}
params = {k.replace("coarse_head.coarse_mask_fc", "coarse_head.fc"): v for k, v in pkl.items() if k not in optional}
bad = [k for k, v in params.items() if k not in state or not torch.equal(state[k], torch.from_numpy(v))]
# the original (Jan 2020) and the v0.6 module names
def renamed(prefixes):
    out = {}
    for k, v in pkl.items():
        for a, b in prefixes:
            if k.startswith(a):
                k = b + k[len(a):]
                break
        out[k] = v
    return out
ref = detectron2_names.convert(pkl)
gens = {
    "original": renamed([("roi_heads.mask_head.coarse_head.coarse_mask_fc", "roi_heads.mask_coarse_head.coarse_mask_fc"),
                         ("roi_heads.mask_head.coarse_head.", "roi_heads.mask_coarse_head."),
                         ("roi_heads.mask_head.point_head.", "roi_heads.mask_point_head.")]),
    "v0.6": renamed([("roi_heads.mask_head.coarse_head.coarse_mask_fc", "roi_heads.mask_head.coarse_head.fc")]),
}
same = {g: set(detectron2_names.convert(d)) == set(ref) and all(torch.equal(t, ref[k]) for k, t in detectron2_names.convert(d).items()) for g, d in gens.items()}
dup = dict(pkl); dup["roi_heads.mask_head.coarse_head.fc1.weight"] = pkl["roi_heads.mask_head.coarse_head.coarse_mask_fc1.weight"]
try:
    detectron2_names.convert(dup); dup_refused = ""
except detectron2_names.ConversionError as e:
    dup_refused = str(e)
json.dump({"pickle": len(params), "archive": len(state), "bad": bad[:5], "others": sorted(set(state) - set(params)),
           "generations": same, "duplicate": dup_refused}, open(sys.argv[3], "w"))
