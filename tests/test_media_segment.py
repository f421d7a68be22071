"""Cutting rules and speaker clustering as plain functions, on constructed words and voices (no models)."""

import numpy as np
import pytest

from telme.dialogue import Word, number_by_appearance
from telme.media import segment
from telme.media.speakers import (
    CENTRED,
    RAW,
    SpeakerEstimate,
    agglomerate,
    cluster_spans,
)


def words_at(*items):
    return [Word(text, start, end) for text, start, end in items]


def cut(words, regions, speakers=None, **rules):
    """(speaker, text) per utterance for words in the given speech regions."""
    speakers = speakers or [0] * len(words)
    placed = segment.place_words(words, regions)
    names = {label: f"S{label}" for label in set(speakers)}
    utterances = segment.make_utterances(words, speakers, names, regions, placed, **rules)
    return [(u.speaker, u.text) for u in utterances]


# "Hi there." and "Hello you" are spoken in two regions 0.6 s apart; Whisper's end time of
# "there." stretches over the whole silence, as it does on real clips.
WORDS = words_at(("Hi", 0.5, 0.8), ("there.", 0.8, 1.78), ("Hello", 1.8, 2.1), ("you", 2.1, 2.4))
REGIONS = [(0.5, 1.2), (1.8, 2.4)]


def test_a_turn_change_without_punctuation_is_a_boundary():
    words = words_at(("so", 0.5, 0.8), ("anyway", 0.8, 1.2), ("right", 1.5, 1.9))
    regions = [(0.5, 1.2), (1.5, 1.9)]  # 0.3 s apart, no sentence end
    assert cut(words, regions, [0, 0, 1]) == [("S0", "so anyway"), ("S1", "right")]
    assert cut(words, regions, [0, 0, 0]) == [("S0", "so anyway right")]  # same voice: kept


def test_a_pause_after_a_sentence_end_is_a_boundary():
    assert cut(WORDS, REGIONS) == [("S0", "Hi there."), ("S0", "Hello you")]


def test_a_comma_pause_stays_inside_the_utterance():
    words = words_at(("Well,", 0.5, 0.9), ("I", 1.15, 1.3), ("suppose.", 1.3, 1.8))
    regions = [(0.5, 0.9), (1.15, 1.8)]  # 0.25 s comma pause
    assert cut(words, regions) == [("S0", "Well, I suppose.")]


def test_a_sentence_end_without_a_pause_is_not_a_boundary():
    words = words_at(("Okay.", 0.5, 0.9), ("Let's", 0.95, 1.2), ("go.", 1.2, 1.5))
    assert cut(words, [(0.5, 1.5)]) == [("S0", "Okay. Let's go.")]


def test_a_long_pause_is_a_boundary_anywhere():
    words = words_at(("and", 0.5, 0.8), ("then", 0.8, 1.9), ("nothing", 1.9, 2.4))
    regions = [(0.5, 1.3), (1.9, 2.4)]  # 0.6 s pause in mid-sentence
    assert cut(words, regions) == [("S0", "and then"), ("S0", "nothing")]
    assert cut(words, regions, long_pause=1.0) == [("S0", "and then nothing")]


def test_one_voice_with_short_pauses_is_one_utterance():
    words = [Word(f"w{i}", 0.5 + i * 0.4, 0.8 + i * 0.4) for i in range(10)]
    regions = [(0.5 + i * 0.8, 1.2 + i * 0.8) for i in range(5)]  # 0.1 s gaps
    assert cut(words, regions) == [("S0", " ".join(f"w{i}" for i in range(10)))]


def test_pauses_come_from_the_regions_not_from_word_times():
    # Whisper's times show no gap after "there." but the VAD found 0.6 s of silence
    assert segment.pauses_before(segment.place_words(WORDS, REGIONS), REGIONS) == pytest.approx(
        [0, 0, 0.6, 0]
    )
    # ... and a gap between word times inside one region is no pause
    words = words_at(("a.", 0.5, 0.7), ("b", 1.4, 1.6))
    assert cut(words, [(0.5, 1.6)]) == [("S0", "a. b")]


