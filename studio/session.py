"""What the handlers do, without gradio: one user's `Session` and the actions that change it.

Each action takes the shared `Services` (model, pipeline, media store, workspaces) and the user's
current `Session`, and returns a new `Session` that the caller keeps in `gr.State`. An action that
fails raises before anything is replaced, so a bad upload never erases earlier results or edits.
The session holds no decoded media: only the key of its entry in the shared, byte-bounded store.
"""

import threading
import uuid
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

from telme.dialogue import MAX_SPEAKERS, Dialogue
from telme.errors import UserError

NON_VERBAL = ("audio", "video")
EMPTY_DIALOGUE = Dialogue()
DETECT = "detect"  # the speaker-count choice that lets the voice clustering decide
SPEAKER_CHOICES = [DETECT] + [str(n) for n in range(1, MAX_SPEAKERS + 1)]
PART_NAMES = {"teacher": "text teacher", "audio": "audio student", "video": "video student", "fusion": "fusion"}


class NoTrainedModel(UserError):
    """The app runs without trained weights: it shows this instead of predicting."""


class BadRequest(UserError):
    """An input the studio refuses (both a video and an audio file, an unknown speaker count, ...)."""


@dataclass(frozen=True)
class Services:
    """Shared by every user; the model and pipeline never change, the store and folders are caches."""

    recognizer: object  # telme.inference.Recognizer, or None when no trained weights were found
    to_dialogue: object  # ClipToDialogue: (path, transcript=, num_speakers=, progress=) -> Dialogue
    load_media: object  # load_clip_media bound to the model: (path, dialogue, progress=, audio=) -> media | None
    summary: str = ""  # markdown: which model is loaded and which modalities are live
    problem: str = ""  # why nothing can be predicted ("" when a trained model is loaded)
    decoder: object = None  # studio.media.ProbeOnce shared with the pipeline (None: telme.media.decode)
    store: object = None  # studio.workspace.MediaStore of decoded media
    workspaces: object = None  # studio.workspace.Workspaces, one folder per session
    model_lock: object = field(default_factory=threading.Lock)  # one forward at a time on the shared model

    @property
    def live(self):
        return tuple(self.recognizer.model.live_modalities) if self.recognizer else ()

    def probe(self, path):
        from telme.media import decode

        return (self.decoder or decode).probe(path)


@dataclass(frozen=True)
class Session:
    """One user's analysis: the dialogue as edited, its latest prediction and where its media is."""

    owner: str = ""  # the browser session (gr.Request.session_hash) the files and media belong to
    dialogue: object = None  # telme.dialogue.Dialogue as the user last edited it
    prediction: object = None  # DialoguePrediction of `dialogue` with `drop` applied
    clip: str | None = None  # the analysed media file; None when only a transcript was given
    has_video: bool = False
    media_key: str = ""  # its decoded media in `Services.store` ("" when nothing was decoded)
    drop: frozenset = frozenset()  # non-verbal modalities removed from the fusion
    note: str = ""  # what the last action did, for the status line
    model: dict = field(default_factory=dict)  # {"name", "missing", "device"} for exports

    @property
    def ready(self):
        return self.dialogue is not None and self.prediction is not None

    @property
    def finished(self):
        """Ready, and no part is still to come (an analysis cancelled part-way is ready, not finished)."""
        return self.ready and self.prediction.complete


def require_model(services):
    if services.recognizer is None:
        raise NoTrainedModel(services.problem or "no trained TelME weights are loaded")
    return services.recognizer


def predict_steps(services, dialogue, media=None, drop=frozenset(), progress=None):
    """The recognizer's PartialPredictions as they come (`Recognizer.stream_dialogue`), each step under
    the shared model lock so light events (toggles) and analyses share the model safely. Closing this
    generator closes the recognizer's: the work stops after the micro-batch under way."""
    stream = require_model(services).stream_dialogue(dialogue, media=media, drop=drop, progress=progress)
    with closing(stream):
        while True:
            with services.model_lock:
                step = next(stream, None)
            if step is None:
                return
            yield step


def predict(services, dialogue, media=None, drop=frozenset(), progress=None):
    """The complete DialoguePrediction: the last of `predict_steps`."""
    for step in predict_steps(services, dialogue, media, drop, progress):
        pass
    return step.prediction


def parse_speakers(value):
    """The speaker-count input ('detect', 0/None, or 1–9) as None (detect) or an int."""
    text = str(value).strip().lower() if value is not None else ""
    if text in ("", "0", "0.0", DETECT, "none"):
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is None or number != int(number) or not 1 <= number <= MAX_SPEAKERS:
        raise BadRequest(f"the number of speakers must be '{DETECT}' or a whole number from 1 to "
                         f"{MAX_SPEAKERS} (TelME's prompt has {MAX_SPEAKERS} speaker tokens), not {value!r}")
    return int(number)


def pick_clip(video, audio):
    """The one media file to analyse; both a video and an audio file is refused, not guessed."""
    if video and audio:
        raise BadRequest("give either a video or an audio recording, not both: clear one of them "
                         "(the audio of a video clip is used with it)")
    return video or audio or None


