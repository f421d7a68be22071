"""Audio and video features: official golden parity, frame sampling, >30 s zeroing, padding."""

import numpy as np
import pytest
import torch

from telme.features.audio import LONG_UTTERANCE_SAMPLES, collate_audio, prepare_audio
from telme.features.profiles import CLEAN, OFFICIAL, PreprocessProfile, too_long
from telme.media.rates import LIBROSA_RATE
from telme.features.video import prepare_frames, sample_frame_indices

CLIPS = ("utt_long.mp4", "utt_short.mp4")


@pytest.fixture
def golden_media(reference_dir):
    folder = reference_dir / "golden_media"
    return folder, torch.load(folder / "official_media_inputs.pt", weights_only=True)


@pytest.mark.parametrize("clip", CLIPS)
def test_official_audio_matches_golden(golden_media, clip):
    from telme.media.decode import decode_audio

    folder, golden = golden_media
    values = prepare_audio(decode_audio(folder / clip, OFFICIAL.audio_sample_rate), OFFICIAL)
    expected = golden[clip]["audio_values"]
    assert values.shape == expected.shape and values.dtype == torch.float32
    correlation = torch.corrcoef(torch.stack([values, expected]))[0, 1].item()
    assert correlation >= 0.9999


@pytest.mark.parametrize("clip", CLIPS)
def test_official_frames_match_golden(golden_media, clip):
    from telme.media.decode import decode_frames, probe

    folder, golden = golden_media
    indices = sample_frame_indices(probe(folder / clip).frame_count)
    pixels = prepare_frames(decode_frames(folder / clip, indices=indices), OFFICIAL)
    expected = golden[clip]["pixel_values"]
    assert pixels.shape == expected.shape == (8, 3, 224, 224)
    assert (pixels - expected).abs().max().item() <= 0.05


@pytest.mark.parametrize(
    ("frame_count", "expected"),
    [
        (0, []),
        (1, [0] * 8),
        (5, [0, 1, 2, 3, 4, 4, 4, 4]),
        (7, [0, 1, 2, 3, 4, 5, 6, 6]),
        (8, list(range(8))),
        (15, list(range(8))),  # step 1: the first eight
        (16, [1, 3, 5, 7, 9, 11, 13, 15]),
        (99, [11, 23, 35, 47, 59, 71, 83, 95]),  # step 12: 1-based 12, 24, ..., 96
    ],
)
def test_sample_frame_indices(frame_count, expected):
    assert sample_frame_indices(frame_count) == expected


def _striped_frames(count, height=48, width=64):
    """Frames whose red channel is 255 and blue 0, so channel order shows."""
    frames = np.zeros((count, height, width, 3), dtype=np.uint8)
    frames[..., 0] = 255
    frames[..., 1] = np.arange(count, dtype=np.uint8)[:, None, None] * 20
    return frames


def test_frame_order_and_padding_to_eight():
    frames = _striped_frames(3)
    rgb, bgr = prepare_frames(frames, CLEAN), prepare_frames(frames, OFFICIAL)
    assert rgb.shape == bgr.shape == (8, 3, 224, 224) and rgb.dtype == torch.float32
    red_at_0 = (1.0 - 0.485) / 0.229
    assert rgb[0, 0].mean().item() == pytest.approx(red_at_0, abs=1e-5)
    assert bgr[0, 2].mean().item() == pytest.approx((1.0 - 0.406) / 0.225, abs=1e-5)
    assert bgr[0, 0].mean().item() == pytest.approx(-0.485 / 0.229, abs=1e-5)
    assert torch.equal(rgb[2], rgb[7]) and not torch.equal(rgb[1], rgb[2])


def test_portrait_frames_are_cropped_square():
    frames = np.zeros((8, 300, 200, 3), dtype=np.uint8)
    assert prepare_frames(frames, OFFICIAL).shape == (8, 3, 224, 224)
    with pytest.raises(ValueError):
        prepare_frames(np.zeros((0, 10, 10, 3), dtype=np.uint8), OFFICIAL)


def test_long_utterances_get_zero_media_in_the_official_profile():
    rate = OFFICIAL.audio_sample_rate
    assert rate == LIBROSA_RATE  # the official code's librosa default, labelled 16 kHz
    wave = np.random.default_rng(0).standard_normal(31 * rate).astype(np.float32)
    assert too_long(31.0, OFFICIAL) and not too_long(29.0, OFFICIAL) and not too_long(31.0, CLEAN)
    zeros = prepare_audio(wave, OFFICIAL)
    assert zeros.shape == (LONG_UTTERANCE_SAMPLES,) and not zeros.any()
    assert not prepare_frames(_striped_frames(8), OFFICIAL, duration=31.0).any()
    assert prepare_frames(_striped_frames(8), OFFICIAL, duration=29.0).any()


def test_audio_normalised_then_last_samples_kept():
    wave = np.linspace(-1, 3, 500_000, dtype=np.float32)
    values = prepare_audio(wave, OFFICIAL)
    assert values.shape == (400_000,)
    whole = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
    assert np.allclose(values.numpy(), whole[-400_000:], atol=1e-5)
    first = PreprocessProfile.from_dict(
        {**CLEAN.to_dict(), "audio_keep": "first", "audio_max_samples": 10}
    )
    assert np.allclose(prepare_audio(wave, first).numpy(), whole[:10], atol=1e-5)
    with pytest.raises(ValueError):
        prepare_audio(np.zeros(0, dtype=np.float32), OFFICIAL)


def test_collate_audio_pads_with_zeros():
    left = collate_audio([torch.ones(3), torch.full((1,), 2.0)], pad="left")
    assert left.tolist() == [[1, 1, 1], [0, 0, 2]]
    right = collate_audio([torch.ones(3), torch.full((1,), 2.0)], pad="right")
    assert right.tolist() == [[1, 1, 1], [2, 0, 0]]
    with pytest.raises(ValueError):
        collate_audio([torch.ones(1)], pad="middle")


def test_profiles_round_trip_through_dicts():
    for profile in (OFFICIAL, CLEAN):
        assert PreprocessProfile.from_dict(profile.to_dict()) == profile
    with pytest.raises(ValueError):
        PreprocessProfile.from_dict({**OFFICIAL.to_dict(), "colour": "sepia"})
