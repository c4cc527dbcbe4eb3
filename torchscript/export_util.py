"""Helpers shared by the exporters and the reference scripts: checksums and atomic writes."""
import hashlib
import json
import os
import tempfile
from typing import Any, Callable, Dict


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
