"""Soak test: many analyses in a row through the studio's handlers, resident memory every 10 rounds.

    PYTHONPATH=. python scripts/soak_test.py [--rounds 200] [--weights W | --tiny] [--json OUT]

Each round is one browser session as a person would use it, on the bundled example clip with its
transcript (no ASR): analyse, edit a cell and re-run (new text each round, so the recognizer's
caches see new entries), toggle the non-verbal cues, pick an utterance (a PyAV span cut), export
CSV + JSON, and close the tab (`end_session`, what `demo.unload` calls). Every 10th round also
renders the captioned clip. `--tiny` uses a tiny random bundle with every part live instead of
TelME-mini (text only), so each round also decodes media into the shared store. Target: RSS after all rounds within +300 MB of RSS after the first ten.
"""

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import psutil

from studio import launch, layout, views
from studio import session as actions
from studio.handlers import Studio

GROWTH_LIMIT_MB = 300  # RSS growth allowed after the first ten rounds
SAMPLE_EVERY = 10  # rounds between RSS samples


class Request:
    """What the handlers read from gr.Request: one session per round."""

    def __init__(self, session_hash):
        self.session_hash = session_hash


def quiet(*args, **kwargs):
    """A gr.Progress stand-in."""


def rss_mb():
    return psutil.Process().memory_info().rss / 2**20


def one_round(studio, number):
    request = Request(f"soak-{number}")
    clip, transcript = str(layout.EXAMPLE_CLIP), str(layout.EXAMPLE_TRANSCRIPT)
    session = studio.analyze(clip, None, transcript, actions.DETECT, actions.Session(), request, progress=quiet)[0]
    frame = views.results_frame(session.dialogue, session.prediction)
    frame.loc[number % len(frame), "text"] = f"Round {number}: I can't believe you did that!"
    session = studio.rerun(frame, session)[0]
    session = studio.set_modalities([], session)[0]
    studio.show_utterance(number % len(session.dialogue), session, request)
    studio.export(session, request)
    if number % SAMPLE_EVERY == 0:
        studio.export_video(session, request, progress=quiet)
    studio.end_session(request)


def soak(studio, rounds, report=print):
    """RSS (MB) after round 0 and every SAMPLE_EVERY rounds: [(round, MB, seconds so far)]."""
    samples, started = [], time.perf_counter()
    for number in range(1, rounds + 1):
        one_round(studio, number)
        if number % SAMPLE_EVERY == 0 or number == rounds:
            gc.collect()
            samples.append((number, round(rss_mb(), 1), round(time.perf_counter() - started, 1)))
            report(f"round {number:4d}  RSS {samples[-1][1]:8.1f} MB  {samples[-1][2]:7.1f} s")
    return samples


def growth(samples):
    """RSS growth (MB) from the sample at round 10 (or the first) to the last."""
    baseline = next((mb for number, mb, _ in samples if number >= SAMPLE_EVERY), samples[0][1])
    return samples[-1][1] - baseline


def tiny_bundle():
    import tempfile

    from telme.checkpoints import save_bundle
    from telme.checkpoints.tiny import tiny_model

    return save_bundle(tiny_model(seed=3), Path(tempfile.mkdtemp(prefix="telme-soak-")) / "telme-tiny")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--weights", default=None, help="default: checkpoints/telme-mini-meld")
    parser.add_argument("--tiny", action="store_true", help="a tiny random bundle with audio, video and fusion live")
    parser.add_argument("--json", type=Path, default=None, help="write the RSS series here")
    args = parser.parse_args(argv)
    start = rss_mb()
    weights = tiny_bundle() if args.tiny else args.weights
    services = launch.load_services(launch.parse_args(["--device", "cpu"] + (["--weights", str(weights)] * bool(weights))))
    studio = Studio(services, example_transcript=layout.EXAMPLE_TRANSCRIPT)
    print(f"RSS at start {start:.1f} MB, after loading {rss_mb():.1f} MB; model {services.recognizer.model.name}")
    samples = soak(studio, args.rounds)
    if args.tiny:
        import shutil

        shutil.rmtree(Path(weights).parent, ignore_errors=True)
    grew = growth(samples)
    left = sorted(path.name for path in services.workspaces.root.iterdir())
    print(f"growth after round {SAMPLE_EVERY}: {grew:+.1f} MB (limit +{GROWTH_LIMIT_MB}); "
          f"session folders left: {len(left)}; media store: {services.store.bytes} bytes")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "start_mb": start, "samples": samples,
                                         "growth_mb": grew, "folders_left": left}, indent=1))
    return 0 if grew <= GROWTH_LIMIT_MB and not left else 1


if __name__ == "__main__":
    sys.exit(main())
