"""Handlers of app.py and helpers of app_views/app_state, driven by a fake recognizer and pipeline."""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pytest

import app
import app_state
import app_views
from telme.dialogue import Dialogue, Utterance
from telme.labels import MELD_LABELS
from telme.media.errors import NotAMediaFile
from telme.media.transcripts import read_transcript

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "assets" / "example_conversation.mp4"
NO_PROGRESS = staticmethod(lambda *args, **kwargs: None)


@dataclass
class FakeUtterancePrediction:  # the documented telme.inference.UtterancePrediction fields
    index: int
    teacher: list
    audio: list | None
    video: list | None
    fused: list
    alpha: float | None
    label: str
    confidence: float


@dataclass
class FakeDialoguePrediction:
    labels: tuple
    live: tuple
    utterances: list


class FakeModel:
    def __init__(self, live):
        self.live_modalities = live
        self.labels = MELD_LABELS
        self.profile = type("Profile", (), {"audio_sample_rate": 16000, "max_utterance_seconds": None})()
        self.missing = [] if "fusion" in live else ["audio student: no weights", "video student: no weights"]
        self.name = "fake"
        self.trained = {"teacher": True}


def _distribution(seed, shift=0):
    """A deterministic probability vector that depends on the text (so edits change it)."""
    raw = [((sum(map(ord, seed)) * (k + 3) + shift) % 17) + 1 for k in range(len(MELD_LABELS))]
    return [value / sum(raw) for value in raw]


class FakeRecognizer:
    def __init__(self, live=("text",)):
        self.model = FakeModel(live)
        self.calls = []

    def run_dialogue(self, dialogue, media=None, drop=frozenset(), progress=None):
        self.calls.append({"dialogue": dialogue, "media": media, "drop": frozenset(drop)})
        live = self.model.live_modalities  # like the real one: a dropped student still reports its view
        results = []
        for index, utterance in enumerate(dialogue):
            teacher = _distribution(utterance.speaker + utterance.text)
            audio = _distribution(utterance.text, 5) if "audio" in live and media is not None else None
            video = _distribution(utterance.text, 9) if "video" in live and media is not None else None
            fused = _distribution(utterance.text, 2 + 3 * len(drop)) if "fusion" in live else teacher
            best = max(range(len(fused)), key=fused.__getitem__)
            results.append(FakeUtterancePrediction(index, teacher, audio, video, fused,
                                                   0.1 * (4 - len(drop)) if "fusion" in live else None,
                                                   MELD_LABELS[best], fused[best]))
        return FakeDialoguePrediction(MELD_LABELS, self.model.live_modalities, results)


def fake_to_dialogue(path, transcript=None, num_speakers=None, progress=None):
    if path is None:
        return read_transcript(transcript)
    if "corrupt" in Path(path).name:
        raise NotAMediaFile(path, "truncated, damaged or of an unknown format")
    return read_transcript(REPO / "assets" / "example_conversation.srt")


def fake_load_media(path, dialogue, progress=None, audio=None):
    return {"decoded": str(path), "utterances": len(dialogue)}


def make_studio(live=("text",), recognizer=True):
    services = app_state.Services(
        recognizer=FakeRecognizer(live) if recognizer else None,
        to_dialogue=fake_to_dialogue,
        load_media=fake_load_media if "audio" in live or "video" in live else lambda *args, **kwargs: None,
        summary="fake", problem="" if recognizer else "No trained TelME weights were found.",
    )
    return app.Studio(services)


def analysed(studio, clip=EXAMPLE):
    outputs = studio.analyze(str(clip), None, None, 0, app_state.Session(), progress=NO_PROGRESS)
    return outputs


def test_analyze_fills_table_charts_and_status():
    studio = make_studio()
    session, frame, timeline, chart, status, selected = analysed(studio)
    toggles, span_video, span_audio = studio.controls(session)
    assert len(session.dialogue) == 6 and list(frame.iloc[0, :5]) == [0, 0.4, 2.1, "Ross", "Hey, did you see my keys?"]
    assert list(frame.columns[5:]) == ["emotion", "confidence", "text · audio · video", "α"]
    assert span_video.visible is True and span_audio.visible is False
    assert "live: text" in status and "6 utterances of 2 speakers" in status
    assert [trace.name for trace in chart.data[:4]] == ["text", "audio (not loaded)", "video (not loaded)", "fused"]
    assert sum(len(trace.y) for trace in timeline.data) == 6
    assert toggles.interactive is False and "no trained fusion" in toggles.info
    assert selected == 0
    assert studio.services.recognizer.calls[0]["media"] is None  # text-only model: no decoding


