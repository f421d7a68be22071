#!/usr/bin/env bash
# The GPU checks of the full TelME, in one run of under 8 minutes on one H100/H200:
#   1. environment (torch, CUDA, GPU, native bf16 of the CPU)
#   2. pytest -m gpu (bf16 autocast path, parity on CUDA)
#   3. golden checkpoints on the device: fp32 against the official outputs (<= 1e-4), bf16 change
#   4. full-size benchmark on the device in bf16 (per stage, utterances/s, peak GPU memory), the
#      same dialogue on the CPU for the ratio, and a 64-utterance dialogue
#   5. the Recognizer on a pre-decoded fixture clip (device bf16 vs CPU fp32)
# Everything is printed and written under --out (one .txt per step, JSON where there are numbers,
# summary.txt with each step's exit status).
#
#   scripts/device_prepare.sh                        # first, here: fills .device/ (no network there)
#   scripts/device_check.sh --out DIR                # on the GPU machine, with .device carried
#   scripts/device_check.sh --out DIR --cpu-dry-run  # the same steps on this CPU, tiny models
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=runs/device-check
DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT_DIR=$2; shift 2 ;;
    --cpu-dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (expected --out DIR, --cpu-dry-run)" >&2; exit 2 ;;
  esac
done
DEVICE_DIR=${DEVICE_DIR:-.device}  # what scripts/device_prepare.sh filled
if [ ! -f "$DEVICE_DIR/clip.npz" ]; then
  echo "error: $DEVICE_DIR/ is missing: run scripts/device_prepare.sh first (and carry .device to the device)" >&2
  exit 2
fi
DEVICE_DIR=$(cd "$DEVICE_DIR" && pwd)
mkdir -p "$OUT_DIR"
PYTHON=${PYTHON:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TELME_SHARED=$DEVICE_DIR/shared
if compgen -G "$DEVICE_DIR/wheels/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/telme-wheels \
    "$DEVICE_DIR"/wheels/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/telme-wheels
fi
if [ "$DRY_RUN" = 1 ]; then
  DEVICE=cpu; TINY=--tiny; BIG_DIALOGUE=4
else
  DEVICE=cuda; TINY=; BIG_DIALOGUE=64
fi
: > "$OUT_DIR/summary.txt"
STATUS=0

step() {  # step NAME SECONDS COMMAND...: run it, keep its output, record its exit status
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit}s): $*"
  local started=$SECONDS
  timeout "$limit" "$@" 2>&1 | grep -v "Warning: You are sending unauthenticated" | tee "$OUT_DIR/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "$name: exit $rc in $(( SECONDS - started )) s" | tee -a "$OUT_DIR/summary.txt"
  [ "$rc" = 0 ] || STATUS=1
}

step environment 60 "$PYTHON" -c "
import os, torch
from telme.inference import cpu_supports_bf16
print('torch', torch.__version__, '| cuda', torch.version.cuda, '| available', torch.cuda.is_available())
if torch.cuda.is_available():
    print('gpu', torch.cuda.get_device_name(0), '| bf16', torch.cuda.is_bf16_supported())
print('cpu cores', os.cpu_count(), '| capability', torch.backends.cpu.get_cpu_capability(),
      '| native bf16', cpu_supports_bf16(), '| load', os.getloadavg())"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
  | tee -a "$OUT_DIR/environment.txt"
step pytest_gpu 240 "$PYTHON" -m pytest -q -m gpu -p no:cacheprovider -rs \
  tests/test_inference_precision.py tests/test_inference_recognizer.py
step golden 120 "$PYTHON" scripts/device_steps.py golden --golden "$DEVICE_DIR/shared/reference/golden" \
  --device "$DEVICE" --json "$OUT_DIR/golden.json"
step bench 300 "$PYTHON" scripts/bench_inference.py --device "$DEVICE" --full-size --cpu-ratio $TINY \
  --meld-dev /nonexistent --json "$OUT_DIR/bench.json"
step bench_long 120 "$PYTHON" scripts/bench_inference.py --device "$DEVICE" --full-size $TINY \
  --utterances "$BIG_DIALOGUE" --meld-dev /nonexistent --json "$OUT_DIR/bench_long.json"
step clip 180 "$PYTHON" scripts/device_steps.py clip "$DEVICE_DIR/clip.npz" --device "$DEVICE" $TINY \
  --json "$OUT_DIR/clip.json"
echo "=== summary ($OUT_DIR)"
cat "$OUT_DIR/summary.txt"
exit $STATUS
