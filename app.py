"""TelME studio: what TelME thinks each speaker of a conversation feels, and why.

    python app.py [--weights FOLDER|REPO_ID] [--device cpu|cuda] [--asr-model NAME] [--host H] [--port P]

Layout, event wiring and short handlers only: the work is in `telme` and `app_state`, the
tables, charts and exports in `app_views`. Per-user results live in `gr.State`.
"""

import argparse
import os
import re
import tempfile
from functools import partial
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # start with no network

import gradio as gr

import app_state
import app_views
from telme.media.errors import MediaError

ROOT = Path(__file__).resolve().parent
EXAMPLES = [[str(ROOT / "assets" / "example_conversation.mp4"), str(ROOT / "assets" / "example_conversation.srt")]]
QUEUE_SIZE = 16  # requests waiting at most; more get "queue full"
CONCURRENCY = 1  # model calls at a time: the model and its caches are shared
MAX_FILE_SIZE = "200mb"  # per upload
TRANSCRIPT_TYPES = [".srt", ".vtt", ".csv"]
USER_ERRORS = (MediaError, app_state.NoTrainedModel)
STEPS = {"decode": "decoding", "transcribe": "transcribing", "speakers": "telling speakers apart",
         "frames": "reading frames", "teacher": "model: text teacher", "audio": "model: audio student",
         "video": "model: video student", "fusion": "model: fusion"}
TEMP_PATH = re.compile(r"(?:/[^/\s:'\"]+)+/([^/\s:'\"]+)")  # absolute paths of uploads: show the file name only


def _progress(progress):
    """The package's plain progress(step, done, total) callback, shown by gr.Progress."""
    return lambda step, done, total: progress((done, total), desc=STEPS.get(step, step))


def _fail(error):
    return gr.Error(TEMP_PATH.sub(r"\1", str(error)), title=type(error).__name__)


