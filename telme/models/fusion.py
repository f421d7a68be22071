"""Attention-based modality shifting: audio and video shift the teacher's text vector."""

import torch
from torch import nn

from telme.models.configs import FusionConfig

EPS = 1e-6


class ModalityShiftFusion(nn.Module):
    """Official layout (flat keys: multihead_attn, W_hav, W_av, LayerNorm, AV_LayerNorm, W).

    The attention runs on the 2-D (B, 1536) tensor, which PyTorch reads as ONE unbatched sequence
    of length B: the utterances of a forward attend to each other. That is how the official weights
    were trained, so callers feed groups of `cfg.group_size` consecutive utterances.
    """

    def __init__(self, cfg: FusionConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        self.multihead_attn = nn.MultiheadAttention(2 * d, cfg.num_heads)
        self.W_hav = nn.Linear(3 * d, d)
        self.W_av = nn.Linear(2 * d, d)
        self.LayerNorm = nn.LayerNorm(d)
        self.AV_LayerNorm = nn.LayerNorm(2 * d)
        self.dropout = nn.Dropout(cfg.dropout)
        self.W = nn.Linear(d, cfg.num_labels)

    def forward(self, text: torch.Tensor, audio: torch.Tensor, video: torch.Tensor, return_alpha: bool = False):
        pair = (audio, video) if self.cfg.order == "audio,video" else (video, audio)
        nonverbal = torch.cat(pair, dim=-1)  # (B, 1536)
        attended = self.multihead_attn(nonverbal, nonverbal, nonverbal, need_weights=False)[0] + nonverbal
        nonverbal = self.dropout(self.AV_LayerNorm(attended))  # (B, 1536)
        gate = torch.relu(self.W_hav(torch.cat((nonverbal, text), dim=-1)))  # (B, 768)
        shift = gate * self.W_av(nonverbal)  # (B, 768)
        alpha = self.shift_scale(text, shift)  # (B,)
        fused = self.dropout(self.LayerNorm(text + alpha.unsqueeze(-1) * shift))  # (B, 768)
        logits = self.W(fused)  # (B, L)
        return (logits, alpha) if return_alpha else logits

    def shift_scale(self, text: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """alpha = min(beta * |text| / (|shift| + eps), 1), with |shift| = 0 read as 1."""
        shift_norm = shift.norm(2, dim=-1)
        shift_norm = torch.where(shift_norm == 0, torch.ones_like(shift_norm), shift_norm)
        ratio = text.norm(2, dim=-1) / (shift_norm + EPS) * self.cfg.beta_shift
        return torch.clamp(ratio, max=1.0)
