"""The handlers behind every button: call `studio.session` / `studio.inspection`, format the result.

This is the only module that makes `gr.Error`: any `telme.errors.UserError` (a bad file, too much
input, no trained model, a refused request) becomes a toast with the file name only (never a
server path), and the user's earlier results stay as they were, because a handler that raises
returns no new state.
"""

import functools
import inspect
import re
from contextlib import closing
from pathlib import Path

import gradio as gr

from studio import exports, inspection, media, views, zerogpu
from studio import session as actions
from studio.workspace import Runs
from telme.errors import UserError

STEPS = {"decode": "decoding", "transcribe": "transcribing", "speakers": "telling speakers apart",
         "frames": "reading frames", "teacher": "model: text teacher", "audio": "model: audio student",
         "video": "model: video student", "fusion": "model: fusion", "model": "scoring dialogues"}
SERVER_PATH = re.compile(r"(?:/[^/\s:'\"]+)+/([^/\s:'\"]+)")  # absolute paths: show the file name only
CANCEL_WAIT = 120  # s: Cancel waits this long for the micro-batch under way (a full-size CPU video batch is slow)


def user_errors(handler):
    """Turn the package's UserErrors into gr.Error toasts (title: the error's type); a generator
    handler stays a generator (Gradio streams it), its errors become toasts while it runs."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def streamed(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except UserError as error:
                raise _toast(error) from error
        return streamed

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except UserError as error:
            raise _toast(error) from error
    return wrapped


def _toast(error):
    return gr.Error(SERVER_PATH.sub(r"\1", str(error)), title=type(error).__name__)


def _progress(progress):
    """The package's plain progress(step, done, total) callback, shown by gr.Progress."""
    return lambda step, done, total: progress((done, total), desc=STEPS.get(step, step))


def owner_of(request):
    """The browser session a request belongs to (one gradio_client Client is one session too)."""
    return getattr(request, "session_hash", None) or "local"


