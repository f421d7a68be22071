"""The official TelME distillation losses: response level (DIST-style) and feature level."""

import torch
import torch.nn.functional as F

EPS = 1e-8  # floor of the Pearson denominator (as cosine_similarity's eps): a constant row correlates 0

MELD_RESPONSE_TEMPERATURE = 4.0
IEMOCAP_RESPONSE_TEMPERATURE = 2.0
FEATURE_TEMPERATURE = 1.0


def row_pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of `a` with the same row of `b`: (N, C), (N, C) -> (N,)."""
    a = a - a.mean(dim=1, keepdim=True)  # (N, C)
    b = b - b.mean(dim=1, keepdim=True)  # (N, C)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(EPS)  # (N,)


def response_distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = MELD_RESPONSE_TEMPERATURE,
    beta: float = 1.0,
    gamma: float = 1.0,
) -> torch.Tensor:
    """tau^2 * (beta * inter + gamma * intra): one minus mean Pearson, over samples and over classes."""
    y_s = F.softmax(student_logits.float() / temperature, dim=1)  # (B, L)
    y_t = F.softmax(teacher_logits.float() / temperature, dim=1)  # (B, L)
    inter = 1.0 - row_pearson(y_s, y_t).mean()  # each sample's class distribution
    intra = 1.0 - row_pearson(y_s.t(), y_t.t()).mean()  # each class's spread over the batch
    return temperature**2 * (beta * inter + gamma * intra)


def feature_distillation_loss(
    student_hidden: torch.Tensor,
    teacher_hidden: torch.Tensor,
    temperature: float = FEATURE_TEMPERATURE,
) -> torch.Tensor:
    """KL(p || q), batch mean, with p = softmax(T T^T / t) and q = softmax(T S^T / t) on unit vectors."""
    s = F.normalize(student_hidden.float(), p=2, dim=1)  # (B, D)
    t = F.normalize(teacher_hidden.float(), p=2, dim=1)  # (B, D)
    target = F.softmax(t @ t.t() / temperature, dim=1)  # (B, B)
    log_q = F.log_softmax(t @ s.t() / temperature, dim=1)  # (B, B)
    return F.kl_div(log_q, target, reduction="batchmean")
