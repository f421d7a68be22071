"""The studio in a real browser: Debian's chromium driven by Playwright against `python app.py`.

The server runs the real pipeline (decode, transcript or faster-whisper ASR, speakers) and the
real recognizer on a tiny random bundle whose parts are marked trained, so every live path of the
page is exercised (its emotions mean nothing). Screenshots go to test-artifacts/screenshots/.
"""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "screenshots"
EXAMPLE = REPO / "assets" / "example_conversation.mp4"  # ten utterances, two speakers
CONVERSATION = REPO / "tests" / "fixtures" / "media" / "conversation.mp4"  # six utterances (the media fixture)
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START = 180  # s: torch, transformers and gradio import slowly on a busy 2-core machine
WAIT = 60_000  # ms for a result to appear (first ASR / speaker model loads take a while)
VIEWPORT = {"width": 1400, "height": 1000}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_http(url, process, log):
    deadline = time.monotonic() + SERVER_START
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"app.py did not answer on {url} within {SERVER_START} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/ci_browser_setup.sh (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (never `playwright install`)")
    sync_api.expect.set_options(timeout=WAIT)
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def server(playwright, tmp_path_factory):
    from telme.checkpoints import save_bundle
    from telme.checkpoints.tiny import tiny_model

    folder = tmp_path_factory.mktemp("app")
    bundle = save_bundle(tiny_model(seed=3), folder / "telme-tiny")
    port, log = _free_port(), folder / "server.log"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "app.py", "--weights", str(bundle), "--port", str(port)],
                                   cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_http(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _open(browser, url):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(WAIT)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#analyse")
    return context, page


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, server):
    context, page = _open(browser, server)
    yield page
    context.close()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def cell(page, row, column, table="#utterances"):
    return page.locator(f"{table} [data-testid=cell-{row}-{column}]")


def texts(page, selector):
    return [text.strip() for text in page.locator(selector).all_text_contents()]


def edit_cell(page, row, column, value):
    cell(page, row, column).dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def analyse(page, rows):
    from playwright.sync_api import expect

    page.click("#analyse")
    expect(page.locator("#utterances .virtual-row")).to_have_count(rows)
    expect(page.locator("#timeline .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#utterance-chart .js-plotly-plot")).to_have_count(1)


def test_example_clip_select_toggle_edit_export(page):
    """One session, as a person would go: analyse, inspect, toggle, edit, break an upload, export."""
    analyse_the_example(page)
    select_an_utterance(page)
    alpha_before = texts(page, "#utterance-chart .bartext")
    drop_audio(page, alpha_before)
    edit_and_rerun(page)
    upload_a_corrupt_clip(page)
    export_results(page)


def analyse_the_example(page):
    from playwright.sync_api import expect

    from telme.labels import MELD_LABELS

    expect(page.locator("#model-card")).to_contain_text("telme-tiny")
    expect(page.locator("#model-card")).to_contain_text("fusion live")
    page.get_by_text("example_conversation.srt").first.click()  # the example row fills clip + transcript
    expect(page.locator("#transcript").get_by_role("link")).to_have_attribute("href", re.compile(r"example_conversation\.srt$"))
    analyse(page, rows=10)
    expect(page.locator("#status")).to_contain_text("analysed 10 utterances of 2 speakers")
    assert cell(page, 0, 1).inner_text() == "Ross" and cell(page, 0, 4).inner_text() == "Hey. Did you see my keys?"
    assert all(cell(page, row, 2).inner_text() in MELD_LABELS for row in range(10))
    expect(page.locator("#explain")).to_contain_text("α")
    expect(page.locator("#per-speaker .virtual-row")).to_have_count(2)
    assert texts(page, "#utterance-chart .legendtext") == ["text", "audio", "video", "fused"]
    assert {"Ross", "Rachel"} <= set(texts(page, "#timeline .ytick text"))
    shot(page, "01_example_analysed.png")


def select_an_utterance(page):
    from playwright.sync_api import expect

    cell(page, 2, 4).click()  # selecting an utterance plots it and plays its span
    expect(page.locator("#utterance-chart .gtitle")).to_contain_text("#2 Ross")
    expect(page.locator("#span-video video")).to_have_attribute("src", re.compile(r"utterance_2\.mp4$"))
    page.wait_for_function("document.querySelector('#span-video video').readyState >= 1")
    duration = page.evaluate("document.querySelector('#span-video video').duration")
    assert abs(duration - (8.326 - 6.756)) < 0.3
    shot(page, "02_utterance_selected.png")


