import sys
import torch, stcn
a = torch.load(sys.argv[1]); b = stcn.random_init(7).state_dict(); c = stcn.random_init(8).state_dict()
torch.manual_seed(7); raw = stcn.STCN().key_proj.key_proj.weight
print(all(torch.equal(a[k], b[k]) for k in a), any(torch.equal(a[k], c[k]) for k in a if k.endswith("weight") and a[k].dim() > 1),
      bool(torch.allclose(a["key_proj.key_proj.weight"], raw * 0.08)))
