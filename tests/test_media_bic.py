"""The BIC merge rule of telme.media.bic on constructed frames and voice distances (no models)."""

import numpy as np
import pytest

from telme.media.bic import BIC, JOINT, BicSettings, Gaussian, bic_cluster, merge_ratio, span_frames
from telme.media.speakers import joint_turns

DIMS = 19


def voice_frames(pattern, frames_per_span=150, seed=0):
    """MFCC-like frames per span: each voice its own mean and covariance, spans drawn from them."""
    rng = np.random.default_rng(seed)
    voices = max(pattern) + 1
    means = 3.0 * rng.normal(size=(voices, DIMS))
    mixing = [np.eye(DIMS) + 0.3 * rng.normal(size=(DIMS, DIMS)) for _ in range(voices)]
    return [rng.normal(size=(frames_per_span, DIMS)) @ mixing[v] + means[v] for v in pattern]


def same_voice_distance(pattern, value):
    """(n, n) voice distances in thresholds: `value` between different voices, 0.5 within one."""
    pattern = np.asarray(pattern)
    distance = np.where(pattern[:, None] == pattern[None, :], 0.5, value)
    np.fill_diagonal(distance, 0.0)
    return distance


def test_gaussian_statistics_add_up_to_the_covariance_of_the_pooled_frames():
    a, b = voice_frames([0, 1], 40)
    pooled = Gaussian.of(a) + Gaussian.of(b)
    expected = np.linalg.slogdet(np.cov(np.vstack([a, b]).T) + 0.1 * np.eye(DIMS))[1]
    assert pooled.count == 80 and pooled.log_det(0.1) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("pattern", [[0, 0, 0, 0], [0, 1, 0, 1, 0, 1], [0, 1, 2, 0, 2, 1], [0, 1, 2, 3, 1, 0, 3, 2]])
def test_the_frames_alone_find_the_speakers(pattern):
    labels, margin = bic_cluster(voice_frames(pattern), settings=BIC)
    assert labels == pattern  # each group keeps its first span's place, so labels read as the pattern
    assert margin is not None and margin > 0


def test_one_voice_with_short_replies_stays_one_speaker():
    frames = voice_frames([0] * 5, 150)
    frames[2] = frames[2][:30]  # a 0.3 s "Wow."
    labels, _ = bic_cluster(frames, settings=BIC)
    assert labels == [0] * 5


def test_a_given_count_is_reached_whatever_the_scores_say():
    frames = voice_frames([0, 1, 0, 1])
    assert bic_cluster(frames, num_speakers=1)[0] == [0] * 4
    labels, margin = bic_cluster(frames, num_speakers=3)
    assert len(set(labels)) == 3 and margin is None


def test_voice_distances_split_what_the_frames_cannot_tell_apart():
    pattern = [0, 1, 0, 1]
    frames = voice_frames([0, 0, 0, 0], seed=1)  # one spectral distribution for both voices
    assert len(set(bic_cluster(frames, settings=JOINT)[0])) == 1  # no distance given: one speaker
    far = same_voice_distance(pattern, 3.0)  # voices three thresholds apart
    assert bic_cluster(frames, settings=JOINT, distance=far)[0] == pattern
    no_weight = BicSettings(penalty=JOINT.penalty, shrink=JOINT.shrink, voice_weight=0.0, clear_margin=0.1)
    assert len(set(bic_cluster(frames, settings=no_weight, distance=far)[0])) == 1


def test_the_margin_is_lambda_s_distance_to_the_nearest_score():
    a, b = voice_frames([0, 1], 120, seed=2)
    ratio = merge_ratio(Gaussian.of(a), Gaussian.of(b), BIC.shrink)
    settings = BicSettings(penalty=ratio + 0.25, shrink=BIC.shrink, voice_weight=0.0, clear_margin=0.1)
    labels, margin = bic_cluster([a, b], settings=settings)  # the one merge is made
    assert labels == [0, 0] and margin == pytest.approx(0.25)
    settings = BicSettings(penalty=ratio - 0.25, shrink=BIC.shrink, voice_weight=0.0, clear_margin=0.1)
    labels, margin = bic_cluster([a, b], settings=settings)  # refused
    assert labels == [0, 1] and margin == pytest.approx(0.25)


def test_nine_speakers_at_most():
    pattern = list(range(11)) * 2
    labels, _ = bic_cluster(voice_frames(pattern, 80), settings=BIC, max_speakers=9)
    assert len(set(labels)) == 9


def test_joint_turns_number_speakers_by_appearance_and_say_how_sure():
    pattern = [1, 0, 1, 0]  # labels come back as 0, 1, 0, 1
    turns = joint_turns(voice_frames(pattern, seed=3), same_voice_distance(pattern, 2.0))
    assert turns.labels == [0, 1, 0, 1]
    assert turns.estimate.estimated and turns.estimate.count == 2
    assert "2 speakers found" in turns.estimate.status()
    given = joint_turns(voice_frames(pattern, seed=3), same_voice_distance(pattern, 2.0), num_speakers=2)
    assert not given.estimate.estimated and given.estimate.status() == "2 speakers (as given)"


def test_span_frames_keep_the_loud_frames_of_each_span():
    rate = 16000
    t = np.arange(2 * rate) / rate
    wave = np.where(t < 1.0, 0.1 * np.sin(2 * np.pi * 220 * t), 0.0).astype(np.float32)  # 1 s tone, 1 s silence
    tone, both, tiny = span_frames(wave, [(0.0, 1.0), (0.0, 2.0), (0.5, 0.51)])
    assert tone.shape[1] == DIMS and both.shape[1] == DIMS
    assert abs(len(both) - len(tone)) <= 3  # the silent second is left out
    assert len(tiny) >= 1  # a span shorter than one frame still gives frames