def drop_audio(page, alpha_before):
    from playwright.sync_api import expect

    page.locator("#toggles").get_by_text("audio").click()  # recompute the fusion without audio
    expect(page.locator("#status")).to_contain_text("non-verbal cues: video")
    expect(page.locator("#utterance-chart .legendtext").nth(1)).to_have_text("audio (left out of the fusion)")
    assert texts(page, "#utterance-chart .bartext") != alpha_before
    shot(page, "03_fusion_without_audio.png")


def edit_and_rerun(page):
    from playwright.sync_api import expect

    edit_cell(page, 3, 4, "I hate you so much.")
    edit_cell(page, 4, 1, "Monica")
    page.click("#rerun")
    expect(page.locator("#status")).to_contain_text("edited #3, #4: the text teacher re-ran #3–#9")
    expect(cell(page, 3, 4)).to_have_text("I hate you so much.")
    expect(page.locator("#timeline .ytick text")).to_have_count(3)  # Monica got her own lane
    shot(page, "04_edited_and_rerun.png")


def upload_a_corrupt_clip(page):
    from playwright.sync_api import expect

    page.locator("#clip button[aria-label='Clear']").click()
    page.locator("#clip input[type=file]").set_input_files(
        files=[{"name": "broken.mp4", "mimeType": "video/mp4", "buffer": b"\x00\x01 not a video" * 64}])
    expect(page.get_by_text("The example's transcript was cleared")).to_be_visible()  # it belongs to the example
    expect(page.locator("#transcript").get_by_role("link")).to_have_count(0)
    page.click("#analyse")
    expect(page.get_by_text(re.compile("broken.mp4 is not a readable audio or video file"))).to_be_visible()
    expect(cell(page, 3, 4)).to_have_text("I hate you so much.")  # the edits survive the bad upload
    expect(page.locator("#status")).to_contain_text("edited #3, #4")
    shot(page, "05_corrupt_upload_keeps_edits.png")


def export_results(page):
    from playwright.sync_api import expect

    page.locator("#export-panel").get_by_text("Export").first.click()
    page.click("#export")
    links = page.locator("#export-files a")
    expect(links).to_have_count(2)
    csv_url = next(href for href in (links.nth(i).get_attribute("href") for i in range(2)) if href.endswith(".csv"))
    exported = page.request.get(csv_url).text()
    assert "I hate you so much." in exported and "Monica" in exported and "fused_joy" in exported
    page.click("#export-video")
    expect(page.locator("#captioned video")).to_have_attribute("src", re.compile(r"_captioned\.mp4$"))
    shot(page, "06_exports.png")


def test_utterance_table_cell_menu_cannot_add_or_delete_rows_or_columns(page):
    """A row is a span of the clip and the columns are the analysis: the menus offer no add or delete."""
    from playwright.sync_api import expect

    page.get_by_text("example_conversation.srt").first.click()
    expect(page.locator("#transcript").get_by_role("link")).to_have_attribute("href", re.compile(r"example_conversation\.srt$"))
    analyse(page, rows=10)
    expect(page.locator("#toggles input").first).to_be_enabled()  # the chained controls (row count) arrived
    cell(page, 3, 4).click()  # an editable text cell shows the cell-menu button
    page.locator("#utterances button[aria-label='Open cell menu']:visible").first.click()
    expect(page.locator(".cell-menu")).to_be_visible()
    entries = " ".join(texts(page, ".cell-menu [role=menuitem]")).lower()
    assert not re.search(r"add row|delete row|add column|delete column", entries), entries
    page.keyboard.press("Escape")
    expect(page.locator("#utterances thead button[aria-label='Open cell menu']")).to_have_count(0)  # nor a header menu
    expect(page.locator("#utterances button[aria-label='Add row']")).to_have_count(0)
    expect(page.locator("#utterances .virtual-row")).to_have_count(10)


