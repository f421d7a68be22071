"""The three stages on synthetic tensors with tiny configs: the loop, resume, and distillation."""

import json

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import Dataset

from telme.checkpoints.tiny import TINY_IMAGE, tiny_configs
from telme.metrics import classification_scores
from telme.models import AudioStudent, ModalityShiftFusion, TextTeacher, VideoStudent
from telme.training.engine import BEST_WEIGHTS, LoopConfig
from telme.training.stages import (
    FusionObjective,
    StudentObjective,
    TeacherObjective,
    class_weights_from,
    train_fusion,
    train_student,
    train_teacher,
)

LABELS = 3
SAMPLES = 16
AUDIO_SAMPLES = 800


class SyntheticSet(Dataset):
    """Label-dependent token ids, audio and frames, so every modality carries the label."""

    def __init__(self, seed: int, size: int = SAMPLES):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(size) % LABELS
        self.ids = 5 + self.labels[:, None] * 10 + torch.randint(0, 3, (size, 6), generator=g)  # (N, 6)
        self.audio = torch.randn(size, AUDIO_SAMPLES, generator=g) + self.labels[:, None].float()  # (N, S)
        self.video = torch.randn(size, 8, 3, TINY_IMAGE, TINY_IMAGE, generator=g) * 0.1  # (N, 8, 3, H, W)
        self.video += self.labels.float()[:, None, None, None, None]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "audio": self.audio[i], "video": self.video[i], "labels": self.labels[i]}


def collate(items):
    batch = {key: torch.stack([item[key] for item in items]) for key in items[0]}
    batch["attention_mask"] = torch.ones_like(batch["input_ids"])
    return batch


@pytest.fixture
def parts():
    torch.manual_seed(0)
    cfg = tiny_configs(num_labels=LABELS, text_vocab=100)
    return {"teacher": TextTeacher(cfg["teacher"]), "audio": AudioStudent(cfg["audio"]),
            "video": VideoStudent(cfg["video"]), "fusion": ModalityShiftFusion(cfg["fusion"])}  # fmt: skip


def loop(tmp_path, name, **overrides):
    values = dict(output_dir=str(tmp_path / name), epochs=2, batch_size=4, lr=1e-3, warmup_steps=0, cpu=True)
    return LoopConfig(**dict(values, **overrides))


def test_one_step_reduces_the_teacher_loss(parts):
    objective = TeacherObjective(parts["teacher"]).eval()  # eval: no dropout noise in the comparison
    batch = collate([SyntheticSet(0)[i] for i in range(8)])
    optimizer = torch.optim.AdamW(objective.parameters(), lr=1e-3)
    before = objective(batch)
    before.backward()
    optimizer.step()
    with torch.no_grad():
        assert objective(batch).item() < before.item()


def test_three_stages_end_to_end(parts, tmp_path):
    train, dev = SyntheticSet(0), SyntheticSet(1)
    teacher = train_teacher(parts["teacher"], train, dev, collate, loop(tmp_path, "teacher"))
    assert teacher.best_epoch in (1, 2) and len(teacher.history) == 2
    for modality in ("audio", "video"):
        result = train_student(parts[modality], parts["teacher"], modality, train, dev, collate, loop(tmp_path, modality))
        assert set(load_file(result.weights_path)) == set(parts[modality].state_dict())
    fused = train_fusion(parts["fusion"], parts["teacher"], parts["audio"], parts["video"], train, dev, collate,
                         loop(tmp_path, "fusion"))  # fmt: skip
    assert set(load_file(fused.weights_path)) == set(parts["fusion"].state_dict())
    scores = [row["weighted_f1"] for row in fused.history]
    assert fused.best_weighted_f1 == max(scores) and fused.best_epoch == 1 + scores.index(max(scores))
    kept = ModalityShiftFusion(parts["fusion"].cfg)
    kept.load_state_dict(load_file(fused.weights_path))
    objective = FusionObjective(kept, parts["teacher"], parts["audio"], parts["video"]).eval()
    with torch.no_grad():  # the kept weights score what the loop recorded, on the same dev batches of 4
        predicted = [objective.logits(collate([dev[i] for i in range(s, s + 4)])).argmax(-1) for s in range(0, len(dev), 4)]
    rescored = classification_scores(dev.labels.tolist(), torch.cat(predicted).tolist())
    assert rescored["weighted_f1"] == pytest.approx(fused.best_weighted_f1, abs=1e-6)
    assert not any(p.requires_grad for p in parts["teacher"].parameters())  # frozen by the later stages


def test_resume_continues_after_the_last_epoch(parts, tmp_path):
    train, dev = SyntheticSet(0), SyntheticSet(1)
    train_teacher(parts["teacher"], train, dev, collate, loop(tmp_path, "t", epochs=1))
    again = train_teacher(parts["teacher"], train, dev, collate, loop(tmp_path, "t", epochs=2))
    assert [row["epoch"] for row in again.history] == [1, 2]
    state = json.loads((tmp_path / "t" / "state.json").read_text())
    assert state["epochs_done"] == 2 and (tmp_path / "t" / BEST_WEIGHTS).is_file()


def test_distilled_student_logits_move_toward_the_teacher(parts):
    """Only the distillation terms (labels dropped): the student's responses come to track the teacher's."""
    from telme.training.losses import row_pearson

    torch.manual_seed(1)
    teacher = parts["teacher"].eval()
    teacher.classifier.weight.data *= 20  # distinct teacher responses per sample
    objective = StudentObjective(parts["audio"], teacher, "audio")
    objective.forward = lambda batch: distillation_only(objective, batch)
    batch = collate([SyntheticSet(2)[i] for i in range(8)])
    with torch.no_grad():
        target = torch.softmax(teacher(batch["input_ids"], batch["attention_mask"])[1], -1)  # (8, L)

    def agreement():  # mean Pearson of each sample's and each class's probabilities with the teacher's
        with torch.no_grad():
            probs = torch.softmax(parts["audio"](batch["audio"])[1], -1)  # (8, L)
        return (row_pearson(probs, target).mean() + row_pearson(probs.t(), target.t()).mean()).item() / 2

    before = agreement()
    optimizer = torch.optim.AdamW([p for p in objective.parameters() if p.requires_grad], lr=1e-3)
    objective.train()
    for _ in range(30):
        optimizer.zero_grad()
        objective(batch).backward()
        optimizer.step()
    objective.eval()
    after = agreement()
    assert after > 0.8 and after > before + 0.3


def distillation_only(objective, batch):
    from telme.training.losses import feature_distillation_loss, response_distillation_loss

    with torch.no_grad():
        t_hidden, t_logits = objective.teacher(batch["input_ids"], batch["attention_mask"])
    s_hidden, s_logits = objective.student(batch["audio"])
    return response_distillation_loss(s_logits, t_logits, 1.0) + feature_distillation_loss(s_hidden, t_hidden)


def test_class_weights():
    weights = class_weights_from([0, 0, 0, 1], num_labels=2, power=1.0)
    assert weights[1] / weights[0] == pytest.approx(3.0) and weights.mean().item() == pytest.approx(1.0)
    assert torch.allclose(class_weights_from([0, 0, 1], 2, power=0.0), torch.ones(2))
