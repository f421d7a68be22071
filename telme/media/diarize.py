"""Where speech is, and a voice description of each stretch of it: arrays in, arrays out.

- `speech_regions(wave)`: Silero VAD (the copy inside faster-whisper, weights in its wheel) with a
  short minimum silence, so the pauses between turns appear as gaps between regions. Pauses are
  read from these regions, never from Whisper's word times (they stretch into silence).
- `VoiceFeatures`: per region a Resemblyzer d-vector (weights in its wheel; short regions tiled
  to its 1.6 s window, every region scaled to one loudness) and the median pitch of its voiced
  frames (librosa.yin).
- `region_distances`: 1 - cosine of the d-vectors + |difference of log pitch|. The d-vectors
  of all voices lie in a narrow cone (cosine ~0.9 to their mean), so raw cosines between
  different voices of one register are as small as between two stretches of one voice.
  Subtracting a background mean d-vector first (mean normalisation, standard in speaker
  verification) spreads them: on the tune set the same/different-voice AUC of the distance goes
  from 0.88 to 0.93 with a mean that never saw the test clip's voice variants. The background
  (telme/resources/voice_background.npy) is the mean over the tune set's espeak-ng voices, so it
  is used only for clips whose voices lie in its cone (`in_domain`); others get raw cosines.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from telme.media.rates import SPEECH_RATE  # Hz, what the VAD and the voice encoder listen at

VAD_THRESHOLD = 0.5  # Silero speech probability; its documented default
MIN_SILENCE = 0.15  # s, shorter gaps stay inside a region (turn pauses are 0.3 s and more)
SPEECH_PAD = 0.0  # s, added to each side of a region: none, Silero's edges already reach past
# the speech (on tune, 30 ms pads cost 1 point of DER, all false alarm)
EMBED_PAD = 0.03  # s, but voices are embedded with this much context each side (as calibrated)
MIN_SPEECH = 0.08  # s, shorter blips are not speech
WINDOW = 1.6  # s, Resemblyzer's partial-utterance window
WINDOWS_PER_SECOND = 1.3  # Resemblyzer's default overlap of partial windows
TARGET_RMS = 0.05  # every region is scaled to this loudness before embedding
FRAME = 0.025  # s, pitch frame
HOP = 0.010  # s
PITCH_RANGE = (60.0, 500.0)  # Hz, searched by yin


def speech_regions(wave, min_silence=MIN_SILENCE, pad=SPEECH_PAD, threshold=VAD_THRESHOLD):
    """(start, end) in seconds of each stretch of speech in a 16 kHz wave, in time order."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=threshold, min_silence_duration_ms=int(min_silence * 1000),
                         speech_pad_ms=int(pad * 1000), min_speech_duration_ms=int(MIN_SPEECH * 1000))  # fmt: skip
    stamps = get_speech_timestamps(np.asarray(wave, np.float32), options, sampling_rate=SPEECH_RATE)
    return [(s["start"] / SPEECH_RATE, s["end"] / SPEECH_RATE) for s in stamps]


def region_audio(wave, start, end):
    """The samples of one region, scaled to TARGET_RMS (voices differ, not their loudness)."""
    piece = np.asarray(wave[int(start * SPEECH_RATE) : int(end * SPEECH_RATE)], np.float32)
    rms = float(np.sqrt(np.mean(piece.astype(np.float64) ** 2))) if piece.size else 0.0
    return piece * (TARGET_RMS / rms) if rms > 1e-6 else piece


def tiled(piece, minimum):
    """`piece` repeated until it lasts `minimum` samples (a short reply fills a whole window)."""
    if 0 < len(piece) < minimum:
        piece = np.tile(piece, int(np.ceil(minimum / len(piece))))[:minimum]
    return piece


@dataclass(frozen=True)
class RegionVoices:
    """Voice features of n regions, row i for region i."""

    dvectors: np.ndarray  # (n, 256) unit-norm Resemblyzer embeddings
    log_pitch: np.ndarray  # (n,) log of the median F0 in Hz over voiced frames
    durations: np.ndarray  # (n,) s


