import json, sys, torch, torchvision
from typing import List
out = sys.argv[1]
g = torch.Generator().manual_seed(1234)

class Ops(torch.nn.Module):
    @torch.jit.export
    def nms(self, dets: torch.Tensor, scores: torch.Tensor, thr: float) -> torch.Tensor:
        return torch.ops.torchvision.nms(dets, scores, thr)

    @torch.jit.export
    def roi_align(self, x: torch.Tensor, rois: torch.Tensor, scale: float, ph: int, pw: int, sr: int, aligned: bool) -> torch.Tensor:
        return torch.ops.torchvision.roi_align(x, rois, scale, ph, pw, sr, aligned)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

torch.jit.save(torch.jit.script(Ops()), out + "/ops.pt")

def rand(*shape, dtype=torch.float32):
    return torch.rand(*shape, generator=g, dtype=dtype)

def boxes(n, dtype, extent=100.0, ties=False):
    xy = rand(n, 2, dtype=dtype) * extent
    wh = rand(n, 2, dtype=dtype) * extent * 0.4
    b = torch.cat([xy, xy + wh], 1)
    if n >= 4:
        b[1] = b[0]                          # duplicate box
        b[2, 2:] = b[2, :2]                  # zero-area box
    return b

def enc(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "data": t.flatten().tolist()}

nms_cases = []
for dtype in (torch.float32, torch.float64):
    for n in (0, 1, 6, 60, 400):
        for thr in (0.0, 0.3, 0.5, 0.7, 1.0):
            b = boxes(n, dtype)
            s = rand(n, dtype=dtype)
            if n >= 6:
                s = (s * 4).floor() / 4      # many exact score ties
            keep = torch.ops.torchvision.nms(b, s, thr)
            nms_cases.append({"dets": enc(b), "scores": enc(s), "thr": thr, "keep": keep.tolist()})

roi_cases = []
for dtype in (torch.float32, torch.float64):
    x = torch.randn(2, 3, 13, 17, generator=g, dtype=dtype)
    for scale in (1.0, 0.5, 0.25):
        for (ph, pw) in ((7, 7), (3, 5), (14, 14)):
            for sr in (-1, 0, 1, 2, 3):
                for aligned in (False, True):
                    k = 9
                    b = torch.empty(k, 5, dtype=dtype)
                    b[:, 0] = torch.randint(0, 2, (k,), generator=g).to(dtype)
                    ext = 17.0 / scale
                    xy = rand(k, 2, dtype=dtype) * ext * 1.4 - ext * 0.2       # some start outside
                    wh = rand(k, 2, dtype=dtype) * ext * 0.8
                    b[:, 1:3] = xy
                    b[:, 3:5] = xy + wh
                    b[0, 1:] = torch.tensor([-40.0, -40.0, -20.0, -20.0], dtype=dtype) / scale  # wholly outside
                    b[1, 1:] = torch.tensor([3.2, 4.1, 3.3, 4.15], dtype=dtype) / scale         # tiny
                    b[2, 1:] = torch.tensor([5.0, 6.0, 4.0, 5.0], dtype=dtype) / scale          # inverted
                    b[3, 1:] = torch.tensor([0.0, 0.0, 17.0, 13.0], dtype=dtype) / scale        # whole map
                    b[4, 1:] = torch.tensor([10.0, 8.0, 40.0, 30.0], dtype=dtype) / scale       # past the far edge
                    y = torch.ops.torchvision.roi_align(x, b, scale, ph, pw, sr, aligned)
                    roi_cases.append({"rois": enc(b), "scale": scale, "ph": ph, "pw": pw, "sr": sr, "aligned": aligned,
                                      "out": enc(y)})
    roi_cases[-1]["x_full"] = enc(x)
# empty RoI list and empty channel count
x = torch.randn(1, 4, 8, 8, generator=g)
e = torch.empty(0, 5)
roi_cases.append({"rois": enc(e), "scale": 1.0, "ph": 7, "pw": 7, "sr": 2, "aligned": True, "out": enc(torch.ops.torchvision.roi_align(x, e, 1.0, 7, 7, 2, True)), "x_full": enc(x)})
json.dump({"nms": nms_cases, "roi": roi_cases}, open(out + "/cases.json", "w"))
