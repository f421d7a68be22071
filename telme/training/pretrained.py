"""Start a teacher from a pretrained transformers encoder folder (offline, no Hub).

Models take no paths (telme/models), so this helper reads the folder: its config.json becomes
the teacher's backbone config, its tokenizer gains the nine speaker tokens, and its encoder
weights are copied into `teacher.text_model` with the embedding matrix grown by nine rows.
"""

import json
from pathlib import Path

import torch

from telme.checkpoints.base import WORD_EMBEDDINGS, read_encoder_state
from telme.dialogue import MAX_SPEAKERS
from telme.errors import UserError
from telme.features.text import HFPromptTokenizer
from telme.models import TeacherConfig, TextTeacher
from telme.models.configs import OFFICIAL_HIDDEN


class EncoderMismatch(UserError):
    """A pretrained encoder folder (--init-text/-audio/-video) that does not fit the part."""


def read_backbone_config(folder) -> dict:
    config = json.loads((Path(folder) / "config.json").read_text())
    for key in ("_name_or_path", "architectures", "transformers_version", "gradient_checkpointing"):
        config.pop(key, None)
    return config


def grown_embeddings(pretrained: torch.Tensor, rows: int, new_rows: torch.Tensor | None = None) -> torch.Tensor:
    """The pretrained rows, then `new_rows`, or rows set to their mean (speaker tokens start 'average')."""
    extra = rows - pretrained.shape[0]
    if extra < 0:
        raise EncoderMismatch(f"tokenizer has {rows} ids but the checkpoint embeds {pretrained.shape[0]}")
    if new_rows is None:
        new_rows = pretrained.mean(dim=0, keepdim=True).expand(extra, -1)  # (extra, H)
    return torch.cat([pretrained, new_rows], dim=0)  # (rows, H)


def distinct_speaker_rows(pretrained: torch.Tensor, tokenizer) -> torch.Tensor:
    """<sK> starts as the mean of the embeddings of the words "speaker K": nine distinct rows.

    For an encoder whose embeddings stay frozen (telme.training.upper) the speaker tokens never
    learn, so they must differ from the start or the model cannot tell the speakers apart.
    """
    rows = [pretrained[tokenizer.encode(f"speaker {k}")].mean(dim=0) for k in range(1, MAX_SPEAKERS + 1)]
    return torch.stack(rows)  # (9, H)


def teacher_from_pretrained(folder, num_labels: int, hidden_size: int = OFFICIAL_HIDDEN, speaker_init: str = "mean"):
    """(TextTeacher with the pretrained encoder, HFPromptTokenizer with <s1>..<s9>).

    speaker_init: "mean" (the speaker rows start at the mean embedding; they learn when the
    embeddings train) or "distinct" (`distinct_speaker_rows`, for frozen embeddings).
    """
    tokenizer = HFPromptTokenizer.from_pretrained(folder)
    backbone, state = read_backbone_config(folder), read_encoder_state(folder)
    cfg = TeacherConfig(backbone=backbone, num_labels=num_labels, vocab_size=len(tokenizer), hidden_size=hidden_size)
    teacher = TextTeacher(cfg)
    pretrained = state[WORD_EMBEDDINGS]
    new_rows = distinct_speaker_rows(pretrained, tokenizer) if speaker_init == "distinct" else None
    state[WORD_EMBEDDINGS] = grown_embeddings(pretrained, cfg.vocab_size, new_rows)
    missing, unexpected = teacher.text_model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise EncoderMismatch(f"{folder}: encoder keys missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    return teacher, tokenizer

