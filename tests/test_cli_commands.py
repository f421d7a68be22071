"""`python -m telme`: help for every subcommand, convert, analyze (JSON schema), training wiring."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import telme.__main__
from telme.__main__ import main
from telme.checkpoints import OFFICIAL_FILES, load_bundle, save_bundle
from telme.checkpoints.tiny import tiny_configs, tiny_model
from telme.training import card, cli

FIXTURES = Path(__file__).parent / "fixtures" / "media"
COMMANDS = ("convert", "analyze", "evaluate", "train", "card", "fetch-official")


def run_module(*args):
    return subprocess.run([sys.executable, "-m", "telme", *args], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command):
    result = run_module(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: python -m telme {command}" in result.stdout


def test_one_parser_holds_every_subcommands_options():
    def parse(argv):
        return telme.__main__.build_parser(wanted=argv[0]).parse_args(argv)

    assert parse(["evaluate", "--data", "d.csv"]).data == "d.csv"
    assert parse(["train", "--train", "a", "--dev", "b", "--output", "o", "--stage", "teacher"]).stage == ["teacher"]
    assert parse(["card", "--run", "r", "--bundle", "b", "--dev", "d", "--command", "c"]).name == "telme-mini-meld"


@pytest.mark.parametrize("code", ["import telme; telme.MELD_LABELS",
                                  "from telme.__main__ import main; main(['train', '-h'])"])
def test_importing_telme_and_building_the_cli_load_no_torch(code):
    code = f"import sys\ntry:\n    {code}\nexcept SystemExit:  # --help exits\n    pass\nassert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A tiny official-layout folder (768-wide outputs, like the official files) + its backbones JSON."""
    folder = tmp_path_factory.mktemp("release")
    model = tiny_model(width=768, fusion_heads=3, seed=5)
    for part, name in OFFICIAL_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.part(part).state_dict(), folder / name)
    configs = tiny_configs(width=768, fusion_heads=3)
    backbones = folder / "backbones.json"
    backbones.write_text(json.dumps({part: configs[part].backbone for part in ("teacher", "audio", "video")}))
    return model, folder, backbones


def test_convert_writes_a_loadable_bundle(release, tmp_path, capsys):
    model, folder, backbones = release
    assert main(["convert", str(folder), str(tmp_path / "bundle"), "--backbones", str(backbones), "--name", "t"]) == 0
    assert "live: text, audio, video, fusion" in capsys.readouterr().out
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.name == "t"
    fusion, original = bundle.fusion.state_dict(), model.fusion.state_dict()
    assert all(torch.equal(fusion[name], original[name]) for name in original)


def test_convert_reports_a_missing_teacher(tmp_path, capsys):
    assert main(["convert", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "teacher.bin" in capsys.readouterr().err


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return save_bundle(tiny_model(seed=6), tmp_path_factory.mktemp("bundle") / "tiny")


def test_analyze_writes_the_documented_json(bundle, tmp_path):
    out = tmp_path / "out.json"
    code = main(["analyze", str(FIXTURES / "conversation.mp4"), "--transcript", str(FIXTURES / "conversation.srt"),
                 "--weights", str(bundle), "--device", "cpu", "--json", str(out), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["format"] == "telme-analysis/1" and data["live"] == ["text", "audio", "video", "fusion"]
    assert data["model"]["name"] == "telme-tiny" and data["model"]["device"] == "cpu"
    assert [u["speaker"] for u in data["utterances"]] == ["Ross", "Rachel"] * 3
    for utterance in data["utterances"]:
        assert set(utterance) == {"index", "start", "end", "speaker", "text", "label", "confidence", "alpha",
                                  "probabilities"}
        for source in ("teacher", "audio", "video", "fused"):
            probs = utterance["probabilities"][source]
            assert list(probs) == data["labels"] and abs(sum(probs.values()) - 1) < 1e-4
        fused = utterance["probabilities"]["fused"]
        assert utterance["label"] == max(fused, key=fused.get)
        assert 0 < utterance["alpha"] <= 1 and utterance["end"] > utterance["start"]


def test_analyze_to_stdout_with_a_dropped_student(bundle, capsys):
    code = main(["analyze", str(FIXTURES / "conversation.mp4"), "--transcript", str(FIXTURES / "conversation.srt"),
                 "--weights", str(bundle), "--drop", "audio", "--drop", "video", "--json", "-", "--quiet"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert all(u["alpha"] is None and u["probabilities"]["fused"] == u["probabilities"]["teacher"]
               for u in data["utterances"])


def test_analyze_reports_missing_weights(tmp_path, capsys):
    code = main(["analyze", str(FIXTURES / "conversation.mp4"), "--weights", str(tmp_path / "none"), "--json", "-"])
    assert code == 1 and "none" in capsys.readouterr().err


@pytest.mark.parametrize("module, command, argv", [
    (telme.__main__, "evaluate", ["--data", "dev.csv"]),
    (cli, "train", ["--train", "a.csv", "--dev", "b.csv", "--output", "run"]),
    (card, "card", ["--run", "r", "--bundle", "b", "--dev", "d", "--command", "c"]),
])
def test_subcommands_dispatch_to_their_run_function(module, command, argv, monkeypatch):
    seen = []
    monkeypatch.setattr(module, f"run_{command}", lambda args: seen.append(args) or 7)
    assert main([command, *argv]) == 7 and seen[0].subcommand == command


def test_user_errors_print_one_line_and_exit_1(tmp_path, capsys):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert main(["evaluate", "--data", str(other)]) == 1
    assert capsys.readouterr().err.startswith("error: other.csv is neither a MELD nor an IEMOCAP CSV")
    assert main(["evaluate", "--data", str(tmp_path / "absent.csv")]) == 1  # an OSError
    assert "absent.csv" in capsys.readouterr().err
    bad = tmp_path / "backbones.json"
    bad.write_text("{not json")
    assert main(["convert", str(tmp_path), str(tmp_path / "out"), "--backbones", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