def test_analyze_without_trained_weights_says_so():
    studio = make_studio(recognizer=False)
    with pytest.raises(gr.Error, match="No trained TelME weights"):
        analysed(studio)


def test_corrupt_upload_gives_clear_error_and_keeps_edits():
    studio = make_studio()
    session = analysed(studio)[0]
    frame = app_views.results_frame(session.dialogue, session.prediction)
    frame.loc[2, "text"] = "I never looked anywhere."
    session = studio.rerun(frame, session)[0]
    with pytest.raises(gr.Error, match="not a readable audio or video file"):
        studio.analyze("/tmp/corrupt.mp4", None, None, 0, session, progress=NO_PROGRESS)
    assert session.dialogue[2].text == "I never looked anywhere."  # the state the browser keeps


def test_rerun_applies_edits_and_reports_what_was_recomputed():
    studio = make_studio()
    session = analysed(studio)[0]
    frame = app_views.results_frame(session.dialogue, session.prediction)
    frame.loc[3, "text"] = "I hate this."
    frame.loc[4, "speaker"] = "Monica"
    session, table, _, chart, status, selected = studio.rerun(frame.iloc[::-1], session)  # sorted rows too
    call = studio.services.recognizer.calls[-1]
    assert call["dialogue"][3].text == "I hate this." and call["dialogue"][4].speaker == "Monica"
    assert session.dialogue[3].text == "I hate this." and selected == 3
    assert "re-ran #3–#5 (3 of 6" in status
    assert table.loc[4, "speaker"] == "Monica"
    assert studio.rerun(app_views.results_frame(session.dialogue, session.prediction), session)[4].startswith(
        "no cell was changed")


def test_edits_only_touch_speaker_and_text():
    dialogue = read_transcript(REPO / "assets" / "example_conversation.srt")
    frame = app_views.results_frame(dialogue)
    frame.loc[0, "start (s)"] = 99.0
    frame.loc[1, "text"] = "changed"
    edited, changed = app_views.read_edits(dialogue, frame)
    assert changed == [1] and edited[0].start == dialogue[0].start
    assert [frame.columns[i] for i in app_views.STATIC_COLUMNS if i < len(frame.columns)] == ["#", "start (s)", "end (s)"]
    assert app_views.STATIC_COLUMNS == [0, 1, 2, 5, 6, 7, 8, 9]


def test_modality_toggles_recompute_the_fusion_without_a_modality():
    studio = make_studio(live=("text", "audio", "video", "fusion"))
    session, _, _, chart, _, _ = analysed(studio)
    toggles = studio.controls(session)[0]
    assert toggles.interactive is True and toggles.value == ["audio", "video"]
    assert session.media == {"decoded": str(EXAMPLE), "utterances": 6}
    assert [trace.name for trace in chart.data[:4]] == ["text", "audio", "video", "fused"]
    session, _, _, chart, status, _ = studio.set_modalities(["video"], session)
    toggles = studio.controls(session)[0]
    assert studio.services.recognizer.calls[-1]["drop"] == {"audio"}
    assert session.drop == {"audio"} and toggles.value == ["video"] and "non-verbal cues: video" in status
    assert chart.data[1].name == "audio (left out of the fusion)"


def test_transcript_only_analysis_says_why_cues_are_absent():
    studio = make_studio(live=("text", "audio", "video", "fusion"))
    transcript = str(REPO / "assets" / "example_conversation.srt")
    session, _, _, chart, _, _ = studio.analyze(None, None, transcript, 0, app_state.Session(), progress=NO_PROGRESS)
    toggles = studio.controls(session)[0]
    assert session.clip is None and session.media is None and len(session.dialogue) == 6
    assert [trace.name for trace in chart.data[:4]] == ["text", "audio (no clip)", "video (no clip)", "fused"]
    assert toggles.interactive is False and "transcript only" in toggles.info
    figure, video, audio = studio.show_utterance(2, session)
    assert video is None and audio is None and figure.layout.title.text.startswith("#2 Ross")
    with pytest.raises(gr.Error, match="give a video, an audio recording or a transcript"):
        studio.analyze(None, None, None, 0, session, progress=NO_PROGRESS)


