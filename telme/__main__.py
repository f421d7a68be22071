"""`telme {convert,analyze,evaluate,train,card} ...` (also `python -m telme ...`): one subcommand per job.

Each subcommand is a pair `add_<name>_arguments(parser)` / `run_<name>(args) -> exit code`; the
training pairs live in telme.training.cli and telme.training.card. Only the chosen subcommand's
options are added (an adder may import its module), and heavy modules (torch, transformers, the
media stack) load only once a subcommand runs. A `UserError` or an `OSError` is printed as
`error: ...` and exits 1; anything else is a bug and shows its traceback.
"""

import argparse
import json
import sys
from pathlib import Path

from telme.errors import UserError


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(wanted=argv[0] if argv else None)
    args = parser.parse_args(argv)
    if args.subcommand is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except (UserError, OSError) as error:  # something the user can fix: a file, a setting, the input
        print(f"error: {error}", file=sys.stderr)
        return 1


def subcommands() -> list[tuple]:
    """(name, help, description, add_arguments, run) of every subcommand, in --help order."""
    from telme.training import card, cli, upper_cli

    return [
        ("convert", "official release folder -> project bundle",
         "Convert an official TelME save_model/ folder into a bundle (config.json + model.safetensors + tokenizer/).",
         add_convert_arguments, run_convert),
        ("analyze", "clip -> JSON of utterances with all probabilities",
         "Transcribe a clip (or read its transcript), find the speakers and write every utterance's emotion "
         "probabilities as JSON.", add_analyze_arguments, run_analyze),
        ("evaluate", "score a model on a dataset split",
         "Predict every utterance of a MELD or IEMOCAP split and score it (telme.evaluate: the app's "
         "error-inspection tab gives the same predictions).", add_evaluate_arguments, run_evaluate),
        ("train", "train TelME stages", "Train the teacher, the students and the fusion (the official stages).",
         cli.add_train_arguments, cli.run_train),
        ("train-upper", "train a teacher's upper layers on cached lower ones (CPU budget)",
         "Run a pretrained encoder's lower layers once, cache their states and train the upper layers "
         "with LoRA plus the TelME head (telme.training.upper).", upper_cli.add_upper_arguments,
         upper_cli.run_train_upper),
        ("card", "export a run as a bundle with its model card",
         "Export a finished run as a bundle with eval_dev.json, regression.json and MODEL_CARD.md.",
         card.add_card_arguments, card.run_card),
        ("fetch-official", "download the authors' weights -> bundles",
         "Download the official TelME release (Google Drive), check it and convert it into bundles.",
         add_fetch_arguments, run_fetch),
    ]  # fmt: skip


def build_parser(wanted=None) -> argparse.ArgumentParser:
    """Every subcommand, with the options of the one called `wanted` (the others' are not needed)."""
    parser = argparse.ArgumentParser(prog="python -m telme", description="TelME emotion recognition in conversation.")
    table = subcommands()
    commands = parser.add_subparsers(dest="subcommand", metavar="{" + ",".join(row[0] for row in table) + "}")
    for name, help_text, description, add_arguments, run in table:
        sub = commands.add_parser(name, help=help_text, description=description)
        if name == wanted:
            add_arguments(sub)
        sub.set_defaults(handler=run)  # not "run": `card` has a --run option
    return parser


def add_convert_arguments(parser):
    parser.add_argument("source", help="official release folder (holding teacher.bin, or its save_model/ parent)")
    parser.add_argument("destination", help="bundle folder to write")
    parser.add_argument("--dataset", choices=("meld", "iemocap"), default="meld",
                        help="label set, fusion beta and heads of the release (default: meld)")
    parser.add_argument("--name", help="bundle name (default: telme-<dataset>)")
    parser.add_argument("--backbones", help="JSON file {teacher|audio|video: {field: value}} overriding the "
                                            "shipped backbone configs (for non-standard releases)")


def run_convert(args) -> int:
    from telme.checkpoints import convert_official, load_bundle

    backbones = read_json(args.backbones) if args.backbones else None
    folder = convert_official(args.source, args.destination, dataset=args.dataset, backbones=backbones, name=args.name)
    print(f"wrote {folder}\n{load_bundle(folder).describe()}")
    return 0


