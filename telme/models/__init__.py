"""Tensor-in, tensor-out TelME modules: no paths, tokenizers or label names here."""

from telme.models.configs import (
    AudioStudentConfig,
    FusionConfig,
    TeacherConfig,
    VideoStudentConfig,
    backbone_config,
)
from telme.models.fusion import ModalityShiftFusion
from telme.models.students import AudioStudent, VideoStudent
from telme.models.teacher import TextTeacher

__all__ = [
    "AudioStudent",
    "AudioStudentConfig",
    "FusionConfig",
    "ModalityShiftFusion",
    "TeacherConfig",
    "TextTeacher",
    "VideoStudent",
    "VideoStudentConfig",
    "backbone_config",
]
