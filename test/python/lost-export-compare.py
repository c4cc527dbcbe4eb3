import sys, json, torch
extra = {"metadata.json": ""}
m = torch.jit.load(sys.argv[1], map_location="cpu", _extra_files=extra)
sd = torch.load(sys.argv[2])
if "teacher" in sd:
    sd = {k[len("backbone."):]: v for k, v in sd["teacher"].items() if k.startswith("backbone.")}
got = m.state_dict()
same = sorted(got.keys()) == sorted(sd.keys()) and all(torch.equal(got[k], sd[k]) for k in sd)
print(json.dumps({"same": same, "keys": len(got), "meta": json.loads(extra["metadata.json"])}))
