"""The page: gr.Blocks components and the events that connect them to `studio.handlers.Studio`.

Queue policy (why): one model call at a time, because the model, its caches and the CPU are
shared (`model` group: analyse, re-run, evaluate); one captioned-video render at a time (`render`);
and up to four light actions at once (`light`: picking an utterance, toggles, CSV/JSON export,
browsing a split), so a long analysis never makes a click on a row wait. Buttons fire once per
press (`trigger_mode="once"`).

Analyse streams (`Studio.analyze_steps`, private): the table with the teacher's predictions first,
then each micro-batch of the students and the fusion; Cancel (light group) sets the flag the
generator checks between steps (that is what stops the work) and says how far it got; its
`cancels=` ends the Analyse event on the page (alone it does not stop a synchronous generator).
The utterance table is read-only from the press of Analyse until the analysis ends (finished,
failed or cancelled): each streamed step rewrites the whole table, so an edit made meanwhile
would be lost.
The API's /analyze is a separate, non-streaming event on a hidden button that returns the
complete result. On a ZeroGPU Space the model events run inside `spaces.GPU`
(`studio.zerogpu.on_gpu`: wrapped here, and the streamed analysis's model work in `Studio`).
"""

import functools
from pathlib import Path

import gradio as gr

from studio import session as actions
from studio import views
from studio.zerogpu import RERUN_SECONDS, SPLIT_SECONDS, on_gpu
from studio.inspection import SPLIT_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CLIP = ROOT / "assets" / "example_conversation.mp4"
EXAMPLE_TRANSCRIPT = ROOT / "assets" / "example_conversation.srt"
EXAMPLE_SPLIT = ROOT / "assets" / "example_split.csv"  # 15 labelled lines written by this project (not MELD)
TRANSCRIPT_TYPES = [".srt", ".vtt", ".csv"]
SESSION_TTL = 2 * 3600  # s: a session's state (and its files) is dropped this long after its last use
GROUPS = {"model": 1, "render": 1, "light": 4}  # concurrency_id -> how many run at once
ON_SESSION = "Acts on the session of an earlier /analyze by the same client. "
API = {  # the API page's description of each endpoint
    "analyze": "Analyse a clip and/or a transcript. video, audio, transcript: optional files (give a video or an "
               "audio file, not both; a transcript alone works). num_speakers: 'detect' or '1'-'9'.",
    "rerun": ON_SESSION + "Re-run with the edited table (speaker and text cells).",
    "set_modalities": ON_SESSION + "Recompute the fusion with only these non-verbal cues ('audio', 'video').",
    "show_utterance": ON_SESSION + "Chart of utterance # and its span (mp4 for video clips, wav for audio).",
    "export": ON_SESSION + "CSV (every probability) and JSON (telme-analysis/1) of the results.",
    "export_video": ON_SESSION + "The clip with each utterance's emotion burned in as a caption.",
}
EXPLAIN = (
    "**emotion**: the fused prediction (argmax) · **confidence**: its probability (0–1; a model "
    "at chance gives 1/number of labels) · **text · audio · video**: what each part alone would say "
    "(the text teacher, the audio and the video students; *—* when that part is not loaded or has "
    "no clip) · **α**: how far the non-verbal cues shifted the teacher's view in the fusion (0 = not "
    "at all, 1 = fully; *—* without a trained fusion) · **fused** in the chart: the final "
    "distribution (the teacher's own when there is no fusion). Edit *speaker* or *text* cells, then "
    "re-run: only the prompts that contain the edit are recomputed.")


def build_demo(studio):
    with gr.Blocks(title="TelME studio", delete_cache=(3600, 7200)) as demo:
        session = gr.State(actions.Session(), time_to_live=SESSION_TTL,
                           delete_callback=lambda value: studio.expire(value))  # a function: Gradio deep-copies
        # a State's attributes per page load, and a bound method would copy the studio and its model
        gr.Markdown("# TelME studio\nWhat each speaker of a conversation feels, utterance by utterance, "
                    "and which cue (words, voice, face) says so.")
        gr.Markdown(studio.services.summary, elem_id="model-card")
        with gr.Tab("Analyse a conversation"):
            analyse_tab(studio, session)
        with gr.Tab("Error inspection"):
            inspection_tab(studio)
        demo.unload(studio.end_session)
    return demo


