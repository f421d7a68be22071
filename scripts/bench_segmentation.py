"""Score segmentation and speaker finding on spoken conversations: WER, DER, speakers, turn changes.

    PYTHONPATH=. python scripts/bench_segmentation.py --sets tune eval [--data DIR]
        [--before REV] [--rtf] [--asr-model M] [--asr-options JSON] [--asr-cache DIR]
        [--json OUT] [--limit N]

The clips come from scripts/conversations.py (espeak-ng voices; generated into DIR/<set> when that
folder is missing). Tuning sets and the evaluation set, kept apart on purpose:
- `tune`: the clips thresholds and models may be fitted on (24 clips; variants m1 m2 m3 m4 m7 f1
  f2 f4 klatt klatt2 klatt4, accents en-us and en-gb; the committed media fixtures' voices);
- `tune2`: 36 more tuning clips with new seeds, tune's voices and lines plus 17 variants and two
  accents (en-gb-x-gbclan, en-gb-x-gbcwmd) that no other set has, so a setting chosen on tune
  can be checked on voices it never met before eval is run;
- `eval`: the clips nothing is fitted on, for reporting only (30 clips; variants m5 m6 m8 f3 f5
  klatt3 klatt5 Annie steph, accents en-029, en-gb-scotland, en-gb-x-rp, en-us-nyc, and their own
  lines of text and one-word replies).
Each clip runs through `ClipToDialogue().run(path, num_speakers=None)`: the speaker count is left
to the pipeline. The pipeline under test ("after") is the `telme` that PYTHONPATH finds
(`PYTHONPATH=.` for this checkout, or another checkout's folder to score that branch).
`--before REV` also runs the pipeline of git revision REV (checked out with `git worktree add`
into a temporary folder, run in a subprocess with PYTHONPATH there, removed afterwards) on the
same clips, so before and after are measured side by side in one run.
`--asr-model` and `--asr-options` (faster-whisper keywords over telme.media.asr.DECODE_OPTIONS)
apply to the pipeline under test only; REV runs with its own defaults. `--asr-cache DIR` keeps
each clip's words in DIR (keyed by the audio, model, options and language) and reuses them, so
speaker and cutting changes are scored without running Whisper again.

Metrics, per clip and per set (set totals pool the clips, they are not means of clip scores):
- WER: `jiwer` word error rate of all predicted text against all truth text of the clip, both
  through Whisper's English normaliser (transformers' `EnglishTextNormalizer`, without its
  British-to-American spelling map, which lives on the Hub; lowercase, no punctuation, numbers
  and contractions spelled one way). Set: jiwer over all clips' words.
- DER: `pyannote.metrics` `DiarizationErrorRate` (no collar, overlap scored) over the whole clip
  (uem = 0 to the clip's duration), truth turns against predicted utterances; pyannote maps
  predicted labels to truth speakers optimally, so names do not matter. Set: pyannote's total
  (missed + false alarm + confusion seconds over all speech seconds). Its parts are shown too:
  missed speech, false alarm (predicted speech over silence: an utterance that runs across a
  pause between turns counts here) and confusion (speech given to the wrong speaker). Beside it,
  for reference only, the DER with the NIST-style collar of 0.25 s either side of each truth
  boundary, which forgives word-timing jitter at utterance edges.
- speakers: number of distinct predicted speakers vs truth; set: share of clips right.
- turn changes: a truth change is the gap between consecutive turns of different speakers; a
  predicted change is the gap between consecutive utterances of different speakers, placed at
  its midpoint. A predicted change is a hit when it lies within 0.5 s of a truth gap (one to one,
  nearest first). Recall = hits / truth changes, precision = hits / predicted changes (blank
  where the count below the line is zero). Set: hits and counts pooled.
- utterances: predicted utterance count / truth turn count (a speaker's two turns in a row after
  a pause are two turns).
- CPU: process CPU seconds (all threads) per audio second, after a warm-up run that loads the
  models; `--rtf` times the whole pipeline (decode, ASR, speakers, utterances) on a ~60 s
  conversation, wall clock and CPU, and shows when each progress step was first reported.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "runs" / "conversations"  # git-ignored
WARMUP_CLIP = ROOT / "tests" / "fixtures" / "media" / "monologue.webm"
CHANGE_TOLERANCE = 0.5  # s, a predicted turn change this close to a truth gap is a hit
COLLAR = 0.25  # s, the secondary DER forgives this much either side of each truth boundary
TARGETS = {"speakers_right": 0.90, "der": 0.10, "change_recall": 0.95, "wer": 0.10}


def load_generator():
    """scripts/conversations.py as a module (scripts/ is not a package)."""
    path = Path(__file__).with_name("conversations.py")
    spec = importlib.util.spec_from_file_location("conversations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- metrics: plain functions of truth turns and predicted utterances (dicts) ---------------------


def text_normaliser():
    """(normalise(text) -> text, its name): Whisper's English normaliser, else a simple one."""
    try:
        from transformers.models.whisper.english_normalizer import EnglishTextNormalizer
    except ImportError:
        import re

        def simple(text):
            return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())

        return simple, "simple (lowercase, punctuation stripped)"
    return EnglishTextNormalizer({}), "Whisper EnglishTextNormalizer (no spelling map)"


