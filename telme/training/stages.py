"""The three official stages as objectives for `engine.fit`.

1. teacher: cross-entropy on the text prompt.
2. student: CE + response-level + feature-level distillation against the frozen teacher.
3. fusion: CE on the frozen teacher's and students' hidden vectors.

Every objective is an nn.Module: `forward(batch) -> loss`, `predict(batch) -> (logits, labels)`,
`trainable_state_dict()` = the weights the stage produces. Batches are dicts: "input_ids" and
"attention_mask" (B, T) left-padded, "audio" (B, samples), "video" (B, 8, 3, H, W), "labels" (B,).
"""

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from telme.training.engine import LoopConfig, TrainResult, fit
from telme.training.text_data import LengthBucketBatches
from telme.training.losses import (
    FEATURE_TEMPERATURE,
    IEMOCAP_RESPONSE_TEMPERATURE,
    MELD_RESPONSE_TEMPERATURE,
    feature_distillation_loss,
    response_distillation_loss,
)

MEDIA_KEYS = {"audio": "audio", "video": "video"}  # student modality -> batch key


@dataclasses.dataclass
class DistillConfig:
    """MELD: tau 4, response weight 1; IEMOCAP: tau 2, response weight 0.1; feature t = 1."""

    response_temperature: float = MELD_RESPONSE_TEMPERATURE
    response_weight: float = 1.0
    feature_temperature: float = FEATURE_TEMPERATURE
    feature_weight: float = 1.0

    @classmethod
    def for_dataset(cls, dataset: str) -> "DistillConfig":
        if dataset == "iemocap":
            return cls(response_temperature=IEMOCAP_RESPONSE_TEMPERATURE, response_weight=0.1)
        return cls()


def freeze(module: nn.Module) -> nn.Module:
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module.eval()


class TeacherObjective(nn.Module):
    def __init__(self, teacher: nn.Module, class_weights: torch.Tensor | None = None):
        super().__init__()
        self.teacher = teacher
        self.register_buffer("class_weights", class_weights, persistent=False)

    def logits(self, batch) -> torch.Tensor:
        return self.teacher(batch["input_ids"], batch["attention_mask"])[1]  # (B, L)

    def forward(self, batch) -> torch.Tensor:
        return F.cross_entropy(self.logits(batch).float(), batch["labels"], weight=self.class_weights)

    def predict(self, batch):
        return self.logits(batch), batch["labels"]

    def trainable_state_dict(self) -> dict:
        return self.teacher.state_dict()


class StudentObjective(nn.Module):
    """A student learns the labels and the frozen teacher's responses and feature geometry."""

    def __init__(self, student: nn.Module, teacher: nn.Module, modality: str, distill: DistillConfig | None = None):
        super().__init__()
        if modality not in MEDIA_KEYS:
            raise ValueError(f"unknown student modality {modality!r}; expected 'audio' or 'video'")
        self.student, self.teacher = student, freeze(teacher)
        self.key, self.distill = MEDIA_KEYS[modality], distill or DistillConfig()

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # frozen: no dropout in the targets
        return self

    def forward(self, batch) -> torch.Tensor:
        with torch.no_grad():
            t_hidden, t_logits = self.teacher(batch["input_ids"], batch["attention_mask"])  # (B, 768), (B, L)
        s_hidden, s_logits = self.student(batch[self.key])  # (B, 768), (B, L)
        d = self.distill
        ce = F.cross_entropy(s_logits.float(), batch["labels"])
        response = response_distillation_loss(s_logits, t_logits, d.response_temperature)
        feature = feature_distillation_loss(s_hidden, t_hidden, d.feature_temperature)
        return ce + d.response_weight * response + d.feature_weight * feature

    def predict(self, batch):
        return self.student(batch[self.key])[1], batch["labels"]

    def trainable_state_dict(self) -> dict:
        return self.student.state_dict()


class FusionObjective(nn.Module):
    """The fusion learns on frozen text, audio and video hidden vectors."""

    def __init__(self, fusion: nn.Module, teacher: nn.Module, audio: nn.Module, video: nn.Module):
        super().__init__()
        self.fusion = fusion
        self.teacher, self.audio, self.video = freeze(teacher), freeze(audio), freeze(video)

    def train(self, mode: bool = True):
        super().train(mode)
        for part in (self.teacher, self.audio, self.video):
            part.eval()
        return self

    def logits(self, batch) -> torch.Tensor:
        with torch.no_grad():
            text = self.teacher(batch["input_ids"], batch["attention_mask"])[0]  # (B, 768)
            audio = self.audio(batch["audio"])[0]  # (B, 768)
            video = self.video(batch["video"])[0]  # (B, 768)
        return self.fusion(text.float(), audio.float(), video.float())  # (B, L)

    def forward(self, batch) -> torch.Tensor:
        return F.cross_entropy(self.logits(batch).float(), batch["labels"])

    def predict(self, batch):
        return self.logits(batch), batch["labels"]

    def trainable_state_dict(self) -> dict:
        return self.fusion.state_dict()


def make_loaders(train_set, dev_set, collate, cfg: LoopConfig, eval_batch_size: int | None = None, drop_last=False,
                 bucket_by_length: bool = False):  # fmt: skip
    if bucket_by_length:
        sampler = LengthBucketBatches(train_set.lengths(), cfg.batch_size)
        train = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate)
    else:
        generator = torch.Generator().manual_seed(cfg.seed)
        train = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate,
                           generator=generator, drop_last=drop_last)  # fmt: skip
    dev = DataLoader(dev_set, batch_size=eval_batch_size or cfg.batch_size, shuffle=False, collate_fn=collate)
    return train, dev


def train_teacher(teacher, train_set, dev_set, collate, cfg: LoopConfig, class_weights=None, progress=None,
                  bucket_by_length: bool = False) -> TrainResult:  # fmt: skip
    """Stage 1: the teacher with cross-entropy, best dev weighted-F1 kept."""
    train, dev = make_loaders(train_set, dev_set, collate, cfg, 4 * cfg.batch_size, bucket_by_length=bucket_by_length)
    return fit(TeacherObjective(teacher, class_weights), train, dev, cfg, progress)


def train_student(student, teacher, modality, train_set, dev_set, collate, cfg: LoopConfig,
                  distill: DistillConfig | None = None, progress=None) -> TrainResult:  # fmt: skip
    """Stage 2: one student distilled from the frozen teacher."""
    train, dev = make_loaders(train_set, dev_set, collate, cfg)
    return fit(StudentObjective(student, teacher, modality, distill), train, dev, cfg, progress)


def train_fusion(fusion, teacher, audio, video, train_set, dev_set, collate, cfg: LoopConfig, progress=None) -> TrainResult:
    """Stage 3: the fusion on frozen parts; batches of the fusion's group size attend to each other."""
    train, dev = make_loaders(train_set, dev_set, collate, cfg)
    return fit(FusionObjective(fusion, teacher, audio, video), train, dev, cfg, progress)


def class_weights_from(labels: list[int], num_labels: int, power: float = 0.5) -> torch.Tensor:
    """(N / (L * count_c)) ** power, normalised to mean 1; power 0 = no weighting, 1 = inverse frequency."""
    counts = torch.bincount(torch.tensor(labels), minlength=num_labels).float().clamp(min=1)  # (L,)
    weights = (counts.sum() / (num_labels * counts)) ** power  # (L,)
    return weights / weights.mean()
