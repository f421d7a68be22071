"""A training run on disk: read the splits, run a stage, keep its weights, export a bundle.

    <run>/run.json              dataset, labels, profile (the features every stage uses)
    <run>/tokenizer/            the teacher's prompt tokenizer
    <run>/<part>/config.json    the part's config (TeacherConfig, AudioStudentConfig, ...)
    <run>/<part>/best.safetensors, state.json, last/   from `engine.fit`
"""

import json
from dataclasses import replace
from pathlib import Path

from telme.checkpoints.container import PART_TITLES, config_class, part_class
from telme.data import read_split
from telme.features.profiles import PreprocessProfile
from telme.features.text import load_prompt_tokenizer
from telme.labels import LABEL_SETS
from telme.training.engine import BEST_WEIGHTS, LoopConfig, TrainResult
from telme.training.text_data import TextCollator, TextDataset, text_examples

RUN_FILE = "run.json"
PART_CONFIG = "config.json"
TOKENIZER_DIR = "tokenizer"


class StageMissing(FileNotFoundError):
    """A later stage needs a part that no earlier stage of this run produced."""


def write_run(run_dir: Path, dataset: str, profile: PreprocessProfile, tokenizer) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    info = {"dataset": dataset, "labels": list(LABEL_SETS[dataset]), "profile": profile.to_dict()}
    (run_dir / RUN_FILE).write_text(json.dumps(info, indent=1))
    tokenizer.save(run_dir / TOKENIZER_DIR)


def read_run(run_dir: Path) -> tuple[str, tuple, PreprocessProfile, object]:
    """(dataset, labels, profile, prompt tokenizer) of an existing run."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise StageMissing(f"{path} is missing: run the teacher stage first")
    info = json.loads(path.read_text())
    tokenizer = load_prompt_tokenizer(Path(run_dir) / TOKENIZER_DIR)
    return info["dataset"], tuple(info["labels"]), PreprocessProfile.from_dict(info["profile"]), tokenizer


def text_sets(dialogue_splits, tokenizer, profile, labels, limit: int | None = None):
    """A TextDataset per split (the first `limit` examples when given) and their collator."""
    sets = []
    for dialogues in dialogue_splits:
        examples = text_examples(dialogues, tokenizer, profile, labels)
        sets.append(TextDataset(examples[:limit] if limit else examples))
    return sets, TextCollator(tokenizer.pad_id)


def save_part_config(run_dir: Path, part: str, module) -> Path:
    folder = Path(run_dir) / part
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PART_CONFIG).write_text(json.dumps(module.cfg.to_dict(), indent=1))
    return folder


def load_part(run_dir, part: str):
    """A part rebuilt from <run>/<part>/config.json with its best weights, in eval mode."""
    from safetensors.torch import load_file

    folder = Path(run_dir) / part
    if not (folder / BEST_WEIGHTS).is_file():
        raise StageMissing(f"{folder / BEST_WEIGHTS} is missing: run the {part} stage first")
    cfg = config_class(part).from_dict(json.loads((folder / PART_CONFIG).read_text()))
    module = part_class(part)(cfg)
    module.load_state_dict(load_file(str(folder / BEST_WEIGHTS)), strict=True)
    return module.eval()


def stage_config(run_dir: Path, part: str, loop: LoopConfig) -> LoopConfig:
    return replace(loop, output_dir=str(Path(run_dir) / part))


def run_teacher(run_dir, dataset, train_csv, dev_csv, teacher, tokenizer, profile, loop: LoopConfig,
                class_weight_power: float = 0.0, limit=None, progress=None, bucket_by_length=False) -> TrainResult:  # fmt: skip
    """Stage 1 on the CSV splits; the run folder records the profile and tokenizer for later stages."""
    from telme.training.stages import class_weights_from, train_teacher

    run_dir = Path(run_dir)
    labels = LABEL_SETS[dataset]
    write_run(run_dir, dataset, profile, tokenizer)
    save_part_config(run_dir, "teacher", teacher)
    (train_set, dev_set), collate = text_sets(
        [read_split(train_csv, dataset), read_split(dev_csv, dataset)], tokenizer, profile, labels, limit
    )
    weights = None
    if class_weight_power:
        weights = class_weights_from([e.label for e in train_set.examples], len(labels), class_weight_power)
    cfg = stage_config(run_dir, "teacher", loop)
    return train_teacher(teacher, train_set, dev_set, collate, cfg, weights, progress, bucket_by_length)


def why_missing(part: str, card: dict | None) -> str:
    default = "no clips were available" if part != "fusion" else "needs both trained students"
    return (card or {}).get("why_no_" + part, default)


def export_run(run_dir, bundle_dir, name: str, card: dict | None = None):
    """The run's trained parts as one project bundle (absent parts recorded as missing)."""
    from telme.checkpoints import TelME, save_bundle

    dataset, labels, profile, tokenizer = read_run(run_dir)
    parts, missing = {"teacher": load_part(run_dir, "teacher")}, []
    for part in ("audio", "video", "fusion"):
        try:
            parts[part] = load_part(run_dir, part)
        except StageMissing:
            missing.append(f"{PART_TITLES[part]}: not trained in this run ({why_missing(part, card)})")
    model = TelME(**parts, labels=labels, profile=profile, tokenizer=tokenizer,
                  trained={part: True for part in parts}, missing=missing, name=name, card=dict(card or {}))  # fmt: skip
    return save_bundle(model, bundle_dir, name=name)