def analyse_tab(studio, session):
    """Inputs on top, then the results table, toggles, timeline, the selected utterance, exports."""
    ui = input_row(studio.services.recognizer is not None)
    ui["status"] = gr.Markdown(label="Status", show_label=False, elem_id="status")
    ui["table"] = gr.Dataframe(views.empty_results_frame(), interactive=True, wrap=True,
                               static_columns=views.STATIC_COLUMNS, column_widths=views.COLUMN_WIDTHS,
                               pinned_columns=views.PINNED_COLUMNS, elem_id="utterances",
                               **views.FIXED_SHAPE,
                               label="Utterances: click a row to inspect it; edit speaker or text cells, then re-run")
    gr.Markdown(EXPLAIN, elem_id="explain")
    with gr.Row(equal_height=True):
        ui["rerun"] = gr.Button("Re-run with edits", elem_id="rerun", scale=1)
        ui["toggles"] = gr.CheckboxGroup(list(actions.NON_VERBAL), label="Non-verbal cues in the fusion",
                                         interactive=False, elem_id="toggles", scale=3)
    ui["speakers_table"] = gr.Dataframe(label="Per speaker: share of each predicted emotion (%)",
                                        interactive=False, elem_id="per-speaker")
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
        ui["files"] = gr.File(file_count="multiple", label="Results (JSON: telme-analysis/1)", elem_id="export-files")
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
            ui["speakers"] = gr.Dropdown(actions.SPEAKER_CHOICES, value=actions.DETECT, allow_custom_value=True,
                                         label="Speakers", info="'detect' lets the voices decide",
                                         elem_id="speakers")
            with gr.Row():
                ui["analyse"] = gr.Button("Analyse", variant="primary", interactive=enabled, elem_id="analyse",
                                          scale=3)
                ui["cancel"] = gr.Button("Cancel", variant="stop", interactive=enabled, elem_id="cancel", scale=1)
            ui["analyse_api"] = gr.Button(visible=False)  # /analyze: the complete result in one answer
            ui["busy"] = gr.Markdown(elem_id="busy", min_height=60)  # progress and errors show here, not on results
            gr.Examples([[str(EXAMPLE_CLIP), str(EXAMPLE_TRANSCRIPT)]], inputs=[ui["video"], ui["transcript"]],
                        label="Example: a 35 s scene by two espeak-ng voices, made by this project (click, then Analyse)")
    return ui


def _api(name):
    return dict(api_name=name, api_description=API[name])


def _event(group, **options):
    return dict(concurrency_id=group, concurrency_limit=GROUPS[group], **options)


