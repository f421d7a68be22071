"""Precision and micro-batch choices of the Recognizer (telme.inference.precision), on CPU and,
marked gpu, on CUDA: the bf16 path and fp32 parity with the golden checkpoints there."""

import json
import warnings

import numpy as np
import pytest
import torch

from telme.checkpoints.tiny import tiny_model
from telme.dialogue import Dialogue, Utterance
from telme.inference import Recognizer, autocast_dtype, cpu_supports_bf16
from telme.inference.precision import PrecisionFallbackWarning, batch_sizes, cast_weights

CPU = torch.device("cpu")
X86_BF16 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
X86_PLAIN = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
BF16_CHANGE = 2e-2  # largest probability change bf16 may make on the tiny / golden models


@pytest.fixture
def dialogue():
    lines = ["I can't believe it!", "What do you mean?", "You knew.", "Fine.", "Okay then.", "Really?"]
    return Dialogue([Utterance(i, i + 1.0, "AB"[i % 2], text) for i, text in enumerate(lines)])


@pytest.fixture
def media(dialogue):
    rng = np.random.default_rng(0)
    return [type("Media", (), {"audio": (0.1 * rng.standard_normal(8000 + 700 * i)).astype(np.float32),
                               "frames": rng.integers(0, 256, (8, 40, 40, 3), dtype=np.uint8)})()
            for i in range(len(dialogue))]


def probs(prediction, source):
    return torch.tensor([getattr(u, source) for u in prediction.utterances])


def test_cpu_bf16_is_read_from_the_cpu_flags():
    assert cpu_supports_bf16(X86_BF16) and cpu_supports_bf16(ARM_BF16)
    assert not cpu_supports_bf16(X86_PLAIN) and not cpu_supports_bf16("")


def test_cpu_default_stays_exact_fp32_and_the_variable_chooses(monkeypatch):
    monkeypatch.delenv("TELME_PRECISION", raising=False)
    assert autocast_dtype(CPU) is None and autocast_dtype(CPU, "fp32") is None
    monkeypatch.setenv("TELME_PRECISION", "bf16")
    monkeypatch.setattr("telme.inference.precision.cpu_supports_bf16", lambda: True)
    assert autocast_dtype(CPU) == torch.bfloat16
    assert autocast_dtype(CPU, "fp32") is None  # an explicit choice wins over the variable
    monkeypatch.setenv("TELME_PRECISION", "int4")
    with pytest.raises(ValueError, match="TELME_PRECISION"):
        autocast_dtype(CPU)


def test_bf16_on_a_cpu_without_native_bf16_falls_back_to_fp32_with_a_warning(monkeypatch):
    monkeypatch.setattr("telme.inference.precision.cpu_supports_bf16", lambda: False)
    with pytest.warns(PrecisionFallbackWarning, match="no native bf16"):
        assert autocast_dtype(CPU, "bf16") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recognizer = Recognizer(tiny_model(), device="cpu", precision="fp32")
    assert recognizer.precision == "fp32" and next(recognizer.model.video.parameters()).dtype == torch.float32


def test_micro_batch_sizes_per_part():
    assert batch_sizes(None, CPU, None) == {"teacher": 8, "audio": 8, "video": 8}  # today's fp32 path
    assert batch_sizes(None, CPU, torch.bfloat16) == {"teacher": 8, "audio": 2, "video": 2}
    assert batch_sizes(None, torch.device("cuda"), torch.bfloat16) == {"teacher": 8, "audio": 8, "video": 8}
    assert batch_sizes(3, CPU, torch.bfloat16) == {"teacher": 3, "audio": 3, "video": 3}
    assert batch_sizes({"video": 1}, CPU, None) == {"teacher": 8, "audio": 8, "video": 1}
    with pytest.raises(ValueError, match="fusion"):
        batch_sizes({"fusion": 2}, CPU, None)
    with pytest.raises(ValueError, match="at least 1"):
        batch_sizes({"audio": 0}, CPU, None)


