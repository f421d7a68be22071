"""One config dataclass per model part; each is saved next to its weights and rebuilt on load."""

import dataclasses
import json
from importlib import resources

from telme.dialogue import MAX_SPEAKERS
from telme.errors import UserError

OFFICIAL_HIDDEN = 768  # every part hands the fusion 768-d vectors
OFFICIAL_MASK_TIME_LENGTH = 3  # data2vec-audio SpecAugment span of the official student (acts in training only)


def backbone_config(name: str) -> dict:
    """A backbone config shipped inside the package (no Hub needed), e.g. 'roberta-large'."""
    path = resources.files("telme") / "resources" / "backbones" / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped backbone config named {name!r}")
    return json.loads(path.read_text())


class _Config:
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise UserError(f"{cls.__name__}: unknown fields {sorted(unknown)} (a bundle of another version?)")
        return cls(**data)


@dataclasses.dataclass
class TeacherConfig(_Config):
    backbone: dict  # a transformers config dict; its model_type picks the encoder (roberta, bert, ...)
    num_labels: int = 7
    vocab_size: int = 50274  # backbone vocab + the 9 speaker tokens (roberta-large: 50265 + 9)
    hidden_size: int = OFFICIAL_HIDDEN  # W projects the pooled state to this size for the fusion


@dataclasses.dataclass
class AudioStudentConfig(_Config):
    backbone: dict  # data2vec-audio config; mask_time_length = OFFICIAL_MASK_TIME_LENGTH as in the official code
    num_labels: int = 7


@dataclasses.dataclass
class VideoStudentConfig(_Config):
    backbone: dict  # TimeSformer config (8 frames of 224x224 for the official weights)
    num_labels: int = 7


@dataclasses.dataclass
class FusionConfig(_Config):
    num_labels: int = 7
    hidden_size: int = OFFICIAL_HIDDEN
    beta_shift: float = 0.1  # MELD 0.1, IEMOCAP 0.2: caps how far audio/video may shift the text vector
    dropout: float = 0.2
    num_heads: int = 3  # MELD 3, IEMOCAP 4; must divide 2 * hidden_size
    order: str = "audio,video"  # which student fills the first 768 features; the official IEMOCAP
    # inference script passes video first: set "video,audio" to reproduce it
    group_size: int = 4  # utterances that attend to each other in one forward (official batches of 4)


def official_teacher_config(num_labels: int = 7) -> TeacherConfig:
    backbone = backbone_config("roberta-large")
    return TeacherConfig(backbone=backbone, num_labels=num_labels, vocab_size=backbone["vocab_size"] + MAX_SPEAKERS)


def official_audio_config(num_labels: int = 7) -> AudioStudentConfig:
    backbone = dict(backbone_config("data2vec-audio-base-960h"), mask_time_length=OFFICIAL_MASK_TIME_LENGTH)
    return AudioStudentConfig(backbone=backbone, num_labels=num_labels)


def official_video_config(num_labels: int = 7) -> VideoStudentConfig:
    return VideoStudentConfig(backbone=backbone_config("timesformer-base-k400"), num_labels=num_labels)


def official_fusion_config(dataset: str = "meld") -> FusionConfig:
    if dataset == "meld":
        return FusionConfig(num_labels=7, beta_shift=0.1, num_heads=3)
    if dataset == "iemocap":
        return FusionConfig(num_labels=6, beta_shift=0.2, num_heads=4)
    raise UserError(f"unknown dataset {dataset!r}: expected 'meld' or 'iemocap'")
