# Sourced by the training recipes: TRAIN and DEV, the split file names of DATASET (meld or iemocap).
DATASET=${DATASET:-meld}
case "$DATASET" in
  meld) TRAIN=train_sent_emo.csv; DEV=dev_sent_emo.csv ;;
  iemocap) TRAIN=iemocap_train.csv; DEV=iemocap_dev.csv ;;
  *) echo "error: DATASET must be meld or iemocap, not $DATASET" >&2; exit 1 ;;
esac
