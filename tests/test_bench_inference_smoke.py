"""scripts/bench_inference.py keeps running: its main on a tiny bundle and a tiny MELD file, and
its full-size section's code path on a tiny random model (no timing asserted)."""

import csv
import json

import pytest
import torch

from telme.checkpoints import save_bundle
from telme.checkpoints.tiny import tiny_model

from conftest import load_script

LONG_DIALOGUE = 11  # utterances, >= the script's MIN_EDIT_UTTERANCES


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_inference")


def write_meld(path, sizes):
    columns = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
               "Season", "Episode", "StartTime", "EndTime"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for dialogue, size in enumerate(sizes):
            for turn in range(size):
                writer.writerow([turn, f"line {turn} of scene {dialogue}, okay?", "AB"[turn % 2], "neutral",
                                 "neutral", dialogue, turn, 1, 1, f"00:00:{turn:02d},000", f"00:00:{turn:02d},900"])
    return path


def test_main_measures_throughput_and_edit_recompute(bench, tmp_path, capsys):
    bundle = save_bundle(tiny_model(parts=("teacher",)), tmp_path / "bundle")
    meld = write_meld(tmp_path / "dev_sent_emo.csv", [3, LONG_DIALOGUE])
    out = tmp_path / "bench.json"
    results = bench.main(["--device", "cpu", "--weights", str(bundle), "--meld-dev", str(meld),
                          "--dialogues", "2", "--repeat", "1", "--no-full-size", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    throughput = results["throughput"]
    assert throughput["batched"]["utterances"] == 3 + LONG_DIALOGUE
    assert throughput["single"]["teacher_forwards"] == 3 + LONG_DIALOGUE  # one forward per utterance
    assert throughput["batched"]["teacher_forwards"] == 1 + 2  # ceil(3 / 8) + ceil(11 / 8)
    rows = {run["run"]: run["teacher_rows"] for run in results["edits"]["runs"]}
    assert rows == {"cold": LONG_DIALOGUE, "edit last": 1, "edit first": LONG_DIALOGUE}  # tiny: 511 tokens
    assert "full_size" not in results
    printed = capsys.readouterr().out
    assert "device=cpu" in printed and "edit last" in printed


def test_missing_meld_file_skips_with_a_note(bench, tmp_path):
    results = bench.main(["--device", "cpu", "--meld-dev", str(tmp_path / "absent.csv"), "--no-full-size"])
    assert "throughput" not in results and "not found" in results["notes"][0]


def test_full_size_section_runs_every_stage(bench):
    torch.manual_seed(0)
    section = bench.bench_full_size(tiny_model(), torch.device("cpu"), count=3)
    assert set(section["stages_s"]) == {"teacher", "audio", "video", "fusion", "total"}
    assert section["stats"]["audio_rows"] == section["stats"]["video_rows"] == 3
    assert "RANDOM" in section["warning"]


def test_compare_precision_reports_both_paths_ratios_and_changes(bench):
    from telme.inference import cpu_supports_bf16

    torch.manual_seed(0)
    section = bench.bench_compare_precision(tiny_model(), torch.device("cpu"), count=3)
    if not cpu_supports_bf16():
        assert "skipped" in section
        return
    assert (section["before"]["precision"], section["after"]["precision"]) == ("fp32", "bf16")
    assert section["before"]["batch_sizes"]["video"] == 8 and section["after"]["batch_sizes"]["video"] == 2
    assert set(section["ratios"]) == {"teacher", "audio", "video", "fusion", "total"}
    assert 0 < section["max_prob_change"]["fused"] < 0.05  # bf16 rounds, a little
    assert section["after"]["vm_hwm_mb"] > 0


def test_golden_fidelity_on_cpu(bench, reference_dir):
    result = bench.golden_fidelity(reference_dir / "golden", torch.device("cpu"))
    assert result["fp32_max_abs_diff_vs_official"] <= 1e-5
    assert len(result["outputs_checked"]) == 7