class Studio:
    """The handlers; each reads the shared services and returns the user's new state."""

    def __init__(self, services):
        self.services = services

    def analyze(self, video, audio, transcript, num_speakers, session, progress=gr.Progress()):
        try:
            session = app_state.analyse(self.services, video or audio, transcript, num_speakers,
                                        _progress(progress))
        except USER_ERRORS as error:
            raise _fail(error) from error
        return self.results(session)

    def rerun(self, table, session):
        if not session.ready:
            raise gr.Error("Analyse a clip or a transcript first.")
        dialogue, changed = app_views.read_edits(session.dialogue, table)
        try:
            session = app_state.rerun(self.services, session, dialogue, changed)
        except USER_ERRORS as error:
            raise _fail(error) from error
        return self.results(session, selected=min(changed) if changed else 0)

    def set_modalities(self, keep, session):
        try:
            session = app_state.toggle(self.services, session, keep)
        except USER_ERRORS as error:
            raise _fail(error) from error
        return self.results(session)

    def results(self, session, selected=0):
        """session, table, timeline, utterance chart, status line, selected index (plain values)."""
        return (
            session,
            app_views.results_frame(session.dialogue, session.prediction),
            app_views.timeline_figure(session.dialogue, session.prediction),
            app_views.utterance_figure(session.dialogue, session.prediction, selected, session.drop),
            f"{session.note} · live: {', '.join(session.prediction.live)}",
            selected,
        )

    def controls(self, session):
        """Modality toggles and span players that fit this session (chained after each result)."""
        present = app_state.toggleable(self.services, session)
        audio_only = session.clip is not None and not session.has_video
        return (gr.CheckboxGroup(choices=present or list(app_state.NON_VERBAL), interactive=bool(present),
                                 value=[m for m in present if m not in session.drop],
                                 info=toggle_info(self.services, session)),
                gr.Video(value=None, visible=not audio_only), gr.Audio(value=None, visible=audio_only))

    def show_utterance(self, index, session):
        """The chart of utterance `index` and its span to play: (chart, video or None, audio or None)."""
        if not session.ready:
            raise gr.Error("Analyse a clip or a transcript first.")
        index = int(index or 0)
        if not 0 <= index < len(session.dialogue):
            raise gr.Error(f"There is no utterance #{index} (0–{len(session.dialogue) - 1}).")
        figure = app_views.utterance_figure(session.dialogue, session.prediction, index, session.drop)
        if session.clip is None:
            return figure, None, None
        utterance = session.dialogue[index]
        out = Path(tempfile.mkdtemp(prefix="telme-span-")) / f"utterance_{index}.{'mp4' if session.has_video else 'wav'}"
        app_views.cut_span(session.clip, utterance.start, utterance.end, out, session.has_video)
        return figure, (str(out) if session.has_video else None), (None if session.has_video else str(out))

    def export(self, session):
        if not session.ready:
            raise gr.Error("Nothing to export yet: analyse a clip first.")
        folder = Path(tempfile.mkdtemp(prefix="telme-export-"))
        stem = Path(session.clip or session.dialogue.source or "dialogue").stem
        return [
            str(app_views.write_csv(session.dialogue, session.prediction, folder / f"{stem}_emotions.csv")),
            str(app_views.write_json(session.dialogue, session.prediction, folder / f"{stem}_emotions.json",
                                     session.drop)),
        ]

    def export_video(self, session, progress=gr.Progress()):
        if not session.ready or not session.has_video:
            raise gr.Error("Captions are burned into a video: analyse a video clip first.")
        progress(None, desc="rendering captions")
        out = Path(tempfile.mkdtemp(prefix="telme-export-")) / f"{Path(session.clip).stem}_captioned.mp4"
        return str(app_views.burn_captions(session.clip, session.dialogue, session.prediction, out))

    def evaluate_split(self, csv_file, clip_files, limit, progress=gr.Progress()):
        if not csv_file:
            raise gr.Error("Upload a MELD- or IEMOCAP-format CSV first.")
        try:
            split = app_state.evaluate_split(self.services, csv_file, clip_files, limit or 0, _progress(progress))
        except (USER_ERRORS + (ValueError,)) as error:
            raise _fail(error) from error
        return (split, app_views.metrics_markdown(split.report), app_views.report_frame(split.report),
                app_views.confusion_figure(split.report))

    def dialogue_choices(self, split):
        names = split.names() if split else []
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    def show_split_dialogue(self, name, split):
        """Gold vs predicted table, timeline and first chart of one dialogue (its name or id, e.g. 'dia3')."""
        dialogue, prediction = self._split_dialogue(name, split)
        return (app_views.results_frame(dialogue, prediction),
                app_views.timeline_figure(dialogue, prediction, title="Gold vs predicted (✗ marks errors)"),
                app_views.utterance_figure(dialogue, prediction, 0))

    def show_split_utterance(self, name, index, split):
        dialogue, prediction = self._split_dialogue(name, split)
        if not 0 <= int(index or 0) < len(dialogue):
            raise gr.Error(f"There is no utterance #{index} in {name}.")
        return app_views.utterance_figure(dialogue, prediction, int(index or 0))

    @staticmethod
    def _split_dialogue(name, split):
        if split is None or not split.dialogues:
            raise gr.Error("Evaluate a split first.")
        try:
            return split.find(name)
        except MediaError as error:
            raise _fail(error) from error


def toggle_info(services, session):
    if "fusion" not in services.live:
        return ("The loaded model has no trained fusion (and audio/video students), so predictions "
                "are the text teacher's; audio and video cannot be toggled.")
    if session.clip is None:
        return "No clip was analysed (transcript only), so there are no audio or video cues to toggle."
    return "Untick a modality to recompute the fusion without it (zero vector in its place)."


def pick_row(event: gr.SelectData):
    """The '#' cell of the clicked row (row order in the browser may be sorted)."""
    return int(event.row_value[0])


def build_demo(services):
    studio = Studio(services)
    with gr.Blocks(title="TelME studio", delete_cache=(3600, 7200)) as demo:
        session = gr.State(app_state.Session())
        gr.Markdown("# TelME studio\nWhat each speaker of a conversation feels, utterance by utterance, "
                    "and which cue (words, voice, face) says so.")
        gr.Markdown(services.summary, elem_id="model-card")
        with gr.Tab("Analyse a conversation"):
            analyse_tab(studio, session)
        with gr.Tab("Error inspection"):
            inspection_tab(studio)
    return demo


