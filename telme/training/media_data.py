"""Student and fusion examples: the teacher's prompt ids plus the utterance's clip.

Clips are found by name in a folder (searched recursively once): MELD `diaX_uttY.mp4`, IEMOCAP
`<utterance name>.wav` / `.avi` / `.mp4`. A clip that is missing or cannot be decoded (MELD dev
dia125_utt3 is corrupt) gets the zero placeholder and is reported; a clip longer than the
profile's `max_utterance_seconds` (MELD has clips minutes long) gets zeros as the official code
does, and is reported too. Decoding goes through `telme.media.decode`, features through
`telme.features.audio` / `telme.features.video`: the functions inference uses.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from telme.features.audio import LONG_UTTERANCE_SAMPLES, collate_audio, prepare_audio
from telme.features.text import collate_left
from telme.features.video import prepare_frames, sample_frame_indices, zero_frames
from telme.training.text_data import TextExample

CLIP_SUFFIXES = {"audio": (".wav", ".mp4", ".avi", ".mkv", ".flac"), "video": (".mp4", ".avi", ".mkv")}


@dataclass
class ClipReport:
    """Which clips could not be used, by example key, and why."""

    missing: set = field(default_factory=set)
    broken: dict = field(default_factory=dict)  # key -> error text
    too_long: set = field(default_factory=set)

    def keys(self) -> list[str]:
        return sorted(set(self.missing) | set(self.broken) | set(self.too_long))

    def to_dict(self) -> dict:
        return {"missing": sorted(self.missing), "broken": dict(sorted(self.broken.items())), "too_long": sorted(self.too_long)}


def index_clips(folder) -> dict[str, list[Path]]:
    """Every file under `folder` by stem (e.g. "dia125_utt3" -> [.../dia125_utt3.mp4])."""
    found: dict[str, list[Path]] = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            found.setdefault(path.stem, []).append(path)
    return found


def pick_clip(candidates: list[Path], modality: str) -> Path | None:
    for suffix in CLIP_SUFFIXES[modality]:
        for path in candidates:
            if path.suffix.lower() == suffix:
                return path
    return None


def zero_media(modality: str, profile) -> torch.Tensor:
    return torch.zeros(LONG_UTTERANCE_SAMPLES) if modality == "audio" else zero_frames(profile)


def load_media(path: Path, modality: str, profile) -> torch.Tensor:
    """One clip -> the student's input; raises MediaError / ClipTooLong-like ValueError."""
    from telme.media.decode import decode_audio, decode_frames, probe

    info = probe(path)
    if profile.max_utterance_seconds is not None and info.duration > profile.max_utterance_seconds:
        raise TooLong(f"{info.duration:.1f} s")
    if modality == "audio":
        return prepare_audio(decode_audio(path, profile.audio_sample_rate), profile)  # (T,)
    frames = decode_frames(path, indices=sample_frame_indices(info.frame_count, profile.num_frames))
    return prepare_frames(frames, profile)  # (8, 3, S, S)


class TooLong(ValueError):
    """A clip above the profile's maximum duration (official: zero media)."""


class MediaDataset(Dataset):
    """TextExamples with the audio and/or video of their clips; unusable clips become zeros."""

    def __init__(self, examples: list[TextExample], clips_folder, profile, modalities=("audio", "video"), loader=None):
        self.examples, self.profile, self.modalities = list(examples), profile, tuple(modalities)
        self.clips = index_clips(clips_folder) if clips_folder else {}
        self.loader = loader or load_media  # swappable in tests
        self.report = ClipReport()

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        example = self.examples[index]
        item = {"example": example}
        for modality in self.modalities:
            item[modality] = self.media(example.key, modality)
        return item

    def media(self, key: str, modality: str) -> torch.Tensor:
        from telme.media.errors import MediaError

        path = pick_clip(self.clips.get(key, []), modality)
        if path is None:
            self.report.missing.add(key)
            return zero_media(modality, self.profile)
        try:
            return self.loader(path, modality, self.profile)
        except TooLong:
            self.report.too_long.add(key)
        except (MediaError, ValueError) as error:
            self.report.broken[key] = str(error).splitlines()[0]
        return zero_media(modality, self.profile)


class MediaCollator:
    """Items -> {"input_ids", "attention_mask", "labels", "audio" (B, T), "video" (B, 8, 3, S, S)}."""

    def __init__(self, pad_id: int, audio_pad: str = "right"):
        self.pad_id, self.audio_pad = pad_id, audio_pad

    def __call__(self, items: list[dict]) -> dict:
        examples = [item["example"] for item in items]
        input_ids, attention_mask = collate_left([list(e.input_ids) for e in examples], self.pad_id)  # (B, T)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask,
                 "labels": torch.tensor([e.label for e in examples], dtype=torch.long)}  # fmt: skip
        if "audio" in items[0]:
            batch["audio"] = collate_audio([item["audio"] for item in items], pad=self.audio_pad)  # (B, T)
        if "video" in items[0]:
            batch["video"] = torch.stack([item["video"] for item in items])  # (B, 8, 3, S, S)
        return batch
