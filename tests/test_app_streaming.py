"""The streamed analysis, Cancel and the ZeroGPU wrapper of the studio, on the fakes of test_app_handlers."""

import functools
import inspect
import sys
import threading
import time
import types

import pytest

from studio import layout, zerogpu
from studio import session as actions
from test_app_handlers import EXAMPLE, NO_PROGRESS, Request, make_studio

LIVE = ("text", "audio", "video", "fusion")


def steps(studio, request=None):
    return studio.analyze_steps(str(EXAMPLE), None, None, "detect", actions.Session(), request, progress=NO_PROGRESS)


def test_the_page_sees_the_teacher_first_and_ends_with_what_the_api_returns():
    studio = make_studio(live=LIVE)
    shown = list(steps(studio))
    assert len(shown) == 2
    session, table, per_speaker, timeline, chart, status, _ = shown[0]
    assert not session.finished and session.ready
    assert set(table["emotion"]) == {"pending"} and set(table["α"]) == {"pending"}
    assert all(cell.endswith(" · pending · pending") and not cell.startswith("pending")
               for cell in table["text · audio · video"])  # the teacher's label, the students to come
    assert (per_speaker, timeline, chart) == (None, None, None)
    assert status.startswith("analysing · text teacher 6/6 utterances · still to come: audio student, "
                             "video student, fusion")
    final = shown[-1]
    api = studio.analyze(str(EXAMPLE), None, None, "detect", actions.Session(), progress=NO_PROGRESS)
    assert final[0].finished and final[1].equals(api[1]) and final[5] == api[5]
    assert "pending" not in " ".join(map(str, final[1].to_numpy().ravel()))


def test_a_text_only_model_has_nothing_pending():
    shown = list(steps(make_studio(live=("text",))))
    assert len(shown) == 1 and shown[0][0].finished and "pending" not in shown[0][1].to_string()


def _cancel_while_paused(studio, generator, request):
    """Press Cancel (in another thread, as Gradio would) while the analysis waits at a step."""
    answer = {}
    pressed = threading.Thread(target=lambda: answer.update(out=studio.cancel(actions.Session(), request)))
    pressed.start()
    while not studio.runs._runs[request.session_hash].cancelled:
        time.sleep(0.01)
    assert list(generator) == []  # the analysis stops: no further step is shown
    pressed.join(timeout=10)
    return answer["out"]


def test_cancel_stops_the_analysis_and_says_how_far_it_got():
    studio, request = make_studio(live=LIVE), Request("tab-cancel")
    generator = steps(studio, request)
    first = next(generator)
    session, status = _cancel_while_paused(studio, generator, request)
    assert len(studio.services.recognizer.calls) == 1
    assert session.prediction is first[0].prediction and not session.finished
    assert status.startswith("cancelled after text teacher 6/6, audio student 0/6, video student 0/6; "
                             "the fusion did not run")
    with pytest.raises(Exception, match="cancelled before it finished"):
        studio.export(session, request)
    table = first[1].copy()
    table.loc[2, "text"] = "I am so angry."  # the user's edit after the cancel
    done = studio.rerun(table, session)
    assert done[0].finished and done[0].dialogue[2].text == "I am so angry."
    assert done[5].startswith("completed the cancelled analysis; edited #2")


def test_a_closed_stream_counts_as_cancelled_and_a_finished_one_has_nothing_to_cancel():
    studio, request = make_studio(live=LIVE), Request("tab-close")
    generator = steps(studio, request)
    next(generator)  # shown on the page
    next(generator)  # computed while Cancel was pressed: Gradio drops it, then closes the generator
    generator.close()  # Gradio closing a dropped run (GeneratorExit at that step)
    assert studio.cancel(actions.Session(), request)[1].startswith("cancelled after text teacher 6/6")
    list(steps(studio, request))
    assert studio.cancel(actions.Session(), request)[1].startswith("nothing was running to cancel")


def test_cancel_before_the_first_results_keeps_the_earlier_analysis():
    studio, request = make_studio(live=LIVE), Request("tab-early")
    earlier = studio.analyze(str(EXAMPLE), None, None, "detect", actions.Session(), request, progress=NO_PROGRESS)[0]
    answer = {}
    with studio.runs.track(request.session_hash) as run:  # an analysis still transcribing: nothing shown yet
        pressed = threading.Thread(target=lambda: answer.update(out=studio.cancel(earlier, request)))
        pressed.start()
        while not run.cancelled:
            time.sleep(0.01)
    pressed.join(timeout=10)
    session, status = answer["out"]
    assert session is earlier
    assert status == "analysis cancelled before its first results · the earlier analysis and its edits are kept"


