import sys, json, numpy as np, torch, torch.nn.functional as F
cases = json.loads(sys.argv[1]); d = sys.argv[2]
for i, (r, c, h, w) in enumerate(cases):
    g = torch.from_numpy(np.fromfile(f'{d}/g{i}.u8', dtype=np.uint8).astype(np.float32).reshape(1, 1, r, c))
    F.interpolate(g, size=(h, w), mode='nearest-exact')[0, 0].numpy().astype(np.uint8).tofile(f'{d}/o{i}.u8')
