import json, sys, torch
from typing import Dict
class Fake(torch.nn.Module):
    def __init__(self, boxes, scores):
        super().__init__()
        self.register_buffer("boxes", torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        self.register_buffer("scores", torch.tensor(scores, dtype=torch.float32))
    def forward(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        h, w = image.shape[0], image.shape[1]  # uint8 [H,W,3], the detector archives' input
        n = self.boxes.shape[0]
        ys = torch.arange(h, dtype=torch.float32).view(1, h, 1) + 0.5
        xs = torch.arange(w, dtype=torch.float32).view(1, 1, w) + 0.5
        b = self.boxes
        inside = (xs >= b[:, 0].view(n, 1, 1)) & (xs < b[:, 2].view(n, 1, 1)) & (ys >= b[:, 1].view(n, 1, 1)) & (ys < b[:, 3].view(n, 1, 1))
        masks = torch.where(inside, 0.9, 0.1).view(n, 1, h, w)
        return {"boxes": b.clone(), "scores": self.scores.clone(), "labels": torch.ones(n, dtype=torch.int64), "masks": masks}
out = sys.argv[1]
for name, spec in json.loads(sys.argv[2]).items():
    torch.jit.save(torch.jit.script(Fake(spec["boxes"], spec["scores"])), out + "/" + name + ".pt",
                   _extra_files={"metadata.json": json.dumps({"model": spec.get("model", "maskrcnn"), "kind": "detector"})})
