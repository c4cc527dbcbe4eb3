import json, sys
import numpy as np
from PIL import Image
out = []
for c in json.load(sys.stdin):
    im = Image.fromarray(np.array(c["data"], dtype=np.uint8).reshape(c["h"], c["w"]), mode="P")
    out.append(np.array(im.resize((c["ow"], c["oh"]))).reshape(-1).tolist())
print(json.dumps(out))
