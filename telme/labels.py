"""Emotion label sets, in the order the official checkpoints' classifiers use."""

MELD_LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
IEMOCAP_LABELS = ("ang", "exc", "fru", "hap", "neu", "sad")

LABEL_SETS = {"meld": MELD_LABELS, "iemocap": IEMOCAP_LABELS}
