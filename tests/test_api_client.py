"""Every action of the app through its API: gradio_client against the app served on loopback.

The app runs in this process with the real pipeline and recognizer on a tiny random bundle whose
parts are marked trained; one Client is one session, so its gr.State carries from call to call.
"""

import csv
import json
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "tests" / "fixtures" / "media" / "conversation.mp4"  # six utterances, two speakers
TRANSCRIPT = REPO / "tests" / "fixtures" / "media" / "conversation.srt"
ENDPOINTS = ("/analyze", "/rerun", "/set_modalities", "/show_utterance", "/export", "/export_video",
             "/evaluate_split", "/split_dialogue", "/split_utterance")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from studio import launch
    from telme.checkpoints import save_bundle
    from telme.checkpoints.tiny import tiny_model

    bundle = save_bundle(tiny_model(seed=3), tmp_path_factory.mktemp("api") / "telme-tiny")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = launch.create_app(launch.parse_args(["--weights", str(bundle)]))
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch.LAUNCH)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def client(url, tmp_path):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(tmp_path / "downloads"))


def analyse_example(client):
    from gradio_client import handle_file

    return client.predict(handle_file(str(EXAMPLE)), None, handle_file(str(TRANSCRIPT)), "detect", api_name="/analyze")


def test_every_action_is_an_endpoint(client):
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(ENDPOINTS) == set(named)  # and no unnamed ones
    assert [p["parameter_name"] for p in named["/analyze"]["parameters"]] == ["video", "audio", "transcript",
                                                                              "num_speakers"]
    assert [r["label"] for r in named["/analyze"]["returns"]] == [
        "Utterances: click a row to inspect it; edit speaker or text cells, then re-run",
        "Per speaker: share of each predicted emotion (%)", "Timeline", "Selected utterance", "Status", "Utterance #"]
    assert all("session of an earlier /analyze" in named[name]["description"]
               for name in ("/rerun", "/set_modalities", "/show_utterance", "/export", "/export_video"))
    labels = [item.get("label", "") for endpoint in named.values() for item in endpoint["parameters"] + endpoint["returns"]]
    assert not [label for label in labels if label.startswith("value_")]  # every input and output is named


def test_analyse_toggle_edit_select_export(client):
    table, per_speaker, timeline, chart, status, selected = analyse_example(client)
    assert per_speaker["headers"][:2] == ["speaker", "utterances"] and len(per_speaker["data"]) == 2
    assert table["headers"][:5] == ["#", "speaker", "emotion", "confidence", "text"] and len(table["data"]) == 6
    assert status.startswith("analysed 6 utterances of 2 speakers") and selected == 0
    assert "pending" not in json.dumps(table["data"])  # /analyze answers once, complete (the page streams)
    plot = json.loads(chart["plot"])
    assert [trace["name"] for trace in plot["data"][:4]] == ["text", "audio", "video", "fused"]
    alpha = plot["data"][4]["y"][0]

    status = client.predict(["video"], api_name="/set_modalities")[4]
    assert "non-verbal cues: video" in status
    chart = client.predict(0, api_name="/show_utterance")[0]
    assert json.loads(chart["plot"])["data"][4]["y"][0] != alpha  # α moved without audio

    rows = [list(row) for row in table["data"]]
    rows[1][4] = "They are NOT on the table."
    edited = {"headers": table["headers"], "data": rows, "metadata": None}
    table, _, _, _, status, selected = client.predict(edited, api_name="/rerun")
    assert "edited #1: the text teacher re-ran #1–#5" in status and selected == 1
    assert table["data"][1][4] == "They are NOT on the table."

    chart, video, audio = client.predict(1, api_name="/show_utterance")
    assert Path(video).name == "utterance_1.mp4" and audio is None
    assert json.loads(chart["plot"])["layout"]["title"]["text"].startswith("#1 Rachel")

    csv_path, json_path = client.predict(api_name="/export")
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    assert rows[1]["text"] == "They are NOT on the table." and len(rows) == 6
    payload = json.loads(Path(json_path).read_text())
    assert payload["format"] == "telme-analysis/1" and payload["source"] == "conversation.mp4"
    assert payload["utterances"][1]["text"] == "They are NOT on the table."
    captioned = client.predict(api_name="/export_video")
    assert Path(captioned).name == "conversation_captioned.mp4"


def test_bad_upload_is_an_error_and_keeps_the_session(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    analyse_example(client)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    with pytest.raises(AppError, match="broken.mp4 is not a readable audio or video file"):
        client.predict(handle_file(str(broken)), None, None, 0, api_name="/analyze")
    with pytest.raises(AppError, match="number of speakers must be 'detect' or a whole number from 1 to 9"):
        client.predict(handle_file(str(EXAMPLE)), None, None, "lots", api_name="/analyze")
    table = client.predict(handle_file(str(EXAMPLE)), None, handle_file(str(TRANSCRIPT)), "2", api_name="/analyze")[0]
    rows = [list(row) for row in table["data"]]
    rows[0][4] = "blah " * 100_000  # a 500 KB cell: refused with the limit named, not computed
    with pytest.raises(AppError, match="over the limit of"):
        client.predict({"headers": table["headers"], "data": rows, "metadata": None}, api_name="/rerun")
    csv_path, _ = client.predict(api_name="/export")
    assert len(list(csv.DictReader(open(csv_path, encoding="utf-8")))) == 6  # the earlier analysis is intact


def test_error_inspection_endpoints(client, tmp_path):
    from gradio_client import handle_file

    split = tmp_path / "dev_sent_emo.csv"
    split.write_text(
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
        '1,Hi there.,Ross,joy,positive,0,0,1,1,"00:00:01,000","00:00:02,000"\n'
        '2,Go away.,Rachel,anger,negative,0,1,1,1,"00:00:02,000","00:00:03,000"\n'
        '3,What?,Joey,surprise,negative,1,0,1,1,"00:00:01,000","00:00:02,000"\n')
    scores, report, confusion = client.predict(handle_file(str(split)), None, 0, api_name="/evaluate_split")
    assert "**3 utterances**" in scores and "modalities: text" in scores
    assert [row[0] for row in report["data"]] == ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
    assert sum(map(sum, json.loads(confusion["plot"])["data"][0]["text"])) == 3
    table, timeline, chart = client.predict("dia1", api_name="/split_dialogue")
    row = dict(zip(table["headers"], table["data"][0]))
    assert (row["speaker"], row["text"], row["gold"]) == ("Joey", "What?", "surprise")
    assert table["headers"][:4] == ["#", "speaker", "emotion", "gold"]
    chart = client.predict("dia0 (2 utterances)", 1, api_name="/split_utterance")
    assert "gold anger" in json.loads(chart["plot"])["layout"]["title"]["text"]
