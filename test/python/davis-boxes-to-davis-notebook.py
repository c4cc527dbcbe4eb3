import json, sys
import numpy as np
from PIL import Image
ann = json.load(open(sys.argv[1]))
W, H = 427, 240
out = {}
for vid, frames in ann.items():
    for rec in frames:
        mask = np.zeros((H, W), dtype=np.uint8)
        for i, lab in enumerate(rec["labels"]):
            b = lab["box2d"]
            mask[int(b["y1"]):int(b["y2"]), int(b["x1"]):int(b["x2"])] = i + 1
        im = Image.fromarray(mask, mode="P")
        im = im.resize((int(480 * W / H), 480))
        frame = int(rec["name"].split("/")[-1].split(".")[0])
        out["%s/%05d" % (vid, frame - 1)] = np.array(im).reshape(-1).tolist()
print(json.dumps(out))