def test_show_utterance_cuts_the_span_and_plots_it(tmp_path):
    studio = make_studio()
    session = analysed(studio)[0]
    figure, video, audio = studio.show_utterance(1, session)
    assert audio is None and video.endswith("utterance_1.mp4")
    from telme.media.decode import probe

    info = probe(video)
    span = session.dialogue[1]
    assert info.has_video and abs(info.duration - (span.end - span.start)) < 0.25
    assert figure.layout.title.text.startswith("#1 Rachel")
    with pytest.raises(gr.Error, match="no utterance #9"):
        studio.show_utterance(9, session)


def test_exports_carry_every_probability(tmp_path):
    studio = make_studio()
    session = analysed(studio)[0]
    csv_path, json_path = studio.export(session)
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    assert len(rows) == 6 and rows[0]["speaker"] == "Ross" and rows[0]["audio_joy"] == ""
    assert abs(sum(float(rows[0][f"text_{label}"]) for label in MELD_LABELS) - 1) < 1e-6
    payload = json.loads(Path(json_path).read_text())
    assert payload["live"] == ["text"] and len(payload["utterances"]) == 6
    assert payload["dialogue"]["utterances"][5]["text"] == "Okay, fine."


def test_captioned_export_burns_the_emotion_in():
    studio = make_studio()
    session = analysed(studio)[0]
    out = studio.export_video(session, progress=NO_PROGRESS)
    from telme.media.decode import decode_frames, probe

    info = probe(out)
    assert info.height == app_views.CAPTION_MIN_HEIGHT and abs(info.duration - probe(EXAMPLE).duration) < 0.3
    middle = (session.dialogue[0].start + session.dialogue[0].end) / 2
    silent = 0.1  # s, before the first utterance
    frames = decode_frames(out, times=[silent, middle])
    bottom = frames[:, -10:, :, :].astype(float)
    assert abs(bottom[1].mean() - bottom[0].mean()) > 10  # the caption band darkens the bottom


def test_captioned_export_of_a_browser_recording():
    """A webm without container duration (as browsers record) is normalised before moviepy reads it."""
    studio = make_studio()
    webm = REPO / "tests" / "fixtures" / "media" / "conversation.webm"
    session = studio.analyze(str(webm), None, str(REPO / "tests" / "fixtures" / "media" / "conversation.srt"), 0,
                             app_state.Session(), progress=NO_PROGRESS)[0]
    from telme.media.decode import probe

    out = studio.export_video(session, progress=NO_PROGRESS)
    assert probe(out).has_video and abs(probe(out).duration - probe(webm).duration) < 0.3
    _, video, _ = studio.show_utterance(0, session)
    assert abs(probe(video).duration - session.dialogue[0].duration) < 0.25


def _write_meld(path, rows):
    columns = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
               "Season", "Episode", "StartTime", "EndTime"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for number, (dialogue, utterance, speaker, text, emotion) in enumerate(rows):
            writer.writerow([number, text, speaker, emotion, "neutral", dialogue, utterance, 1, 1,
                             f"00:00:{utterance:02d},000", f"00:00:{utterance + 1:02d},000"])


