"""Cut recognised words into utterances: plain functions over words, speech regions and labels.

Each word is placed in the speech region (from the VAD) it overlaps most. The pause before a
word is the longest silence between the regions of it and the word before; words of one region
have no pause between them. Whisper's own word end times are never used for pauses: they
stretch into the silence that follows a word.

Rules, in order: an utterance ends where the speaker changes, at a pause of at least
SENTENCE_PAUSE after a sentence end (. ? !), at any pause of at least LONG_PAUSE, and before it
grows past MAX_UTTERANCE (then at its longest inner pause). A short pause after a comma or in
mid-sentence stays inside the utterance.
"""

import numpy as np

from telme.dialogue import Utterance

SENTENCE_PAUSE = 0.3  # s, a pause this long after . ? ! ends an utterance
LONG_PAUSE = 0.4  # s, a pause this long ends an utterance wherever it falls
MAX_UTTERANCE = 15.0  # s, longest utterance (the official audio keeps the last ~18 s)
SENTENCE_ENDS = (".", "?", "!")


def overlap(a_start, a_end, b_start, b_end):
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def place_words(words, regions):
    """Index of the region each word lies in: most overlap, else the nearest; in time order."""
    starts = np.array([r[0] for r in regions])
    ends = np.array([r[1] for r in regions])
    placed = []
    for word in words:
        shared = np.minimum(ends, word.end) - np.maximum(starts, word.start)
        if shared.max() > 0:
            index = int(np.argmax(shared))
        else:
            index = int(np.argmin(np.maximum(starts - word.end, word.start - ends)))
        placed.append(max(index, placed[-1]) if placed else index)  # words never go back in time
    return placed


def pauses_before(placed, regions):
    """Seconds of silence before each word (0 for the first and inside one region)."""
    gaps = [regions[i + 1][0] - regions[i][1] for i in range(len(regions) - 1)]
    pauses = [0.0]
    for previous, current in zip(placed, placed[1:]):
        between = gaps[previous:current]
        pauses.append(max(max(between), 0.0) if between else 0.0)
    return pauses


def is_boundary(previous_text, pause, sentence_pause=SENTENCE_PAUSE, long_pause=LONG_PAUSE):
    """Whether a pause after a word of `previous_text` ends the utterance (same speaker)."""
    after_sentence = previous_text.rstrip().endswith(SENTENCE_ENDS)
    return pause >= long_pause or (after_sentence and pause >= sentence_pause)


def cut_points(words, speakers, pauses, sentence_pause=SENTENCE_PAUSE, long_pause=LONG_PAUSE):
    """Indices i where an utterance starts at word i (0 always included)."""
    cuts = [0]
    for i in range(1, len(words)):
        turn = speakers[i] != speakers[i - 1]
        if turn or is_boundary(words[i - 1].text, pauses[i], sentence_pause, long_pause):
            cuts.append(i)
    return cuts


def split_long(words, pauses, first, stop, max_length=MAX_UTTERANCE):
    """Cut points inside words[first:stop] that keep every piece under `max_length` seconds."""
    if stop - first < 2 or words[stop - 1].end - words[first].start <= max_length:
        return []
    inner = range(first + 1, stop)
    longest = max(pauses[i] for i in inner)
    if longest > 0:  # the longest pause; among equals the one nearest the middle
        middle = (words[first].start + words[stop - 1].end) / 2
        cut = min((i for i in inner if pauses[i] == longest), key=lambda i: abs(words[i].start - middle))
    else:
        cut = next(i for i in inner if words[i].end - words[first].start > max_length)
    return split_long(words, pauses, first, cut, max_length) + [cut] + split_long(
        words, pauses, cut, stop, max_length
    )


def words_text(words):
    return " ".join(word.text.strip() for word in words).strip()


def group_words(words, speakers, pauses, sentence_pause=SENTENCE_PAUSE, long_pause=LONG_PAUSE,
                max_length=MAX_UTTERANCE):  # fmt: skip
    """(first, stop) word index ranges of the utterances, by the rules above."""
    cuts = cut_points(words, speakers, pauses, sentence_pause, long_pause) + [len(words)]
    bounds = []
    for first, stop in zip(cuts, cuts[1:]):
        bounds += [first, *split_long(words, pauses, first, stop, max_length)]
    bounds.append(len(words))
    return list(zip(bounds, bounds[1:]))


def span(words, placed, regions, first, stop):
    """(start, end) of words[first:stop]: the edges of their regions when they own those edges."""
    start, end = words[first].start, words[stop - 1].end
    if first == 0 or placed[first - 1] != placed[first]:
        start = regions[placed[first]][0]
    if stop == len(words) or placed[stop] != placed[stop - 1]:
        end = regions[placed[stop - 1]][1]
    return start, max(end, start)


def make_utterances(words, speakers, names, regions, placed, **rules):
    """Utterances of `words` (speaker label per word; `names[label]` its name), time ordered."""
    pauses = pauses_before(placed, regions)
    utterances = []
    for first, stop in group_words(words, speakers, pauses, **rules):
        start, end = span(words, placed, regions, first, stop)
        if utterances:
            start = max(start, utterances[-1].end)
        utterances.append(Utterance(start=round(start, 3), end=round(max(end, start), 3),
                                    speaker=names[speakers[first]], text=words_text(words[first:stop]),
                                    words=tuple(words[first:stop])))  # fmt: skip
    return utterances
