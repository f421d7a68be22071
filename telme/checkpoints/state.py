"""Reading weight files safely and putting them into freshly built parts.

Parts are built with their parameters on the meta device (no random init, no memory) and the
file's tensors are assigned in their place, after every name and shape has been checked.
"""

import pickle
import re
from pathlib import Path

import torch
from torch import nn

from telme.checkpoints.errors import (
    CheckpointError,
    KeyMismatch,
    LabelCountMismatch,
    MissingCheckpoint,
    ShapeMismatch,
    UnsafeCheckpoint,
)

# Buffers older transformers saved and current ones rebuild themselves (arange position ids).
LEGACY_SUFFIXES = ("embeddings.position_ids",)
# The classifier head of each part: its rows are the label count.
HEAD_TENSORS = {"teacher": "classifier.weight", "audio": "W.weight", "video": "W.weight", "fusion": "W.weight"}


def read_torch_state(path: Path, what: str) -> dict:
    """A state dict from a torch pickle, read with weights_only=True only."""
    path = Path(path)
    if not path.is_file():
        raise MissingCheckpoint(what, [path], _listing(path.parent))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpoint(path, _unpickler_reason(error)) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({_first_line(error)})") from error
    return _as_state_dict(state, str(path))


def read_safetensors_state(path: Path, what: str) -> dict:
    """All tensors of a .safetensors file (no code can travel in this format)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise MissingCheckpoint(what, [path], _listing(path.parent))
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({_first_line(error)})") from error


def build_empty(factory, cfg) -> nn.Module:
    """The part built from its config with parameters on the meta device (buffers stay real)."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return factory(cfg)


def fill_part(module: nn.Module, state: dict, part: str, source: str, labels=()) -> nn.Module:
    """Check names, label count and shapes of `state` against `module`, then assign the tensors."""
    state = {name: tensor for name, tensor in state.items() if not name.endswith(LEGACY_SUFFIXES)}
    expected = module.state_dict()
    check_label_count(state, part, source, len(labels) or None, labels)
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    if missing or unexpected:
        raise KeyMismatch(source, missing, unexpected)
    for name, target in expected.items():
        if tuple(state[name].shape) != tuple(target.shape):
            raise ShapeMismatch(source, name, target.shape, state[name].shape)
    state = {name: _as_float32(tensor) for name, tensor in state.items()}
    module.load_state_dict(state, strict=True, assign=True)
    return module.eval()


def check_label_count(state: dict, part: str, source: str, expected, labels=()) -> None:
    head = HEAD_TENSORS[part]
    if expected is None or head not in state:
        return
    found = int(state[head].shape[0])
    if found != expected:
        raise LabelCountMismatch(source, head, expected, found, labels)


def split_prefixed(state: dict) -> dict:
    """{'teacher.x': t} -> {'teacher': {'x': t}}."""
    parts = {}
    for name, tensor in state.items():
        part, _, rest = name.partition(".")
        parts.setdefault(part, {})[rest] = tensor
    return parts


def prefixed_state(parts: dict) -> dict:
    """{'teacher': module} -> {'teacher.x': fp32 contiguous CPU tensor}, no two sharing memory."""
    state, seen = {}, set()
    for part, module in parts.items():
        for name, tensor in module.state_dict().items():
            tensor = _as_float32(tensor.detach()).to("cpu").contiguous()
            key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
            if key in seen:  # tied or shared tensors: safetensors stores each storage once
                tensor = tensor.clone()
            seen.add((tensor.untyped_storage().data_ptr(), tensor.storage_offset()))
            state[f"{part}.{name}"] = tensor
    return state


def _as_state_dict(state, source: str) -> dict:
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise CheckpointError(f"{source}: expected a state dict of named tensors, found {type(state).__name__}")
    return state


def _as_float32(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float() if tensor.is_floating_point() and tensor.dtype != torch.float32 else tensor


def _listing(folder: Path):
    return [entry.name for entry in folder.iterdir()] if folder.is_dir() else []


def _unpickler_reason(error: BaseException) -> str:
    """The part of torch's refusal that says what was found (not its advice to drop weights_only)."""
    found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\. |\n\n|$)", str(error), flags=re.DOTALL)
    return " ".join(found.group(1).split()) if found else "the file is not a plain state dict"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
