"""telme.training.upper on a tiny random MPNet: cached lower states, LoRA upper layers, resume."""

import json

import pytest
import torch
from safetensors.torch import load_file

from telme.checkpoints.tiny import save_tiny_mpnet
from telme.labels import MELD_LABELS
from telme.training.pretrained import teacher_from_pretrained
from telme.training.text_data import TextExample
from telme.training.upper import BEST_FILE, CACHE_SHARD, UpperConfig, UpperTeacher, fit_upper, lower_states


class Interrupted(RuntimeError):
    pass


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_tiny_mpnet(tmp_path_factory.mktemp("base") / "tiny-mpnet")


def examples(tokenizer, count=40):
    prompts = ["<s1> oh my god! </s> now <s1> feels", "<s1> hello. <s2> yes, i am fine. </s> now <s2> feels",
               "<s2> no! </s> now <s2> feels", "<s1> i am fine. </s> now <s1> feels"]  # fmt: skip
    return [TextExample(f"x{i}", tuple(tokenizer.encode(prompts[i % 4]) + [tokenizer.mask_id]), i % len(MELD_LABELS))
            for i in range(count)]  # fmt: skip


def setup(folder, out, **overrides):
    torch.manual_seed(0)
    teacher, tokenizer = teacher_from_pretrained(folder, len(MELD_LABELS), speaker_init="distinct")
    data = examples(tokenizer)
    states = lower_states(teacher.text_model, data, 2, out / "cache", batch_size=8, bf16=False)
    model = UpperTeacher(teacher, frozen=2, rank=4, alpha=8.0)
    cfg = UpperConfig(output_dir=str(out), frozen=2, rank=4, alpha=8.0, epochs=2, batch_size=8, lr=1e-2,
                      eval_every=3, checkpoint_every=2, bf16=False, **overrides)  # fmt: skip
    labels = [e.label for e in data]
    return model, cfg, (states, labels), (states[:16], labels[:16])


def test_an_interrupted_run_resumes_to_the_same_weights(folder, tmp_path):
    model, cfg, train, dev = setup(folder, tmp_path / "straight")
    fit_upper(model, train, dev, cfg)
    straight = model.trainable_state()

    model, cfg, train, dev = setup(folder, tmp_path / "resumed")

    def killed_at_step_five(step, done, total):  # after step 5's update, before its checkpoint
        if (step, done) == ("train epoch 1", 5):
            raise Interrupted

    with pytest.raises(Interrupted):
        fit_upper(model, train, dev, cfg, progress=killed_at_step_five)
    assert json.loads((tmp_path / "resumed" / "state.json").read_text())["step"] == 4  # the last checkpoint
    model, cfg, train, dev = setup(folder, tmp_path / "resumed")  # a new process: fresh model, same folder
    state = fit_upper(model, train, dev, cfg)
    assert state["step"] == 10
    assert all(torch.equal(straight[name], tensor) for name, tensor in model.trainable_state().items())
    log = [json.loads(line) for line in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]  # step 5 ran again after the resume
    assert [row["step"] for row in state["history"]] == [3, 5, 6, 9, 10]  # every 3 steps and each epoch's end


def test_a_weight_average_is_selected_and_saved_and_survives_a_resume(folder, tmp_path):
    def killed_at_step_seven(step, done, total):
        if (step, done) == ("train epoch 2", 2):
            raise Interrupted

    model, cfg, train, dev = setup(folder, tmp_path / "straight", ema_decay=0.9)
    straight = fit_upper(model, train, dev, cfg)
    trained = model.trainable_state()
    best = load_file(str(tmp_path / "straight" / BEST_FILE))
    assert all("trained" in row for row in straight["history"])  # both scores recorded
    assert any(not torch.equal(best[name], trained[name]) for name in best)  # the average, not the last weights
    model, cfg, train, dev = setup(folder, tmp_path / "resumed", ema_decay=0.9)
    with pytest.raises(Interrupted):
        fit_upper(model, train, dev, cfg, progress=killed_at_step_seven)
    model, cfg, train, dev = setup(folder, tmp_path / "resumed", ema_decay=0.9)
    resumed = fit_upper(model, train, dev, cfg)
    assert resumed["history"] == [row | {"seconds": r["seconds"]} for row, r in zip(straight["history"], resumed["history"])]
    again = load_file(str(tmp_path / "resumed" / BEST_FILE))
    assert all(torch.equal(best[name], again[name]) for name in best)  # the average was checkpointed, not restarted


def test_training_moves_only_the_upper_layers_and_the_head(folder, tmp_path):
    model, cfg, train, dev = setup(folder, tmp_path)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    fit_upper(model, train, dev, cfg)
    changed = {name for name, tensor in model.state_dict().items() if not torch.equal(before[name], tensor)}
    assert changed and all(name.startswith(("teacher.W.", "teacher.classifier.", "teacher.text_model.encoder.layer.2."))
                           for name in changed)  # fmt: skip
    assert not any(name.endswith(".base.weight") for name in changed)  # adapters learn, base weights stay


def test_cached_states_are_reused_by_shard(folder, tmp_path):
    teacher, tokenizer = teacher_from_pretrained(folder, len(MELD_LABELS))
    data = examples(tokenizer, count=12)
    first = lower_states(teacher.text_model, data, 2, tmp_path, bf16=False)
    assert [s.shape[0] for s in first] == [len(e.input_ids) for e in data] and len(data) < CACHE_SHARD
    (tmp_path / "states-000.pt").touch()
    stamp = (tmp_path / "states-000.pt").stat().st_mtime_ns
    again = lower_states(teacher.text_model, data, 2, tmp_path, bf16=False)
    assert (tmp_path / "states-000.pt").stat().st_mtime_ns == stamp  # read back, not recomputed
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_the_card_history_shows_the_trained_weights_beside_the_average():
    from telme.training.upper_export import averaged_text, history_table

    plain = [{"step": 100, "epoch": 1, "weighted_f1": 50.0, "macro_f1": 30.0, "seconds": 600}]
    averaged = [plain[0] | {"trained": {"weighted_f1": 48.25, "macro_f1": 29.5}}]
    assert history_table(plain).splitlines()[-1] == "| 100 | 1 | 50.00 | 30.00 | 10 |" and not averaged_text({"history": plain})
    assert history_table(averaged).splitlines()[-1] == "| 100 | 1 | 50.00 | 30.00 | 48.25 | 29.50 | 10 |"
    assert "moving average" in averaged_text({"history": averaged})


def test_the_card_names_trained_and_frozen_layers_as_ranges():
    from telme.training.upper_export import layer_span

    assert layer_span([9, 7, 8, 10, 11]) == "7-11" and layer_span(range(7)) == "0-6" and layer_span([11]) == "11"
