"""Segmentation and speaker clustering as plain functions (no models)."""

import numpy as np
import pytest

from telme.dialogue import Word
from telme.media import segment
from telme.media.speakers import cluster, estimate_speakers, number_by_appearance, widen


def words_at(*items):
    return [Word(text, start, end) for text, start, end in items]


WORDS = words_at(("Hi", 0.5, 0.8), ("there.", 0.8, 1.2), ("Hello", 1.3, 1.6), ("you", 1.6, 1.9),
                 ("again", 4.0, 4.5))  # fmt: skip


def test_chunks_split_at_sentence_ends_and_pauses():
    chunks = segment.split_chunks(WORDS)
    assert [segment.words_text(c) for c in chunks] == ["Hi there.", "Hello you", "again"]


def test_chunks_respect_the_maximum_length():
    words = [Word(f"w{i}", i * 0.2, i * 0.2 + 0.2) for i in range(50)]
    chunks = segment.split_chunks(words, max_length=3.0)
    assert all(c[-1].end - c[0].start <= 3.0 for c in chunks) and sum(map(len, chunks)) == 50


def test_group_joins_a_speaker_run_and_breaks_at_long_pauses():
    chunks = segment.split_chunks(WORDS)
    same = segment.group_utterances(chunks, ["A", "A", "A"], long_pause=1.5)
    assert [(u.speaker, u.text) for u in same] == [("A", "Hi there. Hello you"), ("A", "again")]
    turns = segment.group_utterances(chunks, ["A", "B", "B"], long_pause=5.0)
    assert [(u.speaker, u.start, u.end) for u in turns] == [("A", 0.5, 1.2), ("B", 1.3, 4.5)]
    assert turns[1].words[0].text == "Hello"


def test_boundaries_snap_to_the_loud_audio():
    rate = 16000  # Hz
    wave = np.zeros(5 * rate, np.float32)
    wave[int(1.0 * rate) : int(2.0 * rate)] = 0.5 * np.sin(np.arange(rate) * 0.3)
    wave[int(2.6 * rate) : int(3.5 * rate)] = 0.3 * np.sin(np.arange(int(0.9 * rate)) * 0.2)
    utterances = segment.group_utterances([words_at(("a", 0.7, 2.4)), words_at(("b", 2.4, 3.9))],
                                          ["A", "B"])  # fmt: skip
    refined = segment.refine_boundaries(wave, rate, utterances)
    assert [(u.start, u.end) for u in refined] == [(1.0, 2.0), (2.6, 3.5)]


def test_widen_short_spans_inside_the_clip():
    assert widen(0.1, 0.3, 10.0) == pytest.approx((0.0, 0.7))
    assert widen(2.0, 4.0, 10.0) == (2.0, 4.0)


def voices(pattern, seed=0):
    """Unit-norm fake embeddings: one random centre per voice, small noise per utterance."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(pattern) + 1, 256))
    points = centres[pattern] + 0.15 * rng.normal(size=(len(pattern), 256))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@pytest.mark.parametrize("pattern", [[0, 1, 0, 1, 0, 1], [0, 1, 2, 0, 2, 1, 2], [0, 0, 0, 0]])
def test_speaker_count_is_estimated(pattern):
    embeddings = voices(pattern)
    assert estimate_speakers(embeddings) == max(pattern) + 1
    assert number_by_appearance(cluster(embeddings, max(pattern) + 1)) == pattern


def test_nine_speakers_at_most():
    embeddings = voices(list(range(12)) * 2)
    assert estimate_speakers(embeddings) <= 9
