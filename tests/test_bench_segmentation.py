"""The segmentation benchmark: its metrics on constructed truth and predictions, and the
conversation generator (planning is pure Python; rendering needs espeak-ng and skips without it)."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import load_script

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "media"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


def load(name):
    return load_script(name)


@pytest.fixture(scope="module")
def bench():
    return load("bench_segmentation")


@pytest.fixture(scope="module")
def generator():
    return load("conversations")


def turn(start, end, speaker, text="word"):
    return {"start": start, "end": end, "speaker": speaker, "text": text}


TRUTH = [
    turn(0.5, 2.0, "A", "Did you see my keys?"),
    turn(2.8, 4.0, "B", "They are here."),
    turn(4.6, 6.0, "A", "Thanks, I looked all morning."),
    turn(6.5, 7.0, "C", "Wow."),
]
CLIP = {"duration": 7.5, "num_speakers": 3, "utterances": TRUTH}


def simple(text):
    return " ".join(text.lower().replace(",", "").replace(".", "").replace("?", "").split())


def prediction(utterances, cpu_s=1.5):
    return {"utterances": utterances, "cpu_s": cpu_s, "wall_s": 2.0, "error": None}


# -- metrics -----------------------------------------------------------------------------------


def test_perfect_prediction_scores_perfectly(bench):
    score = bench.score_clip(CLIP, prediction(TRUTH), simple)
    assert score["der"] == 0.0 and score["wer"] == 0.0
    assert score["change_recall"] == 1.0 and score["change_precision"] == 1.0
    assert score["speakers_right"] and score["utterances"] == score["turns"] == 4
    assert score["cpu_per_audio_s"] == pytest.approx(1.5 / 7.5)


def test_swapped_speaker_names_cost_nothing(bench):
    names = {"A": "Speaker 2", "B": "Speaker 3", "C": "Speaker 1"}
    swapped = [{**t, "speaker": names[t["speaker"]]} for t in TRUTH]
    assert bench.diarization_error(TRUTH, swapped, 7.5) == pytest.approx(0.0)


MERGED = [TRUTH[0], turn(2.8, 6.0, "B", "They are here. Thanks, I looked all morning."), TRUTH[3]]
LOST_SPEAKER = [*MERGED[:2], {**TRUTH[3], "speaker": "A"}]  # C's turn given to A as well


def test_merged_turns_lower_recall_and_raise_der(bench):
    score = bench.score_clip(CLIP, prediction(MERGED), simple)  # B -> A change missed
    assert score["change_hits"] == 2 and score["changes_true"] == 3
    assert score["change_recall"] == pytest.approx(2 / 3) and score["change_precision"] == 1.0
    speech = sum(t["end"] - t["start"] for t in TRUTH)
    assert score["der"] == pytest.approx((6.0 - 4.6 + 0.6) / speech)  # A's turn + the gap
    assert score["confusion"] == pytest.approx(1.4 / speech)
    assert score["false_alarm"] == pytest.approx(0.6 / speech) and score["missed"] == 0.0
    assert score["wer"] == 0.0 and score["utterances"] == 3 and score["speakers_right"]
    lost = bench.score_clip(CLIP, prediction(LOST_SPEAKER), simple)
    assert lost["speakers_found"] == 2 and not lost["speakers_right"]


def test_turn_change_tolerance_is_half_a_second_from_the_gap(bench):
    truth = [turn(0.0, 1.0, "A"), turn(1.4, 2.0, "B")]  # truth gap 1.0-1.4 s
    near = [turn(0.0, 1.7, "X"), turn(1.9, 2.0, "Y")]  # change at 1.8 s, 0.4 s after the gap
    far = [turn(0.0, 1.9, "X"), turn(2.0, 2.1, "Y")]  # change at 1.95 s, 0.55 s after it
    assert bench.match_turn_changes(truth, near) == (1, 1, 1)
    assert bench.match_turn_changes(truth, far) == (0, 1, 1)


def test_turn_changes_match_one_to_one(bench):
    truth = [turn(0.0, 1.0, "A"), turn(1.3, 3.0, "B")]
    jittery = [turn(0.0, 1.0, "X"), turn(1.2, 1.3, "Y"), turn(1.35, 3.0, "X")]  # two changes
    assert bench.match_turn_changes(truth, jittery) == (1, 1, 2)
    same_speaker_pause = [turn(0.0, 1.0, "A"), turn(2.0, 3.0, "A")]
    assert bench.turn_changes(same_speaker_pause) == []


def test_word_errors_on_known_strings(bench):
    words = bench.word_errors("Hey, did you see my keys?", "hey did you see the keys", simple)
    assert words == {"errors": 1, "words": 6}
    assert bench.word_errors("Hello there.", "", simple) == {"errors": 2, "words": 2}


@pytest.mark.slow  # imports transformers
def test_whisper_normaliser_ignores_case_punctuation_and_contractions(bench):
    normalise, name = bench.text_normaliser()
    assert "Whisper" in name  # transformers is in the lock
    words = bench.word_errors("I'm fine, thanks!", "i am fine thanks", normalise)
    assert words["errors"] == 0


def test_failed_clip_scores_as_empty_prediction(bench):
    score = bench.score_clip(CLIP, {**prediction([]), "error": "NoSpeechFound: x"}, simple)
    assert score["wer"] == 1.0 and score["der"] == pytest.approx(1.0)
    assert score["speakers_found"] == 0 and score["change_recall"] == 0.0
    assert score["change_precision"] is None and score["error"] == "NoSpeechFound: x"


def test_set_totals_pool_clips(bench):
    clips = [(CLIP, prediction(TRUTH)), (CLIP, prediction(LOST_SPEAKER))]
    scores, totals = bench.score_set(*zip(*clips), simple)
    assert totals["change_recall"] == pytest.approx(5 / 6)  # (3 + 2) hits of 3 + 3 changes
    assert totals["der"] == pytest.approx(np.mean([s["der"] for s in scores]))  # equal speech
    assert totals["speakers_right"] == 0.5 and totals["clips"] == 2
    assert totals["change_precision"] == 1.0
    assert totals["utterances"] == 7 and totals["turns"] == 8


def test_predict_clip_records_utterances_and_failures(bench):
    from telme.dialogue import Dialogue, Utterance
    from telme.media.errors import NoSpeechFound

    class Stub:
        def __init__(self, fail):
            self.fail = fail

        def run(self, path, num_speakers=None, progress=None):
            assert num_speakers is None  # the count is left to the pipeline
            progress("transcribe", 0, 1)
            if self.fail:
                raise NoSpeechFound(path)
            utterance = Utterance(start=0.5, end=2.0, speaker="Speaker 1", text="Hi there.")
            return type("Run", (), {"dialogue": Dialogue([utterance])})()

    done = bench.predict_clip(Stub(fail=False), "clip.wav")
    assert done["utterances"] == [turn(0.5, 2.0, "Speaker 1", "Hi there.")]
    assert done["error"] is None and "transcribe" in done["stages"]
    failed = bench.predict_clip(Stub(fail=True), "clip.wav")
    assert failed["utterances"] == [] and failed["error"].startswith("NoSpeechFound")


# -- the generator -----------------------------------------------------------------------------


class CountingTranscriber:
    """Stands in for WhisperTranscriber: words from the wave's length, calls counted."""

    model_name, options = "fake", {"beam_size": 5}

    def __init__(self):
        self.calls = 0

    def __call__(self, wave, language=None, progress=None):
        from telme.dialogue import Word

        self.calls += 1
        return [Word(text=f"w{len(wave)}", start=0.1, end=0.4)]


