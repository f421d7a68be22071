"""What the app's handlers do, without gradio: per-user `Session`s and the steps that change them.

Each action takes the read-only `Services` (model, pipeline) and the user's current `Session`, and
returns a new `Session`; the caller keeps it in `gr.State`. An action that fails raises before
anything is replaced, so a bad upload never erases earlier results or edits.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

from telme.dialogue import Dialogue
from telme.media.errors import MediaError

NON_VERBAL = ("audio", "video")
MEDIA_IN_STATE_BYTES = 256 * 2**20  # decoded media kept per user up to this size; larger is re-decoded on use
EMPTY_DIALOGUE = Dialogue()


class NoTrainedModel(RuntimeError):
    """The app runs without trained weights: it shows this instead of predicting."""


@dataclass(frozen=True)
class Services:
    """Shared by every user and never changed after start-up."""

    recognizer: object  # telme.inference.Recognizer, or None when no trained weights were found
    to_dialogue: object  # ClipToDialogue: (path, transcript=, num_speakers=, progress=) -> Dialogue
    load_media: object  # telme.inference.load_clip_media bound to the model: (path, dialogue, progress=, audio=)
    summary: str = ""  # markdown: which model is loaded and which modalities are live
    problem: str = ""  # why nothing can be predicted ("" when a trained model is loaded)

    @property
    def live(self):
        return tuple(self.recognizer.model.live_modalities) if self.recognizer else ()


@dataclass(frozen=True)
class Session:
    """One user's analysis: the dialogue as edited, its media and its latest prediction."""

    dialogue: object = None  # telme.dialogue.Dialogue as the user last edited it
    prediction: object = None  # DialoguePrediction of `dialogue` with `drop` applied
    clip: str | None = None  # the analysed media file; None when only a transcript was given
    has_video: bool = False
    media: object = None  # per-utterance media decoded once and reused by toggles and edits (None when too big)
    drop: frozenset = frozenset()  # non-verbal modalities removed from the fusion
    note: str = ""  # what the last action did, for the status line

    @property
    def ready(self):
        return self.dialogue is not None and self.prediction is not None


def require_model(services):
    if services.recognizer is None:
        raise NoTrainedModel(services.problem or "no trained TelME weights are loaded")
    return services.recognizer


def analyse(services, clip, transcript=None, num_speakers=None, progress=None):
    """Clip and/or transcript -> Session with the dialogue, its media and the prediction."""
    from telme.media.decode import probe
    from telme.media.pipeline import dialogue_with_audio

    recognizer = require_model(services)
    if clip is None and transcript is None:
        raise MediaError("give a video, an audio recording or a transcript to analyse")
    found = dialogue_with_audio(services.to_dialogue, clip, transcript=transcript,
                                num_speakers=num_speakers or None, progress=progress)  # decodes the audio once
    dialogue, media, has_video = found.dialogue, None, False
    if clip is not None:
        has_video = probe(clip).has_video
        media = services.load_media(clip, dialogue, progress=progress, audio=found.audio)  # None: no live student
    prediction = recognizer.run_dialogue(dialogue, media=media, progress=progress)
    note = f"analysed {len(dialogue)} utterances of {len(dialogue.speakers)} speakers" + (
        f" · {found.speakers.status()}" if found.speakers else "") + long_note(
        recognizer.model, dialogue, media)
    kept = media if media_bytes(media) <= MEDIA_IN_STATE_BYTES else None
    return Session(dialogue=dialogue, prediction=prediction, clip=clip, has_video=has_video, media=kept, note=note)


def long_note(model, dialogue, media):
    """Say which utterances the official profile feeds zero audio and frames (over 30 s)."""
    from telme.features.audio import too_long

    if media is None:
        return ""
    long = [str(i) for i, u in enumerate(dialogue) if too_long(u.duration, model.profile)]
    if not long:
        return ""
    limit = model.profile.max_utterance_seconds
    return (f" · utterances {', '.join(long)} last over {limit:g} s: as in the official code, the students"
            " see zero audio and frames for them")


