import json, sys, math
import numpy as np
def seg2bmap(seg):
    seg = seg.astype(bool)
    e = np.zeros_like(seg); s = np.zeros_like(seg); se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b
def dilate(b, r):
    h, w = b.shape
    out = np.zeros_like(b)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy > r * r: continue
            src = b[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
            out[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)] |= src
    return out
def f_measure(fg, gt):
    r = int(np.ceil(0.008 * np.linalg.norm(fg.shape)))
    fb = seg2bmap(fg); gb = seg2bmap(gt)
    fd = dilate(fb, r); gd = dilate(gb, r)
    n_fg = np.sum(fb); n_gt = np.sum(gb)
    if n_fg == 0 and n_gt > 0: p, rc = 1, 0
    elif n_fg > 0 and n_gt == 0: p, rc = 0, 1
    elif n_fg == 0 and n_gt == 0: p, rc = 1, 1
    else:
        p = np.sum(fb & gd) / float(n_fg); rc = np.sum(gb & fd) / float(n_gt)
    return 0 if p + rc == 0 else 2 * p * rc / (p + rc)
out = []
for c in json.load(sys.stdin):
    gt = np.array(c["gt"], dtype=bool).reshape(c["h"], c["w"])
    res = np.array(c["res"], dtype=bool).reshape(c["h"], c["w"])
    union = np.sum(gt | res)
    j = 1.0 if union == 0 else np.sum(gt & res) / union
    out.append([repr(float(j)), repr(float(f_measure(res, gt)))])
print(json.dumps(out))