def test_error_inspection_scores_the_split(tmp_path):
    split_csv = tmp_path / "dev_sent_emo.csv"
    _write_meld(split_csv, [(0, 0, "Ross", "Hi.", "joy"), (0, 1, "Rachel", "Go away.", "anger"),
                            (1, 0, "Monica", "Dinner!", "neutral"), (1, 1, "Joey", "Food?", "surprise"),
                            (1, 2, "Monica", "Yes.", "neutral")])
    studio = make_studio()
    split, scores, report, confusion = studio.evaluate_split(str(split_csv), None, 0, progress=NO_PROGRESS)
    dropdown = studio.dialogue_choices(split)
    assert split.report.count == 5 and sum(map(sum, split.report.confusion)) == 5
    assert "**5 utterances**" in scores and list(report["label"]) == list(MELD_LABELS)
    assert dropdown.choices[0][0] == "dia0 (2 utterances)" and len(dropdown.choices) == 2
    table, timeline, chart = studio.show_split_dialogue("dia1 (3 utterances)", split)
    assert list(table["gold"]) == ["neutral", "surprise", "neutral"] and len(table) == 3
    assert chart.layout.title.text.endswith("gold neutral")
    assert studio.show_split_utterance("dia1", 1, split).layout.title.text.startswith("#1 Joey")
    with pytest.raises(gr.Error, match="no dialogue named 'dia7'"):
        studio.show_split_dialogue("dia7", split)
    first_only = studio.evaluate_split(str(split_csv), None, 1, progress=NO_PROGRESS)[0]
    assert first_only.report.count == 2


