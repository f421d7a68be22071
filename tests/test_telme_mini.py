"""The shipped TelME-mini: it is the default, it loads, and it repeats the model card's predictions."""

import json
from pathlib import Path

import pytest

BUNDLE = Path(__file__).resolve().parents[1] / "checkpoints" / "telme-mini-meld"
MAX_BUNDLE_BYTES = 100 * 2**20  # the shipped bundle must stay under 100 MB


@pytest.fixture(scope="module")
def mini():
    if not (BUNDLE / "config.json").is_file():
        pytest.skip(f"{BUNDLE} is not built yet (scripts/train_telme_mini.sh)")
    from telme.checkpoints import load_model

    return load_model(str(BUNDLE))


def test_bundle_is_small_and_says_what_is_missing(mini):
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    assert size <= MAX_BUNDLE_BYTES
    assert mini.live_modalities == ("text",) and mini.audio is None and mini.video is None
    assert any("audio" in reason for reason in mini.missing) and any("video" in reason for reason in mini.missing)
    assert mini.profile.name == "clean" and mini.tokenizer.kind == "hf"
    assert (BUNDLE / "MODEL_CARD.md").is_file()


def test_default_model_is_telme_mini(mini, monkeypatch):
    from telme.checkpoints import default_bundle_path

    monkeypatch.chdir(BUNDLE.parents[1])
    assert default_bundle_path().resolve() == BUNDLE.resolve()


def test_regression_predictions_match_the_model_card(mini, data_dir):
    from telme.data import read_meld_csv
    from telme.training.card import REGRESSION_DIALOGUES, REGRESSION_FILE, regression_predictions

    recorded = json.loads((BUNDLE / REGRESSION_FILE).read_text())
    dialogues = read_meld_csv(data_dir / "meld" / recorded["split"])[:REGRESSION_DIALOGUES]
    rows = regression_predictions(mini, dialogues)
    assert [r["key"] for r in rows] == [r["key"] for r in recorded["rows"]]
    assert [r["predicted"] for r in rows] == [r["predicted"] for r in recorded["rows"]]
    for now, then in zip(rows, recorded["rows"]):
        assert now["probs"] == pytest.approx(then["probs"], abs=1e-4)
    assert (BUNDLE / "MODEL_CARD.md").read_text().count("| dia") == len(rows)  # the card lists every prompt


def test_the_app_path_gives_the_recorded_predictions(mini, data_dir):
    """The Recognizer (what app.py calls) batches whole dialogues: same labels, fused = teacher."""
    from telme.data import read_meld_csv
    from telme.inference import Recognizer
    from telme.training.card import REGRESSION_DIALOGUES, REGRESSION_FILE

    recorded = json.loads((BUNDLE / REGRESSION_FILE).read_text())["rows"]
    recognizer = Recognizer(mini, device="cpu")
    predictions = []
    for dialogue in read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")[:REGRESSION_DIALOGUES]:
        result = recognizer.run_dialogue(dialogue)
        assert result.live == ("text",)
        predictions += result.utterances
    assert [p.label for p in predictions] == [r["predicted"] for r in recorded]
    for prediction, row in zip(predictions, recorded):
        assert prediction.audio is None and prediction.video is None and prediction.alpha is None
        assert prediction.fused == pytest.approx(prediction.teacher) and prediction.teacher == pytest.approx(row["probs"], abs=1e-4)