def test_utterances_take_the_edges_of_their_regions():
    placed = segment.place_words(WORDS, REGIONS)
    first, second = segment.make_utterances(WORDS, [0] * 4, {0: "A"}, REGIONS, placed)
    assert (first.start, first.end, second.start, second.end) == (0.5, 1.2, 1.8, 2.4)
    assert first.words[-1].text == "there." and second.words[0].text == "Hello"


def test_the_maximum_length_cuts_at_the_longest_inner_pause():
    words = [Word(f"w{i}", i * 1.0, i * 1.0 + 0.8) for i in range(20)]  # 20 s of words
    regions = [(0.0, 7.8), (8.15, 15.8), (16.1, 19.8)]  # pauses of 0.35 s and 0.3 s, no sentence ends
    lengths = [len(text.split()) for _, text in cut(words, regions, max_length=15.0)]
    assert lengths == [8, 12]  # cut at the 0.35 s pause, the longer of the two
    pieces = cut(words, [(0.0, 19.8)], max_length=6.0)  # no pause at all: cut by length
    assert sum(len(t.split()) for _, t in pieces) == 20 and len(pieces) == 4


def voices(pattern, spread=0.15, seed=0):
    """Distances between spans of constructed voices: orthogonal centres (distance 1), noise per span."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(256, max(pattern) + 1)))[0].T  # (voices, 256) orthonormal
    points = centres[pattern] + spread / 16 * rng.normal(size=(len(pattern), 256))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return np.clip(1 - points @ points.T, 0, 2)


@pytest.mark.parametrize("settings", [CENTRED, RAW])
@pytest.mark.parametrize(
    "pattern", [[0, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1], [0, 1, 2, 0, 2, 1, 2], [0, 1, 2, 3, 1, 0, 3, 2]]
)
def test_the_speaker_count_is_found(pattern, settings):
    turns = cluster_spans(voices(pattern), np.full(len(pattern), 2.0), settings=settings)
    assert turns.labels == pattern  # numbered by first appearance, so the labels are the pattern
    assert turns.estimate.estimated and turns.estimate.count == max(pattern) + 1
    assert turns.estimate.margin >= settings.clear_margin


def test_a_given_count_is_honoured():
    distance = voices([0, 1, 0, 1, 0, 1])
    turns = cluster_spans(distance, np.full(6, 2.0), num_speakers=3)
    assert turns.estimate == SpeakerEstimate(3, estimated=False) and len(set(turns.labels)) == 3
    assert cluster_spans(distance, np.full(6, 2.0), num_speakers=2).labels == [0, 1] * 3


def test_short_spans_join_the_nearest_voice_or_start_a_new_one():
    distance = voices([0, 1, 0, 1, 2])
    durations = np.array([2.0, 2.0, 2.0, 2.0, 0.4])  # the last is a one-word reply
    assert RAW.min_voting > 0.4  # with RAW settings it does not vote, it attaches
    assert cluster_spans(distance, durations, settings=RAW).labels == [0, 1, 0, 1, 2]  # far: new voice
    distance = voices([0, 1, 0, 1, 1])
    assert cluster_spans(distance, durations, settings=RAW).labels == [0, 1, 0, 1, 1]


def test_nine_speakers_at_most():
    pattern = list(range(12)) * 2
    turns = cluster_spans(voices(pattern), np.full(len(pattern), 2.0))
    assert turns.estimate.count == 9 and max(turns.labels) == 8


def test_the_margin_is_the_distance_from_the_threshold_to_the_nearest_merge():
    distance = np.array([[0.0, 0.1, 0.5], [0.1, 0.0, 0.5], [0.5, 0.5, 0.0]])
    labels, margin = agglomerate(distance, threshold=0.3)
    assert number_by_appearance(labels, first=0) == [0, 0, 1] and margin == pytest.approx(0.2)


def test_the_status_says_how_sure_the_count_is():
    assert SpeakerEstimate(2, True, 0.14).status() == "2 speakers found (clear: clustering margin 0.14)"
    unsure = SpeakerEstimate(3, True, 0.01).status()
    assert unsure.startswith("3 speakers found (uncertain: clustering margin 0.01;")
    assert "give the number of speakers" in unsure
    assert SpeakerEstimate(2, False).status() == "2 speakers (as given)"