def media_bytes(media):
    """Memory held by per-utterance media (audio and frames arrays)."""
    arrays = [getattr(item, name, None) for item in media or () for name in ("audio", "frames")]
    return sum(array.nbytes for array in arrays if array is not None)


def session_media(services, session):
    """The session's media: kept in its state, or decoded again when it was too big to keep."""
    if session.media is not None or session.clip is None:
        return session.media
    return services.load_media(session.clip, session.dialogue)


def rerun(services, session, dialogue, changed):
    """The session after the user's edits: the recognizer recomputes only what they reach."""
    if not session.ready:
        raise MediaError("analyse a clip or a transcript first")
    recognizer = require_model(services)
    if not changed:
        return replace(session, note="no cell was changed: nothing to re-run")
    prediction = recognizer.run_dialogue(dialogue, media=session_media(services, session), drop=session.drop)
    first = min(changed)
    note = (f"edited #{', #'.join(map(str, changed))}: the text teacher re-ran #{first}–#{len(dialogue) - 1} "
            f"({len(dialogue) - first} of {len(dialogue)}; later prompts contain the edit)")
    if session.clip is not None and set(NON_VERBAL) & set(services.live):
        note += ", audio and video outputs were reused"
    return replace(session, dialogue=dialogue, prediction=prediction, note=note)


def toggle(services, session, keep):
    """The session with the fusion recomputed using only the non-verbal modalities in `keep`."""
    if not session.ready:
        raise MediaError("analyse a clip first")
    drop = frozenset(NON_VERBAL) - set(keep or ())
    prediction = require_model(services).run_dialogue(session.dialogue, media=session_media(services, session),
                                                      drop=drop)
    kept = ", ".join(sorted(set(NON_VERBAL) - drop)) or "none"
    return replace(session, prediction=prediction, drop=drop,
                   note=f"fusion recomputed with non-verbal cues: {kept}")


def toggleable(services, session):
    """The non-verbal modalities this session's fusion can be recomputed without (live and present)."""
    if "fusion" not in services.live or session.prediction is None:
        return []
    results = session.prediction.utterances
    return [m for m in NON_VERBAL if any(getattr(result, m) is not None for result in results)]


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
            raise MediaError(f"no dialogue named {name!r} in the loaded split (e.g. {', '.join(ids[:3])})")
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
    raise MediaError(f"{Path(path).name} is neither a MELD nor an IEMOCAP CSV (header: {header.strip()[:120]})")


def evaluate_split(services, path, clip_files=(), limit=0, progress=None):
    """Predict every dialogue of a split (text only without clips) and score it."""
    from telme.training.evaluate import build_report

    recognizer = require_model(services)
    dialogues = read_split(path)[: int(limit) or None]
    clips = {Path(file).stem: str(file) for file in clip_files or ()}
    predictions, skipped = [], []
    for number, dialogue in enumerate(dialogues):
        if progress:
            progress("model", number, len(dialogues))
        media = _split_media(services, dialogue, clips, skipped)
        predictions.append(recognizer.run_dialogue(dialogue, media=media))
    labels = predictions[0].labels if predictions else ()
    gold, predicted = _label_indices(dialogues, predictions, labels)
    modalities = used_modalities(predictions)
    report = build_report(Path(path).stem, labels, modalities, gold, predicted, skipped)
    return SplitSession(dialogues=dialogues, predictions=predictions, report=report, skipped=skipped)


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
        raise MediaError(f"no gold label of this split is one of the model's labels ({', '.join(labels)})")
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
    from telme.media.decode import probe
    from telme.media.pipeline import UtteranceMedia

    if clip is None:
        return UtteranceMedia(audio=None, frames=None)
    try:
        span = Dialogue([Utterance(start=0.0, end=probe(clip).duration, speaker="", text="")])
        return services.load_media(clip, span)[0]
    except MediaError as error:
        skipped.append(f"{Path(clip).name}: {error}")
        return UtteranceMedia(audio=None, frames=None)
