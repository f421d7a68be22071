"""Low-rank adapters (LoRA) on an encoder's upper layers, and their merge into plain weights.

Training wraps chosen nn.Linear layers as `LoRALinear` (frozen base + B @ A * alpha / rank);
a bundle stores only A and B (small) and loading adds B @ A * scale into the base weight, so the
model that serves is a plain encoder with no adapter code in its forward.
"""

import dataclasses

import torch
from torch import nn

# every Linear of an MPNet/BERT-style layer, by its name inside the layer
LORA_TARGETS = ("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                "intermediate.dense", "output.dense")  # fmt: skip


@dataclasses.dataclass
class LoRAConfig:
    """Which layers of `encoder.layer` carry adapters, of what rank; scale = alpha / rank."""

    layers: tuple  # indices into encoder.layer (the trained upper layers)
    rank: int = 16
    alpha: float = 32.0
    targets: tuple = LORA_TARGETS
    dropout: float = 0.05  # on the adapter's input, training only

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "layers": list(self.layers), "targets": list(self.targets)}

    @classmethod
    def from_dict(cls, data: dict) -> "LoRAConfig":
        return cls(**{**data, "layers": tuple(data["layers"]), "targets": tuple(data["targets"])})


class LoRALinear(nn.Module):
    """base(x) + dropout(x) @ A^T @ B^T * scale; B starts at zero, so the wrapped layer starts unchanged."""

    def __init__(self, base: nn.Linear, rank: int, scale: float, dropout: float = 0.0):
        super().__init__()
        self.base, self.scale = base, scale
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features))  # (r, in)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))  # (out, r)
        nn.init.kaiming_uniform_(self.lora_A, a=5**0.5)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()) * self.scale

    def delta(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scale  # (out, in)


def lora_key(layer: int, target: str) -> str:
    """Where a target's adapter lives inside the encoder: 'encoder.layer.9.attention.attn.q'."""
    return f"encoder.layer.{layer}.{target}"


def add_lora(encoder: nn.Module, cfg: LoRAConfig) -> dict:
    """Wrap the targets of cfg.layers in `encoder` (a transformers model); returns {key: LoRALinear}."""
    wrapped = {}
    for layer in cfg.layers:
        for target in cfg.targets:
            parent_name, _, child = lora_key(layer, target).rpartition(".")
            parent = encoder.get_submodule(parent_name)
            adapter = LoRALinear(getattr(parent, child), cfg.rank, cfg.scale, cfg.dropout)
            setattr(parent, child, adapter)
            wrapped[lora_key(layer, target)] = adapter
    return wrapped


def adapter_state(wrapped: dict) -> dict:
    """{'<key>.lora_A': (r, in), '<key>.lora_B': (out, r)} of every adapter."""
    state = {}
    for key, adapter in wrapped.items():
        state[f"{key}.lora_A"] = adapter.lora_A.detach().cpu()
        state[f"{key}.lora_B"] = adapter.lora_B.detach().cpu()
    return state


def merge_adapters(encoder_state: dict, adapters: dict, cfg: LoRAConfig) -> dict:
    """A plain encoder state dict with B @ A * scale added to each adapted weight (a new dict)."""
    merged = dict(encoder_state)
    for layer in cfg.layers:
        for target in cfg.targets:
            key = lora_key(layer, target)
            a, b = adapters[f"{key}.lora_A"].float(), adapters[f"{key}.lora_B"].float()
            merged[f"{key}.weight"] = encoder_state[f"{key}.weight"].float() + (b @ a) * cfg.scale
    return merged
