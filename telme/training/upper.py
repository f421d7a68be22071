"""Teacher training on a CPU budget: frozen lower layers run once, the upper layers learn.

    1. lower_states: the embeddings and encoder layers [0, frozen) run ONCE over every prompt
       (bf16, no grad); each prompt's states (its real tokens only) are cached under the run folder.
    2. UpperTeacher: layers [frozen, N) with LoRA adapters, their LayerNorms, W and the classifier
       learn on the cached states. The last layer runs its query at the mask token only (the
       teacher pools that one position), which gives the same output for a fraction of the cost.
    3. Every `checkpoint_every` steps the trainable tensors, optimizer, scheduler and step go to
       last.pt (a killed run resumes there); every `eval_every` steps dev is scored and the best
       (weighted-F1 + macro-F1) kept in best.safetensors. log.jsonl gets every step's loss.
    4. With ema_decay > 0 an exponential moving average of the trainable weights is what dev
       scores, selects and saves (the trained weights' scores stay in each history row).

The speaker tokens sit in the frozen embedding matrix, so they cannot learn here: they start
distinct (telme.training.pretrained, speaker_init="distinct").
"""

import contextlib
import dataclasses
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import get_linear_schedule_with_warmup

from telme.features.text import collate_left
from telme.metrics import classification_scores
from telme.models.lora import LoRAConfig, add_lora

CACHE_SHARD = 1024  # prompts per cached-state file
LAST_FILE, BEST_FILE, STATE_FILE, LOG_FILE = "last.pt", "best.safetensors", "state.json", "log.jsonl"


@dataclasses.dataclass
class UpperConfig:
    output_dir: str
    frozen: int = 9  # encoder layers [0, frozen) frozen and cached; the rest learn with LoRA
    rank: int = 16
    alpha: float = 32.0
    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    class_weight_power: float = 0.5  # (N / (L * count)) ** power; rare classes count more
    eval_every: int = 150  # steps between dev scores (and at each epoch's end)
    checkpoint_every: int = 25  # steps between resumable checkpoints
    seed: int = 42
    bf16: bool = True  # CPU bf16 autocast (AVX512-BF16): about 1.4x faster than fp32 here
    ema_decay: float = 0.0  # > 0: dev scores, selection and the saved best use an EMA of the weights

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def autocast(enabled: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)


def additive_mask(mask: torch.Tensor, dtype) -> torch.Tensor:
    """(B, T) 1/0 -> (B, 1, 1, T): 0 on real tokens, a large negative number on padding."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


@torch.no_grad()
def run_lower(text_model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, frozen: int):
    """The embeddings and layers [0, frozen) of an MPNet encoder on left-padded ids: (B, T, H)."""
    states = text_model.embeddings(input_ids=input_ids)  # (B, T, H)
    bias = text_model.encoder.compute_position_bias(states)  # (B, heads, T, T)
    mask = additive_mask(attention_mask, states.dtype)
    for layer in text_model.encoder.layer[:frozen]:
        states = layer(states, mask, bias)[0]
    return states


def lower_states(text_model, examples, frozen: int, folder, batch_size: int = 32, bf16=True, progress=None):
    """Every example's layer-`frozen` states (its real tokens only, bf16), cached in `folder` by shard."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text_model.eval()
    cached = []
    shards = range(0, len(examples), CACHE_SHARD)
    for number, start in enumerate(shards):
        path = folder / f"states-{number:03d}.pt"
        if not path.is_file():
            shard = examples[start:start + CACHE_SHARD]
            states = _shard_states(text_model, shard, frozen, batch_size, bf16)
            torch.save(states, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").rename(path)
        cached += torch.load(path, weights_only=True)
        if progress:
            progress("cache lower layers", number + 1, len(shards))
    return cached


def _shard_states(text_model, examples, frozen, batch_size, bf16) -> list:
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))  # little padding
    states = [None] * len(examples)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        ids, mask = collate_left([list(examples[i].input_ids) for i in rows], text_model.embeddings.padding_idx)
        with autocast(bf16):
            hidden = run_lower(text_model, ids, mask, frozen)  # (B, T, H)
        for row, index in enumerate(rows):
            length = len(examples[index].input_ids)
            states[index] = hidden[row, -length:].to(torch.bfloat16).clone()  # (len, H)
    return states


def collate_states(states: list) -> tuple:
    """Cached (len_i, H) states -> LEFT-padded (B, T, H) float32 and its (B, T) mask."""
    longest = max(s.shape[0] for s in states)
    batch = torch.zeros(len(states), longest, states[0].shape[1])
    mask = torch.zeros(len(states), longest, dtype=torch.long)
    for row, s in enumerate(states):
        batch[row, longest - s.shape[0]:] = s.float()
        mask[row, longest - s.shape[0]:] = 1
    return batch, mask


