"""TelME: teacher-leading multimodal fusion for emotion recognition in conversation."""

from telme.labels import IEMOCAP_LABELS, LABEL_SETS, MELD_LABELS

__all__ = ["IEMOCAP_LABELS", "LABEL_SETS", "MELD_LABELS"]
