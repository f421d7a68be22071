"""Scores for a split: weighted-F1, macro-F1, per-class report and confusion matrix (scikit-learn)."""

import dataclasses

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


@dataclasses.dataclass
class EvaluationReport:
    """What `python -m telme evaluate` prints and writes as JSON; scores are percentages."""

    split: str
    labels: tuple[str, ...]
    modalities: tuple[str, ...]  # the parts that produced the predictions, e.g. ("text",)
    count: int
    weighted_f1: float
    macro_f1: float
    accuracy: float
    per_class: dict  # label -> {"precision", "recall", "f1", "support"}
    confusion: list[list[int]]  # rows = gold, columns = predicted, in `labels` order
    skipped: list[str] = dataclasses.field(default_factory=list)  # media that could not be used

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        lines = [
            f"{self.split}: {self.count} utterances, modalities {'+'.join(self.modalities)}",
            f"weighted-F1 {self.weighted_f1:.2f}  macro-F1 {self.macro_f1:.2f}  accuracy {self.accuracy:.2f}",
            f"{'label':>10} {'prec':>6} {'rec':>6} {'f1':>6} {'n':>5}",
        ]
        for name, row in self.per_class.items():
            lines.append(f"{name:>10} {row['precision']:6.2f} {row['recall']:6.2f} {row['f1']:6.2f} {row['support']:5d}")
        lines.append("confusion (rows gold, columns predicted): " + " ".join(self.labels))
        lines.extend("  " + " ".join(f"{v:5d}" for v in row) for row in self.confusion)
        if self.skipped:
            lines.append(f"skipped media ({len(self.skipped)}): " + ", ".join(self.skipped[:20]))
        return "\n".join(lines)


def classification_scores(gold: list[int], predicted: list[int], num_labels: int | None = None) -> dict:
    """Weighted/macro F1 and accuracy in percent, per-class rows and the confusion matrix."""
    classes = list(range(num_labels if num_labels else max(max(gold, default=0), max(predicted, default=0)) + 1))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=classes, zero_division=0
    )
    return {
        "weighted_f1": 100.0 * f1_score(gold, predicted, labels=classes, average="weighted", zero_division=0),
        "macro_f1": 100.0 * f1_score(gold, predicted, labels=classes, average="macro", zero_division=0),
        "accuracy": 100.0 * accuracy_score(gold, predicted),
        "per_class": [
            {"precision": 100.0 * p, "recall": 100.0 * r, "f1": 100.0 * f, "support": int(s)}
            for p, r, f, s in zip(precision, recall, f1, support)
        ],
        "confusion": confusion_matrix(gold, predicted, labels=classes).tolist(),
    }


def build_report(split: str, labels, modalities, gold: list[int], predicted: list[int], skipped=()) -> EvaluationReport:
    scores = classification_scores(gold, predicted, num_labels=len(labels))
    return EvaluationReport(
        split=split,
        labels=tuple(labels),
        modalities=tuple(modalities),
        count=len(gold),
        weighted_f1=scores["weighted_f1"],
        macro_f1=scores["macro_f1"],
        accuracy=scores["accuracy"],
        per_class=dict(zip(labels, scores["per_class"])),
        confusion=scores["confusion"],
        skipped=list(skipped),
    )


EVAL_BATCH = 32  # utterances per teacher forward in text-only evaluation


def evaluate_model(model, dialogues, split: str, clips=None, device=None, progress=None) -> EvaluationReport:
    """Score a loaded TelME on gold-labelled dialogues; text only when no clips folder is given.

    With clips, the live students and the fusion run on groups of `fusion.cfg.group_size`
    consecutive utterances (the official batches); missing or broken clips are zeroed and listed.
    """
    import torch

    from telme.inference import choose_device
    from telme.training.text_data import text_examples

    device = choose_device(device)
    model.to(device).eval()
    examples = text_examples(dialogues, model.tokenizer, model.profile, model.labels)
    live = tuple(m for m in model.live_modalities if m in ("audio", "video")) if clips else ()
    with torch.no_grad():
        if live:
            predicted, skipped = _fused_predictions(model, examples, clips, live, device, progress)
        else:
            predicted, skipped = _teacher_predictions(model, examples, device, progress), []
    modalities = ("text",) + live + (("fusion",) if live and "fusion" in model.live_modalities else ())
    gold = [e.label for e in examples]
    return build_report(split, model.labels, modalities, gold, predicted, skipped)


def _batches(dataset, collate, size):
    from torch.utils.data import DataLoader

    return DataLoader(dataset, batch_size=size, shuffle=False, collate_fn=collate)


def _teacher_predictions(model, examples, device, progress) -> list[int]:
    """Teacher argmax per example, in batches of (near) equal prompt length: little padding to compute."""
    from telme.features.text import collate_left

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    predicted = [0] * len(examples)
    chunks = [order[start:start + EVAL_BATCH] for start in range(0, len(order), EVAL_BATCH)]
    for step, chunk in enumerate(chunks):
        input_ids, mask = collate_left([list(examples[i].input_ids) for i in chunk], model.tokenizer.pad_id)  # (B, T)
        logits = model.teacher(input_ids.to(device), mask.to(device))[1]  # (B, L)
        for index, label in zip(chunk, logits.argmax(-1).tolist()):
            predicted[index] = label
        if progress:
            progress("evaluate text", step + 1, len(chunks))
    return predicted


def _fused_predictions(model, examples, clips, live, device, progress):
    import torch

    from telme.training.media_data import MediaCollator, MediaDataset

    data = MediaDataset(examples, clips, model.profile, live)
    group = model.fusion.cfg.group_size if model.fusion is not None else EVAL_BATCH
    loader = _batches(data, MediaCollator(model.tokenizer.pad_id, model.profile.audio_pad), group)
    predicted = []
    for step, batch in enumerate(loader):
        text, logits = model.teacher(batch["input_ids"].to(device), batch["attention_mask"].to(device))  # (B, D), (B, L)
        if "fusion" in model.live_modalities:
            hidden = {m: model.part(m)(batch[m].to(device))[0] if m in live else torch.zeros_like(text)
                      for m in ("audio", "video")}  # fmt: skip
            logits = model.fusion(text, hidden["audio"], hidden["video"])  # (B, L)
        predicted += logits.argmax(-1).tolist()
        if progress:
            progress("evaluate media", step + 1, len(loader))
    return predicted, data.report.keys()
