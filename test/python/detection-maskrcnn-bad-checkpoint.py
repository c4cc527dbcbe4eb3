import sys
import torch

# A state_dict that is not Mask R-CNN's: one real key with its shape, one unknown key.
torch.save({"backbone.body.conv1.weight": torch.zeros(64, 3, 7, 7), "extra.weight": torch.zeros(1)}, sys.argv[1])
