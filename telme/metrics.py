"""Scores of a split: weighted-F1, macro-F1, accuracy, per-class report, confusion matrix (scikit-learn).

    scores = classification_scores(gold, predicted, num_labels)      # plain dict, percentages
    report = build_report("meld:dev", labels, modalities, gold, predicted)

`telme.evaluate` (the CLI and the app) and the training loop's dev selection both score here.
"""

import dataclasses

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


@dataclasses.dataclass
class EvaluationReport:
    """What `telme evaluate` prints and writes as JSON; scores are percentages."""

    split: str
    labels: tuple[str, ...]
    modalities: tuple[str, ...]  # the parts that produced the predictions, e.g. ("text",)
    count: int  # utterances scored
    weighted_f1: float
    macro_f1: float
    accuracy: float
    per_class: dict  # label -> {"precision", "recall", "f1", "support"}
    confusion: list[list[int]]  # rows = gold, columns = predicted, in `labels` order
    skipped: list[str] = dataclasses.field(default_factory=list)  # media that could not be used
    # gold label outside `labels` -> how many utterances have it (predicted, not scored)
    unscored: dict = dataclasses.field(default_factory=dict)

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
        if self.unscored:
            counts = ", ".join(f"{label!r} x{count}" for label, count in self.unscored.items())
            lines.append(f"not scored (gold label not in the model's labels): {counts}")
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


def build_report(split: str, labels, modalities, gold: list[int], predicted: list[int], skipped=(),
                 unscored=None) -> EvaluationReport:  # fmt: skip
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
        unscored=dict(unscored or {}),
    )
