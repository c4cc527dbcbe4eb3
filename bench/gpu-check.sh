#!/usr/bin/env bash
# The CUDA check, in one run (at most 8 minutes on a lent GPU machine: CUDA PyTorch 2.x, nvcc, cmake,
# no Node, no network, only the work tree):
#   1. builds the engine (cpp/) and its Node-free driver (bench/driver) against the machine's
#      PyTorch, found by CMakeLists.txt through the Python route (torch.utils.cmake_prefix_path);
#   2. exports a random-weight STCN (and Mask R-CNN) with the machine's own torch (torchscript/);
#   3. STCN through the engine vs the Python reference loop (torchscript/reference_stcn.py) on the same
#      device: label agreement per frame (fp32), then FPS at 480p with 1 and 2 objects, fp32 and
#      half (fp16 autocast on CUDA, bf16 on CPU), ours next to the Python loop;
#   4. Mask R-CNN with our detection ops vs eager torchvision on the device;
#   5. the memory read on device tensors vs the CPU, and the CRF fed from device probabilities;
#   6. prints one summary table (exit 1 when a check fails).
#
# usage: bench/gpu-check.sh [--device cuda|cpu] [--quick] [--build-dir DIR] [--work DIR]
#   --device cpu   the dry run of everything but CUDA (what CI runs, with --quick)
#   --quick        small sizes (160x96, 4 frames, 2 objects only; FPS rows are then not meaningful)
#   --build-dir    CMake build folder (default build-gpu-check; an existing cmake-js build/ is reused)
# Env: STCN_PYTHON (default python3 on PATH) must have torch; torchvision for the Mask R-CNN row.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

device=cuda
quick=0
build_dir=build-gpu-check
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
py="${STCN_PYTHON:-$(command -v python3 || true)}"
[ -n "$py" ] || { echo "gpu-check: no python3 (set STCN_PYTHON)" >&2; exit 2; }
export STCN_PYTHON="$py"
[ -n "$work" ] || work=$(mktemp -d /tmp/stcn-gpu-check-XXXXXX)
mkdir -p "$work/results"
res="$work/results"
say() { printf 'gpu-check [%4ds]: %s\n' "$SECONDS" "$*" >&2; }
# Runs a step; its last stdout line (JSON) goes to results/<name>.json. A failing step is recorded
# as <name>-error and the run goes on, so the table shows everything that could be measured.
step() {
  local name="$1"; shift
  if out=$("$@" 2>"$work/$name.log"); then
    printf '%s\n' "$out" | tail -n 1 >"$res/$name.json"
  else
    local msg; msg=$(tail -n 3 "$work/$name.log" | tr '\n' ' ' | sed 's/"/'"'"'/g')
    printf '{"message":"%s"}\n' "$msg" >"$res/$name-error.json"
    say "$name FAILED: $msg"
    return 1
  fi
}

if [ "$quick" = 1 ]; then
  W=160; H=96; T=4; FPS_T=4; fps_objects="2"; mr_size=(--min-size 96 --max-size 160); warmup=0
else
  W=854; H=480; T=30; FPS_T=60; fps_objects="1 2"; mr_size=(--min-size 320 --max-size 600); warmup=12
fi

say "python $py, device $device, work $work"
"$py" bench/gpu_check.py env --device "$device" >"$res/env.json"
cat "$res/env.json" >&2

# 1. Build (engine + driver only; Node is not needed). An existing configured folder is reused.
say "building the engine and bench/driver into $build_dir"
t0=$SECONDS
cmake_args=(-DSTCN_BUILD_DRIVER=ON -DCMAKE_BUILD_TYPE=Release)
[ -f "$build_dir/CMakeCache.txt" ] || cmake_args+=(-DSTCN_BUILD_ADDON=OFF)
if command -v nvcc >/dev/null 2>&1; then
  cmake_args+=("-DCUDAToolkit_ROOT=$(dirname "$(dirname "$(command -v nvcc)")")" "-DCMAKE_CUDA_COMPILER=$(command -v nvcc)")
fi
# A folder whose generated build already has the driver target is only built (incremental); otherwise
# configure it (the cache alone is not proof: a configure that failed half-way leaves the option set).
if grep -qs "stcn_driver" "$build_dir/build.ninja" "$build_dir/Makefile"; then configure=(true); else configure=(cmake -S . -B "$build_dir" "${cmake_args[@]}"); fi
if ! "${configure[@]}" >"$work/build.log" 2>&1 ||
   ! cmake --build "$build_dir" --target stcn_driver -j "$(nproc)" >>"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log" >&2
  say "build failed (log: $work/build.log)"
  exit 1
fi
grep -E "stcn-node: (LibTorch from|_GLIBCXX|build flavour)" "$work/build.log" >&2 || true
driver=$(find "$build_dir" -name stcn_driver -type f -perm -u+x | head -n 1)
printf '{"seconds":%d,"driver":"%s"}\n' "$((SECONDS - t0))" "$driver" >"$res/build.json"
"$driver" info >&2

