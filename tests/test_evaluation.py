"""telme.evaluate: the profile's speaker numbering, audio padding and fusion groups; unknown labels; the CLI."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from telme.__main__ import main
from telme.checkpoints import save_bundle
from telme.checkpoints.tiny import tiny_model
from telme.data import CorpusDialogue, read_split, split_speaker_numbers
from telme.dialogue import Utterance
from telme.evaluation import NothingToScore, evaluate, prompt_ids
from telme.features.text import dialogue_texts, encode_dialogue
from telme.labels import IEMOCAP_LABELS, MELD_LABELS

FIXTURE = Path(__file__).parent / "fixtures" / "media" / "conversation.mp4"
REPO = Path(__file__).resolve().parents[1]


def corpus_dialogue(number, speakers, labels):
    utterances = [Utterance(start=float(i), end=i + 0.9, speaker=s, text=f"line {i} of {number}", label=label)
                  for i, (s, label) in enumerate(zip(speakers, labels))]  # fmt: skip
    return CorpusDialogue(utterances=utterances, source=f"meld:test:dia{number}",
                          utterance_ids=[f"dia{number}_utt{i}" for i in range(len(utterances))],
                          official_speakers=speakers)  # fmt: skip


@pytest.fixture
def split():
    return [corpus_dialogue(0, ["A", "B", "A"], ["joy", "anger", "neutral"]),
            corpus_dialogue(1, ["C", "A", "C"], ["sadness", "joy", "surprise"])]  # fmt: skip


@pytest.fixture
def recordings(tmp_path):
    """One recording per dialogue (named after it), cut at the utterances' times."""
    for name in ("dia0", "dia1"):
        shutil.copyfile(FIXTURE, tmp_path / f"{name}.mp4")
    return tmp_path


def test_prompts_number_speakers_over_the_split_as_the_profile_says(split):
    model = tiny_model()  # the official profile: numbering carried across dialogues
    numbers = split_speaker_numbers(split, "official")
    assert numbers == [[1, 2, 1], [3, 1, 2]]  # dia1 row 0 is numbered in dia0's speaker list
    expected = [ids for d, n in zip(split, numbers) for ids in encode_dialogue(n, dialogue_texts(d, model.profile),
                                                                               model.tokenizer, 511)]  # fmt: skip
    assert prompt_ids(model, split) == expected
    model.profile = dataclasses.replace(model.profile, speaker_numbering="clean")
    assert prompt_ids(model, split) != expected  # the clean profile numbers dia1 [1, 2, 1]


def test_meld_dev_dia2_gets_the_official_readers_numbers(data_dir):
    dialogues = read_split(data_dir / "meld" / "dev_sent_emo.csv")
    assert split_speaker_numbers(dialogues, "official")[2] == [2, 1, 2, 1, 2, 1]
    model = tiny_model()
    ids = prompt_ids(model, dialogues[:3])
    first_of_dia2 = len(dialogues[0]) + len(dialogues[1])
    assert ids[first_of_dia2][-4] == model.tokenizer.SPEAKER_IDS["<s2>"]  # "... Now <s2> feels <mask>": Joey


def test_fusion_runs_on_consecutive_groups_across_dialogues(split, recordings):
    model = tiny_model()
    sizes = []
    model.fusion.register_forward_hook(lambda module, inputs, output: sizes.append(inputs[0].shape[0]))
    evaluation = evaluate(model, split, clips=recordings, device="cpu")
    assert sizes == [4, 2]  # group_size 4 over the 6 utterances of the split, not per dialogue
    assert evaluation.report.modalities == ("text", "audio", "video", "fusion") and evaluation.report.skipped == []
    first = evaluation.predictions[0]
    assert first.audio is not None and first.video is not None and 0 < first.alpha <= 1
    assert first.fused != first.teacher and first.predicted == MELD_LABELS[max(range(7), key=first.fused.__getitem__)]