def test_example_clip_without_transcript_runs_asr_and_speakers(page):
    from playwright.sync_api import expect

    page.locator("#clip input[type=file]").set_input_files(str(CONVERSATION))
    page.click("#analyse")
    expect(page.locator("#status")).to_contain_text("analysed", timeout=150_000)  # loads whisper + voice encoder
    rows = page.locator("#utterances .virtual-row").count()
    spoken = " ".join(cell(page, row, 4).inner_text().lower() for row in range(rows))
    speakers = {cell(page, row, 1).inner_text() for row in range(rows)}
    assert rows >= 3 and "keys" in spoken and "kitchen" in spoken
    assert speakers == {"Speaker 1", "Speaker 2"}
    expect(page.locator("#timeline .js-plotly-plot")).to_have_count(1)
    shot(page, "07_asr_and_speakers.png")


def _write_split(folder):
    """A MELD-format split of two dialogues, and clips for the first one (cut from the example)."""
    from studio.media import cut_span

    rows = [(0, 0, "Ross", "Hey, did you see my keys?", "neutral", 0.4, 2.1),
            (0, 1, "Rachel", "They are on the kitchen table.", "neutral", 2.5, 4.18),
            (1, 0, "Monica", "I can't believe you did that!", "anger", 0, 1),
            (1, 1, "Joey", "What? What did I do?", "surprise", 1, 2),
            (1, 2, "Monica", "You ate my sandwich.", "anger", 2, 3)]
    lines = ["Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime"]
    clips = folder / "clips"
    clips.mkdir()
    for number, (dialogue, utterance, speaker, text, emotion, start, end) in enumerate(rows):
        lines.append(f'{number},"{text}",{speaker},{emotion},neutral,{dialogue},{utterance},1,1,'
                     f'"00:00:0{start:.3f}".replace(".", ","),"00:00:0{end:.3f}"'.replace('.replace(".", ",")', ""))
        if dialogue == 0:
            cut_span(CONVERSATION, start, end, clips / f"dia{dialogue}_utt{utterance}.mp4")
    split = folder / "dev_sent_emo.csv"
    split.write_text("\n".join(lines) + "\n")
    return split, clips


def test_error_inspection_of_a_split_with_clips(page, tmp_path):
    from playwright.sync_api import expect

    split, clips = _write_split(tmp_path)
    page.get_by_role("tab", name="Error inspection").click()
    page.locator("#split-csv input[type=file]").set_input_files(str(split))
    page.locator("#split-clips input[type=file]").set_input_files(str(clips))
    expect(page.locator("#split-clips")).to_contain_text("dia0_utt1")
    page.click("#evaluate")
    expect(page.locator("#split-scores")).to_contain_text("5 utterances")
    expect(page.locator("#split-scores")).to_contain_text("modalities: text, audio, video, fusion")
    expect(page.locator("#confusion .js-plotly-plot")).to_have_count(1)
    expect(page.locator("#split-report .virtual-row")).to_have_count(7)
    expect(page.locator("#split-table .virtual-row")).to_have_count(2)  # the first dialogue is shown
    page.locator("#split-dialogue input").click()
    page.get_by_role("option", name="dia1 (3 utterances)").click()
    expect(page.locator("#split-table .virtual-row")).to_have_count(3)
    assert [cell(page, row, 3, "#split-table").inner_text() for row in range(3)] == ["anger", "surprise", "anger"]
    cell(page, 1, 4, "#split-table").click()
    expect(page.locator("#split-chart .gtitle")).to_contain_text("#1 Joey")
    expect(page.locator("#split-chart .gtitle")).to_contain_text("gold surprise")
    shot(page, "08_error_inspection.png")


LONG_TEXT = ("So what I am trying to say, and please let me finish this time, is that I waited for you at the "
             "station for three hours in the rain, and you never called, not once, not even a message. ") * 2


