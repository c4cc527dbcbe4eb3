import sys
import torch
a = torch.load(sys.argv[1], map_location="cpu"); b = torch.jit.load(sys.argv[2]).state_dict()
w = b["value_encoder.conv1.weight"]
print(len(b), tuple(w.shape), bool(torch.equal(w[:, :4], a["value_encoder.conv1.weight"][:, :4])), float(w[:, 4].abs().sum()),
      all(torch.equal(a[k], b[k]) for k in a if k != "value_encoder.conv1.weight"))