def test_a_recording_without_video_gives_audio_and_zero_frames(split, tmp_path):
    shutil.copyfile(FIXTURE.with_suffix(".wav"), tmp_path / "dia0.wav")  # dia0: audio only; dia1: nothing
    evaluation = evaluate(tiny_model(), split, clips=[tmp_path / "dia0.wav"], device="cpu")
    assert evaluation.report.skipped == ["dia0_utt0", "dia0_utt1", "dia0_utt2", "dia1_utt0", "dia1_utt1", "dia1_utt2"]
    heard = [p.audio for p in evaluation.predictions]
    assert heard[0] != heard[1] and heard[4] == heard[5]  # dia1's utterances got the same zeros (one group)
    assert torch.allclose(torch.tensor(heard[3]), torch.tensor(heard[4]), atol=1e-4)  # (another group)


def test_audio_is_padded_on_the_profiles_side_without_a_mask(split, recordings):
    model = tiny_model()
    spans = [(0.5, 0.8), (2.6, 3.2), (4.5, 5.4)]  # s, in speech; the first is the shortest
    split = [dataclasses.replace(split[0], utterances=[dataclasses.replace(u, start=start, end=end)
                                                       for u, (start, end) in zip(split[0], spans)])]  # fmt: skip
    seen = []
    model.audio.register_forward_hook(lambda module, args, kwargs, output: seen.append((args[0], kwargs)),
                                      with_kwargs=True)  # fmt: skip
    evaluate(model, split, clips=recordings, device="cpu")
    (batch, kwargs), = seen
    assert "attention_mask" not in kwargs and batch[0, 0] == 0 and batch[2, 0] != 0  # left: zeros first
    model.profile = dataclasses.replace(model.profile, audio_pad="right")
    seen.clear()
    evaluate(model, split, clips=recordings, device="cpu")
    assert seen[0][0][0, -1] == 0 and seen[0][0][0, 0] != 0


def test_unknown_gold_labels_are_predicted_not_scored_and_counted(split):
    split[1] = corpus_dialogue(1, ["C", "A", "C"], ["sadness", "happy", None])
    evaluation = evaluate(tiny_model(), split, device="cpu")
    assert len(evaluation.predictions) == 6 and evaluation.report.count == 4
    assert evaluation.report.unscored == {"happy": 1, "None": 1}
    assert [p.scored for p in evaluation.predictions] == [True] * 4 + [False] * 2
    assert all(p.predicted in MELD_LABELS for p in evaluation.predictions)
    assert sum(map(sum, evaluation.report.confusion)) == 4
    with pytest.raises(NothingToScore):
        evaluate(tiny_model(labels=IEMOCAP_LABELS), split, device="cpu")


def test_predictions_are_per_utterance_and_serialise(split):
    evaluation = evaluate(tiny_model(), split, device="cpu", batch_size=2)
    first, last = evaluation.predictions[0], evaluation.predictions[-1]
    assert (first.dialogue, first.index, first.key, first.gold) == ("dia0", 0, "dia0_utt0", "joy")
    assert (last.dialogue, last.index, last.key) == ("dia1", 2, "dia1_utt2")
    assert first.fused == first.teacher and first.audio is None and first.alpha is None  # no clips: text only
    data = json.loads(json.dumps(evaluation.to_dict()))
    assert data["report"]["split"] == "meld:test" and data["report"]["modalities"] == ["text"]
    assert len(data["predictions"]) == 6
    per_dialogue = evaluation.dialogue_predictions()
    assert [len(p.utterances) for p in per_dialogue] == [3, 3]
    assert per_dialogue[1].utterances[0].fused == evaluation.predictions[3].fused
    again = evaluate(tiny_model(), split, device="cpu", batch_size=8)  # batching does not change the answer
    assert [p.predicted for p in again.predictions] == [p.predicted for p in evaluation.predictions]
    assert torch.allclose(torch.tensor([p.fused for p in again.predictions]),
                          torch.tensor([p.fused for p in evaluation.predictions]), atol=1e-5)


