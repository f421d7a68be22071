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
from telme.clips import load_media
from telme.evaluation import evaluate
from telme.training.media_data import MediaCollator, MediaDataset
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
    with_media = evaluate(model, [dialogue], clips=clips, device="cpu").report
    assert with_media.modalities == ("text", "audio", "video", "fusion") and with_media.count == 3
    assert with_media.skipped == ["dia0_utt1", "dia0_utt2"]
    text_only = evaluate(model, [dialogue], device="cpu").report
    assert text_only.modalities == ("text",) and text_only.skipped == []


def test_student_and_fusion_stages_from_the_cli_run_folder(clips, tmp_path):
    """Stages 2 and 3 on a run whose teacher exists: students from pretrained folders, then a 4-part bundle."""
    import argparse

    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModel

    from telme.checkpoints import load_bundle
    from telme.checkpoints.tiny import tiny_configs
    from telme.features.text import OfficialRobertaTokenizer
    from telme.models import TextTeacher
    from telme.training.engine import BEST_WEIGHTS, LoopConfig
    from telme.training.media_stages import train_media_stage
    from telme.training.pipeline import export_run, save_part_config, write_run

    torch.manual_seed(0)
    configs = tiny_configs(width=24, fusion_heads=3)  # MELD fusion: 3 heads over 2 x 24
    run = tmp_path / "run"
    write_run(run, "meld", dataclasses.replace(tiny_profile(), name="clean"), OfficialRobertaTokenizer.default())
    teacher = TextTeacher(configs["teacher"])
    save_file(teacher.state_dict(), str(save_part_config(run, "teacher", teacher) / BEST_WEIGHTS))
    folders = {}
    for part in ("audio", "video"):
        backbone = dict(configs[part].backbone)
        encoder = AutoModel.from_config(AutoConfig.for_model(backbone.pop("model_type"), **backbone))
        encoder.save_pretrained(str(tmp_path / part))
        folders[part] = str(tmp_path / part)
    for name in ("dia0_utt2", "dia0_utt3"):
        shutil.copyfile(FIXTURE, clips / "nested" / f"{name}.mp4")
    csv_path = write_meld_csv(tmp_path / "dev_sent_emo.csv")
    args = argparse.Namespace(output=str(run), train=str(csv_path), dev=str(csv_path), clips=str(clips), dev_clips=None,
                              limit=None, init_audio=folders["audio"], init_video=folders["video"])  # fmt: skip
    for stage in ("audio", "video", "fusion"):
        result = train_media_stage(args, stage, LoopConfig(output_dir="", epochs=1, batch_size=4, warmup_steps=0, cpu=True))
        assert result["clips"]["train"]["broken"] == {"dia0_utt1": result["clips"]["train"]["broken"]["dia0_utt1"]}
    model = load_bundle(export_run(run, tmp_path / "bundle", "tiny-four-parts"))
    assert model.live_modalities == ("text", "audio", "video", "fusion")
    report = evaluate(model, read_meld(csv_path), clips=clips, device="cpu").report
    assert report.modalities == ("text", "audio", "video", "fusion") and report.skipped == ["dia0_utt1"]


def write_meld_csv(path):
    rows = ["Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime"]
    for u, label in enumerate(("joy", "anger", "neutral", "joy")):
        rows.append(f"{u},oh my god number {u},{'AB'[u % 2]},{label},neutral,0,{u},1,1,\"00:00:0{u},000\",\"00:00:0{u},900\"")
    path.write_text("\n".join(rows) + "\n")
    return path


def read_meld(path):
    from telme.data import read_meld_csv

    return read_meld_csv(path)
