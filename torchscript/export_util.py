"""Helpers shared by the exporters and the reference scripts: refusing input, checksums, metadata,
atomic writes."""
import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, NoReturn, Optional


def fail(prog: str, message: str) -> NoReturn:
    """Refuses the input: one line `<prog>: <message>` on stderr, exit code 2 (what `stcn export` reports as
    ERR_STCN_INPUT)."""
    print(f"{prog}: {message}", file=sys.stderr)
    sys.exit(2)


def weights_parser(description: str, checkpoint_help: str) -> argparse.ArgumentParser:
    """The command line every exporter starts from: --checkpoint FILE | --random-init [--seed N], --out FILE
    (defaults shown by --help)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help=checkpoint_help)
    src.add_argument("--random-init", action="store_true", help="seeded random weights (tests)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init")
    p.add_argument("--out", required=True, help="output TorchScript archive (.pt)")
    return p


def add_detector_arguments(p: argparse.ArgumentParser, defaults: Dict[str, Any], detections_key: str, class_ids: str) -> None:
    """The options both detector exporters share: internal resize, detection cap, --class-bias."""
    p.add_argument("--min-size", type=int, default=defaults["min_size"], help="internal resize, shorter side")
    p.add_argument("--max-size", type=int, default=defaults["max_size"], help="internal resize, longer side cap")
    p.add_argument("--detections-per-img", type=int, default=defaults[detections_key], help="max detections")
    p.add_argument("--class-bias", action="append", default=[], metavar="CLASS=VALUE",
                   help=f"add VALUE to the classifier bias of CLASS, {class_ids} (random-init test models)")


DETECTOR_INPUT = {"layout": "HWC", "dtype": "uint8", "channels": "RGB", "forward_swapped": "the same with R and B swapped"}


def export_detector(prog: str, args: argparse.Namespace, make: Callable[[argparse.Namespace], Any], meta: Dict[str, Any]) -> None:
    """The body of a detector exporter: refuses a missing checkpoint, builds the eager model with `make`,
    scripts it and saves it with `meta` + the detector input contract + the weights' provenance."""
    import torch

    if args.checkpoint and not os.path.isfile(args.checkpoint):
        fail(prog, f"checkpoint not found: {args.checkpoint}")
    scripted = torch.jit.script(make(args))
    meta = {**meta, "kind": "detector", "input": DETECTOR_INPUT, **weights_metadata(args.checkpoint, args.seed if args.random_init else None)}
    save_scripted(scripted, args.out, meta)
    print(f"{prog}: wrote {args.out} ({meta['source']})")


def parse_class_bias(items: List[str], prog: str) -> Dict[int, float]:
    """`--class-bias CLASS=VALUE` flags (random-init test detectors) -> {class: value}."""
    out: Dict[int, float] = {}
    for item in items:
        try:
            cls, value = item.split("=", 1)
            out[int(cls)] = float(value)
        except ValueError:
            fail(prog, f"--class-bias expects CLASS=VALUE, got {item!r}")
    return out


def weights_metadata(checkpoint: Optional[str], seed: Optional[int]) -> Dict[str, Any]:
    """The provenance block of an archive's metadata.json: weights file and checksum (or random init and
    its seed), the torch/torchvision versions, the creation time."""
    import torch

    meta: Dict[str, Any] = {
        "source": os.path.basename(checkpoint) if checkpoint else "random-init",
        "source_sha256": sha256_of(checkpoint) if checkpoint else None,
        "seed": None if checkpoint else seed,
        "torch": torch.__version__,
    }
    try:
        import torchvision

        meta["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover - the detectors need it, the others record it when present
        pass
    meta["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return meta


def sha256_of(path: str) -> str:
    """SHA-256 of a file (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: str, write: Callable[[str], Any]) -> None:
    """Calls write(tmp) on a temp file beside `path`, then renames it over `path` (nothing half-written).
    The file gets the usual 0644-style mode (mkstemp creates 0600)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=folder)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Writes `data` to `path` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def save_scripted(module: Any, path: str, metadata: Dict[str, Any]) -> None:
    """torch.jit.save with `metadata.json` (read by the addon as module.metadata), atomically."""
    import torch

    atomic_write(path, lambda tmp: torch.jit.save(module, tmp, _extra_files={"metadata.json": json.dumps(metadata)}))
