"""Write telme/resources/voice_background.npy: the mean Resemblyzer d-vector of the tune set's voices.

    PYTHONPATH=. python scripts/voice_background.py --tune DIR [--out telme/resources/voice_background.npy]

DIR holds the benchmark's `tune` clips (scripts/conversations.py; never the eval set). Every speech
region of at least MIN_REGION seconds in every clip (plus the committed fixtures) is embedded as
the pipeline embeds it (telme.media.diarize) and the mean is saved as 256 float32 values. The
pipeline subtracts it before comparing voices (see telme/media/diarize.py for why and when).
"""

import argparse
from pathlib import Path

import numpy as np

from telme.media import decode
from telme.media.diarize import VoiceFeatures, speech_regions

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "media"
MIN_REGION = 0.9  # s, the regions that decide the speaker count (telme.media.speakers)
MEDIA = (".wav", ".mp4", ".webm", ".ogg")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", required=True, type=Path, help="folder of the tune clips")
    parser.add_argument("--out", type=Path, default=ROOT / "telme" / "resources" / "voice_background.npy")
    args = parser.parse_args()
    if "eval" in args.tune.parts:
        parser.error("the background is fitted on the tune set only")
    clips = sorted(p for p in args.tune.iterdir() if p.suffix in MEDIA)
    clips += [FIXTURES / "conversation.wav", FIXTURES / "three_voices.ogg"]
    features, vectors = VoiceFeatures(torch_threads=1), []
    for clip in clips:
        wave = decode.decode_audio(clip, 16000)
        spans = [r for r in speech_regions(wave) if r[1] - r[0] >= MIN_REGION]
        if spans:
            vectors.append(features(wave, spans).dvectors)
        print(f"{clip.name}: {len(spans)} regions")
    mean = np.concatenate(vectors).mean(axis=0).astype(np.float32)  # (256,)
    np.save(args.out, mean)
    print(f"wrote {args.out} from {sum(map(len, vectors))} regions of {len(clips)} clips")


if __name__ == "__main__":
    main()