class VoiceFeatures:
    """`features(wave_16k, spans) -> RegionVoices`; the encoder loads on first use."""

    def __init__(self, device="cpu", torch_threads=None):
        self.device = device
        # None leaves torch's thread pool alone; 1 is much faster for this small LSTM on a busy
        # 2-core machine, but torch's setting is process-wide (set and restored per call)
        self.torch_threads = torch_threads
        self._encoder = None

    @property
    def encoder(self):
        if self._encoder is None:
            with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
                warnings.simplefilter("ignore", UserWarning)
                from resemblyzer import VoiceEncoder

            self._encoder = VoiceEncoder(device=self.device, verbose=False)
        return self._encoder

    def __call__(self, wave, spans):
        duration = len(wave) / SPEECH_RATE
        pieces = [region_audio(wave, max(start - EMBED_PAD, 0.0), min(end + EMBED_PAD, duration))
                  for start, end in spans]  # fmt: skip
        return RegionVoices(dvectors=self.dvectors(pieces),
                            log_pitch=np.array([log_pitch(piece) for piece in pieces]),
                            durations=np.array([end - start for start, end in spans]))  # fmt: skip

    def window_mels(self, piece):
        """Mel spectrograms of the 1.6 s windows covering `piece` (tiled to one window)."""
        from resemblyzer import audio

        piece = tiled(piece, int(WINDOW * SPEECH_RATE))
        wave_slices, mel_slices = self.encoder.compute_partial_slices(len(piece), WINDOWS_PER_SECOND, 0.75)
        if wave_slices[-1].stop >= len(piece):
            piece = np.pad(piece, (0, wave_slices[-1].stop - len(piece)))
        mel = audio.wav_to_mel_spectrogram(piece)
        return [mel[s] for s in mel_slices]

    def dvectors(self, pieces):
        """Unit-norm mean d-vector per piece, (n, 256), from one forward over all their windows."""
        import torch

        mels, owners = [], []
        for index, piece in enumerate(pieces):
            windows = self.window_mels(piece)
            mels += windows
            owners += [index] * len(windows)
        threads = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads or threads)
        try:
            with torch.no_grad():
                batch = torch.from_numpy(np.stack(mels)).to(self.device)  # (windows, 160, 40)
                partials = self.encoder(batch).cpu().numpy()  # (windows, 256)
        finally:
            torch.set_num_threads(threads)
        owners = np.array(owners)
        sums = np.stack([partials[owners == index].mean(axis=0) for index in range(len(pieces))])
        return sums / np.linalg.norm(sums, axis=1, keepdims=True)  # (n, 256)


def log_pitch(piece):
    """Log of the median F0 (Hz) over the loud frames of a region (yin)."""
    import librosa

    frame, hop = int(FRAME * SPEECH_RATE), int(HOP * SPEECH_RATE)
    piece = tiled(piece, 4 * frame)
    f0 = librosa.yin(piece, fmin=PITCH_RANGE[0], fmax=PITCH_RANGE[1], sr=SPEECH_RATE,
                     frame_length=4 * frame, hop_length=hop)  # fmt: skip
    rms = librosa.feature.rms(y=piece, frame_length=2 * frame, hop_length=hop)[0]
    count = min(len(f0), len(rms))
    voiced = (rms[:count] > 0.3 * rms[:count].max()) & (f0[:count] < PITCH_RANGE[1] * 0.95)
    return float(np.log(np.median(f0[:count][voiced] if voiced.sum() >= 3 else f0)))


BACKGROUND_FILE = "voice_background.npy"  # in telme/resources
PITCH_WEIGHT = 1.0  # the distance is (1 - cos of d-vectors) + this x |difference of log F0|


def load_background(path=None):
    """The background mean d-vector (256,) shipped in telme/resources (scripts/voice_background.py)."""
    from pathlib import Path

    source = path or Path(__file__).resolve().parents[1] / "resources" / BACKGROUND_FILE
    return np.load(source).astype(np.float64)


def in_domain(voices, background, match):
    """Whether the clip's voices lie in the background's cone (cosine of the means >= `match`)."""
    mean = voices.dvectors.mean(axis=0)
    return float(mean @ background / (np.linalg.norm(mean) * np.linalg.norm(background))) >= match


def region_distances(voices, background=None, pitch_weight=PITCH_WEIGHT, short_weight=0.0):
    """(n, n) distances between regions' voices, 0 on the diagonal.

    background: a mean d-vector to subtract before the cosine (mean normalisation, as speaker
    verification scores against an in-domain background), or None for the raw cosine.
    short_weight: regions shorter than one Resemblyzer window give noisier voices, so a distance
    is divided by 1 + short_weight x (shortfall of both), shortfall = WINDOW / duration - 1 (0 for
    full windows, at most 4).
    """
    vectors = voices.dvectors if background is None else voices.dvectors - background
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    pitch = np.abs(voices.log_pitch[:, None] - voices.log_pitch[None, :])
    shortfall = np.clip(WINDOW / np.maximum(voices.durations, 1e-3) - 1.0, 0.0, 4.0)
    distance = (cosine + pitch_weight * pitch) / (1.0 + short_weight * (shortfall[:, None] + shortfall[None, :]))
    np.fill_diagonal(distance, 0.0)
    return distance
