"""Time turning an N-cue dialogue into teacher prompt ids (`encode_dialogue`), per tokenizer.

    PYTHONPATH=. python scripts/bench_prompts.py --cues 2000
    PYTHONPATH=. python scripts/bench_prompts.py --cues 500 --quadratic   # also time the old path

`--quadratic` also times the prompt-by-prompt path (every prompt re-tokenised whole, then cut to
its last tokens), which `encode_dialogue` replaced; it is the fallback kept in
`telme.features.text.encode_each_prompt`.
"""

import argparse
import random
import time
from pathlib import Path

from telme.features.text import OfficialRobertaTokenizer, encode_dialogue, encode_each_prompt, load_prompt_tokenizer

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cues", type=int, default=2000)
    parser.add_argument("--quadratic", action="store_true", help="also time the old prompt-by-prompt path")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
