"""`TelME`: the four parts, their configs, label names, preprocessing profile and tokenizer."""

from dataclasses import dataclass, field

import torch
from torch import nn

PARTS = ("teacher", "audio", "video", "fusion")
PART_TITLES = {"teacher": "text teacher", "audio": "audio student", "video": "video student", "fusion": "fusion"}


@dataclass
class TelME:
    """A loaded TelME model.

    `trained[part]` is True only when that part's weights came from a checkpoint; a part that is
    None or untrained is never reported as live. `missing` says, in words, what is absent and why.
    """

    teacher: nn.Module  # TextTeacher (required: every prediction starts from the text)
    audio: nn.Module | None = None  # AudioStudent
    video: nn.Module | None = None  # VideoStudent
    fusion: nn.Module | None = None  # ModalityShiftFusion
    labels: tuple = ()  # label names in the classifiers' order
    profile: object = None  # telme.features.profiles.PreprocessProfile used to make the inputs
    tokenizer: object = None  # prompt tokenizer: encode(prompt), mask_id, pad_id, save(folder)
    trained: dict = field(default_factory=dict)  # part -> weights came from a checkpoint
    missing: list = field(default_factory=list)  # human-readable: what is not loaded and why
    name: str = "telme"
    card: dict = field(default_factory=dict)  # provenance: source, dataset, notes

    def __post_init__(self):
        self.labels = tuple(self.labels)
        self.trained = {part: bool(self.trained.get(part, False)) and self.part(part) is not None for part in PARTS}

    def part(self, name: str) -> nn.Module | None:
        if name not in PARTS:
            raise KeyError(f"unknown part {name!r}; expected one of {PARTS}")
        return getattr(self, name)

    def parts(self) -> dict:
        """The parts that are present (trained or not), by name."""
        return {name: self.part(name) for name in PARTS if self.part(name) is not None}

    def configs(self) -> dict:
        """Each part's config dict, None for an absent part."""
        return {name: (module.cfg.to_dict() if module is not None else None) for name, module in
                ((name, self.part(name)) for name in PARTS)}

    @property
    def live_modalities(self) -> tuple:
        """Subset of ("text", "audio", "video", "fusion") backed by trained weights.

        The fusion counts as live only with its own weights and at least one live student
        (with none it would shift the text vector by a constant, not by anything heard or seen).
        """
        live = ["text"]
        live += [part for part in ("audio", "video") if self.trained[part]]
        if self.trained["fusion"] and len(live) > 1:
            live.append("fusion")
        return tuple(live)

    @property
    def device(self) -> torch.device:
        return next(self.teacher.parameters()).device

    def to(self, device) -> "TelME":
        """Moves every present part; returns self (like nn.Module.to)."""
        for module in self.parts().values():
            module.to(device)
        return self

    def eval(self) -> "TelME":
        for module in self.parts().values():
            module.eval()
        return self

    def train(self, mode: bool = True) -> "TelME":
        for module in self.parts().values():
            module.train(mode)
        return self

    def describe(self) -> str:
        """One line per part: loaded / not loaded and why."""
        lines = [f"{self.name}: labels {', '.join(self.labels)}; live: {', '.join(self.live_modalities)}"]
        for part in PARTS:
            present = self.part(part) is not None
            state = "trained weights" if self.trained[part] else ("untrained" if present else "absent")
            lines.append(f"  {PART_TITLES[part]}: {state}")
        return "\n".join(lines + [f"  missing: {reason}" for reason in self.missing])


def part_class(part: str):
    """The nn.Module class of a part (imported on first use: transformers is heavy)."""
    from telme import models

    classes = {"teacher": models.TextTeacher, "audio": models.AudioStudent, "video": models.VideoStudent,
               "fusion": models.ModalityShiftFusion}
    return classes[part]


def config_class(part: str):
    from telme.models import configs

    classes = {"teacher": configs.TeacherConfig, "audio": configs.AudioStudentConfig,
               "video": configs.VideoStudentConfig, "fusion": configs.FusionConfig}
    return classes[part]
