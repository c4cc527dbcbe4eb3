"""Small TorchScript modules for tests and the smoke run (no weights, no downloads).

Usage: /usr/bin/python3 torchscript/test_modules.py OUT_DIR

Writes:
  values.pt  - methods covering every value kind that crosses the Node boundary
  slow.pt    - a method that computes for as long as asked (seconds), to test the event loop
  tiny.pt    - a deterministic 2-layer conv net (the smoke run's model) with metadata.json
"""
import json
import os
import sys
import time
from typing import Dict, List, Tuple

import torch


def _dtype_name(x: torch.Tensor) -> str:
    # str(x.dtype) is an enum number in TorchScript; name the dtypes the tests use.
    if x.dtype == torch.float32:
        return "float32"
    if x.dtype == torch.float64:
        return "float64"
    if x.dtype == torch.float16:
        return "float16"
    if x.dtype == torch.bfloat16:
        return "bfloat16"
    if x.dtype == torch.uint8:
        return "uint8"
    if x.dtype == torch.int8:
        return "int8"
    if x.dtype == torch.int16:
        return "int16"
    if x.dtype == torch.int32:
        return "int32"
    if x.dtype == torch.int64:
        return "int64"
    if x.dtype == torch.bool:
        return "bool"
    return "other"


class Values(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    @torch.jit.export
    def identity(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @torch.jit.export
    def add_int(self, a: int, b: int) -> int:
        return a + b

    @torch.jit.export
    def add_float(self, a: float, b: float) -> float:
        return a + b

    @torch.jit.export
    def negate(self, flag: bool) -> bool:
        return not flag

    @torch.jit.export
    def greet(self, name: str) -> str:
        return "hello " + name

    @torch.jit.export
    def sum_list(self, xs: List[torch.Tensor]) -> torch.Tensor:
        out = torch.zeros_like(xs[0])
        for x in xs:
            out = out + x
        return out

    @torch.jit.export
    def int_list(self, n: int) -> List[int]:
        return [i * i for i in range(n)]

    @torch.jit.export
    def float_list(self, xs: List[float]) -> List[float]:
        return [x * 0.5 for x in xs]

    @torch.jit.export
    def pair(self, x: torch.Tensor) -> Tuple[torch.Tensor, int, str]:
        return x + 1, x.dim(), _dtype_name(x)

    @torch.jit.export
    def tuple_in(self, t: Tuple[int, float, str]) -> str:
        return t[2] + ":" + str(t[0]) + ":" + str(t[1])

    @torch.jit.export
    def dict_out(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"double": x * 2, "square": x * x}

    @torch.jit.export
    def dict_in(self, d: Dict[str, torch.Tensor]) -> torch.Tensor:
        out = torch.zeros(1)
        for k in sorted(d.keys()):
            out = out + d[k].sum()
        return out

    @torch.jit.export
    def detections(self, n: int) -> List[Dict[str, torch.Tensor]]:
        # Shaped like Mask R-CNN's output: a list of dicts of tensors.
        out: List[Dict[str, torch.Tensor]] = []
        for i in range(n):
            out.append({"boxes": torch.full([i, 4], float(i)), "labels": torch.arange(i, dtype=torch.int64)})
        return out

    @torch.jit.export
    def optional_in(self, x: torch.Tensor, bias: float = 1.5) -> torch.Tensor:
        return x + bias

    @torch.jit.export
    def nothing(self, x: torch.Tensor) -> None:
        return None

    @torch.jit.export
    def dtype_of(self, x: torch.Tensor) -> str:
        return _dtype_name(x)

    @torch.jit.export
    def matmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


class Slow(torch.nn.Module):
    @torch.jit.export
    def spin(self, units: int) -> int:
        # `units` x 100 small element-wise steps of real compute on one thread (no intra-op
        # parallelism, so the duration does not collapse when the machine is oversubscribed):
        # holds a worker thread for seconds, never the event loop.
        x = torch.ones(256)
        steps = 0
        for _ in range(units * 100):
            x = torch.sin(x) * 0.5 + 0.1
            steps += 1
        return steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 1, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv2(torch.relu(self.conv1(x))))


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    torch.jit.save(torch.jit.script(Values()), os.path.join(out_dir, "values.pt"))
    torch.jit.save(torch.jit.script(Slow()), os.path.join(out_dir, "slow.pt"))
    meta = {"model": "tiny", "torch": torch.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    torch.jit.save(torch.jit.script(Tiny().eval()), os.path.join(out_dir, "tiny.pt"),
                   _extra_files={"metadata.json": json.dumps(meta)})


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_modules.py OUT_DIR")
    main(sys.argv[1])
