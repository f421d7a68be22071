"""Recognizer on a tiny random model: batching, fusion groups, caches, drop, partial models."""

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch

from telme.checkpoints.tiny import tiny_model
from telme.dialogue import Dialogue, Utterance, rename_speaker
from telme.features.text import collate_left, encode_dialogue
from telme.inference import Recognizer, choose_device
from telme.inference.cache import LRUCache, PartOutput
from telme.limits import Limits, TooMuchInput

TEXTS = ("Hi there!", "Oh my God, you're back!", "Yeah. How are you?", "Fine.", "Really? You look awful.",
         "Thanks a lot.")
SAMPLE_RATE = 22050  # Hz, the tiny profile is the official one with short audio


@dataclass(frozen=True)
class Media:
    audio: object
    frames: object


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=2)


@pytest.fixture
def dialogue():
    return Dialogue([Utterance(i, i + 1.0, "AB"[i % 2], text) for i, text in enumerate(TEXTS)])


@pytest.fixture
def media():
    rng = np.random.default_rng(0)
    return [Media(rng.standard_normal(SAMPLE_RATE // 4 + 700 * i).astype(np.float32),
                  rng.integers(0, 256, (8, 36, 40, 3), dtype=np.uint8)) for i in range(len(TEXTS))]


def direct_teacher_probs(model, dialogue):
    """Each prompt alone, no batching: the reference for the batched teacher."""
    ids = encode_dialogue([1, 2, 1, 2, 1, 2], list(TEXTS), model.tokenizer, model.profile.max_text_tokens)
    probs, hidden = [], []
    with torch.inference_mode():
        for row in ids:
            input_ids, mask = collate_left([row], model.tokenizer.pad_id)
            h, logits = model.teacher(input_ids, mask)
            probs.append(logits.softmax(-1)[0])
            hidden.append(h[0])
    return torch.stack(probs), torch.stack(hidden)


def probs(prediction, source):
    return torch.tensor([getattr(u, source) for u in prediction.utterances])


def test_batched_teacher_matches_one_prompt_at_a_time(model, dialogue):
    recognizer = Recognizer(model, batch_size=4)
    prediction = recognizer.run_dialogue(dialogue)
    assert recognizer.stats.teacher_forwards == 2 and recognizer.stats.teacher_rows == 6
    expected, _ = direct_teacher_probs(model, dialogue)
    assert torch.allclose(probs(prediction, "teacher"), expected, atol=1e-5)
    assert prediction.utterances[0].alpha is None  # no media: nothing to fuse
    assert probs(prediction, "fused").equal(probs(prediction, "teacher"))


def test_all_parts_run_batched_and_fusion_uses_groups_of_four(model, dialogue, media):
    recognizer = Recognizer(model, batch_size=8)
    prediction = recognizer.run_dialogue(dialogue, media)
    stats = recognizer.stats
    assert (stats.teacher_forwards, stats.audio_forwards, stats.video_forwards) == (1, 1, 1)
    assert stats.fusion_forwards == 2  # the full group of 4, then the group of 2
    _, text = direct_teacher_probs(model, dialogue)
    with torch.inference_mode():
        audio = torch.cat([recognizer_audio_hidden(model, m.audio) for m in media])
        video = model.video(torch.stack([prepared_frames(model, m.frames) for m in media]))[0]
        expected = torch.cat([model.fusion(text[a:b], audio[a:b], video[a:b]).softmax(-1) for a, b in ((0, 4), (4, 6))])
    assert torch.allclose(probs(prediction, "fused"), expected, atol=1e-5)
    assert all(0 < u.alpha <= 1 for u in prediction.utterances)
    assert all(u.label == model.labels[int(np.argmax(u.fused))] for u in prediction.utterances)


def recognizer_audio_hidden(model, wave):
    from telme.features.audio import prepare_audio

    return model.audio(prepare_audio(wave, model.profile).unsqueeze(0))[0]


def prepared_frames(model, frames):
    from telme.features.video import prepare_frames

    return prepare_frames(frames, model.profile)


def test_group_size_changes_which_utterances_attend_to_each_other(model, dialogue, media):
    four = Recognizer(model).run_dialogue(dialogue, media)
    grouped = tiny_model(seed=2)
    grouped.fusion.cfg = replace(grouped.fusion.cfg, group_size=1)
    one = Recognizer(grouped).run_dialogue(dialogue, media)
    assert probs(one, "teacher").equal(probs(four, "teacher"))
    assert not torch.allclose(probs(one, "fused"), probs(four, "fused"), atol=1e-4)


def test_audio_in_a_padded_batch_matches_audio_alone(model, dialogue, media):
    batched = Recognizer(model, batch_size=8).run_dialogue(dialogue, media)
    alone = Recognizer(model, batch_size=1).run_dialogue(dialogue, media)
    assert torch.allclose(probs(batched, "audio"), probs(alone, "audio"), atol=1e-5)


def test_text_edit_recomputes_only_the_prompts_that_contain_it(model, dialogue, media):
    recognizer = Recognizer(model)
    recognizer.run_dialogue(dialogue, media)
    recognizer.stats.reset()
    recognizer.run_dialogue(dialogue, media)
    assert recognizer.stats.teacher_rows == recognizer.stats.audio_rows == recognizer.stats.video_rows == 0
    edited = Dialogue([replace(u, text="Terrible, thanks.") if i == 3 else u for i, u in enumerate(dialogue)])
    recognizer.stats.reset()
    recognizer.run_dialogue(edited, media)
    assert recognizer.stats.teacher_rows == 3  # utterances 3, 4, 5
    assert recognizer.stats.audio_rows == recognizer.stats.video_rows == 0
    assert recognizer.stats.fusion_forwards == 2


def output(width=4):
    return PartOutput(hidden=torch.zeros(width), probs=torch.zeros(3))  # (4 + 3) * 4 = 28 bytes at width 4


def test_lru_cache_drops_the_least_recently_used_by_entries_and_by_bytes():
    cache = LRUCache(max_entries=3)
    for key in "abc":
        cache.put(key, output())
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", output())
    assert "b" not in cache and all(key in cache for key in "acd") and cache.evictions == 1
    assert cache.get("b") is None and len(cache) == 3 and cache.nbytes == 3 * 28
    by_bytes = LRUCache(max_entries=100, max_bytes=100)  # room for three 28-byte outputs
    for key in "abcd":
        by_bytes.put(key, output())
    assert [key in by_bytes for key in "abcd"] == [False, True, True, True] and by_bytes.nbytes == 84
    by_bytes.put("big", output(width=40))  # 172 bytes alone: over the bound, so nothing stays
    assert len(by_bytes) == 0 and by_bytes.nbytes == 0
    by_bytes.put("c", output())
    by_bytes.put("c", output())  # replacing an entry counts its bytes once
    assert by_bytes.nbytes == 28


def test_bounded_caches_still_recompute_only_what_an_edit_affects(model, dialogue, media):
    recognizer = Recognizer(model, cache_entries=6)  # one dialogue's worth per cache
    first = recognizer.run_dialogue(dialogue, media)
    edited = Dialogue([replace(u, text="Terrible, thanks.") if i == 3 else u for i, u in enumerate(dialogue)])
    recognizer.stats.reset()
    recognizer.run_dialogue(edited, media)
    assert (recognizer.stats.teacher_rows, recognizer.stats.audio_rows, recognizer.stats.video_rows) == (3, 0, 0)
    info = recognizer.cache_info()
    assert info["teacher"]["entries"] == 6 and info["teacher"]["evictions"] == 3  # the old prompts 3, 4, 5
    assert info["teacher"]["bytes"] == 6 * (model.teacher.cfg.hidden_size + len(model.labels)) * 4
    recognizer.stats.reset()
    again = recognizer.run_dialogue(dialogue, media)  # prompts 0-2 stayed (used most recently), 3-5 come back
    assert recognizer.stats.teacher_rows == 3 and recognizer.stats.audio_rows == 0
    # rows 3-5 come back from a forward of three prompts instead of six: the same numbers up to
    # float rounding of the other batch shape (labels exactly)
    assert_same_analysis(again.to_dict(), first.to_dict())


def assert_same_analysis(got, expected, tolerance=1e-6):
    """Equal nested dicts/lists, floats within `tolerance` (batch shape changes the last bits)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys()
        for key in expected:
            assert_same_analysis(got[key], expected[key], tolerance)
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        for a, b in zip(got, expected):
            assert_same_analysis(a, b, tolerance)
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, abs=tolerance)
    else:
        assert got == expected


def test_a_dialogue_larger_than_the_cache_completes(model, dialogue, media):
    small = Recognizer(model, cache_entries=2, batch_size=4)
    roomy = Recognizer(model, batch_size=4)
    assert small.run_dialogue(dialogue, media).to_dict() == roomy.run_dialogue(dialogue, media).to_dict()
    assert small.stats.teacher_rows == 6 and small.cache_info()["teacher"]["entries"] == 2
    small.stats.reset()
    small.run_dialogue(dialogue, media)
    assert small.stats.teacher_rows == 4  # only the two outputs the cache kept are reused


def test_limits_refuse_a_huge_cell_at_once(model, dialogue):
    recognizer = Recognizer(model)
    huge = Dialogue([replace(u, text="x" * 10_000_000) if i == 2 else u for i, u in enumerate(dialogue)])
    with pytest.raises(TooMuchInput, match="utterance 2 .* 10,000,000 characters, over the limit of 2,000 characters"):
        recognizer.run_dialogue(huge)
    assert recognizer.stats.teacher_rows == 0
    many = Dialogue([Utterance(i, i + 1.0, "A", "hi") for i in range(601)], source="/srv/uploads/a.srt")
    with pytest.raises(TooMuchInput, match=r"^a.srt has too many utterances: 601 utterances, over the limit of 600"):
        recognizer.run_dialogue(many)
    wide = Recognizer(model, limits=Limits(utterances=1000))
    assert len(wide.run_dialogue(many).utterances) == 601


def test_drop_zeroes_a_student_in_the_fusion_only(model, dialogue, media):
    recognizer = Recognizer(model)
    full = recognizer.run_dialogue(dialogue, media)
    no_audio = recognizer.run_dialogue(dialogue, media, drop={"audio"})
    assert probs(no_audio, "audio").equal(probs(full, "audio"))
    assert not torch.allclose(probs(no_audio, "fused"), probs(full, "fused"), atol=1e-4)
    _, text = direct_teacher_probs(model, dialogue)
    with torch.inference_mode():
        video = model.video(torch.stack([prepared_frames(model, m.frames) for m in media]))[0]
        zeros = torch.zeros_like(video)
        expected = torch.cat([model.fusion(text[a:b], zeros[a:b], video[a:b]).softmax(-1) for a, b in ((0, 4), (4, 6))])
    assert torch.allclose(probs(no_audio, "fused"), expected, atol=1e-5)
    neither = recognizer.run_dialogue(dialogue, media, drop={"audio", "video"})
    assert probs(neither, "fused").equal(probs(neither, "teacher"))
    assert all(u.alpha is None for u in neither.utterances)
    with pytest.raises(ValueError, match="text"):
        recognizer.run_dialogue(dialogue, media, drop={"text"})


def test_teacher_only_model_reports_only_text(dialogue, media):
    prediction = Recognizer(tiny_model(parts=("teacher",))).run_dialogue(dialogue, media)
    assert prediction.live == ("text",)
    assert all(u.audio is None and u.video is None and u.alpha is None for u in prediction.utterances)
    assert probs(prediction, "fused").equal(probs(prediction, "teacher"))


def test_untrained_parts_are_not_run(dialogue, media):
    model = tiny_model(seed=2)
    model.trained["video"] = False
    recognizer = Recognizer(model)
    prediction = recognizer.run_dialogue(dialogue, media)
    assert prediction.live == ("text", "audio", "fusion")
    assert recognizer.stats.video_forwards == 0 and all(u.video is None for u in prediction.utterances)


def test_utterances_without_media_get_none(model, dialogue, media):
    media[2] = Media(None, None)
    media[4] = Media(np.zeros(10, np.float32), np.zeros((0, 4, 4, 3), np.uint8))  # too short / no frames
    prediction = Recognizer(model).run_dialogue(dialogue, media)
    for index in (2, 4):
        assert prediction.utterances[index].audio is None and prediction.utterances[index].video is None
    assert prediction.utterances[3].audio is not None and prediction.utterances[3].alpha is not None


def test_speaker_names_do_not_matter_only_their_order(model, dialogue):
    recognizer = Recognizer(model)
    renamed = rename_speaker(rename_speaker(dialogue, "A", "Rachel"), "B", "Ross")
    assert probs(recognizer.run_dialogue(renamed), "teacher").equal(probs(recognizer.run_dialogue(dialogue), "teacher"))


def test_results_serialise_and_progress_is_reported(model, dialogue, media):
    steps = []
    prediction = Recognizer(model).run_dialogue(dialogue, media, progress=lambda s, d, t: steps.append((s, d, t)))
    data = json.loads(json.dumps(prediction.to_dict()))
    assert data["labels"] == list(model.labels) and len(data["utterances"]) == 6
    assert set(data["utterances"][0]) == {"index", "teacher", "audio", "video", "fused", "alpha", "label", "confidence",
                                         "pending"}
    assert {step for step, _, _ in steps} == {"teacher", "audio", "video", "fusion"}
    assert ("teacher", 6, 6) in steps


def test_bad_inputs(model, dialogue, media):
    recognizer = Recognizer(model)
    with pytest.raises(ValueError, match="no utterances"):
        recognizer.run_dialogue(Dialogue([]))
    with pytest.raises(ValueError, match="media for 5 utterances"):
        recognizer.run_dialogue(dialogue, media[:5])
    with pytest.raises(ValueError, match="batch_size"):
        Recognizer(model, batch_size=0)


def test_choose_device():
    assert choose_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device().type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            choose_device("cuda")


@pytest.mark.gpu
def test_cuda_autocast_agrees_with_cpu_fp32(dialogue, media):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    on_cpu = Recognizer(tiny_model(seed=2), device="cpu").run_dialogue(dialogue, media)
    recognizer = Recognizer(tiny_model(seed=2))  # CUDA chosen, bf16 autocast
    assert recognizer.device.type == "cuda" and recognizer.dtype in (torch.bfloat16, torch.float16)
    on_gpu = recognizer.run_dialogue(dialogue, media)
    for source in ("teacher", "audio", "video", "fused"):
        assert torch.allclose(probs(on_gpu, source), probs(on_cpu, source), atol=3e-2), source


def test_absolute_position_teacher_is_batch_invariant(dialogue):
    """A BERT-style teacher (absolute positions, like TelME-mini's MiniLM): left padding must not
    shift a prompt's positions, so batched results equal one prompt at a time."""
    from telme.checkpoints import TelME
    from telme.models import TextTeacher

    base = tiny_model(seed=4, parts=("teacher",))
    cfg = replace(base.teacher.cfg, backbone=dict(base.teacher.cfg.backbone, model_type="bert", pad_token_id=1))
    torch.manual_seed(4)
    model = TelME(teacher=TextTeacher(cfg).eval(), labels=base.labels, profile=base.profile,
                  tokenizer=base.tokenizer, trained={"teacher": True})
    batched = Recognizer(model, batch_size=8).run_dialogue(dialogue)
    expected, _ = direct_teacher_probs(model, dialogue)
    assert torch.allclose(probs(batched, "teacher"), expected, atol=1e-5)


def test_the_stream_shows_the_teacher_first_then_each_micro_batch_and_ends_with_run_dialogue(model, dialogue, media):
    recognizer = Recognizer(model, batch_size=2)
    steps = list(recognizer.stream_dialogue(dialogue, media))
    assert [(s.stage, s.done, s.total) for s in steps] == [
        ("teacher", 6, 6), ("audio", 2, 6), ("audio", 4, 6), ("audio", 6, 6),
        ("video", 2, 6), ("video", 4, 6), ("video", 6, 6), ("fusion", 6, 6)]
    first, last = steps[0].prediction, steps[-1].prediction
    assert [u.pending for u in first.utterances] == [("audio", "video", "fusion")] * 6
    assert first.pending == ("audio", "video", "fusion") and not steps[0].complete
    assert probs(first, "teacher").equal(probs(last, "teacher"))
    assert probs(first, "fused").equal(probs(first, "teacher"))  # the teacher's view until the fusion ran
    audio_done = steps[1].prediction.utterances
    assert sum(u.audio is not None for u in audio_done) == 2 == sum("audio" not in u.pending for u in audio_done)
    assert steps[-1].complete and last.pending == ()
    assert last.to_dict() == Recognizer(model, batch_size=2).run_dialogue(dialogue, media).to_dict()


def test_closing_the_stream_stops_its_work(model, dialogue, media):
    recognizer = Recognizer(model, batch_size=2)
    stream = recognizer.stream_dialogue(dialogue, media)
    assert next(stream).stage == "teacher"
    stream.close()  # what a cancelled request does (GeneratorExit at the yield)
    stats = recognizer.stats
    assert (stats.teacher_forwards, stats.audio_forwards, stats.video_forwards, stats.fusion_forwards) == (3, 0, 0, 0)

    other = Recognizer(model, batch_size=2)
    stream = other.stream_dialogue(dialogue, media)
    assert [next(stream).stage for _ in range(2)] == ["teacher", "audio"]
    stream.close()
    assert (other.stats.audio_rows, other.stats.video_forwards, other.stats.fusion_forwards) == (2, 0, 0)


def test_a_streamed_part_that_is_cached_arrives_whole_in_one_step(model, dialogue, media):
    recognizer = Recognizer(model, batch_size=2)
    recognizer.run_dialogue(dialogue, media)
    recognizer.stats.reset()
    steps = list(recognizer.stream_dialogue(dialogue, media))
    assert [(s.stage, s.done, s.total) for s in steps] == [("teacher", 6, 6), ("audio", 6, 6), ("video", 6, 6),
                                                          ("fusion", 6, 6)]
    assert recognizer.stats.audio_forwards == recognizer.stats.video_forwards == 0


def test_a_text_only_stream_is_complete_after_the_teacher(model, dialogue):
    steps = list(Recognizer(model).stream_dialogue(dialogue))
    assert [s.stage for s in steps] == ["teacher"] and steps[0].complete