class StandInSpaces(types.ModuleType):
    """`spaces` as a ZeroGPU Space has it: GPU(duration=...) wraps a task (a generator stays one);
    this one records each wrap and marks the wrapper."""

    def __init__(self):
        super().__init__("spaces")
        self.wrapped = {}

    def GPU(self, task=None, *, duration=None):  # noqa: N802 (the package's name)
        def wrap(function):
            self.wrapped[function.__name__] = duration
            if inspect.isgeneratorfunction(function):
                @functools.wraps(function)
                def on_device(*args, **kwargs):
                    yield from function(*args, **kwargs)
            else:
                @functools.wraps(function)
                def on_device(*args, **kwargs):
                    return function(*args, **kwargs)
            on_device.gpu_duration = duration
            return on_device
        return wrap(task) if task is not None else wrap


def test_model_events_run_inside_spaces_gpu_on_a_zerogpu_space(monkeypatch):
    spaces = StandInSpaces()
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    monkeypatch.setenv(zerogpu.ZERO_GPU_VARIABLE, "true")
    studio = make_studio(live=LIVE)
    demo = layout.build_demo(studio)
    assert set(spaces.wrapped) == {"_analysis_steps", "analyze", "rerun", "set_modalities", "evaluate_split"}
    duration = spaces.wrapped["analyze"]
    seconds = studio.services.probe(str(EXAMPLE)).duration
    assert duration(str(EXAMPLE), None, None, "detect", actions.Session()) == zerogpu.analysis_seconds(seconds) > 30
    assert duration(None, None, "talk.srt", "detect", actions.Session()) == zerogpu.BASE_SECONDS
    assert zerogpu.analysis_seconds(10_000) == zerogpu.MAX_SECONDS
    assert spaces.wrapped["rerun"] == zerogpu.RERUN_SECONDS and spaces.wrapped["evaluate_split"] == zerogpu.MAX_SECONDS
    wrapped = [fn.fn.__name__ for fn in demo.fns.values() if getattr(fn.fn, "gpu_duration", None) is not None]
    assert sorted(wrapped) == ["analyze", "evaluate_split", "rerun", "set_modalities"]
    assert studio._steps.gpu_duration == studio.gpu_seconds and inspect.isgeneratorfunction(studio._steps)
    assert len(list(steps(studio))) == 2  # the page's analysis still streams through the wrapper


@pytest.mark.parametrize("variable, installed", [("", True), ("false", True), ("true", False)])
def test_elsewhere_the_handlers_run_as_they_are(monkeypatch, variable, installed):
    spaces = StandInSpaces()
    monkeypatch.setitem(sys.modules, "spaces", spaces if installed else None)  # None: import fails
    monkeypatch.setenv(zerogpu.ZERO_GPU_VARIABLE, variable)
    monkeypatch.setenv("SPACE_ID", "someone/telme-studio")  # a CPU Space sets this one only
    studio = make_studio(live=LIVE)
    demo = layout.build_demo(studio)
    assert spaces.wrapped == {} and zerogpu.spaces_module() is None
    fns = {fn.api_name: fn.fn for fn in demo.fns.values()}
    assert fns["analyze"] == studio.analyze and studio._steps == studio._analysis_steps


def test_the_chart_of_a_cancelled_analysis_marks_what_is_pending():
    import json

    studio, request = make_studio(live=LIVE), Request("tab-chart")
    session = next(steps(studio, request))[0]
    chart = json.loads(studio.show_utterance(1, session, request)[0].to_json())
    assert [trace["name"] for trace in chart["data"][:4]] == ["text", "audio (pending)", "video (pending)",
                                                              "fused (pending)"]
    assert chart["data"][4]["text"] == ["pending"] and chart["layout"]["title"]["text"].endswith("→ pending")


def _after(demo, index):
    """The events chained after event `index` (.then / .success), by index."""
    return [i for i, fn in demo.fns.items() if fn.trigger_after == index]


def test_the_table_is_read_only_from_analyse_until_the_analysis_ends():
    studio = make_studio(live=LIVE)
    demo = layout.build_demo(studio)
    table = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "utterances")
    editable = {i: fn.fn.args[0] for i, fn in demo.fns.items()
                if getattr(fn.fn, "func", None) == studio.table_editable and fn.outputs == [table]}
    assert sorted(editable.values()) == [False, True, True]
    press = next(i for i, fn in demo.fns.items() if fn.fn == studio.analyze_steps)
    lock = demo.fns[press].trigger_after
    assert editable[lock] is False and demo.fns[lock].targets[0][1] == "click"  # the press locks it first
    assert [editable.get(i) for i in _after(demo, press)] == [True, None]  # .then unlocks (finished or failed)
    cancel = next(i for i, fn in demo.fns.items() if fn.fn == studio.cancel)
    controls = _after(demo, cancel)
    assert [editable.get(i) for i in _after(demo, controls[0])] == [True]  # a cancel unlocks it too
    assert studio.table_editable(False).interactive is False and studio.table_editable(True).interactive is True


def test_cancel_on_a_fresh_page_says_nothing_ran_and_its_chained_controls_work():
    studio, fresh = make_studio(live=LIVE), actions.Session()
    session, status = studio.cancel(fresh, Request("tab-fresh"))
    assert session is fresh and status.startswith("nothing was running to cancel")
    *_, table = studio.controls(session)  # chained after Cancel: a page with no analysis has no rows
    assert table.row_count == (0, "fixed")
