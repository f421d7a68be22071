"""Where speech is, and a voice description of each stretch of it: arrays in, arrays out.

- `speech_regions(wave)`: Silero VAD (the copy inside faster-whisper, weights in its wheel) with a
  short minimum silence, so the pauses between turns appear as gaps between regions. Pauses are
  read from these regions, never from Whisper's word times (they stretch into silence).
- `VoiceFeatures`: per region a Resemblyzer d-vector (weights in its wheel; short regions tiled
  to its 1.6 s window), the median pitch (librosa.yin) and the mean MFCC envelope of its voiced
  frames. `region_distances` combines them into one distance matrix for clustering
  (telme.media.speakers).
"""

import warnings
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000  # Hz, what the VAD and the voice encoder listen at
VAD_THRESHOLD = 0.5  # Silero speech probability; its documented default
MIN_SILENCE = 0.15  # s, shorter gaps stay inside a region (turn pauses are 0.3 s and more)
SPEECH_PAD = 0.03  # s, added to each side of a region (kept under half of MIN_SILENCE)
MIN_SPEECH = 0.08  # s, shorter blips are not speech
WINDOW = 1.6  # s, Resemblyzer's partial-utterance window
WINDOWS_PER_SECOND = 1.3  # Resemblyzer's default overlap of partial windows
TARGET_RMS = 0.05  # every region is scaled to this loudness before embedding
FRAME = 0.025  # s, pitch and MFCC frame
HOP = 0.010  # s
PITCH_RANGE = (60.0, 500.0)  # Hz, searched by yin
MFCC_COUNT = 20  # coefficients; c0 (loudness) is dropped


def speech_regions(wave, min_silence=MIN_SILENCE, pad=SPEECH_PAD, threshold=VAD_THRESHOLD):
    """(start, end) in seconds of each stretch of speech in a 16 kHz wave, in time order."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=threshold, min_silence_duration_ms=int(min_silence * 1000),
                         speech_pad_ms=int(pad * 1000), min_speech_duration_ms=int(MIN_SPEECH * 1000))  # fmt: skip
    stamps = get_speech_timestamps(np.asarray(wave, np.float32), options, sampling_rate=SAMPLE_RATE)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def region_audio(wave, start, end):
    """The samples of one region, scaled to TARGET_RMS (voices differ, not their loudness)."""
    piece = np.asarray(wave[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], np.float32)
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
    envelope: np.ndarray  # (n, MFCC_COUNT - 1) mean MFCC over voiced frames, c0 dropped
    durations: np.ndarray  # (n,) s
    weights: np.ndarray  # (n,) number of Resemblyzer windows behind each d-vector


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
        pieces = [region_audio(wave, start, end) for start, end in spans]
        dvectors, weights = self.dvectors(pieces)
        pitch, envelope = zip(*(pitch_and_envelope(piece) for piece in pieces), strict=True)
        return RegionVoices(dvectors=dvectors, log_pitch=np.array(pitch), envelope=np.stack(envelope),
                            durations=np.array([end - start for start, end in spans]),
                            weights=weights)  # fmt: skip

    def window_mels(self, piece):
        """Mel spectrograms of the 1.6 s windows covering `piece` (tiled to one window)."""
        from resemblyzer import audio

        piece = tiled(piece, int(WINDOW * SAMPLE_RATE))
        wave_slices, mel_slices = self.encoder.compute_partial_slices(len(piece), WINDOWS_PER_SECOND, 0.75)
        if wave_slices[-1].stop >= len(piece):
            piece = np.pad(piece, (0, wave_slices[-1].stop - len(piece)))
        mel = audio.wav_to_mel_spectrogram(piece)
        return [mel[s] for s in mel_slices]

    def dvectors(self, pieces):
        """Unit-norm mean d-vector per piece (n, 256) and the window count behind each, one forward."""
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
        counts = np.bincount(owners, minlength=len(pieces)).astype(np.float64)
        return sums / np.linalg.norm(sums, axis=1, keepdims=True), counts


def pitch_and_envelope(piece):
    """(log median F0 in Hz, mean MFCC[1:]) over the voiced, loud frames of a region."""
    import librosa

    frame, hop = int(FRAME * SAMPLE_RATE), int(HOP * SAMPLE_RATE)
    piece = tiled(piece, 4 * frame)
    f0 = librosa.yin(piece, fmin=PITCH_RANGE[0], fmax=PITCH_RANGE[1], sr=SAMPLE_RATE,
                     frame_length=4 * frame, hop_length=hop)  # fmt: skip
    mfcc = librosa.feature.mfcc(y=piece, sr=SAMPLE_RATE, n_mfcc=MFCC_COUNT, n_fft=2 * frame,
                                win_length=frame, hop_length=hop)  # (MFCC_COUNT, frames)
    rms = librosa.feature.rms(y=piece, frame_length=2 * frame, hop_length=hop)[0]
    count = min(len(f0), mfcc.shape[1], len(rms))
    voiced = (rms[:count] > 0.3 * rms[:count].max()) & (f0[:count] < PITCH_RANGE[1] * 0.95)
    if voiced.sum() < 3:
        voiced = np.ones(count, bool)
    return float(np.log(np.median(f0[:count][voiced]))), mfcc[1:, :count][:, voiced].mean(axis=1)


DVECTOR_WEIGHT = 1.0  # the distance is 1 - cos(d-vectors) ...
PITCH_WEIGHT = 1.0  # ... + this x |difference of log F0| ...
ENVELOPE_WEIGHT = 0.0  # ... + this x the envelope distance, in units of the clip's spread


def region_distances(voices, pitch_weight=PITCH_WEIGHT, envelope_weight=ENVELOPE_WEIGHT):
    """(n, n) distances between regions' voices, 0 on the diagonal."""
    cosine = np.clip(1.0 - voices.dvectors @ voices.dvectors.T, 0.0, 2.0)
    pitch = np.abs(voices.log_pitch[:, None] - voices.log_pitch[None, :])
    distance = DVECTOR_WEIGHT * cosine + pitch_weight * pitch
    if envelope_weight:
        envelope = voices.envelope - voices.envelope.mean(axis=0)
        scale = np.sqrt((envelope**2).sum(axis=1).mean()) + 1e-9
        gaps = np.linalg.norm(envelope[:, None] - envelope[None, :], axis=2) / scale
        distance = distance + envelope_weight * gaps
    np.fill_diagonal(distance, 0.0)
    return distance
