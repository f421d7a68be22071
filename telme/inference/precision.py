"""Number format and micro-batch sizes of the forwards: chosen once, when a Recognizer is made.

    precision "auto" (default): bf16 autocast on CUDA (fp16 where the GPU has no bf16), exact fp32
                                on CPU
    precision "fp32":           fp32 everywhere
    precision "bf16":           bf16 autocast with the backbones' weights stored in bf16; on a CPU
                                only where it computes bf16 natively (AVX512-BF16 / AMX or ARM BF16
                                in /proc/cpuinfo), fp32 with a warning elsewhere (emulated bf16 is
                                slower than fp32)
The environment variable TELME_PRECISION gives the default when no precision is passed.
bf16 also runs TimeSformer's layers through telme.inference.fast_video: fused
scaled_dot_product_attention for both attentions (transformers' own code materialises every
(B*8, 12, 197, 197) score matrix), fewer copies of the token grid, the video student's layers in
bf16 throughout (no per-op autocast casts) and, on CPU, oneDNN linears with the bias, the gelu and
the residual add fused. fp32 keeps the original code, so the default stays bit-for-bit today's.

Pre-cast weights: inside autocast every matmul casts its fp32 weight to bf16, again in every
micro-batch (the cast cache lives only as long as one autocast block); storing the backbones in
bf16 once removes that cost and halves their memory. The fusion stays fp32 (it is small).
"""

import os
import warnings
from pathlib import Path

import torch

from telme.inference.fast_video import use_fast_layers

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PRECISION_VARIABLE = "TELME_PRECISION"
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 flags / ARM "Features" (FEAT_BF16)
BF16_WEIGHT_PARTS = ("teacher", "audio", "video")  # stored in bf16 when bf16 is chosen
BATCH_SIZE = 8  # utterances per backbone forward, every part, unless a table below says otherwise
CPU_BF16_BATCH_SIZES = {"teacher": 8, "audio": 2, "video": 2}  # measured: bf16 students on CPU run
# fastest in pairs (TimeSformer's 1,568 tokens per clip already fill the cores; larger batches only
# grow the activations that every layer norm and reshape must copy)


class PrecisionFallbackWarning(UserWarning):
    """bf16 was asked for on a CPU that cannot compute it natively; fp32 runs instead."""


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU flags (from /proc/cpuinfo, or `cpuinfo` text) name native bf16 arithmetic."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() in ("flags", "features") and BF16_CPU_FLAGS & set(value.split()):
            return True
    return False


def requested_precision(precision: str | None = None) -> str:
    """`precision`, else $TELME_PRECISION, else "auto"; checked against PRECISIONS."""
    chosen = precision if precision is not None else os.environ.get(PRECISION_VARIABLE) or "auto"
    chosen = chosen.strip().lower()
    if chosen not in PRECISIONS:
        source = "precision" if precision is not None else PRECISION_VARIABLE
        raise ValueError(f"{source} must be one of {', '.join(PRECISIONS)}, not {chosen!r}")
    return chosen


def autocast_dtype(device: torch.device, precision: str | None = None):
    """The autocast dtype for `device`, or None for plain fp32 (see the module docstring)."""
    precision = requested_precision(precision)
    if precision == "fp32":
        return None
    if device.type == "cuda":
        if precision == "auto":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if precision == "bf16" else torch.float16
    if precision == "auto":
        return None  # CPU default: exact fp32
    if precision == "bf16" and cpu_supports_bf16():
        return torch.bfloat16
    warnings.warn(f"precision {precision} asked for, but this CPU has no native {precision} arithmetic "
                  "(no avx512_bf16 / amx_bf16 flag): running in fp32", PrecisionFallbackWarning, stacklevel=3)
    return None


def precision_name(dtype) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def batch_sizes(batch_size, device: torch.device, dtype) -> dict:
    """Utterances per forward for each of teacher, audio, video.

    batch_size: an int for every part, a {part: int} for some (the rest take the default), or
    None: CPU_BF16_BATCH_SIZES for bf16 on CPU, BATCH_SIZE elsewhere.
    """
    defaults = CPU_BF16_BATCH_SIZES if device.type == "cpu" and dtype == torch.bfloat16 else {}
    sizes = {part: defaults.get(part, BATCH_SIZE) for part in BF16_WEIGHT_PARTS}
    if isinstance(batch_size, int):
        sizes = dict.fromkeys(sizes, batch_size)
    elif batch_size is not None:
        unknown = set(batch_size) - set(sizes)
        if unknown:
            raise ValueError(f"batch_size: unknown parts {sorted(unknown)}; expected teacher, audio, video")
        sizes.update(batch_size)
    if min(sizes.values()) < 1:
        raise ValueError(f"batch_size must be at least 1 for every part, not {sizes}")
    return sizes


def cast_weights(model, dtype) -> None:
    """Store the backbones' weights in bf16 when `dtype` is bf16, in fp32 otherwise (in place).

    A model cast to bf16 and back is rounded, not restored: load it again for exact fp32.
    """
    storage = torch.bfloat16 if dtype == torch.bfloat16 else torch.float32
    for part in BF16_WEIGHT_PARTS:
        module = model.part(part)
        if module is not None and next(module.parameters()).dtype != storage:
            module.to(storage)


def use_fast_video(model, enabled: bool) -> None:
    """The video student's TimeSformer layers through telme.inference.fast_video (enabled) or
    through transformers' own forwards again."""
    use_fast_layers(model.video, enabled)