def word_errors(reference, hypothesis, normalise):
    """jiwer's measures of one hypothesis text against one reference text, both normalised."""
    reference = normalise(reference) or "<empty>"  # jiwer refuses an empty reference
    output = jiwer.process_words(reference, normalise(hypothesis) or "")
    return {"errors": output.substitutions + output.deletions + output.insertions,
            "words": output.substitutions + output.deletions + output.hits}  # fmt: skip


def annotation(segments):
    """A pyannote Annotation from [{start, end, speaker}]."""
    from pyannote.core import Annotation, Segment

    result = Annotation()
    for index, s in enumerate(segments):
        if s["end"] > s["start"]:
            result[Segment(s["start"], s["end"]), index] = s["speaker"]
    return result


def diarization_error(truth, predicted, duration, metric=None):
    """DER of one clip (no collar, whole clip); `metric` accumulates a set total when given."""
    return diarization_errors(truth, predicted, duration, metric)["der"]


def diarization_errors(truth, predicted, duration, metric=None):
    """DER and its parts (missed, false alarm, confusion), each a share of the truth's speech."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = metric if metric is not None else DiarizationErrorRate(collar=0.0, skip_overlap=False)
    uem = Timeline([Segment(0.0, duration)])
    parts = metric(annotation(truth), annotation(predicted), uem=uem, detailed=True)
    return {"der": float(parts["diarization error rate"]), **error_shares(parts)}


def error_shares(parts):
    """pyannote's detailed seconds as shares of the speech in the truth."""
    speech = parts["total"]
    return {name: ratio(parts[key], speech) for name, key in
            (("missed", "missed detection"), ("false_alarm", "false alarm"),
             ("confusion", "confusion"))}  # fmt: skip


def turn_changes(segments):
    """(end of one, start of the next) for consecutive segments of different speakers."""
    ordered = sorted(segments, key=lambda s: (s["start"], s["end"]))
    return [(a["end"], b["start"]) for a, b in zip(ordered, ordered[1:])
            if a["speaker"] != b["speaker"]]  # fmt: skip


def match_turn_changes(truth, predicted, tolerance=CHANGE_TOLERANCE):
    """(hits, truth changes, predicted changes): predicted gap midpoints within `tolerance` s
    of a truth gap, matched one to one, nearest first."""
    true_gaps = turn_changes(truth)
    points = [(a + b) / 2 for a, b in turn_changes(predicted)]
    pairs = []
    for i, (start, end) in enumerate(true_gaps):
        for j, point in enumerate(points):
            distance = max(start - point, point - end, 0.0)
            if distance <= tolerance:
                pairs.append((distance, i, j))
    used_true, used_points = set(), set()
    for _, i, j in sorted(pairs):
        if i not in used_true and j not in used_points:
            used_true.add(i)
            used_points.add(j)
    return len(used_true), len(true_gaps), len(points)


def ratio(numerator, denominator):
    return numerator / denominator if denominator else None


def score_clip(truth, prediction, normalise, der_metric=None):
    """Every metric of one clip: `truth` the clip's JSON, `prediction` a worker result."""
    turns, utterances = truth["utterances"], prediction["utterances"]
    reference = " ".join(t["text"] for t in turns)
    words = word_errors(reference, " ".join(u["text"] for u in utterances), normalise)
    hits, true_changes, found_changes = match_turn_changes(turns, utterances)
    found = len({u["speaker"] for u in utterances})
    return {
        "wer": words["errors"] / words["words"], **words,
        **diarization_errors(turns, utterances, truth["duration"], der_metric),
        "speakers_true": truth["num_speakers"], "speakers_found": found,
        "speakers_right": found == truth["num_speakers"],
        "change_hits": hits, "changes_true": true_changes, "changes_found": found_changes,
        "change_recall": ratio(hits, true_changes), "change_precision": ratio(hits, found_changes),
        "utterances": len(utterances), "turns": len(turns),
        "audio_s": truth["duration"], "cpu_s": prediction["cpu_s"], "wall_s": prediction["wall_s"],
        "cpu_per_audio_s": prediction["cpu_s"] / truth["duration"],
        "error": prediction.get("error"), "predicted": utterances,
    }  # fmt: skip