def test_error_inspection_rejects_other_csvs(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(gr.Error, match="neither a MELD nor an IEMOCAP CSV"):
        make_studio().evaluate_split(str(other), None, 0, progress=NO_PROGRESS)


def test_model_card_names_live_and_missing_modalities():
    text_only = app_views.model_markdown(FakeModel(("text",)))
    assert "text **live**" in text_only and "audio **not loaded**" in text_only and "audio student: no weights" in text_only
    full = app_views.model_markdown(FakeModel(("text", "audio", "video", "fusion")))
    assert "fusion **live**" in full and "not loaded" not in full


def test_timeline_places_utterances_in_time_by_speaker():
    studio = make_studio()
    session = analysed(studio)[0]
    figure = app_views.timeline_figure(session.dialogue, session.prediction)
    bases = sorted(base for trace in figure.data for base in trace.base)
    assert bases == sorted(u.start for u in session.dialogue)
    assert set(y for trace in figure.data for y in trace.y) == {"Ross", "Rachel"}


def test_cli_flags_fall_back_to_environment(monkeypatch):
    for name in ("TELME_HOST", "GRADIO_SERVER_NAME", "TELME_SHARE", "TELME_DATASET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TELME_WEIGHTS", "owner/repo")
    monkeypatch.setenv("TELME_PORT", "7999")
    args = app.parse_args([])
    assert (args.weights, args.port, args.host, args.share) == ("owner/repo", 7999, "127.0.0.1", False)
    assert app.parse_args(["--weights", "x", "--share"]).share is True
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # what a Hugging Face Space sets
    assert (app.parse_args([]).host, app.parse_args([]).dataset) == ("0.0.0.0", "meld")


def test_every_action_has_an_api_name():
    demo = app.build_demo(make_studio().services)
    names = {fn.api_name for fn in demo.fns.values() if fn.api_name}
    assert {"analyze", "rerun", "set_modalities", "show_utterance", "export", "export_video",
            "evaluate_split", "split_dialogue", "split_utterance"} <= names


def test_an_edit_recomputes_only_what_it_reaches_with_the_real_recognizer(monkeypatch):
    """Real pipeline parts and Recognizer on a tiny bundle: the edit re-runs later prompts only."""
    from telme.checkpoints.tiny import tiny_model
    from telme.inference import Recognizer
    from telme.media.pipeline import ClipToDialogue

    model = tiny_model(seed=3)
    recognizer = Recognizer(model, device="cpu")
    from functools import partial

    from telme.inference import load_clip_media

    services = app_state.Services(recognizer=recognizer, load_media=partial(load_clip_media, model=model),
                                  to_dialogue=ClipToDialogue(transcriber=object(), speaker_assigner=object()))
    studio = app.Studio(services)
    transcript = str(REPO / "assets" / "example_conversation.srt")
    session = studio.analyze(str(EXAMPLE), None, transcript, 0, app_state.Session(), progress=NO_PROGRESS)[0]
    assert recognizer.stats.teacher_rows == 6 and recognizer.stats.audio_rows == 6 and recognizer.stats.video_rows == 6
    frame = app_views.results_frame(session.dialogue, session.prediction)
    frame.loc[4, "text"] = "That is absolutely not true."
    recognizer.stats.reset()
    session, *_, status, _ = studio.rerun(frame, session)
    assert (recognizer.stats.teacher_rows, recognizer.stats.audio_rows, recognizer.stats.video_rows) == (2, 0, 0)
    assert "re-ran #4–#5 (2 of 6" in status and "audio and video outputs were reused" in status
    recognizer.stats.reset()
    monkeypatch.setattr(app_state, "MEDIA_IN_STATE_BYTES", 0)  # a clip too big to keep: decoded again on use
    big = studio.analyze(str(EXAMPLE), None, transcript, 0, app_state.Session(), progress=NO_PROGRESS)[0]
    assert big.media is None and recognizer.stats.audio_rows == 0  # same media bytes: cache hits
    big = studio.set_modalities(["video"], big)[0]
    assert big.prediction.utterances[0].audio is not None and recognizer.stats.audio_rows == 0
    session = studio.set_modalities(["audio"], session)[0]
    assert recognizer.stats.teacher_rows == 0 and recognizer.stats.fusion_forwards >= 1
    assert session.prediction.utterances[0].video is not None  # a dropped student still shows its view


def test_start_up_without_trained_weights_says_so_instead_of_predicting(tmp_path):
    from telme.checkpoints import save_bundle
    from telme.checkpoints.tiny import tiny_model

    services = app.load_services(app.parse_args(["--weights", str(tmp_path / "nothing-here")]))
    assert services.recognizer is None and "No trained TelME weights" in services.summary
    untrained = tiny_model(parts=("teacher",), mark_trained=False)
    services = app.load_services(app.parse_args(["--weights", str(save_bundle(untrained, tmp_path / "random"))]))
    assert services.recognizer is None and "no trained weights" in services.problem
    with pytest.raises(gr.Error, match="no trained weights"):
        app.Studio(services).analyze(None, None, str(REPO / "assets" / "example_conversation.srt"), 0,
                                     app_state.Session(), progress=NO_PROGRESS)
    text_only = save_bundle(tiny_model(parts=("teacher",)), tmp_path / "text-only")
    services = app.load_services(app.parse_args(["--weights", str(text_only), "--device", "cpu"]))
    assert services.live == ("text",) and "audio **not loaded**" in services.summary
    session = app.Studio(services).analyze(str(EXAMPLE), None, str(REPO / "assets" / "example_conversation.srt"), 0,
                                           app_state.Session(), progress=NO_PROGRESS)[0]
    assert session.media is None and session.prediction.utterances[0].audio is None  # nothing decoded for students


def test_error_inspection_reads_the_real_split_formats(data_dir):
    studio = make_studio()
    meld = studio.evaluate_split(str(data_dir / "meld" / "dev_sent_emo.csv"), None, 3, progress=NO_PROGRESS)[0]
    from telme.data import read_meld_csv

    expected = sum(len(d) for d in read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")[:3])
    assert meld.report.count == expected and meld.names()[0].startswith("dia0 (")
    iemocap = str(data_dir / "iemocap" / "iemocap_dev.csv")
    assert app_state.read_split(iemocap)[0].source.startswith("iemocap:dev:")
    with pytest.raises(gr.Error, match="no gold label of this split is one of the model's labels"):
        studio.evaluate_split(iemocap, None, 2, progress=NO_PROGRESS)  # a MELD model on IEMOCAP labels


def test_long_utterances_are_reported_under_the_official_profile():
    from telme.features.profiles import CLEAN, OFFICIAL

    dialogue = Dialogue([Utterance(0.0, 31.0, "Ross", "a long one"), Utterance(31.0, 33.0, "Rachel", "short")])
    official, clean = FakeModel(("text",)), FakeModel(("text",))
    official.profile, clean.profile = OFFICIAL, CLEAN
    note = app_state.long_note(official, dialogue, media=[object(), object()])
    assert "utterances 0 last over 30 s" in note and "zero audio" in note
    assert app_state.long_note(clean, dialogue, media=[object(), object()]) == ""
    assert app_state.long_note(official, dialogue, media=None) == ""  # no clip: nothing was zeroed
