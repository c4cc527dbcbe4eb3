"""Where a Python's torch keeps its CMake config, for CMakeLists.txt (route 3 of the LibTorch search).

Prints "prefix <dir>", "abi <0|1>" and "version <v>". The prefix is torch.utils.cmake_prefix_path when
it holds Torch/TorchConfig.cmake (pip wheels, CUDA or not); otherwise the `cmake` folder next to the
libtorch shared library this Python loaded (distribution builds: Debian's python3-torch uses
/usr/lib/<triplet>/libtorch.so, whose config is /usr/lib/<triplet>/cmake/Torch). Exits 1 with one
line on stderr when torch does not import.
"""
import os
import sys

try:
    import torch
except Exception as error:  # noqa: BLE001 - any import failure means "no usable torch"
    print(f"import torch failed: {type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)

prefix = torch.utils.cmake_prefix_path
if not os.path.isfile(os.path.join(prefix, "Torch", "TorchConfig.cmake")):
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if os.path.basename(path).startswith("libtorch.so"):
                candidate = os.path.join(os.path.dirname(path), "cmake")
                if os.path.isfile(os.path.join(candidate, "Torch", "TorchConfig.cmake")):
                    prefix = candidate
                break
print(f"prefix {prefix}")
print(f"abi {int(torch._C._GLIBCXX_USE_CXX11_ABI)}")
print(f"version {torch.__version__}")
