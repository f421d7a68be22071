"""`train` -> bundle -> `evaluate` through the CLI functions, on a tiny BERT folder and a tiny MELD CSV."""

import argparse
import csv
import json

import pytest
import torch

from telme.__main__ import main
from telme.labels import MELD_LABELS
from telme.training import cli

WORDS = ["oh", "my", "god", "you", "are", "so", "great", "no", "way", "what", "now", "feels", "i", "hate", "this"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory):
    """A pretrained-style transformers folder: tiny BERT weights + a word-level vocabulary."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS + [".", "!", "?"])}
    BertTokenizer(vocab=vocab).save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)  # fmt: skip
    BertModel(config).save_pretrained(str(folder))
    return folder


def write_meld_csv(path, dialogues=3, turns=4):
    columns = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
               "Season", "Episode", "StartTime", "EndTime"]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for d in range(dialogues):
            for u in range(turns):
                label = MELD_LABELS[(d + u) % len(MELD_LABELS)]
                text = " ".join(WORDS[(d * 3 + u + k) % len(WORDS)] for k in range(4)) + " it\x92s"
                writer.writerow([0, text, ["Ross", "Rachel"][u % 2], label, "neutral", d, u, 1, 1,
                                 f"00:00:0{u},000", f"00:00:0{u},900"])  # fmt: skip
    return path


def train_args(tmp_path, encoder_folder, **overrides):
    parser = cli.add_train_arguments(argparse.ArgumentParser())
    data = write_meld_csv(tmp_path / "train_sent_emo.csv")
    argv = ["--train", str(data), "--dev", str(data), "--output", str(tmp_path / "run"), "--init-text",
            str(encoder_folder), "--epochs", "2", "--batch-size", "4", "--lr", "1e-3", "--warmup-ratio", "0.1",
            "--max-tokens", "24", "--cpu", "--bucket-by-length", "--export", str(tmp_path / "bundle")]  # fmt: skip
    args = parser.parse_args(argv)
    vars(args).update(overrides)
    return args


def test_train_export_evaluate(tmp_path, encoder_folder, capsys):
    from telme.checkpoints import load_bundle

    assert cli.run_train(train_args(tmp_path, encoder_folder)) == 0
    assert "text-only mode" in capsys.readouterr().err  # no clips: students and fusion skipped
    model = load_bundle(tmp_path / "bundle")
    assert model.labels == MELD_LABELS and model.live_modalities == ("text",)
    assert model.profile.max_text_tokens == 24 and model.profile.fix_cp1252
    assert len(model.tokenizer) == model.teacher.cfg.vocab_size  # 9 speaker tokens added
    out = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(tmp_path / "train_sent_emo.csv"), "--weights", str(tmp_path / "bundle"),
                 "--json", str(out), "--device", "cpu", "--quiet"]) == 0  # fmt: skip
    report = json.loads(out.read_text())["report"]
    assert report["count"] == 12 and report["modalities"] == ["text"]
    assert sum(map(sum, report["confusion"])) == 12 and set(report["per_class"]) == set(MELD_LABELS)
    state = json.loads((tmp_path / "run" / "teacher" / "state.json").read_text())
    assert report["weighted_f1"] == pytest.approx(state["best_weighted_f1"], abs=1e-6)  # same split, same weights


def test_pretrained_encoder_weights_are_copied(encoder_folder):
    from safetensors.torch import load_file

    from telme.training.pretrained import teacher_from_pretrained

    teacher, tokenizer = teacher_from_pretrained(encoder_folder, num_labels=7)
    source = load_file(str(encoder_folder / "model.safetensors"))
    key = next(k for k in source if k.endswith("embeddings.word_embeddings.weight"))
    rows = source[key].shape[0]
    grown = teacher.text_model.embeddings.word_embeddings.weight
    assert grown.shape[0] == rows + 9 == len(tokenizer)
    assert torch.equal(grown[:rows], source[key]) and torch.allclose(grown[rows], source[key].mean(0))
    assert tokenizer.speaker_id(1) >= rows


def test_official_defaults():
    assert cli.official_lr("teacher", "meld") == 1e-6 and cli.official_lr("audio", "meld") == 1e-5
    assert cli.official_lr("teacher", "iemocap") == 1e-5 and cli.official_epochs("fusion", "iemocap") == 8
    args = cli.add_train_arguments(argparse.ArgumentParser()).parse_args(
        ["--train", "a.csv", "--dev", "b.csv", "--output", "run", "--clips", "clips", "--stage", "audio", "--stage", "teacher"]
    )
    assert cli.chosen_stages(args) == ["teacher", "audio"]
    loop = cli.loop_config(args, "audio")
    assert (loop.batch_size, loop.epochs, loop.max_grad_norm, loop.seed, loop.warmup_steps) == (4, 10, 10.0, 42, None)



def test_left_padding_changes_nothing(encoder_folder):
    """The same prompt alone and left-padded next to a longer one (BERT: absolute positions)."""
    from telme.features.text import collate_left
    from telme.training.pretrained import teacher_from_pretrained

    teacher, tokenizer = teacher_from_pretrained(encoder_folder, 7)
    teacher.text_model.embeddings.position_embeddings.weight.data.normal_(0, 1)  # positions that matter
    short, long = [6, 7, tokenizer.mask_id], [8, 9, 10, 11, 12, 13, 14, tokenizer.mask_id]
    with torch.no_grad():
        alone = teacher.eval()(*collate_left([short], tokenizer.pad_id))[1][0]
        batched = teacher(*collate_left([short, long], tokenizer.pad_id))[1][0]
    assert torch.allclose(alone, batched, atol=1e-5)