def write_meld_csv(path, split):
    rows = ["Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime"]
    for d, dialogue in enumerate(split):
        for u, utterance in enumerate(dialogue):
            rows.append(f'{len(rows)},{utterance.text},{utterance.speaker},{utterance.label},neutral,{d},{u},1,1,'
                        f'"00:00:0{u},000","00:00:0{u},900"')  # fmt: skip
    path.write_text("\n".join(rows) + "\n")
    return path


def test_cli_writes_what_telme_evaluate_returns(split, tmp_path, capsys):
    bundle = save_bundle(tiny_model(seed=3), tmp_path / "bundle")
    csv_path = write_meld_csv(tmp_path / "test_sent_emo.csv", split)
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(csv_path), "--weights", str(bundle), "--device", "cpu",
                 "--json", str(out), "--quiet"]) == 0  # fmt: skip
    assert "weighted-F1" in capsys.readouterr().out
    written = json.loads(out.read_text())
    from telme.checkpoints import load_bundle

    direct = evaluate(load_bundle(bundle), read_split(csv_path), device="cpu").to_dict()
    assert written == json.loads(json.dumps(direct))


def test_cli_loads_official_weights_with_the_splits_dataset(tmp_path, monkeypatch, capsys):
    """An IEMOCAP split (by its header, or --dataset) gets an official folder read with IEMOCAP's labels."""
    import telme.checkpoints

    asked = []
    monkeypatch.setattr(telme.checkpoints, "load_model",
                        lambda spec, dataset="meld": asked.append(dataset) or tiny_model(labels=IEMOCAP_LABELS))
    csv_path = tmp_path / "iemocap_dev.csv"
    csv_path.write_text("Utterance,Speaker,Dialogue_ID,Start_Time,End_Time,Emotion\n"
                        "Hi.,Ses01F_impro01_F000,Ses01F_impro01,0.5,1.0,neu\n"
                        "Oh.,Ses01F_impro01_M000,Ses01F_impro01,1.5,2.0,sad\n")  # fmt: skip
    assert main(["evaluate", "--data", str(csv_path), "--weights", "official", "--quiet", "--device", "cpu"]) == 0
    assert main(["evaluate", "--data", str(csv_path), "--weights", "official", "--dataset", "iemocap", "--quiet"]) == 0
    assert asked == ["iemocap", "iemocap"]
    assert "2 utterances" in capsys.readouterr().out


@pytest.mark.slow
def test_app_and_cli_give_identical_predictions_on_meld_dev(data_dir, tmp_path):
    """The studio's error-inspection handler and `telme evaluate` on MELD dev with TelME-mini: the same
    label and fused probabilities for every utterance, the same report, the score on the model card."""
    from studio import launch
    from studio.handlers import Studio

    bundle = REPO / "checkpoints" / "telme-mini-meld"
    dev = data_dir / "meld" / "dev_sent_emo.csv"
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(dev), "--weights", str(bundle), "--device", "cpu", "--json", str(out),
                 "--quiet"]) == 0  # fmt: skip
    cli = json.loads(out.read_text())
    services = launch.load_services(launch.parse_args(["--weights", str(bundle), "--device", "cpu"]))
    split = Studio(services).evaluate_split(str(dev), None, 0, progress=lambda *args, **kwargs: None)[0]
    app = [u for prediction in split.predictions for u in prediction.utterances]
    assert len(app) == len(cli["predictions"]) == 1109
    assert [u.label for u in app] == [p["predicted"] for p in cli["predictions"]]
    assert [u.fused for u in app] == [p["fused"] for p in cli["predictions"]]
    assert json.loads(json.dumps(split.report.to_dict())) == cli["report"]
    recorded = json.loads((bundle / "eval_dev.json").read_text())  # written by `telme card` at export
    for score in ("weighted_f1", "macro_f1", "accuracy"):
        assert cli["report"][score] == pytest.approx(recorded[score], abs=0.05)
