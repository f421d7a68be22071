"""Stages 2 and 3 on real clips: build the students / fusion, read the clips, train, report.

They continue a run whose teacher stage is done (<run>/run.json, <run>/teacher/). Students
start from a pretrained transformers folder (`--init-audio`, `--init-video`: e.g. a local copy of
facebook/data2vec-audio-base-960h and facebook/timesformer-base-finetuned-k400) or, without one,
from the official backbone config with random weights (said loudly: such a student learns little).
"""

import json
import sys
from pathlib import Path

from telme.checkpoints.base import read_encoder_state
from telme.data import read_split
from telme.models import AudioStudent, AudioStudentConfig, FusionConfig, ModalityShiftFusion, VideoStudent, VideoStudentConfig
from telme.models.configs import OFFICIAL_MASK_TIME_LENGTH, backbone_config, official_fusion_config
from telme.training.media_data import MediaCollator, MediaDataset
from telme.training.pipeline import load_part, read_run, save_part_config, stage_config
from telme.training.pretrained import EncoderMismatch, read_backbone_config
from telme.training.stages import DistillConfig, train_fusion, train_student
from telme.training.text_data import text_examples

OFFICIAL_BACKBONES = {"audio": "data2vec-audio-base-960h", "video": "timesformer-base-k400"}
STUDENT_CLASSES = {"audio": (AudioStudent, AudioStudentConfig), "video": (VideoStudent, VideoStudentConfig)}


def build_student(modality: str, num_labels: int, init_folder=None):
    """A student on a pretrained encoder folder, or on the official config with random weights."""
    model_class, config_class = STUDENT_CLASSES[modality]
    if init_folder is None:
        print(f"warning: no pretrained {modality} encoder given; the {modality} student starts from random "
              f"weights ({OFFICIAL_BACKBONES[modality]} config)", file=sys.stderr)  # fmt: skip
        backbone = backbone_config(OFFICIAL_BACKBONES[modality])
    else:
        backbone = read_backbone_config(init_folder)
    if modality == "audio":
        backbone = dict(backbone, mask_time_length=OFFICIAL_MASK_TIME_LENGTH)
    student = model_class(config_class(backbone=backbone, num_labels=num_labels))
    if init_folder is not None:
        missing, unexpected = student.model.load_state_dict(read_encoder_state(init_folder), strict=False)
        if missing:
            raise EncoderMismatch(f"{init_folder}: encoder keys missing {sorted(missing)[:5]}...")
    return student


def media_sets(args, dataset, labels, profile, tokenizer, modalities):
    splits = []
    for csv_path, clips in ((args.train, args.clips), (args.dev, args.dev_clips or args.clips)):
        examples = text_examples(read_split(csv_path, dataset), tokenizer, profile, labels)
        splits.append(MediaDataset(examples[: args.limit] if args.limit else examples, clips, profile, modalities))
    return splits, MediaCollator(tokenizer.pad_id, audio_pad=profile.audio_pad)


def write_clip_report(run_dir: Path, stage: str, sets) -> dict:
    report = {name: data.report.to_dict() for name, data in zip(("train", "dev"), sets)}
    (Path(run_dir) / stage / "clips.json").write_text(json.dumps(report, indent=1))
    for name, data in zip(("train", "dev"), sets):
        keys = data.report.keys()
        if keys:
            print(f"{stage} {name}: {len(keys)} clip(s) zeroed (missing, broken or too long): {', '.join(keys[:10])}"
                  f"{' ...' if len(keys) > 10 else ''}", file=sys.stderr)  # fmt: skip
    return report


def train_media_stage(args, stage: str, loop) -> dict:
    """Stage 2 (stage = "audio" / "video") or 3 ("fusion") of the run in args.output."""
    run_dir = Path(args.output)
    dataset, labels, profile, tokenizer = read_run(run_dir)
    teacher = load_part(run_dir, "teacher")
    loop = stage_config(run_dir, stage, loop)
    if stage in STUDENT_CLASSES:
        student = build_student(stage, len(labels), getattr(args, f"init_{stage}", None))
        save_part_config(run_dir, stage, student)
        (train_set, dev_set), collate = media_sets(args, dataset, labels, profile, tokenizer, (stage,))
        distill = DistillConfig.for_dataset(dataset)
        result = train_student(student, teacher, stage, train_set, dev_set, collate, loop, distill)
    else:
        audio, video = load_part(run_dir, "audio"), load_part(run_dir, "video")
        fusion = ModalityShiftFusion(fusion_config(dataset, teacher.cfg.hidden_size))
        save_part_config(run_dir, stage, fusion)
        (train_set, dev_set), collate = media_sets(args, dataset, labels, profile, tokenizer, ("audio", "video"))
        result = train_fusion(fusion, teacher, audio, video, train_set, dev_set, collate, loop)
    return dict(result.to_dict(), clips=write_clip_report(run_dir, stage, (train_set, dev_set)))


def fusion_config(dataset: str, hidden_size: int) -> FusionConfig:
    cfg = official_fusion_config(dataset)
    return FusionConfig.from_dict(dict(cfg.to_dict(), hidden_size=hidden_size))