class Studio:
    """The handlers; each reads the shared services and returns the user's new state."""

    def __init__(self, services, example_transcript=""):
        self.services = services
        self.example_transcript = Path(example_transcript).name if example_transcript else ""
        self.runs = Runs()  # each browser session's latest streamed analysis, for Cancel
        self._steps = zerogpu.on_gpu(self._analysis_steps, self.gpu_seconds)  # inside spaces.GPU on ZeroGPU

    @user_errors
    def analyze(self, video, audio, transcript, num_speakers, session, request: gr.Request = None,
                progress=gr.Progress()):
        """The API's /analyze: the complete result in one answer, the last step of what the page streams."""
        for shown in self._analysis_steps(video, audio, transcript, num_speakers, session, request, progress):
            pass
        return shown

    @user_errors
    def analyze_steps(self, video, audio, transcript, num_speakers, session, request: gr.Request = None,
                      progress=gr.Progress()):
        """The page's Analyse: the table with the teacher's predictions as soon as the text is done, then
        filled in per micro-batch (audio, video, then the fusion). Cancel (or Gradio closing this
        generator) stops it between steps; the table keeps what the page last received. The run is
        tracked here, in the server's process; the model work (`_analysis_steps`) is what ZeroGPU wraps."""
        steps = self._steps(video, audio, transcript, num_speakers, session, request, progress)
        with self.runs.track(owner_of(request)) as run, closing(steps):
            for shown in steps:
                if run.cancelled:
                    return  # computed while Cancel was pressed: not shown
                yield shown
                run.delivered = shown[0]
                if run.cancelled:
                    return
            run.finished = True

    def _analysis_steps(self, video, audio, transcript, num_speakers, session, request=None, progress=None):
        clip = actions.pick_clip(video, audio)
        speakers = actions.parse_speakers(num_speakers)
        steps = actions.analyse_steps(self.services, owner_of(request), clip, transcript, speakers,
                                      _progress(progress))
        with closing(steps):
            for step in steps:
                yield self.results(step)

    @user_errors
    def cancel(self, session, request: gr.Request = None):
        """Cancel: stop this session's analysis after its micro-batch under way; (session, status line)."""
        run = self.runs.cancel(owner_of(request), CANCEL_WAIT)
        if run is None or run.finished:
            idle = "nothing was running to cancel (an analysis still waiting in the queue is dropped)"
            return session, idle + (f" · {self.status(session)}" if session.ready else "")
        if run.delivered is None:
            kept = " · the earlier analysis and its edits are kept" if session.ready else ""
            return session, f"analysis cancelled before its first results{kept}"
        shown = actions.cancelled(run.delivered)
        return shown, self.status(shown)

    @staticmethod
    def table_editable(editable: bool):
        """The utterance table made editable (speaker, text cells) or read-only: read-only from the press
        of Analyse until the analysis ends, since every streamed step rewrites the whole table."""
        return gr.Dataframe(interactive=editable)

    def gpu_seconds(self, video, audio, transcript, *rest, **options):
        """How long an analysis may hold a ZeroGPU device: by the clip's length (the arguments of analyze)."""
        clip = video or audio
        try:
            seconds = self.services.probe(clip).duration if clip else 0.0
        except UserError:
            seconds = 0.0  # the analysis itself reports the bad file
        return zerogpu.analysis_seconds(seconds)

    @user_errors
    def rerun(self, table, session):
        self._require(session)
        dialogue, changed = views.read_edits(session.dialogue, table)
        return self.results(actions.rerun(self.services, session, dialogue, changed),
                            selected=min(changed) if changed else 0)

    @user_errors
    def set_modalities(self, keep, session):
        self._require(session)
        return self.results(actions.toggle(self.services, session, keep))

    def results(self, session, selected=0):
        """session, table, speaker summary, timeline, utterance chart, status line, selected index;
        a streamed step that is not finished shows the table and status (the charts come at the end)."""
        if not session.finished:
            table = views.results_frame(session.dialogue, session.prediction)
            return session, table, None, None, None, self.status(session), selected
        return (
            session,
            views.results_frame(session.dialogue, session.prediction),
            views.speaker_frame(session.dialogue, session.prediction),
            views.timeline_figure(session.dialogue, session.prediction),
            views.utterance_figure(session.dialogue, session.prediction, selected, session.drop),
            self.status(session),
            selected,
        )

    @staticmethod
    def status(session):
        """The status line: what the last action did, and which parts have trained weights."""
        return f"{session.note} · live: {', '.join(session.prediction.live)}"

    def controls(self, session):
        """Toggles, span players and the table's fixed row count for this session (chained after each result)."""
        present = actions.toggleable(self.services, session)
        audio_only = session.clip is not None and not session.has_video
        return (gr.CheckboxGroup(choices=present or list(actions.NON_VERBAL), interactive=bool(present),
                                 value=[m for m in present if m not in session.drop],
                                 info=toggle_info(self.services, session)),
                gr.Video(value=None, visible=not audio_only), gr.Audio(value=None, visible=audio_only),
                gr.Dataframe(row_count=(len(session.dialogue or ()), "fixed")))  # see views.FIXED_SHAPE

    def new_clip(self, transcript):
        """On a new clip upload: a transcript left from the example is cleared (it belongs to the example)."""
        if transcript and self.example_transcript and Path(transcript).name == self.example_transcript:
            gr.Info("The example's transcript was cleared: the new clip will be transcribed. "
                    "Upload a transcript of your own clip if you have one.")
            return None
        return transcript

    @user_errors
    def show_utterance(self, index, session, request: gr.Request = None):
        """The chart of utterance `index` and its span to play: (chart, video or None, audio or None)."""
        self._require(session)
        index = _index(index, len(session.dialogue))
        figure = views.utterance_figure(session.dialogue, session.prediction, index, session.drop)
        if session.clip is None:
            return figure, None, None
        utterance = session.dialogue[index]
        out = self._folder(request) / f"utterance_{index}.{'mp4' if session.has_video else 'wav'}"
        media.cut_span(session.clip, utterance.start, utterance.end, out, session.has_video)
        return figure, (str(out) if session.has_video else None), (None if session.has_video else str(out))

    @user_errors
    def export(self, session, request: gr.Request = None):
        """The results as CSV (one row per utterance, every probability) and telme-analysis/1 JSON."""
        if not session.ready:
            raise actions.BadRequest("nothing to export yet: analyse a clip first")
        self._require_finished(session)
        folder, stem = self._folder(request), Path(actions.clip_name(session)).stem
        records = exports.analysis_records(session.dialogue, session.prediction)
        payload = exports.analysis_dict(session.dialogue, session.prediction, session.model,
                                        actions.clip_name(session))
        return [str(exports.write_csv(records, folder / f"{stem}_emotions.csv")),
                str(exports.write_json(payload, folder / f"{stem}_emotions.json"))]

    @user_errors
    def export_video(self, session, request: gr.Request = None, progress=gr.Progress()):
        if not session.ready or not session.has_video:
            raise actions.BadRequest("captions are burned into a video: analyse a video clip first")
        self._require_finished(session)
        progress(None, desc="rendering captions")
        out = self._folder(request) / f"{Path(actions.clip_name(session)).stem}_captioned.mp4"
        captions = functools.partial(views.caption_at, session.dialogue, session.prediction)
        return str(media.burn_captions(session.clip, captions, out))

    @user_errors
    def evaluate_split(self, csv_file, clip_files, limit, progress=gr.Progress()):
        if not csv_file:
            raise actions.BadRequest("upload a MELD- or IEMOCAP-format CSV first")
        split = inspection.evaluate_split(self.services, csv_file, clip_files, limit or 0, _progress(progress))
        return (split, views.metrics_markdown(split.report), views.report_frame(split.report),
                views.confusion_figure(split.report))

    def dialogue_choices(self, split):
        names = split.names() if split else []
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    @user_errors
    def show_split_dialogue(self, name, split):
        """Gold vs predicted table, timeline and first chart of one dialogue (its name or id, e.g. 'dia3')."""
        dialogue, prediction = self._split_dialogue(name, split)
        return (views.results_frame(dialogue, prediction),
                views.timeline_figure(dialogue, prediction, title="Gold vs predicted (✗ marks errors)"),
                views.utterance_figure(dialogue, prediction, 0))

    @user_errors
    def show_split_utterance(self, name, index, split):
        dialogue, prediction = self._split_dialogue(name, split)
        return views.utterance_figure(dialogue, prediction, _index(index, len(dialogue)))

    def end_session(self, request: gr.Request):
        """The tab closed: remove the session's folder and its decoded media."""
        self.forget(owner_of(request))

    def forget(self, owner):
        self.runs.drop(owner)
        if self.services.workspaces is not None:
            self.services.workspaces.release(owner)
        if self.services.store is not None:
            self.services.store.drop_owner(owner)

    def expire(self, session):
        """gr.State's delete_callback: the session's state timed out or its tab closed."""
        if session is not None and session.owner:
            self.forget(session.owner)

    def _folder(self, request):
        return self.services.workspaces.folder(owner_of(request))

    @staticmethod
    def _require(session):
        if session is None or not session.ready:
            raise actions.BadRequest("analyse a clip or a transcript first")

    @staticmethod
    def _require_finished(session):
        if not session.finished:
            raise actions.BadRequest("the analysis was cancelled before it finished: press Re-run to complete "
                                     "it, then export")

    @staticmethod
    def _split_dialogue(name, split):
        if split is None or not split.dialogues:
            raise actions.BadRequest("evaluate a split first")
        return split.find(name)


def _index(value, count):
    """An utterance number from the UI or the API, checked against the dialogue's length."""
    try:
        index = int(float(value or 0))
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < count:
        raise actions.BadRequest(f"there is no utterance #{value} (0–{count - 1})")
    return index


def toggle_info(services, session):
    if "fusion" not in services.live:
        return ("The loaded model has no trained fusion (and audio/video students), so predictions "
                "are the text teacher's; audio and video cannot be toggled.")
    if session.clip is None:
        return "No clip was analysed (transcript only), so there are no audio or video cues to toggle."
    return "Untick a modality to recompute the fusion without it (zero vector in its place)."
