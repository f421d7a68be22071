"""The shipped TelME-mini bundle (MELD, the fast option) loads and repeats its card's predictions.

The IEMOCAP bundle is not shipped (`DATASET=iemocap scripts/train_telme_mini.sh` builds it); when
built locally it is tested the same way.
"""

import json
from pathlib import Path

import pytest

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
BUNDLES = {"meld": CHECKPOINTS / "telme-mini-meld"}
if (CHECKPOINTS / "telme-mini-iemocap" / "config.json").is_file():  # built locally, not shipped
    BUNDLES["iemocap"] = CHECKPOINTS / "telme-mini-iemocap"
MAX_BUNDLE_BYTES = 100 * 2**20  # a shipped bundle must stay under 100 MB


def load(dataset):
    folder = BUNDLES[dataset]
    if not (folder / "config.json").is_file():
        pytest.skip(f"{folder} is not built (scripts/train_telme_mini.sh)")
    from telme.checkpoints import load_model

    return folder, load_model(str(folder))


@pytest.fixture(scope="module", params=sorted(BUNDLES))
def bundle(request):
    return (request.param, *load(request.param))


def test_bundle_is_small_and_says_what_is_missing(bundle):
    dataset, folder, mini = bundle
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= MAX_BUNDLE_BYTES
    assert mini.live_modalities == ("text",) and mini.audio is None and mini.video is None
    assert any("audio" in reason for reason in mini.missing) and any("video" in reason for reason in mini.missing)
    assert mini.profile.name == "clean" and mini.tokenizer.kind == "hf"
    assert (folder / "MODEL_CARD.md").is_file()


def test_telme_mini_meld_is_the_fast_option():
    from telme.checkpoints import FAST_BUNDLE

    load("meld")
    assert (CHECKPOINTS.parent / FAST_BUNDLE).resolve() == BUNDLES["meld"].resolve()


def recorded_dialogues(dataset, folder, data_dir):
    from telme.data import read_split
    from telme.training.card import REGRESSION_DIALOGUES, REGRESSION_FILE

    recorded = json.loads((folder / REGRESSION_FILE).read_text())
    return recorded["rows"], read_split(data_dir / dataset / recorded["split"], dataset)[:REGRESSION_DIALOGUES]


def test_regression_predictions_match_the_model_card(bundle, data_dir):
    from telme.training.card import regression_predictions

    dataset, folder, mini = bundle
    recorded, dialogues = recorded_dialogues(dataset, folder, data_dir)
    rows = regression_predictions(mini, dialogues)
    assert [r["key"] for r in rows] == [r["key"] for r in recorded]
    assert [r["predicted"] for r in rows] == [r["predicted"] for r in recorded]
    for now, then in zip(rows, recorded):
        assert now["probs"] == pytest.approx(then["probs"], abs=1e-4)
    assert (folder / "MODEL_CARD.md").read_text().count(f"| {rows[0]['key'][:3]}") == len(rows)  # the card lists each


def test_the_app_path_gives_the_recorded_predictions(bundle, data_dir):
    """The Recognizer (what app.py calls) batches whole dialogues: same labels, fused = teacher."""
    from telme.inference import Recognizer

    dataset, folder, mini = bundle
    recorded, dialogues = recorded_dialogues(dataset, folder, data_dir)
    recognizer = Recognizer(mini, device="cpu")
    predictions = []
    for dialogue in dialogues:
        result = recognizer.run_dialogue(dialogue)
        assert result.live == ("text",)
        predictions += result.utterances
    assert [p.label for p in predictions] == [r["predicted"] for r in recorded]
    for prediction, row in zip(predictions, recorded):
        assert prediction.audio is None and prediction.video is None and prediction.alpha is None
        assert prediction.fused == pytest.approx(prediction.teacher) and prediction.teacher == pytest.approx(row["probs"], abs=1e-4)


def test_shipped_bundle_stores_fp16_and_saving_again_keeps_no_load_notes(tmp_path):
    """fp16 on disk (the card's measured change vs fp32: 6.0e-4); a re-save writes no loaded_from."""
    import torch
    from safetensors import safe_open

    from telme.checkpoints.bundle import save_bundle

    folder, mini = load("meld")
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        dtypes = {weights.get_slice(key).get_dtype() for key in weights.keys()}
    assert "F16" in dtypes and "F32" not in dtypes
    assert mini.teacher.classifier.weight.dtype == torch.float32  # made fp32 again on load
    saved = json.loads((save_bundle(mini, tmp_path / "again", half=True) / "config.json").read_text())
    assert saved["card"]["storage"] == "fp16"
    assert "loaded_from" not in saved["card"] and "revision" not in saved["card"]


def test_tracked_tree_stays_small():
    """The GPU machine takes at most 64 MiB of repository; the project keeps the tracked tree ≤ 60 MiB."""
    import subprocess

    root = CHECKPOINTS.parent
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [root / name for name in listed.stdout.decode().split("\0") if name]
    total = sum(path.stat().st_size for path in files if path.is_file())
    assert total <= 60 * 2**20, f"tracked files total {total / 2**20:.1f} MiB"
