"""Cut recognised words into utterances: plain functions over words, spans and arrays.

Words are first split into short chunks at every small pause or sentence end (the places where a
speaker turn can happen); each chunk gets a speaker; consecutive chunks of one speaker are then
joined into an utterance unless a long pause or the maximum utterance length separates them.
Whisper's word times can be off by a few tenths of a second, so the final boundaries are snapped
to where the audio is actually loud.
"""

from dataclasses import replace

import numpy as np

from telme.dialogue import Utterance

TURN_PAUSE = 0.25  # s, a gap between words where a speaker turn may happen
LONG_PAUSE = 1.5  # s, a gap that always ends an utterance
MAX_UTTERANCE = 15.0  # s, longest utterance (the official audio keeps the last ~18 s)
SENTENCE_ENDS = (".", "?", "!")
FRAME = 0.02  # s, energy frame for boundary snapping
SNAP_MARGIN = 1.0  # s, how far a boundary may move to reach speech (Whisper can overshoot)
SPEECH_LEVEL = 10 ** (-40 / 20)  # frame RMS above this fraction of the clip's peak is speech
NOISE_FACTOR = 3.0  # ... and above this multiple of the clip's noise floor (10th percentile)
BRIDGE_GAP = 0.12  # s, quieter gaps inside speech (stops, breaths) shorter than this are bridged
MIN_REGION = 0.06  # s, louder blips shorter than this are not speech
MIN_OVERLAP = 0.08  # s, a word span must overlap a speech region this much to snap onto it


def split_chunks(words, turn_pause=TURN_PAUSE, max_length=MAX_UTTERANCE):
    """Lists of consecutive words, split where a speaker could change or a chunk gets too long."""
    chunks = []
    for word in words:
        if chunks:
            previous = chunks[-1][-1]
            at_turn = word.start - previous.end >= turn_pause
            after_sentence = previous.text.rstrip().endswith(SENTENCE_ENDS)
            too_long = word.end - chunks[-1][0].start > max_length
            if not (at_turn or after_sentence or too_long):
                chunks[-1].append(word)
                continue
        chunks.append([word])
    return chunks


def chunk_spans(chunks):
    """(start, end) in seconds of each chunk."""
    return [(chunk[0].start, chunk[-1].end) for chunk in chunks]


def words_text(words):
    return " ".join(word.text.strip() for word in words).strip()


def group_utterances(chunks, speakers, long_pause=LONG_PAUSE, max_length=MAX_UTTERANCE):
    """Utterances from chunks and their speakers: a run of one speaker, broken at long pauses."""
    groups = []
    for chunk, speaker in zip(chunks, speakers, strict=True):
        if groups:
            words, last_speaker = groups[-1]
            same_turn = speaker == last_speaker and chunk[0].start - words[-1].end < long_pause
            if same_turn and chunk[-1].end - words[0].start <= max_length:
                words.extend(chunk)
                continue
        groups.append((list(chunk), speaker))
    return [
        Utterance(start=w[0].start, end=w[-1].end, speaker=s, text=words_text(w), words=tuple(w))
        for w, s in groups
    ]


def frame_energy(wave, sample_rate, frame=FRAME):
    """RMS per frame of `frame` seconds, shape (frames,)."""
    size = max(int(frame * sample_rate), 1)
    count = len(wave) // size
    frames = wave[: count * size].reshape(count, size)
    return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))


def speech_regions(wave, sample_rate):
    """(start, end) in seconds of the loud stretches of the clip, short gaps bridged."""
    energy = frame_energy(wave, sample_rate)
    if energy.size == 0:
        return []
    threshold = max(np.percentile(energy, 10) * NOISE_FACTOR, energy.max() * SPEECH_LEVEL)
    loud = np.concatenate([[False], energy > threshold, [False]])
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))
    regions = []
    for first, last in zip(edges[::2] * FRAME, edges[1::2] * FRAME):
        if regions and first - regions[-1][1] < BRIDGE_GAP:
            regions[-1] = (regions[-1][0], last)
        else:
            regions.append((first, last))
    return [(float(a), float(b)) for a, b in regions if b - a >= MIN_REGION]


def snap_span(regions, start, end):
    """(start, end) moved onto the speech regions it overlaps, by at most SNAP_MARGIN."""
    touched = [r for r in regions if min(r[1], end) - max(r[0], start) >= MIN_OVERLAP]
    if not touched:
        return start, end
    first, last = touched[0][0], touched[-1][1]
    new_start = first if abs(first - start) <= SNAP_MARGIN else start
    new_end = last if abs(last - end) <= SNAP_MARGIN else end
    return (new_start, new_end) if new_start < new_end else (start, end)


def refine_boundaries(wave, sample_rate, utterances):
    """Utterances whose start/end sit on the loud part of the audio (never overlapping)."""
    regions = speech_regions(wave, sample_rate)
    refined = []
    for utterance in utterances:
        start, end = snap_span(regions, utterance.start, utterance.end)
        if refined:
            start = max(start, refined[-1].end)
        refined.append(replace(utterance, start=round(start, 3), end=round(max(end, start), 3)))
    return refined