def test_asr_cache_reuses_words_per_wave_and_options(bench, tmp_path):
    inner = CountingTranscriber()
    cached = bench.CachedTranscriber(inner, tmp_path)
    wave = np.zeros(1600, np.float32)
    first = cached(wave)
    assert cached(wave) == first and inner.calls == 1  # the second call read the file
    assert cached(np.zeros(3200, np.float32))[0].text == "w3200" and inner.calls == 2
    inner.options = {"beam_size": 10}  # other options: another entry
    cached(wave)
    assert inner.calls == 3 and len(list(tmp_path.iterdir())) == 3


def test_plans_are_deterministic(generator):
    assert generator.plan_conversation("eval", 5) == generator.plan_conversation("eval", 5)
    assert generator.plan_conversation("eval", 5) != generator.plan_conversation("eval", 6)


@pytest.mark.parametrize("tuning", ["tune", "tune2"])
def test_sets_share_no_voice_accent_or_line(generator, tuning):
    tune, eval_ = generator.SETS[tuning], generator.SETS["eval"]
    for key in ("variants", "accents", "lines", "replies"):
        assert not set(tune[key]) & set(eval_[key]), key
    assert tune["clips"] >= 20 and eval_["clips"] >= 28
    assert generator.SETS[tuning]["seed"] != eval_["seed"]
    for name, pool in generator.SETS.items():
        voices = {v.voice for i in range(pool["clips"])
                  for v in generator.plan_conversation(name, i).voices.values()}  # fmt: skip
        accents = {v.split("+")[0] for v in voices}
        assert accents <= set(pool["accents"]) and {v.split("+")[1] for v in voices} <= set(
            pool["variants"]
        )


