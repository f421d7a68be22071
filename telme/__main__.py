"""`python -m telme {convert,analyze,evaluate,train} ...`: one subcommand per job, each with --help.

Heavy modules (torch, transformers, the media stack, training) load only once a subcommand runs.
"""

import argparse
import json
import sys
from pathlib import Path

TRAINING_COMMANDS = ("evaluate", "train")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(wanted=argv[0] if argv else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except (ValueError, OSError) as error:  # typed telme errors are ValueErrors; files are OSErrors
        print(f"error: {error}", file=sys.stderr)
        return 1


def build_parser(wanted=None) -> argparse.ArgumentParser:
    """The parser; the training subcommands' options are added only when `wanted` names one."""
    parser = argparse.ArgumentParser(prog="python -m telme", description="TelME emotion recognition in conversation.")
    commands = parser.add_subparsers(dest="command", metavar="{convert,analyze,fetch-official,evaluate,train}")
    add_convert(commands.add_parser("convert", help="official release folder -> project bundle",
                                    description="Convert an official TelME save_model/ folder into a bundle "
                                                "(config.json + model.safetensors + tokenizer/)."))
    add_analyze(commands.add_parser("analyze", help="clip -> JSON of utterances with all probabilities",
                                    description="Transcribe a clip (or read its transcript), find the speakers "
                                                "and write every utterance's emotion probabilities as JSON."))
    fetch = commands.add_parser("fetch-official", help="download the authors' weights -> bundles",
                                description="Download the official TelME release (Google Drive), check it and "
                                            "convert it into bundles.")
    add_fetch(fetch, load=(wanted == "fetch-official"))
    for name, help_text in (("evaluate", "score a model on a dataset split"), ("train", "train TelME stages")):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_training(sub, name, load=(wanted == name))
    return parser


def add_convert(parser):
    parser.add_argument("source", help="official release folder (holding teacher.bin, or its save_model/ parent)")
    parser.add_argument("destination", help="bundle folder to write")
    parser.add_argument("--dataset", choices=("meld", "iemocap"), default="meld",
                        help="label set, fusion beta and heads of the release (default: meld)")
    parser.add_argument("--name", help="bundle name (default: telme-<dataset>)")
    parser.add_argument("--backbones", help="JSON file {teacher|audio|video: {field: value}} overriding the "
                                            "shipped backbone configs (for non-standard releases)")
    parser.set_defaults(run=run_convert)


def run_convert(args) -> int:
    from telme.checkpoints import convert_official, load_bundle

    backbones = json.loads(Path(args.backbones).read_text()) if args.backbones else None
    folder = convert_official(args.source, args.destination, dataset=args.dataset, backbones=backbones, name=args.name)
    print(f"wrote {folder}\n{load_bundle(folder).describe()}")
    return 0


def add_analyze(parser):
    parser.add_argument("clip", help="video or audio file")
    parser.add_argument("--json", required=True, metavar="OUT", help="where to write the JSON ('-' = stdout)")
    parser.add_argument("--transcript", help="SRT, WebVTT or MELD CSV; 'Name:' prefixes give speakers")
    parser.add_argument("--asr-model", help="base (default), tiny.en (faster), a CTranslate2 folder or a "
                                            "faster-whisper model name")
    parser.add_argument("--speakers", type=int, help="number of speakers, when known (at most 9)")
    parser.add_argument("--language", help="spoken language code for ASR (default: detected)")
    parser.add_argument("--weights", help="bundle folder, official release folder or Hub repo id[@revision] "
                                          "(default: checkpoints/telme-mini-meld)")
    parser.add_argument("--dataset", choices=("meld", "iemocap"), default="meld",
                        help="label set when --weights is an official release folder")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    parser.add_argument("--batch-size", type=int, help="utterances per backbone forward (default: 8; 2 for the "
                                                       "students in bf16 on CPU)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                        help="auto (default, or $TELME_PRECISION): bf16 on CUDA, fp32 on CPU; bf16 on CPU "
                             "needs native bf16 (AVX512-BF16/AMX)")
    parser.add_argument("--drop", action="append", choices=("audio", "video"), default=[],
                        help="replace this student's vectors by zeros in the fusion (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(run=run_analyze)


def run_analyze(args) -> int:
    from telme.checkpoints import load_model
    from telme.inference import Recognizer, analyze_clip

    progress = None if args.quiet else print_progress
    model = load_model(args.weights, dataset=args.dataset)
    recognizer = Recognizer(model, device=args.device, batch_size=args.batch_size, precision=args.precision)
    for reason in model.missing:
        print(f"note: {reason}", file=sys.stderr)
    analysis = analyze_clip(args.clip, recognizer, transcript=args.transcript, asr_model=args.asr_model,
                            num_speakers=args.speakers, language=args.language, drop=frozenset(args.drop),
                            progress=progress)
    text = json.dumps(analysis.to_dict(), indent=1, ensure_ascii=False)
    if args.json == "-":
        print(text)
    else:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.json} ({len(analysis.prediction.utterances)} utterances)", file=sys.stderr)
    if analysis.speakers and not args.quiet:
        print(analysis.speakers["status"], file=sys.stderr)
    return 0


def add_fetch(parser, load):
    """Options come from telme.checkpoints.fetch (it imports torch), only when this subcommand runs."""
    if load:
        from telme.checkpoints.fetch import add_fetch_arguments

        add_fetch_arguments(parser)


def add_training(parser, name, load):
    """Options come from telme.training.cli, imported only when this subcommand runs."""
    parser.set_defaults(run=lambda args: getattr(training_cli(name), f"run_{name}")(args))
    if not load:
        return
    try:
        adder = getattr(training_cli(name), f"add_{name}_arguments")
    except SystemExit:
        return
    adder(parser)


def training_cli(name):
    try:
        from telme.training import cli
    except ImportError as error:
        raise SystemExit(f"error: `{name}` needs telme.training.cli, which is not available ({error})") from error
    return cli


def print_progress(step, done, total):
    print(f"\r{step}: {done}/{total}", end="\n" if done >= total else "", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
