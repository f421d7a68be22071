"""The error-inspection tab's work, without gradio: score a labelled split and keep it for browsing.

`evaluate_split` reads a MELD- or IEMOCAP-format CSV (and optional clips) and scores it with
`telme.evaluate`, the evaluator `telme evaluate` runs: the same split and weights give the same
predictions and scores in the app and on the command line.
"""

from dataclasses import dataclass, field

from telme.data import read_split
from studio.session import BadRequest, require_model

SPLIT_COLUMNS = (  # what a split CSV needs, shown in the tab
    "**MELD**: `Dialogue_ID, Utterance_ID, Speaker, Utterance, Emotion, StartTime, EndTime` "
    "(clips named `dia<D>_utt<U>.mp4`); **IEMOCAP**: `Dialogue_ID, Speaker, Utterance, Emotion, "
    "Start_Time, End_Time` (one recording per dialogue, named after `Dialogue_ID`)")


@dataclass(frozen=True)
class SplitSession:
    """A dataset split as predicted by the loaded model, for error inspection."""

    dialogues: list = field(default_factory=list)  # CorpusDialogue with gold labels
    predictions: list = field(default_factory=list)  # DialoguePrediction per dialogue
    report: object = None  # telme.metrics.EvaluationReport of the whole split
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


def evaluate_split(services, path, clip_files=(), limit=0, progress=None):
    """Predict every dialogue of a split (text only without clips) and score it (`telme.evaluate`)."""
    dialogues = read_split(path)[: int(limit) or None]
    evaluation = split_evaluation(services, dialogues, list(clip_files or ()), progress)
    return SplitSession(dialogues=dialogues, predictions=evaluation.dialogue_predictions(),
                        report=evaluation.report, skipped=evaluation.report.skipped)


def split_evaluation(services, dialogues, clip_files, progress=None):
    """`telme.evaluate` on the shared model, with its Recognizer's device, teacher batch and precision;
    clips are the uploaded files, found by name."""
    from telme.evaluation import evaluate

    recognizer = require_model(services)
    with services.model_lock:  # one forward at a time on the shared model
        return evaluate(recognizer.model, dialogues, clips=clip_files or None, device=recognizer.device,
                        batch_size=recognizer.batch_sizes["teacher"], precision=recognizer.precision,
                        progress=progress)  # fmt: skip