def set_totals(scores, der_metric):
    """Pooled metrics of a set's clip scores; `der_metric` has accumulated every clip."""
    total = lambda key: sum(s[key] for s in scores)  # noqa: E731
    return {
        "clips": len(scores),
        "wer": ratio(total("errors"), total("words")),
        "der": float(abs(der_metric)), **error_shares(der_metric.accumulated_),
        "speakers_right": ratio(total("speakers_right"), len(scores)),
        "change_recall": ratio(total("change_hits"), total("changes_true")),
        "change_precision": ratio(total("change_hits"), total("changes_found")),
        "utterances": total("utterances"), "turns": total("turns"),
        "audio_s": total("audio_s"), "cpu_s": total("cpu_s"), "wall_s": total("wall_s"),
        "cpu_per_audio_s": ratio(total("cpu_s"), total("audio_s")),
        "failed_clips": sum(s["error"] is not None for s in scores),
    }  # fmt: skip


# -- running a pipeline: in this process (the code on PYTHONPATH) or in a worker for --before ----


class CachedTranscriber:
    """A WhisperTranscriber whose words are kept in `folder`, one JSON file per (wave, model,
    options, language), so speaker and cutting experiments need not run Whisper again.
    (Timings of a cached clip leave ASR out: use no cache for CPU/audio and --rtf.)"""

    def __init__(self, transcriber, folder):
        self.transcriber, self.folder = transcriber, Path(folder)

    def key(self, wave, language):
        import hashlib

        import numpy as np

        setup = json.dumps([self.transcriber.model_name, self.transcriber.options, language],
                           sort_keys=True, default=str)  # fmt: skip
        digest = hashlib.sha256(np.asarray(wave, np.float32).tobytes())
        digest.update(setup.encode())
        return digest.hexdigest()[:24]

    def __call__(self, wave, language=None, progress=None):
        from telme.dialogue import Word

        path = self.folder / f"{self.key(wave, language)}.json"
        if path.is_file():
            return [Word(**w) for w in json.loads(path.read_text())]
        words = self.transcriber(wave, language=language, progress=progress)
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([{"text": w.text, "start": w.start, "end": w.end} for w in words]))
        return words


def make_pipeline(asr_model=None, asr_options=None, asr_cache=None):
    """ClipToDialogue with its defaults, but for the ASR model, decoding options and cache
    (nothing given: the defaults alone, which is all the pipeline of an older revision takes)."""
    from telme.media.pipeline import ClipToDialogue

    if asr_model is None and asr_options is None and asr_cache is None:
        return ClipToDialogue()
    from telme.media.asr import WhisperTranscriber

    transcriber = WhisperTranscriber(asr_model, options=asr_options)
    if asr_cache is not None:
        transcriber = CachedTranscriber(transcriber, asr_cache)
    return ClipToDialogue(transcriber=transcriber)


def predict(paths, asr_model=None, asr_options=None, asr_cache=None):
    """The pipeline's utterances and timings per clip, after one warm-up run (model loading)."""
    pipeline = make_pipeline(asr_model, asr_options, asr_cache)
    pipeline.run(str(WARMUP_CLIP), num_speakers=None)
    results = []
    for path in paths:
        results.append(predict_clip(pipeline, path))
        print(f"  {Path(path).name}: {results[-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    return results


def predict_clip(pipeline, path):
    stages, wall, cpu = {}, time.perf_counter(), time.process_time()

    def progress(step, done, total):
        stages.setdefault(step, round(time.perf_counter() - wall, 2))

    try:
        dialogue = pipeline.run(str(path), num_speakers=None, progress=progress).dialogue
        utterances = [{"start": u.start, "end": u.end, "speaker": u.speaker, "text": u.text}
                      for u in dialogue.utterances]  # fmt: skip
        error = None
    except Exception as caught:  # a failed clip scores as an empty prediction, and says why
        utterances, error = [], f"{type(caught).__name__}: {caught}"
    return {"clip": str(path), "utterances": utterances, "error": error, "stages": stages,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}  # fmt: skip


def predict_at_revision(revision, paths):
    """`predict` with the telme of git revision `revision`, in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="bench-before-") as folder:
        tree = Path(folder) / "tree"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(tree), revision], check=True)
        try:
            request, answer = Path(folder) / "request.json", Path(folder) / "answer.json"
            request.write_text(json.dumps([str(p) for p in paths]))
            environment = {**os.environ, "PYTHONPATH": str(tree)}
            command = [sys.executable, __file__, "--worker", str(request), str(answer)]
            subprocess.run(command, check=True, env=environment, cwd=tree)
            return json.loads(answer.read_text())
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=True)


def telme_origin():
    """Where the telme under test comes from, and its git revision when it is a checkout."""
    import telme

    folder = Path(telme.__file__).resolve().parents[1]
    revision = subprocess.run(["git", "-C", str(folder), "log", "-1", "--format=%h %s"],
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
    return f"{folder} ({revision or 'not a git checkout'})"


# -- the report ----------------------------------------------------------------------------------


def clip_paths(data, set_name):
    """The set's clips (generated first when its folder is missing)."""
    folder = Path(data) / set_name
    if not folder.is_dir():
        print(f"generating set {set_name!r} into {folder} ...", flush=True)
        load_generator().write_set(set_name, folder)
    return sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".mp4", ".webm"))


