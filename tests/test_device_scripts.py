"""scripts/device_prepare.sh and scripts/device_check.sh cannot rot: their pieces run here on CPU
(the clip decode and the Recognizer over it, the golden step, the option handling), and the whole
--cpu-dry-run runs as a slow test."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
FIXTURE = ROOT / "tests" / "fixtures" / "media"


@pytest.fixture(scope="module")
def steps():
    return load_script("device_steps")


def run(script, *args, env=None):
    return subprocess.run(["bash", str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("script", ["device_check.sh", "device_prepare.sh"])
def test_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(SCRIPTS / script)], capture_output=True).returncode == 0


def test_check_without_prepared_folder_says_what_to_run(tmp_path):
    result = run("device_check.sh", "--out", str(tmp_path / "out"), env={"DEVICE_DIR": str(tmp_path / "none")})
    assert result.returncode == 2 and "run scripts/device_prepare.sh first" in result.stderr
    assert run("device_check.sh", "--bogus").returncode == 2


def test_pre_decoded_clip_round_trips_and_feeds_the_recognizer(steps, tmp_path):
    out = tmp_path / "clip.npz"
    summary = steps.decode_clip(FIXTURE / "conversation.mp4", FIXTURE / "conversation.srt", out)
    dialogue, media = steps.read_clip(out)
    assert summary["utterances"] == len(dialogue) == len(media) >= 2
    assert dialogue[0].speaker == "Ross"
    for utterance, item in zip(dialogue, media):
        assert abs(len(item.audio) / steps.OFFICIAL_RATE - utterance.duration) < 0.05  # 22,050 Hz, its span
        assert item.frames.shape[0] == steps.FRAMES and item.frames.dtype.name == "uint8"
    result = steps.run_clip(out, "cpu", weights=None, tiny=True)
    assert result["cpu"]["precision"] == "fp32" and len(result["cpu"]["labels"]) == len(dialogue)


def test_golden_step_reports_parity_and_the_bf16_change(steps, reference_dir):
    from telme.inference import cpu_supports_bf16

    result = steps.main(["golden", "--golden", str(reference_dir / "golden"), "--device", "cpu"])
    assert result["fp32_max_abs_diff_vs_official"] <= 1e-5
    assert "fused_logits" in result["outputs_checked"]
    if cpu_supports_bf16():
        assert 0 < result["bf16_max_prob_change"]["fused"] <= 2e-2
    else:
        assert "skipped" in result["bf16_max_prob_change"]


@pytest.mark.slow
def test_cpu_dry_run_of_the_whole_check(reference_dir, tmp_path):
    device_dir = tmp_path / "device"
    env = {"DEVICE_DIR": str(device_dir), "TELME_SHARED": str(reference_dir.parent)}
    prepared = run("device_prepare.sh", env=env)
    assert prepared.returncode == 0, prepared.stderr
    assert (device_dir / "clip.npz").is_file()
    assert not (device_dir / "shared" / "reference" / "golden" / "save_model" / "total_fusion.bin").exists()
    out = tmp_path / "out"
    checked = run("device_check.sh", "--out", str(out), "--cpu-dry-run", env={"DEVICE_DIR": str(device_dir)})
    assert checked.returncode == 0, checked.stdout[-3000:]
    summary = (out / "summary.txt").read_text()
    for step in ("environment", "pytest_gpu", "golden", "bench", "bench_long", "clip"):
        assert f"{step}: exit 0" in summary, summary
    assert (out / "golden.json").is_file() and (out / "bench.json").is_file()
