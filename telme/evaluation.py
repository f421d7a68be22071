"""The one evaluator: gold-labelled dialogues (a dataset split) + optional clips -> predictions, scores.

    import telme
    from telme.data import read_split
    evaluation = telme.evaluate(model, read_split("dev_sent_emo.csv"), clips="MELD.Raw/dev_splits")
    print(evaluation.report.summary())            # weighted-F1, macro-F1, accuracy, confusion
    evaluation.predictions[0]                     # dialogue, index, gold, predicted, fused/teacher probs
    evaluation.to_dict()                          # JSON

`python -m telme evaluate` and the app's error-inspection tab both call `evaluate`, so a split
and a model get one score wherever they are scored. The model is fed as its preprocessing
profile says, over the whole split in file order, as the official evaluation did:
- prompts: speakers numbered by `telme.data.split_speaker_numbers(dialogues,
  profile.speaker_numbering)`; "official" carries the official reader's quirk across dialogues
  (MELD dev dia2 is numbered [2, 1, 2, 1, 2, 1]), so `dialogues` must be the whole split in order.
- teacher: micro-batches of `batch_size` prompts of similar length, left-padded with a mask.
- precision: as the Recognizer's (`telme.inference.precision`): fp32 on CPU, bf16 autocast with
  bf16-stored backbones on CUDA by default, so the app's model and a freshly loaded one agree.
- students and fusion (only with `clips` and live students): consecutive groups of
  `FusionConfig.group_size` utterances of the split, crossing dialogue boundaries (the official
  DataLoader's batches of 4; utterances of a group attend to each other in the fusion). Audio is
  padded on the profile's `audio_pad` side with zeros and no mask, as the official code did.
  Clips are found by `telme.clips.ClipInputs`; missing, broken and too-long ones get the
  official zero placeholder and are listed in `report.skipped`.
- gold labels: an utterance whose gold label is not one of the model's labels (or has none) is
  predicted, not scored, and counted in `report.unscored`.
"""

from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch

from telme.data import dialogue_name, split_speaker_numbers, utterance_keys
from telme.errors import UserError
from telme.metrics import EvaluationReport, build_report

STUDENTS = ("audio", "video")


class NothingToScore(UserError):
    """No utterance of the dialogues has a gold label the model knows."""


@dataclass
class ScoredUtterance:
    """One utterance of the split: what the model said and what the gold label is."""

    dialogue: str  # the dialogue's id, e.g. "dia2" (MELD) or "Ses01F_impro01" (IEMOCAP)
    index: int  # position in its dialogue
    key: str  # the utterance's id, e.g. "dia2_utt0" (its MELD clip name)
    gold: str | None  # as the dataset says; None when it has none
    predicted: str  # argmax of `fused`
    scored: bool  # gold is one of the model's labels
    teacher: list  # probabilities, one per label
    fused: list  # the fusion's probabilities; the teacher's when the fusion did not run
    audio: list | None = None  # the audio student's, when it ran on clips
    video: list | None = None
    alpha: float | None = None  # the fusion's shift scale; None when the fusion did not run

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Evaluation:
    """Predictions per utterance (split order) and the report over the scored ones."""

    labels: tuple  # the model's, in its classifier's order
    live: tuple  # the model's live modalities
    dialogues: list  # what was evaluated, in order
    predictions: list  # ScoredUtterance per utterance, dialogue by dialogue
    report: EvaluationReport

    def to_dict(self) -> dict:
        return {"report": self.report.to_dict(), "predictions": [p.to_dict() for p in self.predictions]}

    def dialogue_predictions(self) -> list:
        """One `telme.inference.DialoguePrediction` per dialogue (the result type the views draw)."""
        from telme.inference.results import DialoguePrediction, UtterancePrediction

        results, start = [], 0
        for dialogue in self.dialogues:
            rows = self.predictions[start:start + len(dialogue)]
            start += len(dialogue)
            utterances = [UtterancePrediction(index=p.index, teacher=p.teacher, audio=p.audio, video=p.video,
                                              fused=p.fused, alpha=p.alpha, label=p.predicted,
                                              confidence=max(p.fused)) for p in rows]  # fmt: skip
            results.append(DialoguePrediction(labels=self.labels, live=self.live, utterances=utterances))
        return results