def wire_analyse(studio, session, ui):
    results = [session] + [ui[name] for name in ("table", "speakers_table", "timeline", "chart", "status", "selected")]
    controls = dict(fn=studio.controls, inputs=session,
                    outputs=[ui[name] for name in ("toggles", "span_video", "span_audio", "table")],
                    api_visibility="private", **_event("light"))
    model = _event("model", show_progress_on=ui["busy"], trigger_mode="once")
    inputs = [ui[name] for name in ("video", "audio", "transcript", "speakers")] + [session]
    lock, unlock = (dict(fn=functools.partial(studio.table_editable, editable), outputs=ui["table"],
                         api_visibility="private", **_event("light")) for editable in (False, True))
    streamed = ui["analyse"].click(**lock, trigger_mode="once").then(studio.analyze_steps, inputs, results,
                                                                      api_visibility="private", **model)
    streamed.then(**unlock)  # finished or failed
    streamed.success(**controls)
    ui["cancel"].click(studio.cancel, [session], [session, ui["status"]], cancels=[streamed],
                       api_visibility="private", **_event("light")).then(**controls).then(**unlock)
    ui["analyse_api"].click(on_gpu(studio.analyze, studio.gpu_seconds), inputs, results, **_api("analyze"),
                            **model).success(**controls)
    ui["rerun"].click(on_gpu(studio.rerun, RERUN_SECONDS), [ui["table"], session], results, **_api("rerun"),
                      **model).success(**controls)
    ui["toggles"].input(on_gpu(studio.set_modalities, RERUN_SECONDS), [ui["toggles"], session], results,
                        **_api("set_modalities"), **_event("light", show_progress_on=ui["busy"])).success(**controls)
    for clip in (ui["video"], ui["audio"]):
        clip.upload(studio.new_clip, ui["transcript"], ui["transcript"], api_visibility="private", **_event("light"))
    spans = [ui["chart"], ui["span_video"], ui["span_audio"]]
    ui["table"].select(pick_row, None, ui["selected"], api_visibility="private", **_event("light")).then(
        studio.show_utterance, [ui["selected"], session], spans, **_api("show_utterance"), **_event("light"))
    ui["selected"].submit(studio.show_utterance, [ui["selected"], session], spans, api_visibility="private",
                          **_event("light"))
    ui["export"].click(studio.export, [session], ui["files"], **_api("export"),
                       **_event("light", trigger_mode="once"))
    ui["export_video"].click(studio.export_video, [session], ui["captioned"], **_api("export_video"),
                             **_event("render", trigger_mode="once"))


def pick_row(event: gr.SelectData):
    """The '#' cell of the clicked row (row order in the browser may be sorted)."""
    return int(event.row_value[0])


def inspection_tab(studio):
    split = gr.State(None, time_to_live=SESSION_TTL)
    gr.Markdown("Load a labelled dataset split to compare gold and predicted labels. Without clips only "
                f"the text teacher is scored. Columns a split needs: {SPLIT_COLUMNS}.")
    with gr.Row():
        csv_file = gr.File(label="Split CSV", file_types=[".csv"], elem_id="split-csv")
        clips = gr.File(file_count="directory", label="Clips folder (optional)", elem_id="split-clips")
        with gr.Column():
            limit = gr.Number(value=0, precision=0, minimum=0, label="First N dialogues (0 = all)")
            evaluate = gr.Button("Evaluate split", variant="primary",
                                 interactive=studio.services.recognizer is not None, elem_id="evaluate")
            gr.Examples([[str(EXAMPLE_SPLIT)]], inputs=[csv_file],
                        label="Sample split: 3 scenes, 15 lines labelled by this project (click, then Evaluate)")
    scores = gr.Markdown(label="Scores", show_label=False, elem_id="split-scores")
    with gr.Row():
        report = gr.Dataframe(label="Per class", interactive=False, elem_id="split-report")
        confusion = gr.Plot(label="Confusion matrix", elem_id="confusion")
    dialogue = gr.Dropdown(label="Dialogue", choices=[], allow_custom_value=True, elem_id="split-dialogue")
    table = gr.Dataframe(label="Gold vs predicted", interactive=False, wrap=True, elem_id="split-table",
                         pinned_columns=views.PINNED_COLUMNS + 1)  # '#', speaker, emotion, gold
    with gr.Row():
        timeline = gr.Plot(label="Timeline", elem_id="split-timeline")
        chart = gr.Plot(label="Selected utterance", elem_id="split-chart")
    index = gr.Number(value=0, precision=0, visible=False)
    evaluate.click(on_gpu(studio.evaluate_split, SPLIT_SECONDS), [csv_file, clips, limit], [split, scores, report, confusion],
                   api_name="evaluate_split", **_event("model", trigger_mode="once")).success(
        studio.dialogue_choices, split, dialogue, api_visibility="private", **_event("light"))
    dialogue.change(studio.show_split_dialogue, [dialogue, split], [table, timeline, chart],
                    api_name="split_dialogue", **_event("light"))
    table.select(pick_row, None, index, api_visibility="private", **_event("light")).then(
        studio.show_split_utterance, [dialogue, index, split], chart, api_name="split_utterance", **_event("light"))
