"""The official golden vectors, reproduced through the public loaders (official layout, bundle, Hub id).

../shared/reference/golden/ holds official-layout files built by the official modules with tiny
backbones (configs.json) and golden_io.pt: fixed inputs and the official outputs, batch of 3, eval.
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from telme.checkpoints import load_bundle, load_model, load_official, save_bundle

TOLERANCE = 1e-5
OUTPUTS = ("teacher_hidden", "teacher_logits", "audio_hidden", "audio_logits", "video_hidden", "video_logits",
           "fused_logits")
HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def golden_backbones(golden):
    configs = json.loads((golden / "configs.json").read_text())
    return {"teacher": configs["text_backbone"], "audio": configs["audio_backbone"], "video": configs["video_backbone"]}


def run_parts(model, io):
    with torch.inference_mode():
        teacher_hidden, teacher_logits = model.teacher(io["input_ids"], io["attention_mask"])
        audio_hidden, audio_logits = model.audio(io["audio_values"])
        video_hidden, video_logits = model.video(io["pixel_values"])
        fused_logits = model.fusion(teacher_hidden, audio_hidden, video_hidden)
    return dict(zip(OUTPUTS, (teacher_hidden, teacher_logits, audio_hidden, audio_logits, video_hidden,
                              video_logits, fused_logits)))


def assert_matches_golden(model, golden):
    io = torch.load(golden / "golden_io.pt", weights_only=True)
    outputs = run_parts(model, io)
    diffs = {name: (outputs[name] - io[name]).abs().max().item() for name in OUTPUTS}
    assert all(diff <= TOLERANCE for diff in diffs.values()), diffs


@pytest.fixture
def golden(reference_dir):
    return reference_dir / "golden"


@pytest.fixture
def official(golden):
    return load_official(golden / "save_model", dataset="meld", backbones=golden_backbones(golden))


def test_official_layout_reproduces_every_golden_output(official, golden):
    assert official.live_modalities == ("text", "audio", "video", "fusion")
    assert not official.teacher.training and not official.fusion.training
    assert_matches_golden(official, golden)


def test_bundle_round_trip_reproduces_every_golden_output(official, golden, tmp_path):
    save_bundle(official, tmp_path / "bundle")
    reloaded = load_bundle(tmp_path / "bundle")
    assert reloaded.live_modalities == official.live_modalities
    assert_matches_golden(reloaded, golden)
    assert_matches_golden(load_model(tmp_path / "bundle"), golden)


def test_hub_repo_id_from_offline_cache_reproduces_every_golden_output(official, golden, tmp_path):
    """conftest sets HF_HUB_OFFLINE=1: the snapshot comes from the local cache layout."""
    snapshot = tmp_path / "hub" / "models--telme--golden-tiny" / "snapshots" / HUB_COMMIT
    save_bundle(official, snapshot)
    from_hub = load_bundle("telme/golden-tiny", revision=HUB_COMMIT, cache_dir=tmp_path / "hub")
    assert_matches_golden(from_hub, golden)


def test_load_model_dispatches_an_official_folder(golden):
    model = load_model(golden / "save_model", backbones=golden_backbones(golden))
    assert_matches_golden(model, golden)


class GoldenPrompts:
    """Stand-in prompt tokenizer: prompt i (it holds i + 2 speaker tokens) -> golden row i's ids."""

    eos_token, kind = "</s>", "golden"

    def __init__(self, io):
        rows = [ids[mask.bool()].tolist() for ids, mask in zip(io["input_ids"], io["attention_mask"])]
        self.mask_id, self.pad_id = rows[0][-1], int(io["input_ids"][1, 0])
        assert all(row[-1] == self.mask_id for row in rows)
        self.rows = [row[:-1] for row in rows]

    def encode(self, prompt):
        return self.rows[prompt.count("<s") - 2]


def test_recognizer_run_dialogue_reproduces_golden_probabilities(official, golden, monkeypatch):
    """A 3-utterance dialogue through Recognizer.run_dialogue: the prompts' ids, left padding,
    audio batching and the fusion group (3 < group_size, so one group) all as the official run."""
    import dataclasses

    from telme.dialogue import Dialogue, Utterance
    from telme.features import video
    from telme.inference import Recognizer

    io = torch.load(golden / "golden_io.pt", weights_only=True)
    official.tokenizer = GoldenPrompts(io)
    official.profile = dataclasses.replace(official.profile, audio_normalize=False)  # golden audio is raw
    frames = [np.full((1, 2, 2, 3), i, np.uint8) for i in range(3)]  # row i's golden pixels, via the stub below
    golden_pixels = io["pixel_values"]  # (3, 8, 3, 32, 32): float inputs no uint8 frame would give
    monkeypatch.setattr(video, "prepare_frames", lambda f, profile, duration=None: golden_pixels[int(f[0, 0, 0, 0])])
    media = [{"audio": io["audio_values"][i].numpy(), "frames": frames[i]} for i in range(3)]
    dialogue = Dialogue([Utterance(i, i + 0.5, "AB"[i % 2], f"utterance {i}") for i in range(3)])
    recognizer = Recognizer(official, device="cpu", batch_size=2)
    prediction = recognizer.run_dialogue(dialogue, [SimpleNamespace(**m) for m in media])
    for source, name in (("teacher", "teacher_logits"), ("audio", "audio_logits"), ("video", "video_logits"),
                         ("fused", "fused_logits")):
        got = torch.tensor([getattr(u, source) for u in prediction.utterances])
        assert (got - io[name].softmax(-1)).abs().max().item() <= TOLERANCE, source
    assert recognizer.stats.fusion_forwards == 1 and recognizer.stats.teacher_forwards == 2
