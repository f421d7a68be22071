"""Clips for the students: found by name, decoded with the inference features, bad ones zeroed and reported."""

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch

from telme.checkpoints.tiny import TINY_IMAGE, tiny_model, tiny_profile
from telme.data import CorpusDialogue
from telme.dialogue import Utterance
from telme.features.audio import LONG_UTTERANCE_SAMPLES
from telme.training.evaluate import evaluate_model
from telme.training.media_data import MediaCollator, MediaDataset, load_media
from telme.training.text_data import TextExample

FIXTURE = Path(__file__).parent / "fixtures" / "media" / "conversation.mp4"


@pytest.fixture
def clips(tmp_path):
    """dia0_utt0 real, dia0_utt1 empty (broken), dia0_utt2 absent."""
    folder = tmp_path / "clips" / "nested"
    folder.mkdir(parents=True)
    shutil.copyfile(FIXTURE, folder / "dia0_utt0.mp4")
    (folder / "dia0_utt1.mp4").write_bytes(b"")
    return tmp_path / "clips"


def examples(count=3):
    return [TextExample(f"dia0_utt{i}", (5, 6, 7)[: i + 1], i % 2) for i in range(count)]


def test_real_clip_is_decoded_and_bad_ones_are_zeroed(clips):
    profile = tiny_profile()
    data = MediaDataset(examples(), clips, profile, ("audio", "video"))
    real, broken, absent = data[0], data[1], data[2]
    assert real["audio"].abs().sum() > 0 and real["video"].shape == (8, 3, TINY_IMAGE, TINY_IMAGE)
    assert real["video"].abs().sum() > 0
    for item in (broken, absent):
        assert item["audio"].shape == (LONG_UTTERANCE_SAMPLES,) and not item["audio"].any()
        assert not item["video"].any()
    assert data.report.missing == {"dia0_utt2"} and set(data.report.broken) == {"dia0_utt1"}
    assert data.report.keys() == ["dia0_utt1", "dia0_utt2"]


def test_too_long_clip_is_zeroed_as_official(clips):
    profile = dataclasses.replace(tiny_profile(), max_utterance_seconds=0.1)
    data = MediaDataset(examples(1), clips, profile, ("audio",))
    assert not data[0]["audio"].any() and data.report.too_long == {"dia0_utt0"}


def test_collator_shapes(clips):
    profile = tiny_profile()
    data = MediaDataset(examples(), clips, profile, ("audio", "video"))
    batch = MediaCollator(pad_id=1, audio_pad="left")([data[i] for i in range(3)])
    assert batch["input_ids"].shape == (3, 3) and batch["input_ids"][0, 0].item() == 1  # left padded
    assert batch["audio"].shape[0] == 3 and batch["video"].shape == (3, 8, 3, TINY_IMAGE, TINY_IMAGE)
    assert batch["labels"].tolist() == [0, 1, 0]


def test_load_media_matches_the_inference_features(clips):
    from telme.features.audio import prepare_audio
    from telme.media.decode import decode_audio

    profile = tiny_profile()
    path = next(clips.rglob("dia0_utt0.mp4"))
    expected = prepare_audio(decode_audio(path, profile.audio_sample_rate), profile)
    assert torch.equal(load_media(path, "audio", profile), expected)


def test_evaluate_with_clips_runs_the_fusion(clips):
    model = tiny_model()
    utterances = [Utterance(start=float(i), end=i + 0.9, speaker="A" if i % 2 else "B", text="oh my god", label=label)
                  for i, label in enumerate(("joy", "anger", "neutral"))]  # fmt: skip
    dialogue = CorpusDialogue(utterances=utterances, source="meld:test:dia0", utterance_ids=[f"dia0_utt{i}" for i in range(3)])
    with_media = evaluate_model(model, [dialogue], "test", clips=clips, device="cpu")
    assert with_media.modalities == ("text", "audio", "video", "fusion") and with_media.count == 3
    assert with_media.skipped == ["dia0_utt1", "dia0_utt2"]
    text_only = evaluate_model(model, [dialogue], "test", device="cpu")
    assert text_only.modalities == ("text",) and text_only.skipped == []
