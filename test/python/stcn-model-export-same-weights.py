import sys
import torch
a = torch.load(sys.argv[1], map_location="cpu"); b = torch.jit.load(sys.argv[2]).state_dict()
print(list(a.keys()) == list(b.keys()) and all(torch.equal(a[k], b[k]) for k in a))
