"""Export STCN (official weights or seeded random weights) to a TorchScript archive.

Usage:
  /usr/bin/python3 torchscript/export_stcn.py --checkpoint stcn.pth --out stcn.pt
  /usr/bin/python3 torchscript/export_stcn.py --random-init --seed 0 --out stcn.pt [--key-proj-scale 0.08]
  ... [--state-dict-out sd.pth]   also (or only) write the state_dict with the official key set

The archive is scripted (torch.jit.script) and saved NOT frozen: the addon freezes it (and applies
optimize_for_inference) at load time, and an unfrozen archive keeps its state_dict, so the Python
reference (reference_stcn.py) loads the very same weights with `torch.jit.load(pt).state_dict()`.
Exported methods: encode_key, encode_value, decode (see stcn.py). The archive embeds
`metadata.json` = {"model": "stcn", "key_dim": 64, "value_dim": 512, "source", "source_sha256",
"seed", "torch", "options"}.

Checkpoints: a plain state_dict as saved by the official training code (optionally wrapped in a
{"state_dict"|"model"|"network": ...} dict, optionally with a `module.` prefix, possibly saved from
CUDA: tensors are mapped to CPU). A stage-0 checkpoint whose `value_encoder.conv1.weight` has 4 input
channels is zero-padded to 5, as the official eval_davis.py does. Any other key or shape mismatch is
refused (exit code 2) naming the first missing / unexpected / wrong-shape keys.

Random init: PyTorch's default init under torch.manual_seed(seed), BN running stats slightly
randomised, and the key projection weights multiplied by --key-proj-scale (default 0.08): unscaled,
seeded random weights give 64-d keys with a std of ~13 and affinities (2 m.q - |m|^2)/8 in the
thousands, so the official top-k softmax (exp without max subtraction) overflows; scaled, keys have a
std of ~1 and the affinities stay in a soft, testable regime. Official weights are never scaled.

Exit codes: 0 ok, 2 bad input (unreadable checkpoint, key/shape mismatch, bad arguments).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stcn  # noqa: E402
from export_util import atomic_write, save_scripted, sha256_of  # noqa: E402


def fail(message: str) -> None:
    print("export_stcn: error: " + message, file=sys.stderr)
    sys.exit(2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Export STCN to TorchScript (methods encode_key, encode_value, decode).")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="official-format state_dict (.pth)")
    src.add_argument("--random-init", action="store_true", help="seeded random weights (tests, benchmarks)")
    ap.add_argument("--seed", type=int, default=0, help="seed for --random-init (default 0)")
    ap.add_argument("--key-proj-scale", type=float, default=None,
                    help="with --random-init: multiply key_proj weights by this (default 0.08)")
    ap.add_argument("--out", help="TorchScript archive to write (.pt)")
    ap.add_argument("--state-dict-out", help="also write the state_dict (official key names and shapes)")
    args = ap.parse_args(argv)

    if not args.out and not args.state_dict_out:
        fail("nothing to write: give --out and/or --state-dict-out")
    if args.key_proj_scale is not None and not args.random_init:
        fail("--key-proj-scale only applies to --random-init (official weights are never scaled)")

    options = {}
    if args.random_init:
        scale = 0.08 if args.key_proj_scale is None else args.key_proj_scale
        if not (scale > 0):
            fail("--key-proj-scale must be > 0 (got %r)" % scale)
        model = stcn.random_init(args.seed, scale)
        source, source_sha, seed = "random-init", None, args.seed
        options.update({"key_proj_scale": scale})
    else:
        path = args.checkpoint
        if not os.path.isfile(path):
            fail("checkpoint not found: %s" % path)
        try:
            raw = torch.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - report any unpickling problem as bad input
            fail("cannot read checkpoint %s: %s" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__))
        try:
            sd = stcn.normalize_state_dict(raw)
        except ValueError as e:
            fail("%s: %s" % (path, e))
        padded = False
        if isinstance(raw, dict):
            for k, v in raw.items():
                if k.endswith("value_encoder.conv1.weight") and isinstance(v, torch.Tensor) and v.dim() == 4 and v.shape[1] == 4:
                    padded = True
        prefixed = isinstance(raw, dict) and len(raw) > 0 and all(isinstance(k, str) and k.startswith("module.") for k in raw.keys())
        try:
            stcn.check_state_dict(sd)
        except stcn.CheckpointMismatch as e:
            fail("%s does not match the STCN architecture (%d keys expected): %s"
                 % (path, stcn.OFFICIAL_KEY_COUNT, e.describe()))
        model = stcn.STCN()
        model.load_state_dict(sd, strict=True)
        model.eval()
        source, source_sha, seed = os.path.abspath(path), sha256_of(path), None
        options.update({"stage0_conv1_padded": padded, "module_prefix_stripped": prefixed})

    sd_out = model.state_dict()
    if len(sd_out) != stcn.OFFICIAL_KEY_COUNT:
        fail("internal: state_dict has %d entries, expected %d" % (len(sd_out), stcn.OFFICIAL_KEY_COUNT))

    if args.state_dict_out:
        atomic_write(args.state_dict_out, lambda p: torch.save(sd_out, p))
        print("wrote state_dict (%d entries) %s" % (len(sd_out), args.state_dict_out))

    if args.out:
        meta = {
            "model": "stcn",
            "key_dim": stcn.KEY_DIM,
            "value_dim": stcn.VALUE_DIM,
            "source": source,
            "source_sha256": source_sha,
            "seed": seed,
            "torch": torch.__version__,
            "options": options,
            "methods": ["encode_key", "encode_value", "decode"],
        }
        scripted = torch.jit.script(model)
        save_scripted(scripted, args.out, meta)
        print("wrote %s (%s)" % (args.out, source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