def add_fetch_arguments(parser):
    from telme.checkpoints import fetch  # imports torch: only when this subcommand is chosen

    fetch.add_fetch_arguments(parser)


def run_fetch(args) -> int:
    from telme.checkpoints import fetch

    return fetch.run_fetch(args)


def add_analyze_arguments(parser):
    parser.add_argument("clip", help="video or audio file")
    parser.add_argument("--json", required=True, metavar="OUT", help="where to write the JSON ('-' = stdout)")
    parser.add_argument("--transcript", help="SRT, WebVTT or MELD CSV; 'Name:' prefixes give speakers")
    parser.add_argument("--asr-model", help="base (default), tiny.en (faster), a CTranslate2 folder or a "
                                            "faster-whisper model name")
    parser.add_argument("--speakers", type=int, help="number of speakers, when known (at most 9)")
    parser.add_argument("--language", help="spoken language code for ASR (default: en, the teachers' language; "
                                           "'auto' detects it)")
    add_model_arguments(parser, "label set when --weights is an official release folder")
    parser.add_argument("--batch-size", type=int, help="utterances per backbone forward (default: 8; 2 for the "
                                                       "students in bf16 on CPU)")
    parser.add_argument("--drop", action="append", choices=("audio", "video"), default=[],
                        help="replace this student's vectors by zeros in the fusion (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run_analyze(args) -> int:
    from telme.checkpoints import load_model
    from telme.inference import Recognizer, analyze_clip

    model = load_model(args.weights, dataset=args.dataset or "meld")
    recognizer = Recognizer(model, device=args.device, batch_size=args.batch_size, precision=args.precision)
    for reason in model.missing:
        print(f"note: {reason}", file=sys.stderr)
    analysis = analyze_clip(args.clip, recognizer, transcript=args.transcript, asr_model=args.asr_model,
                            num_speakers=args.speakers, language=args.language, drop=frozenset(args.drop),
                            progress=None if args.quiet else print_progress)  # fmt: skip
    text = json.dumps(analysis.to_dict(), indent=1, ensure_ascii=False)
    if args.json == "-":
        print(text)
    else:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.json} ({len(analysis.prediction.utterances)} utterances)", file=sys.stderr)
    if analysis.speakers and not args.quiet:
        print(analysis.speakers["status"], file=sys.stderr)
    return 0


def add_evaluate_arguments(parser):
    parser.add_argument("--data", required=True, help="gold-labelled split CSV (MELD or IEMOCAP)")
    parser.add_argument("--clips", help="the split's clips folder; without it, text only (the teacher)")
    add_model_arguments(parser, "the split's corpus: its CSV format, and the label set when --weights is an "
                                "official release folder (default: from the CSV header)")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per teacher forward (default: 8)")
    parser.add_argument("--json", help="write the report and every utterance's prediction here")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run_evaluate(args) -> int:
    from telme.checkpoints import load_model
    from telme.data import read_split, split_format
    from telme.evaluation import evaluate

    dataset = args.dataset or split_format(args.data)
    model = load_model(args.weights, dataset=dataset)
    evaluation = evaluate(model, read_split(args.data, dataset), clips=args.clips, device=args.device,
                          batch_size=args.batch_size, precision=args.precision,
                          progress=None if args.quiet else print_progress)  # fmt: skip
    print(evaluation.report.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(evaluation.to_dict(), indent=1))
    return 0


def add_model_arguments(parser, dataset_help):
    parser.add_argument("--weights", help="bundle folder, official release folder or Hub repo id[@revision] "
                                          "(default: checkpoints/telme-mpnet-meld; fast: checkpoints/telme-mini-meld)")
    parser.add_argument("--dataset", choices=("meld", "iemocap"), help=dataset_help)
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                        help="auto (default, or $TELME_PRECISION): bf16 on CUDA, fp32 on CPU; bf16 on CPU "
                             "needs native bf16 (AVX512-BF16/AMX)")


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON: {error}") from error


def print_progress(step, done, total):
    print(f"\r{step}: {done}/{total}", end="\n" if done >= total else "", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