def evaluate(model, dialogues, clips=None, device=None, batch_size=8, progress=None, precision=None) -> Evaluation:
    """Predict and score gold-labelled `dialogues` (a whole split, in file order) with a loaded TelME.

    clips: None (text only), a folder, or a list of files: utterance clips named by utterance id
    or one recording per dialogue named after it. device: as `telme.inference.choose_device`;
    precision: auto, fp32, bf16 or fp16 (None: $TELME_PRECISION or auto), as the Recognizer's.
    progress: `progress(step, done, total)`. Raises NothingToScore when no gold label is known.
    """
    from telme.inference import choose_device
    from telme.inference.precision import autocast_dtype, cast_weights, use_fast_video

    dialogues = list(dialogues)
    if not dialogues or not any(len(d) for d in dialogues):
        raise NothingToScore("no utterances to evaluate")
    device, progress = choose_device(device), progress or _quiet
    dtype = autocast_dtype(device, precision)
    cast_weights(model, dtype)  # the Recognizer's rule: bf16 stores the backbones in bf16 (in place)
    use_fast_video(model, enabled=dtype == torch.bfloat16)
    model.to(device).eval()
    students = tuple(m for m in STUDENTS if m in model.live_modalities) if clips else ()
    autocast = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
    with torch.inference_mode(), autocast:
        text, teacher = teacher_outputs(model, dialogues, device, batch_size, progress)  # (N, D), (N, L)
        student_probs, fused, alpha = {}, teacher, None
        skipped = []
        if students:
            student_probs, fused, alpha, skipped = grouped_outputs(model, dialogues, clips, students, text, device,
                                                                   progress)  # fmt: skip
    fusion_ran = alpha is not None
    predictions = scored_utterances(model.labels, dialogues, teacher, fused, student_probs, alpha)
    modalities = ("text",) + students + (("fusion",) if fusion_ran else ())
    report = split_report(model.labels, dialogues, predictions, modalities, skipped)
    return Evaluation(labels=tuple(model.labels), live=tuple(model.live_modalities), dialogues=dialogues,
                      predictions=predictions, report=report)  # fmt: skip


def prompt_ids(model, dialogues) -> list[list[int]]:
    """Every utterance's prompt ids (mask last), in split order, with the profile's numbering."""
    from telme.features.text import dialogue_texts, encode_dialogue

    profile = model.profile
    ids = []
    for dialogue, speakers in zip(dialogues, split_speaker_numbers(dialogues, profile.speaker_numbering)):
        ids += encode_dialogue(speakers, dialogue_texts(dialogue, profile), model.tokenizer, profile.max_text_tokens)
    return ids


def teacher_outputs(model, dialogues, device, batch_size, progress):
    """Teacher hidden vectors (N, D) and probabilities (N, L) on the CPU, in split order."""
    from telme.features.text import collate_left
    from telme.inference.forwards import check_vocabulary

    ids = prompt_ids(model, dialogues)
    check_vocabulary(ids, model.teacher.cfg.vocab_size)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch: little padding
    hidden, probs = [None] * len(ids), [None] * len(ids)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        progress("teacher", start, len(order))
        input_ids, mask = collate_left([ids[i] for i in chunk], model.tokenizer.pad_id)  # (B, T)
        h, logits = model.teacher(input_ids.to(device), mask.to(device))  # (B, D), (B, L)
        for i, h_row, p_row in zip(chunk, h.float().cpu(), logits.float().softmax(-1).cpu()):
            hidden[i], probs[i] = h_row, p_row
    progress("teacher", len(order), len(order))
    return torch.stack(hidden), torch.stack(probs)


