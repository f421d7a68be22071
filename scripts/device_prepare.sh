#!/usr/bin/env bash
# Fill the git-ignored .device/ folder with what scripts/device_check.sh needs on a GPU machine
# that has no network and gets only the tracked tree plus up to 8 carried paths (64 MiB in all).
#
#   scripts/device_prepare.sh            # here, where ../shared (or $TELME_SHARED) and ffmpeg are
#   then, on the device: carry [".device"] and run  scripts/device_check.sh --out $OUT
#
# .device/shared/reference/golden/  the golden checkpoints WITHOUT total_fusion.bin (49 MB of the
#                                   89: too big to travel); teacher, students and golden_io.pt
# .device/clip.npz                  tests/fixtures/media/conversation.mp4 decoded here (the device
#                                   has no ffmpeg/av/soxr): each utterance's 22,050 Hz audio and
#                                   8 frames, plus the dialogue
# .device/wheels/                   wheels the device lacks: none today (torch, transformers,
#                                   accelerate, safetensors, tokenizers, regex, pillow, numpy and
#                                   pytest are there; telme.inference imports nothing else). Name
#                                   extra ones in DEVICE_WHEELS="name==version ..." to fetch them.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${TELME_SHARED:-../shared}
GOLDEN=$SHARED/reference/golden
DEST=${DEVICE_DIR:-.device}
LIMIT_MB=64

if [ ! -f "$GOLDEN/golden_io.pt" ]; then
  echo "error: golden reference not found at $GOLDEN (set TELME_SHARED to the shared folder)" >&2
  exit 1
fi
rm -rf "$DEST.partial"
trap 'rm -rf "$DEST.partial"' EXIT
target=$DEST.partial/shared/reference/golden
mkdir -p "$target/save_model/student_audio" "$target/save_model/student_video"
cp "$GOLDEN/configs.json" "$GOLDEN/golden_io.pt" "$target/"
cp "$GOLDEN/save_model/teacher.bin" "$target/save_model/"
cp "$GOLDEN/save_model/student_audio/total_student.bin" "$target/save_model/student_audio/"
cp "$GOLDEN/save_model/student_video/total_student.bin" "$target/save_model/student_video/"

PYTHONPATH=. python scripts/device_steps.py decode-clip tests/fixtures/media/conversation.mp4 \
  tests/fixtures/media/conversation.srt "$DEST.partial/clip.npz" >/dev/null

mkdir -p "$DEST.partial/wheels"
for wheel in ${DEVICE_WHEELS:-}; do
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST.partial/wheels" "$wheel"
done

rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
device_mb=$(du -sm "$DEST" | cut -f1)
tree_mb=$(( $(git ls-files -z | xargs -0 cat 2>/dev/null | wc -c) / 1048576 ))
echo "wrote $DEST: ${device_mb} MB (tracked tree ${tree_mb} MB; at most ${LIMIT_MB} MiB travel together)"
if [ $(( device_mb + tree_mb )) -gt $LIMIT_MB ]; then
  echo "warning: tree + $DEST exceed ${LIMIT_MB} MiB: the device run will refuse them until the tree shrinks" >&2
fi
