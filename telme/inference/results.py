"""Typed results of a run: per utterance, per dialogue, and the forward counters."""

from dataclasses import asdict, dataclass

PARTS = ("teacher", "audio", "video", "fusion")  # in the order a run computes them


@dataclass
class UtterancePrediction:
    index: int
    teacher: list  # probabilities, one per label
    audio: list | None  # None when the audio student is not live or the utterance has no audio
    video: list | None  # None when the video student is not live or the utterance has no frames
    fused: list  # the teacher's own when the fusion did not run
    alpha: float | None  # the fusion's shift scale (0..1); None when the fusion did not run
    label: str  # argmax of fused
    confidence: float  # max of fused
    pending: tuple = ()  # parts of a streamed partial not computed yet for this utterance (audio, video,
    # fusion); () in a complete prediction. While "fusion" is pending, fused/label/confidence are the teacher's.

    def to_dict(self) -> dict:
        return dict(asdict(self), pending=list(self.pending))


@dataclass
class DialoguePrediction:
    labels: tuple
    live: tuple  # subset of ("text", "audio", "video", "fusion") that has trained weights
    utterances: list

    @property
    def pending(self) -> tuple:
        """Parts still to come for some utterance (a partial of `Recognizer.stream_dialogue`); () when complete."""
        waiting = {part for utterance in self.utterances for part in utterance.pending}
        return tuple(part for part in PARTS if part in waiting)

    @property
    def complete(self) -> bool:
        return not self.pending

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "live": list(self.live),
                "utterances": [utterance.to_dict() for utterance in self.utterances]}


@dataclass(frozen=True)
class PartialPrediction:
    """One step of `Recognizer.stream_dialogue`: the prediction so far, after `stage` finished a micro-batch."""

    stage: str  # teacher, audio, video or fusion
    done: int  # utterances of that stage done so far (cached outputs count as done at once)
    total: int  # utterances that stage computes in this run
    prediction: DialoguePrediction  # what is still to come is in prediction.pending

    @property
    def complete(self) -> bool:
        return self.prediction.complete


@dataclass
class RecognizerStats:
    """Forwards run so far (rows = utterances computed, not taken from the cache)."""

    teacher_forwards: int = 0
    teacher_rows: int = 0
    audio_forwards: int = 0
    audio_rows: int = 0
    video_forwards: int = 0
    video_rows: int = 0
    fusion_forwards: int = 0

    def reset(self):
        for name in asdict(self):
            setattr(self, name, 0)


ANALYSIS_FORMAT = "telme-analysis/1"
SOURCES = ("teacher", "audio", "video", "fused")


def model_summary(recognizer) -> dict:
    """What an analysis records of the model that made it: {"name", "missing", "device"}."""
    return {"name": recognizer.model.name, "missing": list(recognizer.model.missing),
            "device": str(recognizer.device)}


@dataclass
class ClipAnalysis:
    """A clip's dialogue and its predictions, with the model that made them."""

    dialogue: object  # telme.dialogue.Dialogue
    prediction: DialoguePrediction
    model: dict  # {"name", "missing", "device"}
    speakers: dict | None = None  # SpeakerEstimate.to_dict(): count, estimated, margin, status

    def to_dict(self) -> dict:
        """The `python -m telme analyze` JSON: one entry per utterance, probabilities by label name."""
        labels = self.prediction.labels

        def named(probs):
            return None if probs is None else {name: round(p, 6) for name, p in zip(labels, probs)}

        utterances = []
        for utterance, result in zip(self.dialogue, self.prediction.utterances, strict=True):
            utterances.append({
                "index": result.index, "start": utterance.start, "end": utterance.end,
                "speaker": utterance.speaker, "text": utterance.text,
                "label": result.label, "confidence": round(result.confidence, 6),
                "alpha": None if result.alpha is None else round(result.alpha, 6),
                "probabilities": {source: named(getattr(result, source)) for source in SOURCES},
            })
        return {"format": ANALYSIS_FORMAT, "source": self.dialogue.source, "duration": self.dialogue.duration,
                "labels": list(labels), "live": list(self.prediction.live), "model": self.model,
                "speakers_found": self.speakers, "utterances": utterances}