def analyse_tab(studio, session):
    """Inputs on top, then the results table, toggles, timeline, the selected utterance, exports."""
    ui = input_row(studio.services.recognizer is not None)
    ui["status"] = gr.Markdown(elem_id="status")
    ui["table"] = gr.Dataframe(app_views.results_frame(app_state.EMPTY_DIALOGUE), interactive=True, wrap=True,
                               static_columns=app_views.STATIC_COLUMNS, elem_id="utterances",
                               label="Utterances: click a row to inspect it; edit speaker or text cells, then re-run")
    with gr.Row(equal_height=True):
        ui["rerun"] = gr.Button("Re-run with edits", elem_id="rerun", scale=1)
        ui["toggles"] = gr.CheckboxGroup(list(app_state.NON_VERBAL), label="Non-verbal cues in the fusion",
                                         interactive=False, elem_id="toggles", scale=3)
    ui["timeline"] = gr.Plot(label="Timeline", elem_id="timeline")
    with gr.Row():
        ui["chart"] = gr.Plot(label="Selected utterance", elem_id="utterance-chart", scale=3)
        with gr.Column(scale=1):
            ui["selected"] = gr.Number(value=0, precision=0, label="Utterance #", elem_id="selected")
            ui["span_video"] = gr.Video(label="Its span", autoplay=True, interactive=False, elem_id="span-video")
            ui["span_audio"] = gr.Audio(label="Its span", autoplay=True, interactive=False, visible=False,
                                        elem_id="span-audio")
    with gr.Accordion("Export", open=False, elem_id="export-panel"):
        with gr.Row():
            ui["export"] = gr.Button("CSV + JSON", elem_id="export")
            ui["export_video"] = gr.Button("Clip with emotion captions", elem_id="export-video")
        ui["files"] = gr.File(file_count="multiple", label="Results", elem_id="export-files")
        ui["captioned"] = gr.Video(label="Captioned clip", interactive=False, height=360, elem_id="captioned")
    wire_analyse(studio, session, ui)


def input_row(enabled):
    ui = {}
    with gr.Row(equal_height=True):
        ui["video"] = gr.Video(sources=["upload", "webcam"], include_audio=True, height=260,
                               label="Conversation clip (upload or record)", elem_id="clip")
        with gr.Column():
            ui["audio"] = gr.Audio(sources=["upload", "microphone"], type="filepath", label="…or audio only",
                                   elem_id="audio-in")
            ui["transcript"] = gr.File(label="Transcript (optional: SRT, WebVTT or MELD CSV)", height=110,
                                       file_types=TRANSCRIPT_TYPES, elem_id="transcript")
        with gr.Column():
            ui["speakers"] = gr.Number(value=0, precision=0, minimum=0, maximum=9, label="Speakers (0 = detect)")
            ui["analyse"] = gr.Button("Analyse", variant="primary", interactive=enabled, elem_id="analyse")
            ui["busy"] = gr.Markdown(elem_id="busy", min_height=60)  # progress and errors show here, not on results
            gr.Examples(EXAMPLES, inputs=[ui["video"], ui["transcript"]], label="Example (made by this project)")
    return ui


def wire_analyse(studio, session, ui):
    results = [session] + [ui[name] for name in ("table", "timeline", "chart", "status", "selected")]
    controls = dict(fn=studio.controls, inputs=session, outputs=[ui["toggles"], ui["span_video"], ui["span_audio"]],
                    api_name=False)
    shown = dict(show_progress_on=ui["busy"])
    inputs = [ui[name] for name in ("video", "audio", "transcript", "speakers")] + [session]
    ui["analyse"].click(studio.analyze, inputs, results, api_name="analyze", **shown).success(**controls)
    ui["rerun"].click(studio.rerun, [ui["table"], session], results, api_name="rerun", **shown).success(**controls)
    ui["toggles"].input(studio.set_modalities, [ui["toggles"], session], results, api_name="set_modalities",
                        **shown).success(**controls)
    spans = [ui["chart"], ui["span_video"], ui["span_audio"]]
    ui["table"].select(pick_row, None, ui["selected"], api_name=False).then(
        studio.show_utterance, [ui["selected"], session], spans, api_name="show_utterance")
    ui["selected"].submit(studio.show_utterance, [ui["selected"], session], spans, api_name=False)
    ui["export"].click(studio.export, [session], ui["files"], api_name="export")
    ui["export_video"].click(studio.export_video, [session], ui["captioned"], api_name="export_video")


