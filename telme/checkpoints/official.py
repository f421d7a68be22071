"""The official TelME release layout (torch pickles of state dicts, read with weights_only=True).

    save_model/teacher.bin
    save_model/student_audio/total_student.bin
    save_model/student_video/total_student.bin
    save_model/total_fusion.bin

Only the teacher is required; a missing student or fusion file leaves that part out (None), and
`TelME.missing` says which file was not found.
"""

from pathlib import Path

from telme.checkpoints.container import PART_TITLES, TelME, part_class
from telme.checkpoints.errors import CheckpointError, MissingCheckpoint
from telme.checkpoints.state import build_empty, fill_part, read_torch_state
from telme.labels import LABEL_SETS

OFFICIAL_FILES = {
    "teacher": "teacher.bin",
    "audio": "student_audio/total_student.bin",
    "video": "student_video/total_student.bin",
    "fusion": "total_fusion.bin",
}
WORD_EMBEDDINGS = "text_model.embeddings.word_embeddings.weight"  # rows = backbone vocab + 9 speaker tokens


def load_official(folder, dataset: str = "meld", backbones: dict | None = None) -> TelME:
    """Load an official release folder (the folder holding teacher.bin, or its parent).

    dataset: "meld" or "iemocap"; picks the label names, the fusion's beta and head count.
    backbones: optional {"teacher"|"audio"|"video": {field: value}} whose fields override the
    shipped backbone configs (roberta-large, data2vec-audio-base-960h, timesformer-base-k400),
    e.g. tiny configs in tests. The teacher's vocabulary size is read from the file.
    """
    root = find_release_root(folder)
    labels = labels_for(dataset)
    configs = official_configs(dataset, backbones or {})
    teacher_state = read_torch_state(root / OFFICIAL_FILES["teacher"], "text teacher (required)")
    loaded = {"teacher": _load_teacher(configs["teacher"], teacher_state, root, labels)}
    missing = []
    for part in ("audio", "video", "fusion"):
        path = root / OFFICIAL_FILES[part]
        if not path.is_file():
            missing.append(f"{PART_TITLES[part]}: {OFFICIAL_FILES[part]} not found in {root}")
            continue
        state = read_torch_state(path, PART_TITLES[part])
        loaded[part] = fill_part(build_empty(part_class(part), configs[part]), state, part, str(path), labels)
    return TelME(
        **loaded,
        labels=labels,
        profile=official_profile(),
        tokenizer=official_tokenizer(),
        trained={part: True for part in loaded},
        missing=missing,
        name=f"telme-official-{dataset}",
        card={"source": str(root), "format": "official TelME release", "dataset": dataset},
    )


def find_release_root(folder) -> Path:
    """The folder itself when it holds teacher.bin, else its save_model/ subfolder."""
    folder = Path(folder)
    for candidate in (folder, folder / "save_model"):
        if (candidate / OFFICIAL_FILES["teacher"]).is_file():
            return candidate
    found = [entry.name for entry in folder.iterdir()] if folder.is_dir() else []
    raise MissingCheckpoint(
        "official TelME release (the text teacher is required)",
        [folder / OFFICIAL_FILES["teacher"], folder / "save_model" / OFFICIAL_FILES["teacher"]],
        found,
    )


def labels_for(dataset: str) -> tuple:
    if dataset not in LABEL_SETS:
        raise CheckpointError(f"unknown dataset {dataset!r}: expected one of {sorted(LABEL_SETS)}")
    return LABEL_SETS[dataset]


def official_configs(dataset: str, backbones: dict) -> dict:
    """The four part configs of the official model, with backbone fields overridden."""
    from telme.models import configs

    unknown = set(backbones) - {"teacher", "audio", "video"}
    if unknown:
        raise CheckpointError(f"backbones: unknown parts {sorted(unknown)}; expected teacher, audio, video")
    num_labels = len(labels_for(dataset))
    teacher = configs.official_teacher_config(num_labels)
    audio = configs.official_audio_config(num_labels)
    video = configs.official_video_config(num_labels)
    teacher.backbone = override_backbone(teacher.backbone, backbones.get("teacher"))
    audio.backbone = override_backbone(audio.backbone, backbones.get("audio"))
    video.backbone = override_backbone(video.backbone, backbones.get("video"))
    fusion = configs.official_fusion_config(dataset)
    return {"teacher": teacher, "audio": audio, "video": video, "fusion": fusion}


def override_backbone(base: dict, fields: dict | None) -> dict:
    """`base` with `fields` on top; keeps a data2vec config's layer count equal to len(conv_dim)."""
    merged = dict(base, **(fields or {}))
    if "conv_dim" in merged and "num_feat_extract_layers" in merged:
        merged["num_feat_extract_layers"] = len(merged["conv_dim"])
    return merged


def official_profile():
    from telme.features.profiles import OFFICIAL

    return OFFICIAL


def official_tokenizer():
    """The RoBERTa BPE shipped in telme/resources, with the official ids (transformers 4.27)."""
    from telme.features.text import OfficialRobertaTokenizer

    return OfficialRobertaTokenizer.default()


def _load_teacher(cfg, state: dict, root: Path, labels: tuple):
    if WORD_EMBEDDINGS in state:
        cfg.vocab_size = int(state[WORD_EMBEDDINGS].shape[0])
    source = str(root / OFFICIAL_FILES["teacher"])
    return fill_part(build_empty(part_class("teacher"), cfg), state, "teacher", source, labels)
