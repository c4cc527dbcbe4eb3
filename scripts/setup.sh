#!/usr/bin/env bash
# Sets up stcn-node on a fresh Debian/Ubuntu machine (idempotent; fast when already done):
#   1. Debian packages: libtorch-dev (unless LIBTORCH points at a LibTorch), python3-torch,
#      python3-torchvision, libopenblas0-pthread, cmake, g++, ffmpeg (video files in and out),
#      chromium (the viewer's browser tests) and redis-server (the job queue and its tests) - as root,
#      or through sudo;
#   2. npm dependencies (npm ci when node_modules is missing or older than package-lock.json);
#   3. the native addon (cmake-js, incremental) and the TypeScript (tsc).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'stcn-node setup: %s\n' "$*"; }

packages=(python3-torch python3-torchvision libopenblas0-pthread cmake g++ ffmpeg chromium redis-server)
if [ -n "${LIBTORCH:-}" ]; then
  [ -d "$LIBTORCH" ] || { say "LIBTORCH=$LIBTORCH is not a folder"; exit 1; }
  say "using LibTorch from LIBTORCH=$LIBTORCH (Debian's libtorch-dev not required)"
else
  packages=(libtorch-dev "${packages[@]}")
fi

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo apt-get update -q
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
      say "missing Debian packages: ${missing[*]}"
      say "install them as root:  sudo apt-get install ${missing[*]}   (then run this again)"
      exit 1
    fi
  fi
else
  say "not a Debian/Ubuntu system: skipping package checks (needs cmake, g++, LibTorch via LIBTORCH or CMAKE_PREFIX_PATH, and python3 with torch for tests)"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

say "building the native addon (cmake-js)"
npx --no-install cmake-js compile --out build >build-native.log 2>&1 || {
  tail -n 40 build-native.log
  say "native build failed (full log: build-native.log)"
  exit 1
}
say "building TypeScript"
npm run --silent build:ts
say "ready"
