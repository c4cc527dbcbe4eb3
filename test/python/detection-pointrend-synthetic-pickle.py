import pickle, sys, math
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
shapes = {}
def convnorm(name, cout, cin, k):
    shapes[name + ".weight"] = (cout, cin, k, k)
    for b in ("weight", "bias", "running_mean", "running_var"):
        shapes[name + ".norm." + b] = (cout,)
convnorm("backbone.bottom_up.stem.conv1", 64, 3, 7)
cin = 64
for stage, (n, mid, cout) in zip(range(2, 6), [(3, 64, 256), (4, 128, 512), (6, 256, 1024), (3, 512, 2048)]):
    for i in range(n):
        p = "backbone.bottom_up.res%d.%d." % (stage, i)
        if i == 0:
            convnorm(p + "shortcut", cout, cin, 1)
        convnorm(p + "conv1", mid, cin if i == 0 else cout, 1)
        convnorm(p + "conv2", mid, mid, 3)
        convnorm(p + "conv3", cout, mid, 1)
    cin = cout
for lvl, c in zip(range(2, 6), [256, 512, 1024, 2048]):
    shapes["backbone.fpn_lateral%d.weight" % lvl] = (256, c, 1, 1); shapes["backbone.fpn_lateral%d.bias" % lvl] = (256,)
    shapes["backbone.fpn_output%d.weight" % lvl] = (256, 256, 3, 3); shapes["backbone.fpn_output%d.bias" % lvl] = (256,)
for name, shape in [("conv", (256, 256, 3, 3)), ("objectness_logits", (3, 256, 1, 1)), ("anchor_deltas", (12, 256, 1, 1))]:
    shapes["proposal_generator.rpn_head." + name + ".weight"] = shape; shapes["proposal_generator.rpn_head." + name + ".bias"] = (shape[0],)
for name, shape in [("box_head.fc1", (1024, 12544)), ("box_head.fc2", (1024, 1024)), ("box_predictor.cls_score", (81, 1024)),
                    ("box_predictor.bbox_pred", (320, 1024)), ("mask_head.coarse_head.reduce_spatial_dim_conv", (256, 256, 2, 2)),
                    ("mask_head.coarse_head.coarse_mask_fc1", (1024, 12544)), ("mask_head.coarse_head.coarse_mask_fc2", (1024, 1024)),
                    ("mask_head.coarse_head.prediction", (3920, 1024)), ("mask_head.point_head.fc1", (256, 336, 1)),
                    ("mask_head.point_head.fc2", (256, 336, 1)), ("mask_head.point_head.fc3", (256, 336, 1)),
                    ("mask_head.point_head.predictor", (80, 336, 1))]:
    shapes["roi_heads." + name + ".weight"] = shape; shapes["roi_heads." + name + ".bias"] = (shape[0],)
model = {k: rng.standard_normal(s, dtype=np.float32) * 0.01 for k, s in shapes.items()}
for k in model:
    if k.endswith("running_var"):
        model[k] = np.abs(model[k]) + 1
# buffers older detectron2 checkpoints carry: must agree with the config
model["pixel_mean"] = np.array([103.53, 116.28, 123.675], dtype=np.float32).reshape(3, 1, 1)
model["pixel_std"] = np.ones((3, 1, 1), dtype=np.float32)
for i, size in enumerate([32, 64, 128, 256, 512]):
    rows = []
    for ratio in (0.5, 1.0, 2.0):
        w = math.sqrt(size * size / ratio); h = ratio * w
        rows.append([-w / 2, -h / 2, w / 2, h / 2])
    model["proposal_generator.anchor_generator.cell_anchors.%d" % i] = np.array(rows, dtype=np.float32)
def dump(path, m):
    with open(path, "wb") as f:
        pickle.dump({"model": m, "__author__": "Detectron2 Model Zoo"}, f)
dump(out + "/full.pkl", model)
print(len(shapes), len(model))
missing = dict(model); del missing["roi_heads.mask_head.point_head.fc2.bias"]; dump(out + "/missing.pkl", missing)
extra = dict(model); extra["roi_heads.mask_head.extra.weight"] = np.zeros(3, dtype=np.float32); dump(out + "/extra.pkl", extra)
wrong = dict(model); wrong["roi_heads.box_predictor.cls_score.weight"] = np.zeros((91, 1024), dtype=np.float32); dump(out + "/wrong.pkl", wrong)
