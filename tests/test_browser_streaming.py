"""The streamed analysis and Cancel in a real browser (Debian's chromium through Playwright).

The app runs in this process (so the test can read the recognizer's forward counts) on a tiny
random bundle whose parts are marked trained; its students are slowed by a delay in each forward
(test scaffolding), so the page can be seen while they are still working. Emotions mean nothing.
"""

import socket
import time
from contextlib import contextmanager
from dataclasses import replace

import pytest

from test_browser_app import browser, cell, playwright, shot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

STUDENT_DELAY = 1.0  # s added to every student forward
BATCH = 2  # utterances per forward: the example's 10 utterances take 5 audio and 5 video forwards
ROWS = 10


def slowed(forward, seconds):
    def forward_later(*args, **kwargs):
        time.sleep(seconds)
        return forward(*args, **kwargs)
    return forward_later


class Gate:
    """Holds the audio student's forwards after the first `after` until a run is cancelled, so the test
    cannot lose the race between its Cancel click and the students finishing (a loaded machine)."""

    def __init__(self):
        self.after = None  # None: open
        self.runs = []  # every run the studio tracked

    def held(self, forward, recognizer):
        def forward_when_open(*args, **kwargs):
            give_up = time.monotonic() + 60
            while (self.after is not None and recognizer.stats.audio_forwards >= self.after
                   and not any(run.cancelled for run in self.runs) and time.monotonic() < give_up):
                time.sleep(0.02)
            return forward(*args, **kwargs)
        return forward_when_open


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory):
    """(url, recognizer, gate) of the studio served on loopback with slow students."""
    from studio import handlers, launch
    from telme.checkpoints import save_bundle
    from telme.checkpoints.tiny import tiny_model
    from telme.inference import Recognizer

    bundle = save_bundle(tiny_model(seed=3), tmp_path_factory.mktemp("slow") / "telme-tiny")
    args = launch.parse_args(["--weights", str(bundle)])
    services = launch.load_services(args)
    recognizer = Recognizer(services.recognizer.model, device="cpu", batch_size=BATCH)
    for student in (recognizer.model.audio, recognizer.model.video):
        student.forward = slowed(student.forward, STUDENT_DELAY)
    gate = Gate()
    recognizer.model.audio.forward = gate.held(recognizer.model.audio.forward, recognizer)

    class GatedRuns(handlers.Runs):
        @contextmanager
        def track(self, owner):
            with super().track(owner) as run:
                gate.runs.append(run)
                yield run

    patch = pytest.MonkeyPatch()
    patch.setattr(handlers, "Runs", GatedRuns)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = launch.create_app(args, services=replace(services, recognizer=recognizer))
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch.LAUNCH)
    yield f"http://127.0.0.1:{port}/", recognizer, gate
    demo.close()
    patch.undo()


@pytest.fixture
def slow_page(browser, slow_app):  # noqa: F811 (the imported fixture)
    from test_browser_app import _open

    context, page = _open(browser, slow_app[0])
    yield page, slow_app[1], slow_app[2]
    context.close()


def column(page, index):
    return [cell(page, row, index).inner_text().strip() for row in range(ROWS)]


def forwards(recognizer):
    stats = recognizer.stats
    return stats.audio_forwards, stats.video_forwards, stats.fusion_forwards


TEXT = 4  # the text column of the utterance table


def try_edit(page, row, value, seconds=0.0):
    """Type `value` into a text cell, again until `seconds` have passed (the unlock is an event of its
    own, a moment after the status line); True when the cell then shows it (the table is editable)."""
    from test_browser_app import edit_cell

    give_up = time.monotonic() + seconds
    while True:
        edit_cell(page, row, TEXT, value)
        page.wait_for_timeout(300)
        if cell(page, row, TEXT).inner_text().splitlines()[0].strip() == value:  # a selected cell adds "⋮"
            return True
        if time.monotonic() > give_up:
            return False
        page.keyboard.press("Escape")


def test_teacher_rows_show_while_the_students_work_and_cancel_stops_them(slow_page):
    from playwright.sync_api import expect

    from telme.labels import MELD_LABELS

    page, recognizer, gate = slow_page
    recognizer.stats.reset()
    gate.after = 2  # the third audio forward waits for the Cancel to reach the server
    expect(page.locator("#model-card")).to_contain_text("random tiny model (tests only)")  # not a real model
    page.get_by_text("example_conversation.srt").first.click()
    page.click("#analyse")
    expect(page.locator("#utterances .virtual-row")).to_have_count(ROWS)
    expect(page.locator("#status")).to_contain_text("still to come: audio student, video student, fusion")
    expect(page.locator("#status")).to_contain_text("live: text, audio, video, fusion")
    assert forwards(recognizer)[1:] == (0, 0)  # the table is up before any video forward or the fusion
    parts = [text.split(" · ") for text in column(page, 7)]  # text · audio · video
    assert all(text in MELD_LABELS for text, _, _ in parts) and {video for _, _, video in parts} == {"pending"}
    assert set(column(page, 2)) == {"pending"}  # the fused emotion
    shot(page, "14_streaming_teacher_first.png")
    before = cell(page, 0, TEXT).inner_text().splitlines()[0].strip()
    assert not try_edit(page, 0, "edited while streaming")  # read-only while the analysis streams
    assert cell(page, 0, TEXT).inner_text().splitlines()[0].strip() == before

    while recognizer.stats.audio_forwards < 2:  # let two audio micro-batches land
        time.sleep(0.05)
    expect(page.locator("#status")).to_contain_text("audio student")
    page.click("#cancel")
    expect(page.locator("#status")).to_contain_text("cancelled after text teacher 10/10, audio student", timeout=30_000)
    gate.after = None
    stopped = forwards(recognizer)
    time.sleep(4 * STUDENT_DELAY)
    assert forwards(recognizer) == stopped  # no forward after the cancel
    assert stopped[0] < ROWS / BATCH and stopped[1:] == (0, 0)
    assert set(column(page, 2)) == {"pending"}  # the table stays as far as it got, marked
    audio = [text.split(" · ")[1] for text in column(page, 7)]
    assert 0 < sum(value in MELD_LABELS for value in audio) < ROWS and "pending" in audio
    shot(page, "15_streaming_cancelled.png")
    assert try_edit(page, 0, "edited after the cancel", 15) and try_edit(page, 0, before, 15)  # editable again

    page.click("#rerun")  # Re-run completes the cancelled analysis
    expect(page.locator("#status")).to_contain_text("completed the cancelled analysis", timeout=60_000)
    assert "pending" not in column(page, 2) and forwards(recognizer)[2] > 0


def test_the_table_is_read_only_while_streaming_and_editable_when_done(slow_page):
    from playwright.sync_api import expect

    page, recognizer, _ = slow_page
    recognizer.clear_cache()  # an earlier test's outputs would make the analysis instant
    page.get_by_text("example_conversation.srt").first.click()
    page.click("#analyse")
    expect(page.locator("#status")).to_contain_text("still to come: audio student")
    assert not try_edit(page, 1, "edited while streaming")
    expect(page.locator("#status")).to_contain_text("analysed 10 utterances", timeout=60_000)
    assert try_edit(page, 1, "edited once it finished", 15)
