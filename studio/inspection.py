"""The error-inspection tab's work, without gradio: score a labelled split and keep it for browsing.

`evaluate_split` reads a MELD- or IEMOCAP-format CSV (and optional clips), predicts every dialogue
and scores it. `split_predictions` is the one function that computes the evaluation, so it can be
switched to `telme.evaluate` (the CLI's evaluator) in one place.
"""

from dataclasses import dataclass, field
from pathlib import Path

from telme.dialogue import Dialogue
from telme.media.errors import MediaError
from studio.session import NON_VERBAL, BadRequest, predict, require_model

SPLIT_COLUMNS = (  # what a split CSV needs, shown in the tab
    "**MELD**: `Dialogue_ID, Utterance_ID, Speaker, Utterance, Emotion, StartTime, EndTime` "
    "(clips named `dia<D>_utt<U>.mp4`); **IEMOCAP**: `Dialogue_ID, Speaker, Utterance, Emotion, "
    "Start_Time, End_Time` (one recording per dialogue, named after `Dialogue_ID`)")


@dataclass(frozen=True)
class SplitSession:
    """A dataset split as predicted by the loaded model, for error inspection."""

    dialogues: list = field(default_factory=list)  # CorpusDialogue with gold labels
    predictions: list = field(default_factory=list)  # DialoguePrediction per dialogue
    report: object = None  # telme.training.evaluate.EvaluationReport of the whole split
    skipped: list = field(default_factory=list)  # clips that could not be used

    def names(self):
        return [_dialogue_name(d, i) for i, d in enumerate(self.dialogues)]

    def find(self, name):
        """The dialogue and prediction called `name` (as listed, or just its id such as 'dia3')."""
        names = self.names()
        ids = [listed.split(" (")[0] for listed in names]
        index = names.index(name) if name in names else ids.index(name) if name in ids else None
        if index is None:
            raise BadRequest(f"no dialogue named {name!r} in the loaded split (e.g. {', '.join(ids[:3])})")
        return self.dialogues[index], self.predictions[index]


def _dialogue_name(dialogue, index):
    source = dialogue.source.split(":")[-1] or f"dialogue {index}"
    return f"{source} ({len(dialogue)} utterances)"


def read_split(path):
    """MELD- or IEMOCAP-format CSV -> list of CorpusDialogue (the header decides which)."""
    from telme.data import read_iemocap_csv, read_meld_csv

    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    if "Utterance_ID" in header:
        return read_meld_csv(path)
    if "Start_Time" in header:
        return read_iemocap_csv(path)
    raise BadRequest(f"{Path(path).name} is neither a MELD nor an IEMOCAP CSV (header: {header.strip()[:120]})")


def evaluate_split(services, path, clip_files=(), limit=0, progress=None):
    """Predict every dialogue of a split (text only without clips) and score it."""
    dialogues = read_split(path)[: int(limit) or None]
    clips = {Path(file).stem: str(file) for file in clip_files or ()}
    predictions, report = split_predictions(services, dialogues, clips, Path(path).stem, progress)
    return SplitSession(dialogues=dialogues, predictions=predictions, report=report, skipped=report.skipped)


def split_predictions(services, dialogues, clips, split_name, progress=None):
    """The evaluation itself: (DialoguePrediction per dialogue, EvaluationReport of the split)."""
    from telme.training.evaluate import build_report

    require_model(services)
    predictions, skipped = [], []
    for number, dialogue in enumerate(dialogues):
        if progress:
            progress("model", number, len(dialogues))
        media = _split_media(services, dialogue, clips, skipped)
        predictions.append(predict(services, dialogue, media))
    labels = predictions[0].labels if predictions else ()
    gold, predicted = _label_indices(dialogues, predictions, labels)
    report = build_report(split_name, labels, used_modalities(predictions), gold, predicted, skipped)
    return predictions, report


def used_modalities(predictions):
    """The parts that actually produced outputs (no clips: text only, whatever the model has)."""
    results = [result for prediction in predictions for result in prediction.utterances]
    used = ["text"] + [m for m in NON_VERBAL if any(getattr(r, m) is not None for r in results)]
    return used + ["fusion"] * any(r.alpha is not None for r in results)


def _label_indices(dialogues, predictions, labels):
    gold, predicted = [], []
    for dialogue, prediction in zip(dialogues, predictions):
        for utterance, result in zip(dialogue, prediction.utterances):
            if utterance.label in labels:
                gold.append(labels.index(utterance.label))
                predicted.append(labels.index(result.label))
    if not gold:
        raise BadRequest(f"no gold label of this split is one of the model's labels ({', '.join(labels)})")
    return gold, predicted


def _split_media(services, dialogue, clips, skipped):
    """Media of a dataset dialogue from the uploaded clips, or None (text only).

    IEMOCAP: one recording named after the dialogue, utterance times inside it; MELD: one clip
    per utterance named after its id ("dia0_utt3"), used whole.
    """
    if not clips or not set(NON_VERBAL) & set(services.live):
        return None
    recording = clips.get(dialogue.source.split(":")[-1])
    if recording:
        try:
            return services.load_media(recording, dialogue)
        except MediaError as error:
            skipped.append(f"{Path(recording).name}: {error}")
            return None
    items = [_whole_clip(services, clips.get(name), skipped) for name in getattr(dialogue, "utterance_ids", ())]
    return items if any(item.audio is not None for item in items) else None


def _whole_clip(services, clip, skipped):
    from telme.dialogue import Utterance
    from telme.media.pipeline import UtteranceMedia

    if clip is None:
        return UtteranceMedia(audio=None, frames=None)
    try:
        span = Dialogue([Utterance(start=0.0, end=services.probe(clip).duration, speaker="", text="")])
        return services.load_media(clip, span)[0]
    except MediaError as error:
        skipped.append(f"{Path(clip).name}: {error}")
        return UtteranceMedia(audio=None, frames=None)