def test_micro_batches_are_counted_per_part(dialogue, media):
    recognizer = Recognizer(tiny_model(), device="cpu", batch_size={"teacher": 6, "audio": 4, "video": 1})
    recognizer.run_dialogue(dialogue, media)
    stats = recognizer.stats
    assert (stats.teacher_forwards, stats.audio_forwards, stats.video_forwards) == (1, 2, 6)
    assert stats.video_rows == stats.audio_rows == 6


def test_cast_weights_stores_backbones_in_bf16_and_back():
    model = tiny_model()
    cast_weights(model, torch.bfloat16)
    assert {next(model.part(p).parameters()).dtype for p in ("teacher", "audio", "video")} == {torch.bfloat16}
    assert next(model.fusion.parameters()).dtype == torch.float32  # small: stays fp32
    cast_weights(model, None)
    assert {p.dtype for p in model.video.parameters()} == {torch.float32}


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16 (no avx512_bf16 / amx_bf16 flag)")
def test_cpu_bf16_path_runs_pre_cast_and_stays_close_to_fp32(dialogue, media):
    exact = Recognizer(tiny_model(seed=1), device="cpu", precision="fp32").run_dialogue(dialogue, media)
    recognizer = Recognizer(tiny_model(seed=1), device="cpu", precision="bf16")
    assert recognizer.precision == "bf16" and recognizer.batch_sizes["video"] == 2
    assert next(recognizer.model.video.parameters()).dtype == torch.bfloat16
    fast = recognizer.run_dialogue(dialogue, media)
    for source in ("teacher", "audio", "video", "fused"):
        change = (probs(fast, source) - probs(exact, source)).abs().max().item()
        assert 0 < change <= BF16_CHANGE, (source, change)  # rounded (not a no-op), but close


# ---- on CUDA (pytest -m gpu; scripts/device_check.sh runs these) ----

def golden_model(golden):
    from telme.checkpoints import load_official

    configs = json.loads((golden / "configs.json").read_text())
    backbones = {"teacher": configs["text_backbone"], "audio": configs["audio_backbone"],
                 "video": configs["video_backbone"]}
    return load_official(golden / "save_model", dataset="meld", backbones=backbones)


def golden_run(model, io, device, dtype):
    """Each loaded part's outputs on the golden inputs, under autocast `dtype` (None = fp32)."""
    outputs = {}
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        outputs["teacher"] = model.teacher(io["input_ids"].to(device), io["attention_mask"].to(device))
        for part, inputs in (("audio", "audio_values"), ("video", "pixel_values")):
            if model.part(part) is not None:
                outputs[part] = model.part(part)(io[inputs].to(device))
        if model.fusion is not None:
            outputs["fused"] = (None, model.fusion(*(outputs[p][0].float() for p in ("teacher", "audio", "video"))))
    return {part: [None if t is None else t.float().cpu() for t in pair] for part, pair in outputs.items()}


GOLDEN_NAMES = {"teacher": ("teacher_hidden", "teacher_logits"), "audio": ("audio_hidden", "audio_logits"),
                "video": ("video_hidden", "video_logits"), "fused": (None, "fused_logits")}