def inspection_tab(studio):
    split = gr.State(None)
    gr.Markdown("Load a dataset split (MELD or IEMOCAP CSV) to compare gold and predicted labels. "
                "Without clips only the text teacher is scored.")
    with gr.Row():
        csv_file = gr.File(label="Split CSV", file_types=[".csv"], elem_id="split-csv")
        clips = gr.File(file_count="directory", label="Clips folder (optional)", elem_id="split-clips")
        with gr.Column():
            limit = gr.Number(value=0, precision=0, minimum=0, label="First N dialogues (0 = all)")
            evaluate = gr.Button("Evaluate split", variant="primary",
                                 interactive=studio.services.recognizer is not None, elem_id="evaluate")
    scores = gr.Markdown(elem_id="split-scores")
    with gr.Row():
        report = gr.Dataframe(label="Per class", interactive=False, elem_id="split-report")
        confusion = gr.Plot(label="Confusion matrix", elem_id="confusion")
    dialogue = gr.Dropdown(label="Dialogue", choices=[], allow_custom_value=True, elem_id="split-dialogue")
    table = gr.Dataframe(label="Gold vs predicted", interactive=False, wrap=True, elem_id="split-table")
    with gr.Row():
        timeline = gr.Plot(label="Timeline", elem_id="split-timeline")
        chart = gr.Plot(label="Selected utterance", elem_id="split-chart")
    index = gr.Number(value=0, precision=0, visible=False)
    evaluate.click(studio.evaluate_split, [csv_file, clips, limit], [split, scores, report, confusion],
                   api_name="evaluate_split").success(studio.dialogue_choices, split, dialogue, api_name=False)
    dialogue.change(studio.show_split_dialogue, [dialogue, split], [table, timeline, chart],
                    api_name="split_dialogue")
    table.select(pick_row, None, index, api_name=False).then(
        studio.show_split_utterance, [dialogue, index, split], chart, api_name="split_utterance")


def load_services(args):
    """The model, recognizer and media pipeline, read once at start-up (read-only afterwards)."""
    from telme.checkpoints import CheckpointError, load_model
    from telme.inference import Recognizer, choose_device, load_clip_media
    from telme.media.asr import WhisperTranscriber
    from telme.media.pipeline import ClipToDialogue

    device = choose_device(args.device)
    transcriber = WhisperTranscriber(model=args.asr_model, device=device.type)
    shared = dict(to_dialogue=ClipToDialogue(transcriber=transcriber))
    try:
        model = load_model(args.weights, dataset=args.dataset)
    except CheckpointError as error:
        problem = f"No trained TelME weights were found, so nothing is predicted. {error}"
    else:
        if model.trained.get("teacher"):
            return app_state.Services(recognizer=Recognizer(model, device=device),
                                      load_media=partial(load_clip_media, model=model),
                                      summary=app_views.model_markdown(model), **shared)
        problem = f"{model.name}: the text teacher has no trained weights, so nothing is predicted."
    return app_state.Services(recognizer=None, load_media=None, summary=f"**No model loaded.** {problem}",
                              problem=problem, **shared)


def parse_args(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=env("TELME_WEIGHTS"),
                        help="bundle folder, official release folder or Hub repo id (default: checkpoints/telme-mini-meld)")
    parser.add_argument("--dataset", default=env("TELME_DATASET", "meld"), choices=["meld", "iemocap"],
                        help="label set of an official release folder (bundles carry their own)")
    parser.add_argument("--device", default=env("TELME_DEVICE"), help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--asr-model", default=env("TELME_ASR_MODEL"), help="faster-whisper model name or folder")
    parser.add_argument("--host", default=env("TELME_HOST", env("GRADIO_SERVER_NAME", "127.0.0.1")),
                        help="interface to serve on (a Space sets GRADIO_SERVER_NAME=0.0.0.0)")
    parser.add_argument("--port", type=int, default=int(env("TELME_PORT", env("GRADIO_SERVER_PORT", "7860"))))
    parser.add_argument("--share", action="store_true", default=env("TELME_SHARE", "") == "1",
                        help="also serve through a public gradio.live link (off by default)")
    return parser.parse_args(argv)


def create_app(args):
    """The queued Blocks app for these arguments (not yet launched)."""
    demo = build_demo(load_services(args))
    return demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)


LAUNCH = dict(max_file_size=MAX_FILE_SIZE, footer_links=["api", "settings"], theme=gr.themes.Soft())


def main(argv=None):
    args = parse_args(argv)
    create_app(args).launch(server_name=args.host, server_port=args.port, share=args.share, **LAUNCH)


if __name__ == "__main__":
    main()
