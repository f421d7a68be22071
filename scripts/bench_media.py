"""Measure the offline media pipeline on the committed fixtures: WER, boundaries, speakers, time.

    python scripts/bench_media.py [--asr-model M] [--repeat N]

For each fixture the whole pipeline runs (decode → ASR → speakers → boundaries); model loading is
timed separately (the first run) from a warm run. The metric helpers are used by the tests too.
"""

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "media"
CASES = [  # clip, truth, num_speakers given (None: estimated)
    ("conversation.mp4", "conversation.json", None),
    ("conversation.webm", "conversation.json", None),
    ("conversation.wav", "conversation.json", None),
    ("three_voices.ogg", "three_voices.json", None),
]


def normalise(text):
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_error_rate(reference, hypothesis):
    """Word-level Levenshtein distance / reference length (case and punctuation ignored)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word)),
            )
    return row[-1] / max(len(ref), 1)


def overlap(a, b):
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def match(truth, utterances):
    """For each true utterance (dict), the predicted one overlapping it most (or None)."""
    matched = []
    for true in truth:
        span = (true["start"], true["end"])
        best = max(utterances, key=lambda u: overlap(span, (u.start, u.end)), default=None)
        matched.append(best if best and overlap(span, (best.start, best.end)) > 0 else None)
    return matched


def boundary_errors(truth, utterances):
    """|start error| and |end error| (s) of every true utterance vs its best-overlapping match."""
    errors = []
    for true, found in zip(truth, match(truth, utterances)):
        if found is None:
            errors += [float("inf")] * 2
        else:
            errors += [abs(found.start - true["start"]), abs(found.end - true["end"])]
    return errors


def speaker_accuracy(truth, utterances):
    """Share of true utterances whose match has the right speaker, under the best naming."""
    from scipy.optimize import linear_sum_assignment

    found = [u.speaker if u is not None else None for u in match(truth, utterances)]
    names = sorted({t["speaker"] for t in truth})
    labels = sorted({f for f in found if f is not None})
    counts = np.zeros((len(names), max(len(labels), 1)))
    for true, label in zip(truth, found):
        if label is not None:
            counts[names.index(true["speaker"]), labels.index(label)] += 1
    rows, columns = linear_sum_assignment(-counts)
    return counts[rows, columns].sum() / len(truth)


def measure(pipeline, clip, truth_file, num_speakers):
    truth = json.loads((FIXTURES / truth_file).read_text())["utterances"]
    stages = {}  # step: seconds from the start of the run to its last progress report

    def progress(step, done, total):
        stages[step] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    dialogue = pipeline(FIXTURES / clip, num_speakers=num_speakers, progress=progress)
    seconds = time.perf_counter() - started
    reference = " ".join(t["text"] for t in truth)
    errors = boundary_errors(truth, dialogue.utterances)
    return {
        "clip": clip,
        "seconds": round(seconds, 2),
        "utterances": f"{len(dialogue)}/{len(truth)}",
        "speakers": f"{len(dialogue.speakers)}/{len({t['speaker'] for t in truth})}",
        "wer": round(word_error_rate(reference, " ".join(u.text for u in dialogue)), 3),
        "boundary_max_s": round(max(errors), 3),
        "boundary_mean_s": round(float(np.mean(errors)), 3),
        "speaker_accuracy": round(speaker_accuracy(truth, dialogue.utterances), 3),
        "stages_done_at_s": stages,
    }


def main():
    from telme.media.asr import WhisperTranscriber
    from telme.media.pipeline import ClipToDialogue
    from telme.media.diarize import VoiceFeatures
    from telme.media.speakers import VoiceClusterer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr-model", default=None, help="faster-whisper name or folder")
    parser.add_argument("--repeat", type=int, default=1, help="warm runs per clip")
    parser.add_argument("--voice-threads", type=int, default=None, help="torch threads, embedding")
    args = parser.parse_args()
    started = time.perf_counter()
    pipeline = ClipToDialogue(
        transcriber=WhisperTranscriber(args.asr_model),
        speaker_assigner=VoiceClusterer(VoiceFeatures(torch_threads=args.voice_threads)),
    )
    measure(pipeline, *CASES[0])  # loads both models
    print(f"cold run incl. model loading: {time.perf_counter() - started:.2f} s")
    print(f"load average (1, 5, 15 min): {os.getloadavg()} on {os.cpu_count()} cores")
    for case in CASES:
        for _ in range(args.repeat):
            print(json.dumps(measure(pipeline, *case)))


if __name__ == "__main__":
    main()