@pytest.mark.gpu
def test_golden_parity_on_cuda_fp32(reference_dir):
    """fp32 on the GPU reproduces the official outputs (<= 1e-4) for every part the folder holds
    (the device's golden subset leaves out the 49 MB fusion file)."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    golden = reference_dir / "golden"
    io = torch.load(golden / "golden_io.pt", weights_only=True)
    model = golden_model(golden).to(torch.device("cuda"))
    outputs = golden_run(model, io, torch.device("cuda"), None)
    for part, tensors in outputs.items():
        for name, tensor in zip(GOLDEN_NAMES[part], tensors):
            if name is not None:
                assert (tensor - io[name]).abs().max().item() <= 1e-4, name


@pytest.mark.gpu
def test_golden_bf16_on_cuda_changes_probabilities_little(reference_dir):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    golden = reference_dir / "golden"
    io = torch.load(golden / "golden_io.pt", weights_only=True)
    cuda = torch.device("cuda")
    exact = golden_run(golden_model(golden).to(cuda), io, cuda, None)
    model = golden_model(golden)
    cast_weights(model, torch.bfloat16)
    fast = golden_run(model.to(cuda), io, cuda, torch.bfloat16)
    for part in exact:
        change = (fast[part][1].softmax(-1) - exact[part][1].softmax(-1)).abs().max().item()
        assert change <= BF16_CHANGE, (part, change)


@pytest.mark.gpu
def test_cuda_recognizer_defaults_to_bf16_with_pre_cast_weights(dialogue, media):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    exact = Recognizer(tiny_model(seed=3), device="cpu").run_dialogue(dialogue, media)
    recognizer = Recognizer(tiny_model(seed=3))
    assert recognizer.device.type == "cuda" and recognizer.precision in ("bf16", "fp16")
    if recognizer.precision == "bf16":
        assert next(recognizer.model.video.parameters()).dtype == torch.bfloat16
    assert recognizer.batch_sizes == {"teacher": 8, "audio": 8, "video": 8}
    fast = recognizer.run_dialogue(dialogue, media)
    for source in ("teacher", "audio", "video", "fused"):
        assert (probs(fast, source) - probs(exact, source)).abs().max().item() <= 3e-2, source
    cuda_fp32 = Recognizer(tiny_model(seed=3), device="cuda", precision="fp32").run_dialogue(dialogue, media)
    for source in ("teacher", "audio", "video", "fused"):
        assert (probs(cuda_fp32, source) - probs(exact, source)).abs().max().item() <= 1e-4, source


def fast_and_original(model, pixels, mkldnn=True):
    """The video student's outputs through transformers' layers, through the fast ones, and again
    through transformers' (after undoing)."""
    from telme.inference.precision import use_fast_video

    with torch.inference_mode(), torch.backends.mkldnn.flags(enabled=mkldnn):
        original = model.video(pixels)
        use_fast_video(model, enabled=True)
        fast = model.video(pixels)
        use_fast_video(model, enabled=False)
        again = model.video(pixels)
    return original, fast, again


@pytest.mark.parametrize("mkldnn", [True, False], ids=["onednn-linears", "plain-linears"])
def test_fast_timesformer_layers_are_the_same_math_and_can_be_undone(mkldnn):
    from transformers.models.timesformer.modeling_timesformer import TimesformerLayer

    model = tiny_model(seed=5)
    layers = [m for m in model.video.modules() if isinstance(m, TimesformerLayer)]
    pixels = torch.randn(3, 8, 3, 32, 32)
    (original, logits), (fast, fast_logits), (again, _) = fast_and_original(model, pixels, mkldnn)
    assert layers and not any("forward" in vars(m) for m in layers)  # undone
    assert (fast - original).abs().max().item() <= 1e-5 and (fast_logits - logits).abs().max().item() <= 1e-5
    assert not torch.equal(fast, original)  # a different computation, not transformers' code again
    assert torch.equal(again, original)  # transformers' own forward is back


def test_fast_timesformer_layers_in_bf16_stay_close_to_fp32():
    model = tiny_model(seed=5)
    pixels = torch.randn(2, 8, 3, 32, 32)
    with torch.inference_mode():
        reference = model.video(pixels)[1].softmax(-1)
    model.video.to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, (_, fast), _ = fast_and_original(model, pixels)
    assert fast.dtype == torch.bfloat16  # the layers ran in the weights' dtype
    assert (fast.float().softmax(-1) - reference).abs().max().item() < 0.02


def test_fp32_recognizer_keeps_transformers_attention(monkeypatch):
    from transformers.models.timesformer.modeling_timesformer import TimesformerSelfAttention

    monkeypatch.setattr("telme.inference.precision.cpu_supports_bf16", lambda: True)
    model = tiny_model()
    Recognizer(model, device="cpu", precision="bf16")
    attention = [m for m in model.video.modules() if isinstance(m, TimesformerSelfAttention)]
    assert attention and all("forward" in vars(m) for m in attention)
    Recognizer(model, device="cpu", precision="fp32")
    assert not any("forward" in vars(m) for m in attention)