def cell(value, digits=2):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


TRUTH_KEYS = {"speakers_true", "turns"}  # the same for every system: shown once


def pair(scores, key, digits=2):
    """'after' or 'before → after' for a markdown cell."""
    if key in TRUTH_KEYS:
        return cell(scores[0][key], digits)
    return " → ".join(cell(s[key], digits) for s in scores)


COLUMNS = [("WER", "wer"), ("DER", "der"), ("conf", "confusion"),
           ("spk true", "speakers_true"), ("spk found", "speakers_found"),
           ("spk ok", "speakers_right"), ("change R", "change_recall"),
           ("change P", "change_precision"), ("utts", "utterances"), ("turns", "turns"),
           ("CPU/audio", "cpu_per_audio_s")]  # fmt: skip


def markdown_table(rows, systems):
    """rows: [(name, [score per system])]; one column per metric, 'before → after' in cells."""
    header = "| clip | " + " | ".join(title for title, _ in COLUMNS) + " |"
    lines = [f"systems per cell: {' → '.join(systems)}", "", header,
             "|" + "---|" * (len(COLUMNS) + 1)]  # fmt: skip
    for name, scores in rows:
        lines.append(f"| {name} | " + " | ".join(pair(scores, key) for _, key in COLUMNS) + " |")
        errors = [s.get("error") for s in scores if s.get("error")]
        lines += [f"|  ↳ failed: {e} |" for e in errors]
    return "\n".join(lines)


def score_set(truths, predictions, normalise):
    """(clip scores, set totals) of one system on one set."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    collared = DiarizationErrorRate(collar=2 * COLLAR, skip_overlap=False)  # pyannote: total width
    scores = [score_clip(t, p, normalise, metric) for t, p in zip(truths, predictions)]
    for truth, score in zip(truths, scores):
        score["der_collar"] = diarization_error(truth["utterances"], score["predicted"],
                                                truth["duration"], collared)  # fmt: skip
    return scores, {**set_totals(scores, metric), "der_collar": float(abs(collared))}


def totals_table(totals, systems):
    """One row per (set, system) with the pooled metrics, and the issue's targets."""
    keys = [("WER", "wer"), ("DER", "der"), ("miss", "missed"), ("FA", "false_alarm"),
            ("conf", "confusion"), (f"DER ±{COLLAR}s", "der_collar"),
            ("speakers right", "speakers_right"), ("change R", "change_recall"),
            ("change P", "change_precision"),
            ("utts", "utterances"), ("turns", "turns"),
            ("CPU/audio", "cpu_per_audio_s"), ("failed", "failed_clips")]  # fmt: skip
    lines = ["| set | system | clips | " + " | ".join(title for title, _ in keys) + " |",
             "|" + "---|" * (len(keys) + 3)]  # fmt: skip
    for set_name, per_system in totals.items():
        for system, total in zip(systems, per_system):
            cells = " | ".join(cell(total[key], 3) for _, key in keys)
            lines.append(f"| {set_name} | {system} | {total['clips']} | {cells} |")
    targets = " | ".join(cell(TARGETS.get(key), 2) for _, key in keys)
    lines.append(f"| target | | | {targets} |")
    return "\n".join(lines)


