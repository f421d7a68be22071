"""A dataset's clips, found by name, as the students' inputs (training and `telme.evaluate`).

    inputs = ClipInputs("MELD.Raw/dev", profile, ("audio", "video"))
    items = inputs.dialogue(dialogue)    # per utterance: {"audio": (T,), "video": (8, 3, S, S)}
    inputs.report                        # which clips were missing, broken or too long

Clips are found by file stem, in a folder (searched recursively once) or a list of files (the
app's uploads): one clip per utterance named after its id (MELD `dia0_utt3.mp4`, IEMOCAP
`Ses01F_impro01_F000.wav`), or one recording per dialogue named after the dialogue (IEMOCAP
`Ses01F_impro01.avi`), cut at the utterances' times. Decoding goes through `telme.media`,
features through `telme.features.audio` / `telme.features.video`: the functions inference uses.

A clip that is missing or cannot be decoded (MELD dev dia125_utt3 is corrupt) gets the zero
placeholder and is reported; an utterance the profile calls too long
(`telme.features.profiles.too_long`: MELD has clips minutes long) gets zeros as the official
code does, and is reported too.
"""

import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch

from telme.features.audio import LONG_UTTERANCE_SAMPLES, prepare_audio
from telme.features.profiles import too_long
from telme.features.video import prepare_frames, sample_frame_indices, zero_frames
from telme.media.errors import MediaError

CLIP_SUFFIXES = {"audio": (".wav", ".mp4", ".avi", ".mkv", ".flac"), "video": (".mp4", ".avi", ".mkv")}


@dataclass
class ClipReport:
    """Which clips could not be used, by utterance key, and why."""

    missing: set = field(default_factory=set)
    broken: dict = field(default_factory=dict)  # key -> error text
    too_long: set = field(default_factory=set)

    def keys(self) -> list[str]:
        return sorted(set(self.missing) | set(self.broken) | set(self.too_long))

    def to_dict(self) -> dict:
        return {"missing": sorted(self.missing), "broken": dict(sorted(self.broken.items())),
                "too_long": sorted(self.too_long)}


def index_clips(clips) -> dict[str, list[Path]]:
    """Files by stem ("dia125_utt3" -> [.../dia125_utt3.mp4]); `clips`: a folder or file paths."""
    if isinstance(clips, (str, os.PathLike)):
        clips = [Path(root) / name for root, _, names in os.walk(clips) for name in names]
    found: dict[str, list[Path]] = {}
    for path in map(Path, clips):
        found.setdefault(path.stem, []).append(path)
    return found


def pick_clip(candidates: list[Path], modality: str) -> Path | None:
    for suffix in CLIP_SUFFIXES[modality]:
        for path in candidates:
            if path.suffix.lower() == suffix:
                return path
    return None


def zero_media(modality: str, profile) -> torch.Tensor:
    """The official placeholder: 1,412 zero samples, or zero frames."""
    return torch.zeros(LONG_UTTERANCE_SAMPLES) if modality == "audio" else zero_frames(profile)


class TooLong(ValueError):
    """A clip above the profile's maximum duration (official: zero media)."""


def load_media(path: Path, modality: str, profile) -> torch.Tensor:
    """One utterance clip -> the student's input; raises MediaError, or TooLong."""
    from telme.media.decode import decode_audio, decode_frames, probe

    info = probe(path)
    if too_long(info.duration, profile):
        raise TooLong(f"{info.duration:.1f} s")
    if modality == "audio":
        return prepare_audio(decode_audio(path, profile.audio_sample_rate), profile)  # (T,)
    frames = decode_frames(path, indices=sample_frame_indices(info.frame_count, profile.num_frames))
    return prepare_frames(frames, profile)  # (8, 3, S, S)


class ClipInputs:
    """Student inputs of dataset utterances from their clips; unusable clips become zeros."""

    def __init__(self, clips, profile, modalities=("audio", "video"), loader=None):
        self.profile, self.modalities = profile, tuple(modalities)
        self.clips = index_clips(clips) if clips else {}
        self.loader = loader or load_media  # swappable in tests
        self.report = ClipReport()

    def utterance(self, key: str, modality: str) -> torch.Tensor:
        """The input of the utterance clip named `key`, or zeros (reported)."""
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

    def dialogue(self, dialogue, name: str, keys: list[str]) -> list[dict]:
        """Per utterance {modality: input}: from the recording called `name` when there is one,
        else from each utterance's own clip (named by `keys`)."""
        recording = {m: pick_clip(self.clips.get(name, []), m) for m in self.modalities}
        if any(recording.values()):
            return self.recording(recording, dialogue, keys)
        return [{m: self.utterance(key, m) for m in self.modalities} for key in keys]

    def recording(self, paths: dict, dialogue, keys: list[str]) -> list[dict]:
        """Utterances cut out of one recording (per modality its file, decoded once) at their times."""
        items = [{} for _ in keys]
        for path in dict.fromkeys(paths.values()):
            modalities = [m for m in self.modalities if paths[m] == path]
            cuts = self.cuts(path, "video" in modalities, dialogue, keys)
            for modality in modalities:
                for item, key, utterance, cut in zip(items, keys, dialogue, cuts):
                    item[modality] = self.cut(key, modality, utterance, cut)
        return items

    def cuts(self, path, with_frames, dialogue, keys) -> list:
        """`telme.media.pipeline.utterance_media` of the recording, or Nones (reported)."""
        from telme.media.pipeline import utterance_media

        if path is None:
            self.report.missing.update(keys)
            return [None] * len(keys)
        frames = partial(sample_frame_indices, n=self.profile.num_frames) if with_frames else None
        try:
            return utterance_media(path, dialogue, self.profile.audio_sample_rate, sample_frames=frames)
        except MediaError as error:
            self.report.broken.update({key: str(error).splitlines()[0] for key in keys})
            return [None] * len(keys)

    def cut(self, key, modality, utterance, cut) -> torch.Tensor:
        """One utterance's span of a recording as the student's input, or zeros (reported)."""
        if cut is None:
            return zero_media(modality, self.profile)
        if too_long(utterance.duration, self.profile):
            self.report.too_long.add(key)
            return zero_media(modality, self.profile)
        values = cut.audio if modality == "audio" else cut.frames
        if values is None or not len(values):
            self.report.missing.add(key)
            return zero_media(modality, self.profile)
        return prepare_audio(values, self.profile) if modality == "audio" else prepare_frames(values, self.profile)
