import sys
import torch, torch.serialization as ser
sd = torch.load(sys.argv[1], map_location="cpu")
sd["value_encoder.conv1.weight"] = sd["value_encoder.conv1.weight"][:, :4].clone()
ser.location_tag = lambda storage: "cuda:0"
torch.save({"module." + k: v for k, v in sd.items()}, sys.argv[2])
if not torch.cuda.is_available():
    try:
        torch.load(sys.argv[2])
        raise SystemExit("expected a CUDA-tagged checkpoint")
    except RuntimeError as e:
        assert "CUDA" in str(e), e
