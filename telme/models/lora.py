"""Low-rank adapters (LoRA, from peft) on an encoder's upper layers, and their merge into plain weights.

Training injects peft's LoRA layers into chosen nn.Linear modules (`peft.inject_adapter_in_model`:
frozen base + B @ A * alpha / rank, B starting at zero). A bundle stores only each adapter's A and B
under "<encoder key>.lora_A" (r, in) / ".lora_B" (out, r); loading merges them into the base weight
with peft's own merge, so the model that serves is a plain encoder with no adapter code in its forward.
"""

import dataclasses

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import inject_adapter_in_model
from peft.tuners.lora import Linear as PeftLinear
from torch import nn

ADAPTER = "default"  # peft's adapter name; one adapter per model here

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

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "layers": list(self.layers), "targets": list(self.targets)}

    def keys(self) -> list:
        """The adapted Linear modules, by their full name inside the encoder."""
        return [lora_key(layer, target) for layer in self.layers for target in self.targets]

    def peft_config(self) -> PeftLoraConfig:
        return PeftLoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout,
                              target_modules=self.keys(), bias="none")  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> "LoRAConfig":
        return cls(**{**data, "layers": tuple(data["layers"]), "targets": tuple(data["targets"])})


def lora_key(layer: int, target: str) -> str:
    """Where a target's adapter lives inside the encoder: 'encoder.layer.9.attention.attn.q'."""
    return f"encoder.layer.{layer}.{target}"


def add_lora(encoder: nn.Module, cfg: LoRAConfig) -> dict:
    """Inject peft LoRA layers at cfg's targets of `encoder` (a transformers model, changed in place;
    peft freezes its other parameters); returns {key: the peft layer}."""
    inject_adapter_in_model(cfg.peft_config(), encoder, adapter_name=ADAPTER)
    return {key: encoder.get_submodule(key) for key in cfg.keys()}


def adapter_state(wrapped: dict) -> dict:
    """{'<key>.lora_A': (r, in), '<key>.lora_B': (out, r)} of every adapter."""
    state = {}
    for key, layer in wrapped.items():
        state[f"{key}.lora_A"] = layer.lora_A[ADAPTER].weight.detach().cpu()
        state[f"{key}.lora_B"] = layer.lora_B[ADAPTER].weight.detach().cpu()
    return state


@torch.no_grad()
def merge_adapters(encoder_state: dict, adapters: dict, cfg: LoRAConfig) -> dict:
    """A plain encoder state dict with each adapter merged into its weight by peft (a new dict);
    an adapter with NaN or inf values is refused (peft's safe merge)."""
    merged = dict(encoder_state)
    peft_config = cfg.peft_config()
    for key in cfg.keys():
        weight = encoder_state[f"{key}.weight"].float()  # (out, in)
        base = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        base.weight.copy_(weight)
        layer = PeftLinear(base, ADAPTER, peft_config, r=cfg.rank, lora_alpha=cfg.alpha)
        layer.lora_A[ADAPTER].weight.copy_(adapters[f"{key}.lora_A"].float())
        layer.lora_B[ADAPTER].weight.copy_(adapters[f"{key}.lora_B"].float())
        layer.merge(safe_merge=True)
        merged[f"{key}.weight"] = layer.get_base_layer().weight.detach().clone()
    return merged
