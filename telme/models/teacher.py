"""The text teacher: a speaker-aware transformer encoder pooled at the appended mask token."""

import torch
from torch import nn
from transformers import AutoConfig, AutoModel

from telme.models.configs import TeacherConfig


def build_encoder(backbone: dict, **overrides) -> nn.Module:
    """A randomly initialised transformers encoder from a config dict (no Hub access)."""
    fields = dict(backbone, **overrides)
    fields.pop("architectures", None)
    model_type = fields.pop("model_type")
    config = AutoConfig.for_model(model_type, **fields)
    return AutoModel.from_config(config)


class TextTeacher(nn.Module):
    """Official layout: text_model (encoder) -> W (hidden -> 768) -> classifier (768 -> labels)."""

    def __init__(self, cfg: TeacherConfig):
        super().__init__()
        self.cfg = cfg
        self.text_model = build_encoder(cfg.backbone, vocab_size=cfg.vocab_size)
        width = self.text_model.config.hidden_size
        self.W = nn.Linear(width, cfg.hidden_size)
        self.classifier = nn.Linear(cfg.hidden_size, cfg.num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Left-padded prompts; every row is positioned as if it were alone in the batch.

        RoBERTa derives positions from the ids (padding skipped), as the official teacher relied on.
        Encoders with absolute positions (BERT, MiniLM) get position ids starting at 0 on each row's
        first real token, so left padding does not shift them.
        """
        positions = None
        if getattr(self.text_model.embeddings, "padding_idx", None) is None:
            positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (B, T)
        states = self.text_model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=positions
        ).last_hidden_state  # (B, T, H)
        pooled = states[:, -1, :]  # (B, H): batches are left-padded, so the last position is the mask token
        hidden = self.W(pooled)  # (B, 768)
        return hidden, self.classifier(hidden)  # (B, 768), (B, L)