def test_second_tuning_set_is_new_conversations(generator):
    tune = {generator.plan_conversation("tune", i).turns for i in range(24)}
    tune2 = [generator.plan_conversation("tune2", i) for i in range(generator.SETS["tune2"]["clips"])]
    assert not tune & {plan.turns for plan in tune2}
    variants = {v.voice.split("+")[1] for plan in tune2 for v in plan.voices.values()}
    assert variants - set(generator.SETS["tune"]["variants"])  # voices tune never had


def test_second_evaluation_set_has_voices_no_other_set_has(generator):
    others = set().union(*(pool["variants"] for name, pool in generator.SETS.items() if name != "eval2"))
    pool = generator.SETS["eval2"]
    assert not set(pool["variants"]) & others and pool["clips"] >= 28
    assert pool["seed"] not in {p["seed"] for name, p in generator.SETS.items() if name != "eval2"}
    plans = [generator.plan_conversation("eval2", i) for i in range(pool["clips"])]
    assert {v.voice.split("+")[1] for plan in plans for v in plan.voices.values()} <= set(pool["variants"])


@pytest.mark.parametrize("set_name", ["tune", "tune2", "eval", "eval2"])
def test_plans_cover_the_cases(generator, set_name):
    pool = generator.SETS[set_name]
    plans = [generator.plan_conversation(set_name, i) for i in range(pool["clips"])]
    assert {len(p.voices) for p in plans} == {1, 2, 3, 4}
    assert {p.format for p in plans} == {"wav", "mp4", "webm"}
    assert 0.3 <= np.mean([p.noise is not None for p in plans]) <= 0.7
    replies = 0
    for plan in plans:
        speakers = [t.speaker for t in plan.turns]
        assert 3 <= len(plan.turns) <= 12 and set(speakers) == set(plan.voices)
        assert all(0.3 <= t.pause_after <= 1.5 for t in plan.turns[:-1])
        assert plan.turns[-1].pause_after == 0.0
        if 1 < len(plan.voices) < len(plan.turns) and len(plan.turns) >= 4:
            assert any(a == b for a, b in zip(speakers, speakers[1:])), plan.name
        replies += sum(t.text in pool["replies"] for t in plan.turns)
        for voice in plan.voices.values():
            assert 20 <= voice.pitch <= 80 and 145 <= voice.speed <= 195
    assert replies >= 10
    assert sum("," in t.text for p in plans for t in p.turns) >= 10


SMALL = dict(name="small", lead=0.4, tail=0.5, format="wav", seed=3)


@needs_espeak
def test_render_places_speech_where_the_truth_says(generator):
    voices = {"Alex": generator.Voice("en-us+m1", 40, 170),
              "Blair": generator.Voice("en-gb+f2", 60, 160)}  # fmt: skip
    turns = (generator.Turn("Alex", "Hello, how are you?", 0.7),
             generator.Turn("Blair", "Fine.", 0.0))  # fmt: skip
    conversation = generator.Conversation(voices=voices, turns=turns, noise=None, **SMALL)
    wave, truth = generator.render(conversation)
    rate = generator.ESPEAK_RATE
    first, second = truth["utterances"]
    assert truth["duration"] == pytest.approx(wave.size / rate, abs=1e-3)
    assert first["start"] == pytest.approx(0.4, abs=1e-3)
    assert second["start"] - first["end"] == pytest.approx(0.7, abs=2e-3)
    assert truth["duration"] - second["end"] == pytest.approx(0.5, abs=2e-3)
    silent = lambda a, b: np.abs(wave[int(a * rate) : int(b * rate)]).max()  # noqa: E731
    assert silent(0, 0.39) == 0 and silent(first["end"] + 0.01, second["start"] - 0.01) == 0
    assert silent(first["start"], first["start"] + 0.05) > 0.005  # trimmed: speech starts at once
    noisy = replace(conversation, noise={"kind": "pink", "snr_db": 20.0})
    noisy_wave, noisy_truth = generator.render(noisy)
    assert noisy_truth["utterances"] == truth["utterances"]
    assert np.abs(noisy_wave[: int(0.39 * rate)]).max() > 0  # noise in the lead-in
    generator.speak.cache_clear()
    assert np.array_equal(generator.render(noisy)[0], noisy_wave)  # espeak-ng and noise seeded