# 2. Exports with this machine's torch.
say "exporting a random-weight STCN with $py"
"$py" torchscript/export_stcn.py --random-init --seed 0 --out "$work/stcn.pt" >"$work/export.log" 2>&1 || {
  tail -n 20 "$work/export.log" >&2; say "STCN export failed"; exit 1; }

# 3. STCN: agreement (fp32), then FPS.
"$py" bench/gpu_check.py prepare --out "$work/clip2" --width $W --height $H --frames $FPS_T --objects 2 >/dev/null
"$py" bench/gpu_check.py prepare --out "$work/clip1" --width $W --height $H --frames $FPS_T --objects 1 >/dev/null
agree_t=$T
[ "$agree_t" -le "$FPS_T" ] || agree_t=$FPS_T
mkdir -p "$work/agree/frames"
for i in $(seq 0 $((agree_t - 1))); do cp "$work/clip2/frames/$(printf %05d "$i").png" "$work/agree/frames/"; done
head -c $((agree_t * W * H * 3)) "$work/clip2/frames.rgb" >"$work/agree/frames.rgb"
say "STCN fp32: engine vs Python reference on $device ($agree_t frames ${W}x${H}, 2 objects)"
step ours-agree "$driver" stcn --model "$work/stcn.pt" --device "$device" --frames "$work/agree/frames.rgb" --count $agree_t \
  --width $W --height $H --mask "$work/clip2/mask.u8" --size 0 --out "$work/agree/ours.u8" || true
step ref-agree "$py" torchscript/reference_stcn.py --model "$work/stcn.pt" --frames "$work/agree/frames" --mask "$work/clip2/mask.png" \
  --size 0 --out "$work/agree/ref" --device "$device" --time || true
[ -f "$work/agree/ours.u8" ] && [ -d "$work/agree/ref" ] &&
  step agreement "$py" bench/gpu_check.py agreement --ours "$work/agree/ours.u8" --ref "$work/agree/ref" --width $W --height $H --frames $agree_t || true

for objects in $fps_objects; do
  for prec in fp32 half; do
    half_flag=(); amp_flag=()
    [ "$prec" = half ] && { half_flag=(--half); amp_flag=(--amp); }
    say "STCN FPS: $objects object(s), $prec, $FPS_T frames ${W}x${H}"
    step "fps-ours-$objects-$prec" "$driver" stcn --model "$work/stcn.pt" --device "$device" --frames "$work/clip$objects/frames.rgb" \
      --count $FPS_T --width $W --height $H --mask "$work/clip$objects/mask.u8" --size 0 --warmup $warmup "${half_flag[@]}" || true
    if step "ref-$objects-$prec" "$py" torchscript/reference_stcn.py --model "$work/stcn.pt" --frames "$work/clip$objects/frames" \
         --mask "$work/clip$objects/mask.png" --size 0 --out "$work/ref-$objects-$prec" --device "$device" --warmup 2 "${amp_flag[@]}"; then
      cp "$work/ref-$objects-$prec/timing.json" "$res/fps-ref-$objects-$prec.json"
    fi
  done
done

# 4. Mask R-CNN (needs torchvision in this Python).
if "$py" -c "import torchvision" 2>/dev/null; then
  mr_args=(--seed 3 "${mr_size[@]}" --detections-per-img 30)
  say "Mask R-CNN: export (random weights), ours vs eager torchvision on $device"
  if "$py" torchscript/export_maskrcnn.py --random-init "${mr_args[@]}" --out "$work/maskrcnn.pt" >"$work/maskrcnn-export.log" 2>&1; then
    head -c $((W * H * 3)) "$work/clip2/frames.rgb" >"$work/image.rgb"
    step maskrcnn-ours "$driver" maskrcnn --model "$work/maskrcnn.pt" --device "$device" --image "$work/image.rgb" --width $W --height $H \
      --out "$work/maskrcnn-ours.json" || true
    step maskrcnn-eager "$py" bench/gpu_check.py maskrcnn-eager --model "$work/maskrcnn.pt" --device "$device" --image "$work/image.rgb" \
      --width $W --height $H --out "$work/maskrcnn-eager.json" "${mr_args[@]}" || true
    [ -f "$work/maskrcnn-ours.json" ] && [ -f "$work/maskrcnn-eager.json" ] &&
      step maskrcnn "$py" bench/gpu_check.py maskrcnn-compare --ours "$work/maskrcnn-ours.json" --eager "$work/maskrcnn-eager.json" || true
  else
    msg=$(tail -n 1 "$work/maskrcnn-export.log" | sed 's/"/'"'"'/g')
    printf '{"message":"export failed: %s"}\n' "$msg" >"$res/maskrcnn-error.json"
  fi
else
  printf '{"reason":"torchvision is not installed in %s"}\n' "$py" >"$res/maskrcnn-skipped.json"
fi

# 5. Memory read and CRF with device tensors.
say "memory read and CRF on $device"
step memread "$driver" memread --device "$device" || true
step crf "$driver" crf --device "$device" --width $W --height $H || true

# 6. The table.
say "done in ${SECONDS}s; results in $res"
"$py" bench/gpu_check.py summary --results "$res" --device "$device" --width $W --height $H
