"""The Python steps of scripts/device_prepare.sh and scripts/device_check.sh.

    python scripts/device_steps.py decode-clip CLIP TRANSCRIPT OUT.npz   (here: needs the media stack)
    python scripts/device_steps.py golden --golden DIR [--device cuda] [--json OUT]
    python scripts/device_steps.py clip OUT.npz [--device cuda] [--weights W] [--json OUT]

decode-clip runs where ffmpeg is (the device machine has none): the clip's utterances as the
Recognizer receives them (audio at the official 22,050 Hz, 8 frames each) plus the dialogue.
golden: the golden checkpoints (whatever parts the folder holds) in fp32 against the official
outputs, and bf16 against fp32. clip: the Recognizer over the pre-decoded clip on `--device`
(bf16 there) and on the CPU (fp32); seconds and the largest probability change between them.
"""

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL_RATE = 22_050  # Hz, the official profile's audio rate
FRAMES = 8  # per utterance


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_inference", ROOT / "scripts" / "bench_inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decode_clip(clip: Path, transcript: Path, out: Path) -> dict:
    from functools import partial

    from telme.features.video import sample_frame_indices
    from telme.media.pipeline import utterance_media
    from telme.media.transcripts import read_transcript

    dialogue = read_transcript(transcript)  # speakers from its "Name:" prefixes
    media = utterance_media(clip, dialogue, OFFICIAL_RATE, sample_frames=partial(sample_frame_indices, n=FRAMES))
    arrays = {"dialogue": np.frombuffer(json.dumps(dialogue.to_dict()).encode(), dtype=np.uint8)}
    for index, item in enumerate(media):
        arrays[f"audio_{index}"] = item.audio
        if item.frames is not None:
            arrays[f"frames_{index}"] = item.frames
    np.savez_compressed(out, **arrays)
    return {"clip": str(clip), "utterances": len(dialogue), "out": str(out), "bytes": out.stat().st_size}


def read_clip(npz: Path):
    """(Dialogue, list of per-utterance media) from decode-clip's file."""
    from types import SimpleNamespace

    from telme.dialogue import Dialogue

    with np.load(npz) as data:
        dialogue = Dialogue.from_dict(json.loads(data["dialogue"].tobytes().decode()))
        media = [SimpleNamespace(audio=data[f"audio_{i}"], frames=data.get(f"frames_{i}"))
                 for i in range(len(dialogue))]
    return dialogue, media


def clip_model(weights, tiny=False):
    """`weights` when given and present; else the official shapes (or a tiny model) with random weights."""
    from telme.checkpoints import load_model

    if weights is not None and Path(weights).exists():
        return load_model(weights), False
    bench = bench_module()
    return (bench.tiny_model() if tiny else bench.full_size_model()), True


def run_clip(npz: Path, device: str, weights, tiny=False) -> dict:
    import torch

    from telme.inference import Recognizer

    dialogue, media = read_clip(npz)
    results, predictions = {}, {}
    for where, precision in ((device, None), ("cpu", "fp32")):
        model, random_weights = clip_model(weights, tiny)  # fresh: the bf16 run casts its model in place
        recognizer = Recognizer(model, device=where, precision=precision)
        recognizer.run_dialogue(dialogue, media)  # warm-up: first-call costs
        recognizer.clear_cache()
        started = time.perf_counter()
        predictions[where] = recognizer.run_dialogue(dialogue, media)
        if recognizer.device.type == "cuda":
            torch.cuda.synchronize()
        results[where] = {"device": str(recognizer.device), "precision": recognizer.precision,
                          "seconds": round(time.perf_counter() - started, 3), "model": model.name,
                          "random_weights": random_weights,
                          "labels": [u.label for u in predictions[where].utterances]}
        if where == device and device == "cpu":
            break
    if len(predictions) == 2:
        results["max_prob_change_vs_cpu_fp32"] = bench_module().probability_changes(predictions["cpu"],
                                                                                    predictions[device])
    results["utterances"] = len(dialogue)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    decode = steps.add_parser("decode-clip")
    decode.add_argument("clip", type=Path)
    decode.add_argument("transcript", type=Path, help="the clip's SRT / WebVTT / MELD CSV")
    decode.add_argument("out", type=Path)
    golden = steps.add_parser("golden")
    golden.add_argument("--golden", type=Path, required=True)
    clip = steps.add_parser("clip")
    clip.add_argument("npz", type=Path)
    clip.add_argument("--weights", default=None, help="bundle folder (default: full-size random weights)")
    clip.add_argument("--tiny", action="store_true", help="a tiny random model (dry runs)")
    for sub in (golden, clip):
        sub.add_argument("--device", default="cuda")
        sub.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    import torch

    args = parse_args(argv)
    if args.step == "decode-clip":
        result = decode_clip(args.clip, args.transcript, args.out)
    elif args.step == "golden":
        result = bench_module().golden_fidelity(args.golden, torch.device(args.device))
    else:
        result = run_clip(args.npz, args.device, args.weights, args.tiny)
    text = json.dumps(result, indent=1)
    print(text)
    if getattr(args, "json", None):
        args.json.write_text(text + "\n")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