def last_query_layer(layer: nn.Module, states, mask, bias) -> torch.Tensor:
    """An MPNet layer's output at the LAST position only: (B, T, H) -> (B, H).

    Keys and values come from every position; the query, the output projection and the
    feed-forward run on one token, which is what the teacher pools.
    """
    attn = layer.attention.attn
    heads, size = attn.num_attention_heads, attn.attention_head_size
    batch, length = states.shape[:2]
    q = attn.q(states[:, -1:]).view(batch, 1, heads, size).transpose(1, 2)  # (B, h, 1, d)
    k = attn.k(states).view(batch, length, heads, size).transpose(1, 2)  # (B, h, T, d)
    v = attn.v(states).view(batch, length, heads, size).transpose(1, 2)  # (B, h, T, d)
    scores = q @ k.transpose(-1, -2) / math.sqrt(size) + bias[:, :, -1:, :] + mask  # (B, h, 1, T)
    context = (attn.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(batch, 1, heads * size)  # (B, 1, H)
    attended = layer.attention.LayerNorm(layer.attention.dropout(attn.o(context)) + states[:, -1:])  # (B, 1, H)
    return layer.output(layer.intermediate(attended), attended)[:, 0]  # (B, H)


class UpperTeacher(nn.Module):
    """A TextTeacher's upper layers (with LoRA), W and classifier, fed cached lower states."""

    def __init__(self, teacher: nn.Module, frozen: int, rank: int, alpha: float):
        super().__init__()
        layers = teacher.text_model.config.num_hidden_layers
        if not 0 < frozen < layers:
            raise ValueError(f"frozen must be in 1..{layers - 1}, not {frozen}")
        self.teacher, self.frozen = teacher, frozen
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
        self.lora = LoRAConfig(layers=tuple(range(frozen, layers)), rank=rank, alpha=alpha)
        self.adapters = add_lora(teacher.text_model, self.lora)  # new parameters: trainable
        for index in self.lora.layers:
            for name, parameter in teacher.text_model.encoder.layer[index].named_parameters():
                parameter.requires_grad_("LayerNorm" in name or "lora_" in name)
        for head in (teacher.W, teacher.classifier):
            head.requires_grad_(True)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, H) cached states, (B, T) mask -> (B, L) logits."""
        encoder = self.teacher.text_model.encoder
        bias = encoder.compute_position_bias(states)  # (B, heads, T, T)
        additive = additive_mask(mask, states.dtype)
        upper = encoder.layer[self.frozen:]
        for layer in upper[:-1]:
            states = layer(states, additive, bias)[0]
        pooled = last_query_layer(upper[-1], states, additive, bias)  # (B, H)
        return self.teacher.classifier(self.teacher.W(pooled))

    def trainable_state(self) -> dict:
        return {name: p.detach().cpu().clone() for name, p in self.named_parameters() if p.requires_grad}


def epoch_batches(count: int, batch_size: int, seed: int, epoch: int) -> list:
    """The epoch's batches of example indices: a fixed shuffle per (seed, epoch), so resuming repeats it."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 1000 + epoch)).tolist()
    return [order[i:i + batch_size] for i in range(0, count, batch_size)]


@torch.no_grad()
def score_dev(model: UpperTeacher, states, labels, batch_size: int, bf16: bool) -> dict:
    """telme.metrics.classification_scores of the model on cached dev states."""
    model.eval()
    predictions = []
    order = sorted(range(len(states)), key=lambda i: states[i].shape[0])
    for start in range(0, len(order), 4 * batch_size):
        rows = order[start:start + 4 * batch_size]
        batch, mask = collate_states([states[i] for i in rows])
        with autocast(bf16):
            predictions += list(zip(rows, model(batch, mask).float().argmax(-1).tolist()))
    model.train()
    predicted = [label for _, label in sorted(predictions)]
    return classification_scores(list(labels), predicted, model.teacher.cfg.num_labels)


