"""One epoch loop for every stage: accelerate for devices, AMP, clipping, warm-up, best-by-dev, resume.

A stage hands the loop an `Objective`: an nn.Module whose `forward(batch)` returns the training
loss and whose `predict(batch)` returns `(logits, labels)`. The loop knows nothing else about it,
so the same code trains the teacher, a student or the fusion, on one CPU or under
`accelerate launch` on many GPUs.
"""

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from telme.metrics import classification_scores

LAST_DIR = "last"  # accelerate state of the last finished epoch (model, optimizer, scheduler, RNG)
BEST_WEIGHTS = "best.safetensors"  # trainable part's weights at the best dev weighted-F1
STATE_FILE = "state.json"  # epochs done, best score, history


@dataclasses.dataclass
class LoopConfig:
    """Official defaults: batch 4, AdamW, 10 epochs, warm-up = len(train set) steps, clip 10, seed 42."""

    output_dir: str
    epochs: int = 10
    batch_size: int = 4
    lr: float = 1e-5
    weight_decay: float = 0.01  # torch AdamW default, as the official code
    warmup_steps: int | None = None  # None: the official len(train set) steps
    max_grad_norm: float = 10.0
    mixed_precision: str = "no"  # "fp16"/"bf16" for students and fusion on GPU (official AMP)
    seed: int = 42
    cpu: bool = False  # force CPU even when accelerators are present
    max_steps_per_epoch: int | None = None  # smoke runs: stop an epoch early

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class TrainResult:
    best_weighted_f1: float
    best_epoch: int
    history: list[dict]
    weights_path: str
    seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


Progress = Callable[[str, int, int], None]


def make_accelerator(cfg: LoopConfig) -> Accelerator:
    set_seed(cfg.seed)
    unused = DistributedDataParallelKwargs(find_unused_parameters=True)  # e.g. BERT's pooler, frozen parts
    return Accelerator(mixed_precision=cfg.mixed_precision, cpu=cfg.cpu, project_dir=cfg.output_dir, kwargs_handlers=[unused])


def fit(objective: nn.Module, train_loader, dev_loader, cfg: LoopConfig, progress: Progress | None = None) -> TrainResult:
    """Train `objective`'s trainable parameters; keep the best dev weighted-F1; resume from `last/`."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    accelerator = make_accelerator(cfg)
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = _steps_per_epoch(train_loader, cfg, accelerator.num_processes)
    warmup = len(train_loader.dataset) if cfg.warmup_steps is None else cfg.warmup_steps
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, steps_per_epoch * cfg.epochs)
    objective, optimizer, train_loader, dev_loader, scheduler = accelerator.prepare(
        objective, optimizer, train_loader, dev_loader, scheduler
    )
    state = _resume(accelerator, out)
    started = time.time() - state.get("seconds", 0.0)
    for epoch in range(state["epochs_done"], cfg.epochs):
        loss = _train_epoch(accelerator, objective, optimizer, scheduler, train_loader, cfg, epoch, progress)
        scores = evaluate_objective(accelerator, objective, dev_loader, progress)
        row = {"epoch": epoch + 1, "train_loss": loss, **_headline(scores)}
        state["history"].append(row)
        if row["weighted_f1"] > state["best_weighted_f1"]:
            state.update(best_weighted_f1=row["weighted_f1"], best_epoch=epoch + 1)
            _save_weights(accelerator, objective, out / BEST_WEIGHTS)
        state.update(epochs_done=epoch + 1, seconds=time.time() - started)
        _checkpoint(accelerator, out, state)
        accelerator.print(json.dumps(row))
    accelerator.wait_for_everyone()
    return TrainResult(state["best_weighted_f1"], state["best_epoch"], state["history"], str(out / BEST_WEIGHTS), time.time() - started)


def _steps_per_epoch(loader, cfg: LoopConfig, processes: int) -> int:
    steps = math.ceil(len(loader) / processes)
    return min(steps, cfg.max_steps_per_epoch) if cfg.max_steps_per_epoch else steps


def _train_epoch(accelerator, objective, optimizer, scheduler, loader, cfg: LoopConfig, epoch: int, progress) -> float:
    objective.train()
    total, count = 0.0, 0
    steps = _steps_per_epoch(loader, cfg, 1)
    bar = tqdm(loader, total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not accelerator.is_local_main_process)
    for step, batch in enumerate(bar):
        if step >= steps:
            break
        with accelerator.autocast():
            loss = objective(batch)
        accelerator.backward(loss)
        if accelerator.sync_gradients and cfg.max_grad_norm:
            accelerator.clip_grad_norm_(objective.parameters(), cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        total, count = total + loss.item(), count + 1
        bar.set_postfix(loss=f"{total / count:.4f}")
        if progress:
            progress(f"train epoch {epoch + 1}", step + 1, steps)
    return total / max(count, 1)


@torch.no_grad()
def collect_predictions(accelerator, objective, loader, progress: Progress | None = None):
    """All processes' (logits, labels) for a loader, gathered without the padding duplicates."""
    objective.eval()
    model = accelerator.unwrap_model(objective)
    logits_all, labels_all = [], []
    bar = tqdm(loader, desc="evaluate", disable=not accelerator.is_local_main_process)
    for step, batch in enumerate(bar):
        with accelerator.autocast():
            logits, labels = model.predict(batch)
        logits, labels = accelerator.gather_for_metrics((logits.float(), labels))
        logits_all.append(logits.cpu())
        labels_all.append(labels.cpu())
        if progress:
            progress("evaluate", step + 1, len(loader))
    return torch.cat(logits_all), torch.cat(labels_all)  # (N, L), (N,)


def evaluate_objective(accelerator, objective, loader, progress: Progress | None = None) -> dict:
    logits, labels = collect_predictions(accelerator, objective, loader, progress)
    return classification_scores(labels.tolist(), logits.argmax(-1).tolist())


def _headline(scores: dict) -> dict:
    return {k: scores[k] for k in ("weighted_f1", "macro_f1", "accuracy")}


def _save_weights(accelerator, objective, path: Path) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(objective)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.trainable_state_dict().items()}, str(path))


def _checkpoint(accelerator, out: Path, state: dict) -> None:
    accelerator.save_state(str(out / LAST_DIR))
    if accelerator.is_main_process:
        (out / STATE_FILE).write_text(json.dumps(state, indent=2))


def _resume(accelerator, out: Path) -> dict:
    state = {"epochs_done": 0, "best_weighted_f1": -1.0, "best_epoch": 0, "history": []}
    if (out / STATE_FILE).is_file() and (out / LAST_DIR).is_dir():
        accelerator.load_state(str(out / LAST_DIR))
        state.update(json.loads((out / STATE_FILE).read_text()))
        accelerator.print(f"resumed from {out / LAST_DIR} after epoch {state['epochs_done']}")
    return state
