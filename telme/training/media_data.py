"""Student and fusion examples: the teacher's prompt ids plus the utterance's clip.

Clips are found and turned into inputs by `telme.clips.ClipInputs` (the code `telme.evaluate`
uses): by name in a folder, MELD `diaX_uttY.mp4`, IEMOCAP `<utterance name>.wav` / `.avi` /
`.mp4`; a missing, broken or too long clip gets the official zero placeholder and is reported.
"""

import torch
from torch.utils.data import Dataset

from telme.clips import ClipInputs
from telme.features.audio import collate_audio
from telme.features.text import collate_left
from telme.training.text_data import TextExample


class MediaDataset(Dataset):
    """TextExamples with the audio and/or video of their clips; unusable clips become zeros."""

    def __init__(self, examples: list[TextExample], clips_folder, profile, modalities=("audio", "video"), loader=None):
        self.examples = list(examples)
        self.inputs = ClipInputs(clips_folder, profile, modalities, loader)

    @property
    def report(self):
        return self.inputs.report

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        example = self.examples[index]
        item = {"example": example}
        for modality in self.inputs.modalities:
            item[modality] = self.inputs.utterance(example.key, modality)
        return item


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
