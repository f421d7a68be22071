"""Audio features: an utterance's waveform -> the audio student's input values.

Official profile (TelME f22fc9f): mono at 22,050 Hz (librosa's default rate, which the official
code then hands to the data2vec feature extractor labelled as 16 kHz; the official weights were
trained on that), normalised to zero mean and unit variance over the whole utterance, the LAST
400,000 samples kept, batches LEFT-padded with zeros and no attention mask. Utterances longer
than 30 s get 1,412 zeros instead (the official code's placeholder).

Clean profile: 16 kHz, the same normalisation, the last `audio_max_samples` kept, batches
RIGHT-padded so the first frame (which the audio student pools) is always real audio.
"""

import numpy as np
import torch

from telme.features.profiles import too_long

NORM_EPSILON = 1e-7  # Wav2Vec2FeatureExtractor's variance floor
LONG_UTTERANCE_SAMPLES = 1412  # zeros the official code feeds for an utterance over 30 s


def normalize(wave):
    """(x - mean) / sqrt(var + 1e-7) over the whole clip, in float32."""
    wave = np.asarray(wave, dtype=np.float32)
    return (wave - wave.mean()) / np.sqrt(wave.var() + NORM_EPSILON)


def prepare_audio(wave, profile):
    """Mono float waveform at `profile.audio_sample_rate` -> input values (T,) float32 tensor.

    Raises ValueError for an empty waveform; an utterance over the profile's maximum duration
    gives the official zero placeholder (`telme.features.profiles.too_long` says when).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"expected a non-empty mono waveform, got shape {wave.shape}")
    if too_long(wave.size / profile.audio_sample_rate, profile):
        return torch.zeros(LONG_UTTERANCE_SAMPLES)  # (1412,)
    values = normalize(wave) if profile.audio_normalize else wave
    keep = profile.audio_max_samples
    values = values[-keep:] if profile.audio_keep == "last" else values[:keep]
    return torch.from_numpy(np.ascontiguousarray(values))  # (T,)


def collate_audio(values_list, pad="left"):
    """Stack input values of different lengths into (B, longest) float32, padding with zeros."""
    if not values_list:
        raise ValueError("nothing to collate")
    if pad not in ("left", "right"):
        raise ValueError(f"pad must be 'left' or 'right', not {pad!r}")
    longest = max(len(values) for values in values_list)
    batch = torch.zeros((len(values_list), longest), dtype=torch.float32)  # (B, T)
    for row, values in enumerate(values_list):
        values = torch.as_tensor(values, dtype=torch.float32)
        if pad == "left":
            batch[row, longest - len(values):] = values
        else:
            batch[row, : len(values)] = values
    return batch