def test_sample_split_and_a_long_utterance_at_two_widths(page, tmp_path):
    """The sample split evaluates at once; a long utterance wraps, with #, speaker and emotion in view."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Error inspection").click()
    page.get_by_text("example_split.csv").first.click()
    page.click("#evaluate")
    expect(page.locator("#split-scores")).to_contain_text("15 utterances")
    expect(page.locator("#split-table .virtual-row")).to_have_count(5)
    shot(page, "11_sample_split.png")

    page.get_by_role("tab", name="Analyse a conversation").click()
    transcript = tmp_path / "long.srt"
    transcript.write_text("1\n00:00:00,000 --> 00:00:04,000\nRoss: Are you okay?\n\n"
                          f"2\n00:00:04,500 --> 00:00:29,000\nRachel: {LONG_TEXT}\n\n"
                          "3\n00:00:29,500 --> 00:00:31,000\nRoss: I'm sorry.\n")
    page.locator("#transcript input[type=file]").set_input_files(str(transcript))
    analyse(page, rows=3)
    for width in (1400, 400):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(500)
        for column in (0, 1, 2):  # '#', speaker, emotion stay on screen
            box = cell(page, 1, column).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (width, column, box)
        start = cell(page, 1, 5).bounding_box()  # "start (s)" keeps its width: no letter-per-line column
        assert start["width"] >= 60 and cell(page, 1, 4).bounding_box()["height"] > 40  # the text wraps
        shot(page, f"{12 + (width == 400)}_long_utterance_{width}px.png")


def _fake_capture_files(folder, seconds):
    """The example's first seconds as chromium's fake camera (y4m) and microphone (48 kHz wav), via PyAV."""
    import av

    camera, microphone = folder / "camera.y4m", folder / "microphone.wav"
    with av.open(str(EXAMPLE)) as source, av.open(str(camera), "w", format="yuv4mpegpipe") as out:
        video = source.streams.video[0]
        stream = out.add_stream("rawvideo", rate=video.average_rate)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        for frame in source.decode(video):
            if frame.time >= seconds:
                break
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    with av.open(str(EXAMPLE)) as source, av.open(str(microphone), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=48000, layout="mono")
        mixer = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in source.decode(source.streams.audio[0]):
            if frame.time >= seconds:
                break
            for chunk in mixer.resample(frame):
                out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    return camera, microphone


FAKE_TRANSCRIPT = "1\n00:00:00,200 --> 00:00:02,800\nRoss: I am talking to the camera.\n"
RECORD_SECONDS = 3.5


@pytest.fixture
def recording_page(playwright, server, tmp_path):
    """A page whose camera and microphone play the example clip (chromium's fake capture devices)."""
    camera, microphone = _fake_capture_files(tmp_path, seconds=6)
    fake_devices = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={camera}", f"--use-file-for-fake-audio-capture={microphone}"]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS + fake_devices)
    context, page = _open(browser, server)
    transcript = tmp_path / "recording.srt"
    transcript.write_text(FAKE_TRANSCRIPT)
    page.locator("#transcript input[type=file]").set_input_files(str(transcript))
    yield page
    context.close()
    browser.close()


def test_webcam_and_microphone_recordings(recording_page, tmp_path):
    from playwright.sync_api import expect

    page = recording_page
    clip = page.locator("#clip")
    clip.locator("button[aria-label='Capture from camera']").click()
    clip.get_by_text("Click to Access Webcam").click()
    clip.locator("button[aria-label='start recording']").click()  # Record
    page.wait_for_timeout(RECORD_SECONDS * 1000)
    clip.locator("button[aria-label='start recording']").click()  # Stop
    expect(clip.locator("video")).to_have_attribute("src", re.compile(r"\.webm$"))
    analyse(page, rows=1)
    expect(page.locator("#status")).to_contain_text("analysed 1 utterances of 1 speakers")
    assert texts(page, "#utterance-chart .legendtext") == ["text", "audio", "video", "fused"]  # both tracks used
    cell(page, 0, 4).click()
    expect(page.locator("#span-video video")).to_have_attribute("src", re.compile(r"utterance_0\.mp4$"))
    shot(page, "09_webcam_recording.png")

    clip.locator("button[aria-label='Clear']").click()
    microphone = page.locator("#audio-in")
    microphone.locator("button[aria-label='Record audio']").click()
    microphone.locator("button", has_text="Record").first.click()
    page.wait_for_timeout(RECORD_SECONDS * 1000)
    with page.expect_response(lambda response: "/upload" in response.url):  # the recording reaches the server
        microphone.locator("button", has_text="Stop").locator("visible=true").first.click()
    page.click("#analyse")
    expect(page.locator("#utterance-chart .legendtext").nth(2)).to_have_text("video (no clip)")
    assert texts(page, "#utterance-chart .legendtext")[1] == "audio"
    cell(page, 0, 4).click()
    link = page.locator("#span-audio a[download]")
    expect(link).to_have_attribute("href", re.compile(r"utterance_0\.wav$"))
    span = tmp_path / "span.wav"
    span.write_bytes(page.request.get(link.get_attribute("href")).body())
    from telme.media.decode import probe

    assert abs(probe(span).duration - 2.6) < 0.2
    expect(page.locator("#span-video")).to_be_hidden()
    shot(page, "10_microphone_recording.png")
