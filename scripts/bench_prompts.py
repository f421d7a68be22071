"""Time turning an N-cue dialogue into teacher prompt ids (`encode_dialogue`), per tokenizer.

    PYTHONPATH=. python scripts/bench_prompts.py --cues 2000
    PYTHONPATH=. python scripts/bench_prompts.py --cues 500 --quadratic   # also time the old path
    PYTHONPATH=. python scripts/bench_prompts.py --cues 2000 --analyze --threads 1

`--quadratic` also times the prompt-by-prompt path (every prompt re-tokenised whole, then cut to
its last tokens), which `encode_dialogue` replaced; it is the fallback kept in
`telme.features.text.encode_each_prompt`. `--analyze` also runs an N-cue SRT through
`telme.analyze_clip(None, TelME-mini, transcript=...)`: once with the default limits (refused
at once when N is over `telme.limits.MAX_UTTERANCES`) and once with limits raised to fit.
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

import telme
from telme.features.text import OfficialRobertaTokenizer, encode_dialogue, encode_each_prompt, load_prompt_tokenizer
from telme.limits import Limits, TooMuchInput
from telme.media.pipeline import ClipDialogue
from telme.media.transcripts import read_transcript

MINI_TOKENIZER = Path(__file__).resolve().parents[1] / "checkpoints" / "telme-mini-meld" / "tokenizer"
WORDS = "oh my god you are back how really fine thanks a lot we were on a break what is that".split()


def dialogue(cues, seed=0):
    rng = random.Random(seed)
    speakers = [rng.randint(1, 4) for _ in range(cues)]
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20))).capitalize() + "." for _ in range(cues)]
    return speakers, texts


def timed(function):
    begin = time.perf_counter()
    result = function()
    return time.perf_counter() - begin, result


def write_srt(path, speakers, texts):
    cues = [f"{i + 1}\n00:{i // 60 % 60:02d}:{i % 60:02d},000 --> 00:{i // 60 % 60:02d}:{i % 60:02d},900\n"
            f"{'ABCD'[speaker - 1]}: {text}\n" for i, (speaker, text) in enumerate(zip(speakers, texts))]
    path.write_text("\n".join(cues), encoding="utf-8")
    return path


def analyze(cues, speakers, texts):
    """Seconds to refuse (default limits) and to analyse (limits raised) an SRT of `cues` cues."""
    model = telme.load_model(MINI_TOKENIZER.parent)
    with tempfile.TemporaryDirectory() as folder:
        path = write_srt(Path(folder) / "long.srt", speakers, texts)
        begin = time.perf_counter()
        try:
            telme.analyze_clip(None, telme.Recognizer(model), transcript=path)
            print(f"default limits: {cues} utterances analysed in {time.perf_counter() - begin:.1f} s (under the limits)")
            return
        except TooMuchInput as error:
            print(f"default limits: refused in {time.perf_counter() - begin:.2f} s: {error}")
        wide = Limits(utterances=cues, total_chars=10**9)
        recognizer = telme.Recognizer(model, limits=wide)

        class ReadWidely:  # ClipToDialogue.run for a transcript alone, read with the raised limits
            def run(self, clip, transcript=None, **options):
                return ClipDialogue(read_transcript(transcript, limits=wide), audio=None)

        widely = ReadWidely()
        seconds, analysis = timed(lambda: telme.analyze_clip(None, recognizer, transcript=path, to_dialogue=widely))
        print(f"limits raised: {len(analysis.prediction.utterances)} utterances analysed in {seconds:.1f} s "
              f"({recognizer.stats.teacher_forwards} teacher forwards)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cues", type=int, default=2000)
    parser.add_argument("--quadratic", action="store_true", help="also time the old prompt-by-prompt path")
    parser.add_argument("--analyze", action="store_true", help="also analyse an SRT of --cues cues with TelME-mini")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    speakers, texts = dialogue(args.cues)
    tokenizers = [("official RoBERTa", OfficialRobertaTokenizer.default(), 511),
                  ("TelME-mini MiniLM", load_prompt_tokenizer(MINI_TOKENIZER), 96)]
    for name, tokenizer, max_tokens in tokenizers:
        seconds, ids = timed(lambda: encode_dialogue(speakers, texts, tokenizer, max_tokens))
        line = f"{name:18s} {args.cues} cues, {max_tokens} tokens kept: {seconds:.3f} s linear"
        if args.quadratic:
            old_seconds, old = timed(lambda: encode_each_prompt(speakers, texts, tokenizer, max_tokens))
            line += f", {old_seconds:.2f} s prompt by prompt, ids equal: {old == ids}"
        print(line, flush=True)
    if args.analyze:
        analyze(args.cues, speakers, texts)


if __name__ == "__main__":
    main()
