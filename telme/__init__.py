"""TelME: teacher-leading multimodal fusion for emotion recognition in conversation.

    import telme
    model = telme.load_model()                       # bundle folder, official folder or Hub id
    analysis = telme.analyze_clip("clip.mp4", model) # transcribe, find speakers, predict
    prediction = telme.Recognizer(model).run_dialogue(dialogue, media)
    evaluation = telme.evaluate(model, read_split("dev_sent_emo.csv"))  # a split's scores (telme.data)

Importing telme loads nothing heavy: torch, transformers and the media stack load on first use.
"""

from telme.dialogue import Dialogue, Utterance
from telme.labels import IEMOCAP_LABELS, LABEL_SETS, MELD_LABELS

_LAZY = {
    "load_model": "telme.checkpoints",
    "load_bundle": "telme.checkpoints",
    "load_official": "telme.checkpoints",
    "save_bundle": "telme.checkpoints",
    "convert_official": "telme.checkpoints",
    "TelME": "telme.checkpoints",
    "CheckpointError": "telme.checkpoints",
    "Recognizer": "telme.inference",
    "analyze_clip": "telme.inference",
    "choose_device": "telme.inference",
    "evaluate": "telme.evaluation",
    "Evaluation": "telme.evaluation",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'telme' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["Dialogue", "IEMOCAP_LABELS", "LABEL_SETS", "MELD_LABELS", "Utterance", *sorted(_LAZY)]
