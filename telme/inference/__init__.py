"""Inference: a loaded TelME over whole dialogues, and a clip straight to emotions.

    Recognizer(model, device=None, batch_size=None, precision=None).run_dialogue(dialogue, media) -> DialoguePrediction
    Recognizer(...).stream_dialogue(dialogue, media) -> PartialPrediction per finished micro-batch, the last complete
    analyze_clip(path, model=None, transcript=None, ...) -> ClipAnalysis (dialogue + prediction)
    choose_device(preferred=None): the one place a device is chosen
"""

from telme.inference.clip import analyze_clip, load_clip_media
from telme.inference.precision import autocast_dtype, cpu_supports_bf16
from telme.inference.recognizer import Recognizer, choose_device
from telme.inference.results import (
    ANALYSIS_FORMAT,
    ClipAnalysis,
    DialoguePrediction,
    PartialPrediction,
    RecognizerStats,
    UtterancePrediction,
)

__all__ = [
    "ANALYSIS_FORMAT",
    "ClipAnalysis",
    "DialoguePrediction",
    "PartialPrediction",
    "Recognizer",
    "RecognizerStats",
    "UtterancePrediction",
    "analyze_clip",
    "autocast_dtype",
    "choose_device",
    "cpu_supports_bf16",
    "load_clip_media",
]
