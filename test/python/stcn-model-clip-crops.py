import sys
import os
from PIL import Image
data, out, W, H = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def frames(src, n, dst):
    os.makedirs(dst, exist_ok=True)
    for i in range(n):
        Image.open(os.path.join(src, "%05d.jpg" % i)).convert("RGB").resize((W, H), Image.BILINEAR).save(os.path.join(dst, "%05d.png" % i))
def mask(src, dst, size):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    m = Image.open(src)
    r = m.resize(size, Image.NEAREST)
    r.putpalette(m.getpalette())
    r.save(dst)
frames(os.path.join(data, "bike/frames"), 4, os.path.join(out, "bike/frames"))
mask(os.path.join(data, "bike/masks/00000.png"), os.path.join(out, "bike/masks/00000.png"), (W, H))
frames(os.path.join(data, "judo/frames"), 8, os.path.join(out, "judo/frames"))
for name in ("00000.png", "00005.png"):
    mask(os.path.join(data, "judo/masks", name), os.path.join(out, "judo/masks", name), (W, H))
mask(os.path.join(data, "judo/masks/00000.png"), os.path.join(out, "judo/masks-odd/00000.png"), (W, H))
mask(os.path.join(data, "judo/masks/00005.png"), os.path.join(out, "judo/masks-odd/00005.png"), (W - 1, H))
