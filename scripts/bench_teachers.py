"""Cost per utterance of two bundles' teachers on the same MELD dev dialogues, in one process.

    PYTHONPATH=. python scripts/bench_teachers.py [--dialogues 12] [--rounds 2]
        [--weights checkpoints/telme-mini-meld checkpoints/telme-mpnet-meld]

Each bundle's `load_model` is timed, then the bundles take turns (order reversed each round, fresh
Recognizer caches, one warm-up dialogue first) over the first N dev dialogues; the ratio of the
totals is what to quote (the machine's load moves both alike). CPU, fp32, as the app runs them.
"""

import argparse
import os
import time
from pathlib import Path

import torch

from telme.checkpoints import load_model
from telme.data import read_split
from telme.inference import Recognizer

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TELME_SHARED", ROOT.parent / "shared"))
WEIGHTS = [str(ROOT / "checkpoints" / "telme-mini-meld"), str(ROOT / "checkpoints" / "telme-mpnet-meld")]


def timed_pass(model, dialogues) -> float:
    Recognizer(model, device="cpu").run_dialogue(dialogues[0])  # warm-up (its caches are dropped)
    recognizer = Recognizer(model, device="cpu")
    begin = time.perf_counter()
    for dialogue in dialogues:
        recognizer.run_dialogue(dialogue)
    return time.perf_counter() - begin


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs=2, default=WEIGHTS, help="two bundles: the first is the ratio's base")
    parser.add_argument("--dev", type=Path, default=SHARED / "data" / "meld" / "dev_sent_emo.csv")
    parser.add_argument("--dialogues", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dialogues = read_split(args.dev, "meld")[:args.dialogues]
    count = sum(len(dialogue) for dialogue in dialogues)
    models, seconds = {}, dict.fromkeys(args.weights, 0.0)
    for name in args.weights:
        begin = time.perf_counter()
        models[name] = load_model(name)
        print(f"{Path(name).name}: load_model {time.perf_counter() - begin:.1f} s (the first includes importing transformers)")
    for round_ in range(args.rounds):
        for name in args.weights[::1 if round_ % 2 == 0 else -1]:
            seconds[name] += timed_pass(models[name], dialogues)
    for name, total in seconds.items():
        print(f"{Path(name).name}: {1000 * total / (args.rounds * count):.0f} ms per utterance "
              f"({count} utterances x {args.rounds} rounds, {args.threads} threads)")
    base, other = args.weights
    print(f"ratio {Path(other).name} / {Path(base).name}: {seconds[other] / seconds[base]:.2f}  "
          f"(load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
