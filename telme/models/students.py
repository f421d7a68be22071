"""The audio and video students: pretrained encoders pooled at their first position."""

import torch
from torch import nn

from telme.models.configs import AudioStudentConfig, VideoStudentConfig
from telme.models.teacher import build_encoder


class AudioStudent(nn.Module):
    """data2vec-audio encoder; pooled = first frame's hidden state (official), then W -> labels."""

    def __init__(self, cfg: AudioStudentConfig):
        super().__init__()
        self.cfg = cfg
        self.model = build_encoder(cfg.backbone)
        self.W = nn.Linear(self.model.config.hidden_size, cfg.num_labels)

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """`attention_mask` (B, T) marks real samples of a right-padded batch; the official code
        passed none (left padding with zeros), which makes a row depend on its batch neighbours."""
        states = self.model(input_values, attention_mask=attention_mask).last_hidden_state  # (B, frames, 768)
        hidden = states[:, 0, :]  # (B, 768)
        return hidden, self.W(hidden)  # (B, 768), (B, L)


class VideoStudent(nn.Module):
    """TimeSformer encoder; pooled = CLS after the final LayerNorm, then W -> labels."""

    def __init__(self, cfg: VideoStudentConfig):
        super().__init__()
        self.cfg = cfg
        self.model = build_encoder(cfg.backbone)
        self.W = nn.Linear(self.model.config.hidden_size, cfg.num_labels)

    def forward(self, pixel_values: torch.Tensor):
        states = self.model(pixel_values).last_hidden_state  # (B, 1 + frames * patches, 768)
        hidden = states[:, 0, :]  # (B, 768)
        return hidden, self.W(hidden)  # (B, 768), (B, L)