class WeightAverage:
    """An exponential moving average of the trainable weights, warmed up as in TF's
    ExponentialMovingAverage(num_updates): decay_t = min(decay, (1 + t) / (10 + t))."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.average = {name: p.detach().clone() for name, p in self.params.items()}

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, p in self.params.items():
            self.average[name].lerp_(p.detach(), 1.0 - decay)

    @contextlib.contextmanager
    def applied(self):
        """The averaged weights in the model for the block; the trained ones back after."""
        trained = {name: p.detach().clone() for name, p in self.params.items()}
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(self.average[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in self.params.items():
                    p.copy_(trained[name])

    def state_dict(self) -> dict:
        return {"updates": torch.tensor(self.updates), **{f"average.{k}": v for k, v in self.average.items()}}

    def load_state_dict(self, payload: dict) -> None:
        self.updates = int(payload["updates"])
        for name in self.average:
            self.average[name].copy_(payload[f"average.{name}"])


def fit_upper(model: UpperTeacher, train, dev, cfg: UpperConfig, class_weights=None, progress=None) -> dict:
    """Train on (states, labels) pairs; returns the run state (history, best, seconds)."""
    out = Path(cfg.output_dir)
    (train_states, train_labels), (dev_states, dev_labels) = train, dev
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(train_states) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    average = WeightAverage(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    state = _resume(model, optimizer, scheduler, out, average)
    labels = torch.tensor(train_labels)
    started = time.time() - state["seconds"]
    model.train()
    with open(out / LOG_FILE, "a") as log:
        for step in range(state["step"], total):
            epoch, within = divmod(step, steps_per_epoch)
            torch.manual_seed(cfg.seed + step)  # dropout masks: a resumed step draws the same ones
            rows = epoch_batches(len(train_states), cfg.batch_size, cfg.seed, epoch)[within]
            batch, mask = collate_states([train_states[i] for i in rows])
            with autocast(cfg.bf16):
                logits = model(batch, mask)
            loss = F.cross_entropy(logits.float(), labels[rows], weight=class_weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if average:
                average.update()
            state.update(step=step + 1, seconds=time.time() - started)
            log.write(json.dumps({"step": step + 1, "epoch": epoch + 1, "loss": round(loss.item(), 5),
                                  "seconds": round(state["seconds"], 1)}) + "\n")  # fmt: skip
            log.flush()
            if progress:
                progress(f"train epoch {epoch + 1}", within + 1, steps_per_epoch)
            if (step + 1) % cfg.eval_every == 0 or (step + 1) % steps_per_epoch == 0:
                _evaluate(model, dev_states, dev_labels, cfg, state, out, epoch + 1, average)
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == total:
                _checkpoint(model, optimizer, scheduler, state, out, average)
    return state


def _scores_row(model, dev_states, dev_labels, cfg) -> dict:
    scores = score_dev(model, dev_states, dev_labels, cfg.batch_size, cfg.bf16)
    return {**{k: float(scores[k]) for k in ("weighted_f1", "macro_f1", "accuracy")},
            "per_class_f1": [round(float(row["f1"]), 2) for row in scores["per_class"]]}  # fmt: skip


def _evaluate(model, dev_states, dev_labels, cfg, state, out: Path, epoch: int, average=None) -> None:
    """Dev scores into the history; the best (weighted-F1 + macro-F1) weights into BEST_FILE.

    With a weight average the row scores the averaged weights (what is selected and saved) and
    keeps the trained weights' scores under "trained", so one run shows what the average gave."""
    row = {"step": state["step"], "epoch": epoch}
    if average:
        row["trained"] = _scores_row(model, dev_states, dev_labels, cfg)
    with average.applied() if average else contextlib.nullcontext():
        row |= _scores_row(model, dev_states, dev_labels, cfg) | {"seconds": round(state["seconds"], 1)}
        state["history"].append(row)
        selection = row["weighted_f1"] + row["macro_f1"]
        if selection > state["best_selection"]:
            state.update(best_selection=selection, best_step=state["step"], best=row)
            save_file({k: v.contiguous() for k, v in model.trainable_state().items()}, str(out / BEST_FILE))
    print(json.dumps(row), flush=True)


def _checkpoint(model, optimizer, scheduler, state, out: Path, average=None) -> None:
    payload = {"model": model.trainable_state(), "optimizer": optimizer.state_dict(),
               "scheduler": scheduler.state_dict(), "state": json.dumps(state)}  # fmt: skip
    if average:
        payload["average"] = average.state_dict()
    torch.save(payload, out / f"{LAST_FILE}.tmp")
    (out / f"{LAST_FILE}.tmp").rename(out / LAST_FILE)
    (out / STATE_FILE).write_text(json.dumps(state, indent=1))


def _resume(model, optimizer, scheduler, out: Path, average=None) -> dict:
    state = {"step": 0, "seconds": 0.0, "history": [], "best_selection": -1.0, "best_step": 0, "best": None}
    if (out / LAST_FILE).is_file():
        payload = torch.load(out / LAST_FILE, weights_only=True)
        model.load_state_dict(payload["model"], strict=False)
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        if average:
            average.load_state_dict(payload["average"])
        state.update(json.loads(payload["state"]))
        print(f"resumed from {out / LAST_FILE} at step {state['step']}", flush=True)
    return state


def load_best(model: UpperTeacher, out) -> None:
    model.load_state_dict(load_file(str(Path(out) / BEST_FILE)), strict=False)