@needs_espeak
@pytest.mark.parametrize("kind", ["wav", "mp4", "webm"])
def test_written_clips_decode_to_the_truth_duration(generator, tmp_path, kind):
    from telme.media import decode

    voices = {"Alex": generator.Voice("en-us+m1", 40, 170)}
    turns = (generator.Turn("Alex", "Good morning.", 0.0),)
    conversation = generator.Conversation(voices=voices, turns=turns, noise=None,
                                          **{**SMALL, "format": kind})  # fmt: skip
    path = generator.write_conversation(conversation, tmp_path, "test")
    truth = json.loads(path.with_suffix(".json").read_text())
    info = decode.probe(path)
    wave, rate = decode.decode_audio_native(path)
    assert info.has_audio and info.has_video == (kind != "wav")
    assert len(wave) / rate == pytest.approx(truth["duration"], abs=0.05)
    assert truth["format"] == kind and truth["num_speakers"] == 1


@pytest.mark.parametrize("stem, speakers, turns", [("short_replies", 2, 8), ("monologue", 1, 4)])
def test_committed_fixtures_are_small_and_consistent(stem, speakers, turns):
    clip = next(p for p in FIXTURES.glob(f"{stem}.*") if p.suffix != ".json")
    truth = json.loads((FIXTURES / f"{stem}.json").read_text())
    assert clip.stat().st_size <= 250_000
    utterances = truth["utterances"]
    assert len(utterances) == turns and len({u["speaker"] for u in utterances}) == speakers
    assert truth["num_speakers"] == speakers
    times = [t for u in utterances for t in (u["start"], u["end"])]
    assert times == sorted(times) and 0 < times[0] and times[-1] < truth["duration"]


def test_collared_der_forgives_edge_jitter_only(bench):
    late = [{**t, "start": t["start"] + 0.2} for t in TRUTH]  # every utterance starts 0.2 s late
    scores, totals = bench.score_set([CLIP, CLIP], [prediction(late), prediction(MERGED)], simple)
    assert scores[0]["der"] == pytest.approx(0.8 / 4.6) and scores[0]["der_collar"] == 0.0
    assert scores[1]["der_collar"] > 0.2  # a whole turn given to the wrong speaker stays an error
    assert 0 < totals["der_collar"] < totals["der"]


def test_tables_show_before_and_after_side_by_side(bench):
    scores, totals = bench.score_set([CLIP, CLIP], [prediction(MERGED), prediction(TRUTH)], simple)
    table = bench.markdown_table([("clip.wav", scores)], ["before abc", "after"])
    row = next(line for line in table.splitlines() if line.startswith("| clip.wav"))
    assert "0.67 → 1.00" in row  # turn-change recall, before → after
    assert "| 4 |" in row and "4 → 4" not in row  # truth turns shown once
    summary = bench.totals_table({"tune": [totals, totals]}, ["before abc", "after"])
    assert "| tune | before abc | 2 |" in summary
    assert summary.splitlines()[-1].startswith("| target")


@needs_espeak
def test_committed_fixtures_are_what_the_generator_makes(generator):
    for conversation in (generator.SHORT_REPLIES, generator.MONOLOGUE):
        committed = json.loads((FIXTURES / f"{conversation.name}.json").read_text())
        _, truth = generator.render(conversation)
        texts = [u["text"] for u in committed["utterances"]]
        assert [u["text"] for u in truth["utterances"]] == texts
        times = [(u["start"], u["end"]) for u in truth["utterances"]]
        expected = [(u["start"], u["end"]) for u in committed["utterances"]]
        assert np.allclose(times, expected, atol=0.02)  # espeak-ng builds may differ by a frame


@needs_espeak
def test_timing_conversation_lasts_about_a_minute(generator):
    wave, truth = generator.render(generator.minute_conversation())
    assert 59.0 <= truth["duration"] <= 66.0 and truth["num_speakers"] == 3
    assert len(wave) == pytest.approx(truth["duration"] * generator.ESPEAK_RATE, abs=25)  # ms


def test_pipeline_choices_reach_the_transcriber(bench, tmp_path):
    from telme.media.asr import DECODE_OPTIONS, WhisperTranscriber

    plain = bench.make_pipeline()  # what an older revision's worker builds: defaults alone
    assert isinstance(plain.transcriber, WhisperTranscriber) and plain.transcriber.options == DECODE_OPTIONS
    cached = bench.make_pipeline("tiny.en", {"beam_size": 1}, tmp_path)
    assert isinstance(cached.transcriber, bench.CachedTranscriber)
    assert cached.transcriber.transcriber.model_name == "tiny.en"
    assert cached.transcriber.transcriber.options["beam_size"] == 1