def grouped_outputs(model, dialogues, clips, students, text, device, progress):
    """Students (and the fusion, when live) on consecutive groups of the split's utterances.

    Returns ({student: probs (N, L)}, fused probs (N, L), alpha (N,) or None, skipped clip keys).
    """
    from telme.clips import ClipInputs
    from telme.features.audio import collate_audio
    from telme.models.configs import FusionConfig

    inputs = ClipInputs(clips, model.profile, students)
    size = model.fusion.cfg.group_size if model.fusion is not None else FusionConfig.group_size
    fuse = "fusion" in model.live_modalities
    probs = {m: [] for m in students}
    fused, alphas, done = [], [], 0
    for group in utterance_groups(dialogues, inputs, size):
        rows = slice(done, done + len(group))
        hidden = {}
        for m in students:
            if m == "audio":
                batch = collate_audio([item[m] for item in group], pad=model.profile.audio_pad)  # (B, T), no mask
            else:
                batch = torch.stack([item[m] for item in group])  # (B, 8, 3, S, S)
            hidden[m], logits = model.part(m)(batch.to(device))  # (B, D), (B, L)
            probs[m].append(logits.float().softmax(-1).cpu())
        if fuse:
            zeros = torch.zeros_like(text[rows]).to(device)
            logits, alpha = model.fusion(text[rows].to(device), hidden.get("audio", zeros), hidden.get("video", zeros),
                                         return_alpha=True)  # (B, L), (B,)  # fmt: skip
            fused.append(logits.float().softmax(-1).cpu())
            alphas.append(alpha.float().cpu())
        done += len(group)
        progress("students and fusion" if fuse else "students", done, len(text))
    student_probs = {m: torch.cat(chunks) for m, chunks in probs.items()}
    if not fuse:
        return student_probs, None, None, inputs.report.keys()
    return student_probs, torch.cat(fused), torch.cat(alphas), inputs.report.keys()


def utterance_groups(dialogues, inputs, size):
    """Lists of `size` consecutive utterances' inputs over the whole split (the last may be shorter);
    each dialogue's clips are read when the walk reaches it."""
    group = []
    for dialogue in dialogues:
        for item in inputs.dialogue(dialogue, dialogue_name(dialogue), utterance_keys(dialogue)):
            group.append(item)
            if len(group) == size:
                yield group
                group = []
    if group:
        yield group


def scored_utterances(labels, dialogues, teacher, fused, student_probs, alpha) -> list:
    fused = teacher if fused is None else fused
    predictions, row = [], 0
    for dialogue in dialogues:
        for index, (key, utterance) in enumerate(zip(utterance_keys(dialogue), dialogue)):
            student = {m: p[row].tolist() for m, p in student_probs.items()}
            predictions.append(ScoredUtterance(
                dialogue=dialogue_name(dialogue), index=index, key=key, gold=utterance.label,
                predicted=labels[int(fused[row].argmax())], scored=utterance.label in labels,
                teacher=teacher[row].tolist(), fused=fused[row].tolist(), audio=student.get("audio"),
                video=student.get("video"), alpha=None if alpha is None else float(alpha[row])))  # fmt: skip
            row += 1
    return predictions


def split_report(labels, dialogues, predictions, modalities, skipped) -> EvaluationReport:
    """The report over the scored utterances; unknown gold labels are counted, not scored."""
    scored = [p for p in predictions if p.scored]
    if not scored:
        raise NothingToScore(f"no gold label of this split is one of the model's labels ({', '.join(labels)})")
    unscored = {}
    for p in predictions:
        if not p.scored:
            unscored[str(p.gold)] = unscored.get(str(p.gold), 0) + 1
    gold = [labels.index(p.gold) for p in scored]
    predicted = [labels.index(p.predicted) for p in scored]
    split = dialogues[0].source.rsplit(":", 1)[0]
    return build_report(split, labels, modalities, gold, predicted, skipped, unscored)


def _quiet(step, done, total):
    pass
