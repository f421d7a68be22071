"""Soak: many `telme.analyze_clip(None, model, transcript=...)` runs in one process, RSS sampled.

    PYTHONPATH=. python scripts/soak_package.py                      # 200 rounds on TelME-mini
    PYTHONPATH=. python scripts/soak_package.py --rounds 200 --cues 12 --cache-entries 1000 --threads 1

Every round analyses a new SRT (different texts and lengths, so the recognizer's caches keep
filling and evicting) with one Recognizer, as the studio does. RSS is printed every `--every`
rounds; the verdict compares the highest later sample with the level after the first ten rounds
(target: within +300 MB).
"""

import argparse
import ctypes
import json
import random
import tempfile
import time
from pathlib import Path

import telme

WORDS = ("oh my god you are back how really fine thanks a lot we were on a break what is that "
         "no way I can not believe it this is great terrible sorry please stop").split()
TARGET_MB = 300


def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def trimmed_rss_mb():
    """RSS after glibc hands its free memory back to the OS (a diagnostic; None off glibc)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return None
    return rss_mb()


def write_transcript(folder, round_index, max_cues):
    rng = random.Random(round_index)
    lines = []
    for cue in range(rng.randint(max_cues // 2, max_cues)):
        speaker = rng.choice(("Ross", "Rachel", "Monica", "Joey"))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 18))).capitalize()
        start = cue * 3
        lines.append(f"{cue + 1}\n00:{start // 60:02d}:{start % 60:02d},000 --> "
                     f"00:{start // 60:02d}:{start % 60:02d},900\n{speaker}: {text}{rng.choice('.!?')}\n")
    path = Path(folder) / f"round{round_index}.srt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="bundle folder (default: checkpoints/telme-mini-meld)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cues", type=int, default=60, help="most cues per transcript (at least half as many)")
    parser.add_argument("--every", type=int, default=10, help="rounds between RSS samples")
    parser.add_argument("--cache-entries", type=int, default=None, help="outputs per recognizer cache (default: package's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    bounds = {"cache_entries": args.cache_entries} if args.cache_entries else {}
    recognizer = telme.Recognizer(telme.load_model(args.model), device="cpu", **bounds)
    series, begin = [(0, round(rss_mb()))], time.perf_counter()
    print(f"round    0  RSS {series[0][1]:5d} MB (model loaded)", flush=True)
    with tempfile.TemporaryDirectory(prefix="telme-soak-") as folder:
        for round_index in range(1, args.rounds + 1):
            path = write_transcript(folder, round_index, args.cues)
            analysis = telme.analyze_clip(None, recognizer, transcript=path)
            path.unlink()
            assert len(analysis.prediction.utterances) == len(analysis.dialogue)
            if round_index % args.every == 0:
                series.append((round_index, round(rss_mb())))
                teacher = recognizer.cache_info()["teacher"]
                print(f"round {round_index:4d}  RSS {series[-1][1]:5d} MB  teacher cache {teacher['entries']} outputs "
                      f"({teacher['bytes'] / 1e6:.1f} MB, {teacher['evictions']} dropped)  "
                      f"{time.perf_counter() - begin:6.1f} s", flush=True)
    trimmed = trimmed_rss_mb()
    if trimmed is not None:
        print(f"RSS after glibc malloc_trim(0): {trimmed:.0f} MB (the rest of the growth was free memory malloc kept)")
    baseline = dict(series).get(10, series[-1][1])
    later = [mb for index, mb in series if index > 10]
    growth = max(later) - baseline if later else 0
    print(json.dumps({"rss_mb": series, "after_10_rounds_mb": baseline, "max_growth_after_10_mb": growth,
                      "within_target": growth <= TARGET_MB}))


if __name__ == "__main__":
    main()
