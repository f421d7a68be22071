"""Start a teacher from a pretrained transformers encoder folder (offline, no Hub).

Models take no paths (telme/models), so this helper reads the folder: its config.json becomes
the teacher's backbone config, its tokenizer gains the nine speaker tokens, and its encoder
weights are copied into `teacher.text_model` with the embedding matrix grown by nine rows.
"""

import json
from pathlib import Path

import torch

from telme.errors import UserError
from telme.features.text import HFPromptTokenizer
from telme.models import TeacherConfig, TextTeacher
from telme.models.configs import OFFICIAL_HIDDEN

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
DROPPED_KEYS = ("embeddings.position_ids",)  # a buffer older checkpoints saved; rebuilt by transformers


class EncoderMismatch(UserError):
    """A pretrained encoder folder (--init-text/-audio/-video) that does not fit the part."""


def read_backbone_config(folder) -> dict:
    config = json.loads((Path(folder) / "config.json").read_text())
    for key in ("_name_or_path", "architectures", "transformers_version", "gradient_checkpointing"):
        config.pop(key, None)
    return config


def read_encoder_state(folder) -> dict:
    """The encoder's tensors from model.safetensors, with a 'bert.'/'roberta.'-style prefix removed."""
    from safetensors.torch import load_file

    state = load_file(str(Path(folder) / "model.safetensors"), device="cpu")
    prefixes = {key.split(".", 1)[0] for key in state if key.endswith(WORD_EMBEDDINGS) and key != WORD_EMBEDDINGS}
    if prefixes:
        prefix = prefixes.pop() + "."
        state = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    return {key: value for key, value in state.items() if key not in DROPPED_KEYS}


def grown_embeddings(pretrained: torch.Tensor, rows: int) -> torch.Tensor:
    """The pretrained rows, then new rows set to their mean (speaker tokens start 'average')."""
    extra = rows - pretrained.shape[0]
    if extra < 0:
        raise EncoderMismatch(f"tokenizer has {rows} ids but the checkpoint embeds {pretrained.shape[0]}")
    mean = pretrained.mean(dim=0, keepdim=True)  # (1, H)
    return torch.cat([pretrained, mean.expand(extra, -1)], dim=0)  # (rows, H)


def teacher_from_pretrained(folder, num_labels: int, hidden_size: int = OFFICIAL_HIDDEN):
    """(TextTeacher with the pretrained encoder, HFPromptTokenizer with <s1>..<s9>)."""
    tokenizer = HFPromptTokenizer.from_pretrained(folder)
    backbone, state = read_backbone_config(folder), read_encoder_state(folder)
    cfg = TeacherConfig(backbone=backbone, num_labels=num_labels, vocab_size=len(tokenizer), hidden_size=hidden_size)
    teacher = TextTeacher(cfg)
    state[WORD_EMBEDDINGS] = grown_embeddings(state[WORD_EMBEDDINGS], cfg.vocab_size)
    missing, unexpected = teacher.text_model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise EncoderMismatch(f"{folder}: encoder keys missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    return teacher, tokenizer

