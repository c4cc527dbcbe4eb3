import sys, torch
sd = torch.load(sys.argv[1])
sd["value_encoder.conv1.weight"][:, 3:5] *= 100.0          # own mask / other masks channels
for n in ("value_encoder.fuser.block1.conv1.weight", "value_encoder.fuser.block1.downsample.weight"):
    sd[n][:, :256] *= 20.0                                  # value features
    sd[n][:, 256:] *= 0.1                                   # key f16 (image only)
for n in ("decoder.compress.conv1.weight", "decoder.compress.downsample.weight"):
    sd[n][:, 512:] *= 0.1                                   # query f16_thin (image only)
torch.save(sd, sys.argv[2])