def analyse_steps(services, owner, clip, transcript=None, num_speakers=None, progress=None):
    """Clip and/or transcript -> a Session per model step (dialogue, prediction so far, stored media):
    the first with the teacher's predictions (students and fusion pending), the last finished, with
    the analysis note. The studio streams them to the page and gives the API only the last."""
    from telme.inference.results import model_summary

    recognizer = require_model(services)
    if clip is None and transcript is None:
        raise BadRequest("give a video, an audio recording or a transcript to analyse")
    has_video = services.probe(clip).has_video if clip is not None else False  # the one probe (cached)
    found = services.to_dialogue.run(clip, transcript=transcript, num_speakers=num_speakers or None,
                                     progress=progress)  # decodes the audio once
    dialogue, media = found.dialogue, None
    if clip is not None:
        media = services.load_media(clip, dialogue, progress=progress, audio=found.audio)  # None: no live student
    key = uuid.uuid4().hex if media is not None else ""
    note = f"analysed {len(dialogue)} utterances of {len(dialogue.speakers)} speakers" + (
        f" · {found.speakers.status()}" if found.speakers else "") + long_note(
        recognizer.model, dialogue, media) + "".join(f" · warning: {text}" for text in dialogue.warnings)
    session = Session(owner=owner, dialogue=dialogue, clip=clip, has_video=has_video, media_key=key,
                      model=model_summary(recognizer))
    with closing(predict_steps(services, dialogue, media, progress=progress)) as steps:
        for number, step in enumerate(steps):
            if number == 0 and services.store is not None:
                services.store.put(key, owner, media)  # replaces this session's earlier media
            yield replace(session, prediction=step.prediction, note=note if step.complete else stage_note(step))


def stage_note(step):
    """'analysing · audio student 2/6 utterances · still to come: audio student, video student, fusion'."""
    to_come = ", ".join(PART_NAMES[part] for part in step.prediction.pending)
    return f"analysing · {PART_NAMES[step.stage]} {step.done}/{step.total} utterances · still to come: {to_come}"


def cancelled(session):
    """The session a cancel leaves: its partial prediction kept, and a note saying how far it got."""
    if session.finished:
        return session
    results = session.prediction.utterances
    done = [f"{PART_NAMES['teacher']} {len(results)}/{len(results)}"]
    for part in NON_VERBAL:
        finished = sum(getattr(result, part) is not None for result in results)
        waiting = sum(part in result.pending for result in results)
        if finished + waiting:
            done.append(f"{PART_NAMES[part]} {finished}/{finished + waiting}")
    fusion = "; the fusion did not run" if "fusion" in session.prediction.pending else ""
    return replace(session, note=f"cancelled after {', '.join(done)}{fusion}: the table shows what was done "
                                 "(pending cells say so); Re-run completes it")


def long_note(model, dialogue, media):
    """Say which utterances the official profile feeds zero audio and frames (over 30 s)."""
    from telme.features.profiles import too_long

    if media is None:
        return ""
    long = [str(i) for i, u in enumerate(dialogue) if too_long(u.duration, model.profile)]
    if not long:
        return ""
    limit = model.profile.max_utterance_seconds
    return (f" · utterances {', '.join(long)} last over {limit:g} s: as in the official code, the students"
            " see zero audio and frames for them")


def session_media(services, session):
    """The session's media: from the shared store, or decoded again (and stored) after eviction."""
    if not session.media_key or session.clip is None:
        return None
    media = services.store.get(session.media_key) if services.store is not None else None
    if media is None:
        media = services.load_media(session.clip, session.dialogue)
        if services.store is not None:
            services.store.put(session.media_key, session.owner, media)
    return media


def rerun(services, session, dialogue, changed):
    """The session after the user's edits: the recognizer recomputes only what they reach (and
    completes an analysis that was cancelled part-way)."""
    if not session.ready:
        raise BadRequest("analyse a clip or a transcript first")
    require_model(services)
    if not changed and session.finished:
        return replace(session, note="no cell was changed: nothing to re-run")
    prediction = predict(services, dialogue, session_media(services, session), session.drop)
    note = "" if session.finished else "completed the cancelled analysis"
    if changed:
        first = min(changed)
        note += ("; " if note else "") + (
            f"edited #{', #'.join(map(str, changed))}: the text teacher re-ran #{first}–#{len(dialogue) - 1} "
            f"({len(dialogue) - first} of {len(dialogue)}; later prompts contain the edit)")
        if session.clip is not None and set(NON_VERBAL) & set(services.live) and session.finished:
            note += ", audio and video outputs were reused"
    return replace(session, dialogue=dialogue, prediction=prediction, note=note)


def toggle(services, session, keep):
    """The session with the fusion recomputed using only the non-verbal modalities in `keep`."""
    if not session.ready:
        raise BadRequest("analyse a clip first")
    unknown = set(keep or ()) - set(NON_VERBAL)
    if unknown:
        raise BadRequest(f"unknown modalities {sorted(unknown)}: choose from {', '.join(NON_VERBAL)}")
    if "fusion" not in services.live:
        return replace(session, note="nothing was recomputed: the loaded model has no trained fusion, "
                                     "so its predictions are the text teacher's alone")
    if not toggleable(services, session):
        return replace(session, note="nothing was recomputed: this analysis has no audio or video cues "
                                     "(transcript only), so the fusion has nothing to leave out")
    drop = frozenset(NON_VERBAL) - set(keep or ())
    prediction = predict(services, session.dialogue, session_media(services, session), drop)
    kept = ", ".join(sorted(set(NON_VERBAL) - drop)) or "none"
    return replace(session, prediction=prediction, drop=drop,
                   note=f"fusion recomputed with non-verbal cues: {kept}")


def toggleable(services, session):
    """The non-verbal modalities this session's fusion can be recomputed without (live and present)."""
    if "fusion" not in services.live or session.prediction is None:
        return []
    results = session.prediction.utterances
    return [m for m in NON_VERBAL if any(getattr(result, m) is not None for result in results)]


def clip_name(session):
    """The analysed file's name (never the server's path), for exports and downloads."""
    source = session.clip or (session.dialogue.source if session.dialogue is not None else "")
    return Path(str(source)).name or "dialogue"