def timing_report(truth, predictions, systems):
    """The real-time factor of each system on the 60 s clip, with its steps."""
    audio = truth["duration"]
    lines = [f"{audio:.1f} s clip, {truth['num_speakers']} voices, mp4, warm models, "
             f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:"]  # fmt: skip
    for system, p in zip(systems, predictions):
        lines.append(f"- {system}: real-time factor {p['wall_s'] / audio:.3f} "
                     f"(wall {p['wall_s']:.1f} s), CPU {p['cpu_s']:.1f} s = "
                     f"{p['cpu_s'] / audio:.3f} per audio s; steps first reported at (s): "
                     f"{p['stages']}")  # fmt: skip
    return "\n".join(lines)


def rtf_clip(data):
    """The ~60 s timing conversation, written into DATA/rtf/."""
    generator = load_generator()
    folder = Path(data) / "rtf"
    folder.mkdir(parents=True, exist_ok=True)
    return generator.write_conversation(generator.minute_conversation(), folder, "rtf")


def run_systems(paths, before, asr_model, asr_options=None, asr_cache=None):
    """(system names, predictions per system), each prediction list in the order of `paths`."""
    systems, predictions = [], []
    if before:
        print(f"running the pipeline of {before} on {len(paths)} clips ...", file=sys.stderr)
        systems.append(f"before {before}")
        predictions.append(predict_at_revision(before, paths))
    print(f"running the pipeline at {telme_origin()} on {len(paths)} clips ...", file=sys.stderr)
    systems.append("after")
    predictions.append(predict(paths, asr_model, asr_options, asr_cache))
    return systems, predictions


def report_sets(sets, systems, predictions, normalise):
    """Print each set's clip table; (totals per set, the JSON report of the sets)."""
    totals, report, offset = {}, {}, 0
    for set_name, clips in sets.items():
        truths = [json.loads(p.with_suffix(".json").read_text()) for p in clips]
        window = slice(offset, offset + len(clips))
        scored = [score_set(truths, p[window], normalise) for p in predictions]
        offset += len(clips)
        rows = [(clip.name, [s[0][i] for s in scored]) for i, clip in enumerate(clips)]
        print(f"\n## {set_name} ({len(clips)} clips)\n\n{markdown_table(rows, systems)}")
        totals[set_name] = [s[1] for s in scored]
        report[set_name] = {
            system: {"clips": dict(zip([c.name for c in clips], s[0])), "totals": s[1]}
            for system, s in zip(systems, scored)
        }
    return totals, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["tune"], choices=["tune", "tune2", "eval", "eval2"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding <set>/")
    parser.add_argument("--before", metavar="REV", help="also score the pipeline at git revision")
    parser.add_argument("--rtf", action="store_true", help="time the pipeline on a 60 s clip")
    parser.add_argument("--asr-model", default=None, help="faster-whisper name or folder")
    parser.add_argument("--asr-options", type=json.loads, default=None, metavar="JSON",
                        help='faster-whisper transcribe() keywords, e.g. \'{"beam_size": 1}\'')
    parser.add_argument("--asr-cache", type=Path, default=None, metavar="DIR",
                        help="keep the ASR words per clip here and reuse them (not with --rtf)")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips per set")
    parser.add_argument("--worker", nargs=2, metavar=("REQUEST", "ANSWER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:  # the --before subprocess: clip paths in, predictions out
        request, answer = map(Path, args.worker)
        answer.write_text(json.dumps(predict(json.loads(request.read_text()))))
        return
    normalise, normaliser_name = text_normaliser()
    sets = {name: clip_paths(args.data, name)[: args.limit] for name in args.sets}
    paths = [path for clips in sets.values() for path in clips]
    timed = rtf_clip(args.data) if args.rtf else None
    if args.rtf and args.asr_cache:
        parser.error("--rtf times Whisper: give no --asr-cache")
    systems, predictions = run_systems(paths + [timed] * bool(timed), args.before, args.asr_model,
                                       args.asr_options, args.asr_cache)  # fmt: skip
    totals, report_of_sets = report_sets(sets, systems, predictions, normalise)
    print(f"\n## totals (speaker count left to the pipeline; WER normaliser: {normaliser_name})\n")
    print(totals_table(totals, systems))
    report = {"systems": systems, "telme": telme_origin(), "normaliser": normaliser_name,
              "load_average": os.getloadavg(), "cpus": os.cpu_count(), "sets": report_of_sets}
    if timed:
        truth = json.loads(timed.with_suffix(".json").read_text())
        print("\n## real-time factor\n")
        print(timing_report(truth, [p[-1] for p in predictions], systems))
        report["rtf"] = {s: {"audio_s": truth["duration"], **p[-1]}
                         for s, p in zip(systems, predictions)}  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
