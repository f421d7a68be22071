"""Caps on one request's work: every refusal names the limit and the value, and comes before the work."""

import pytest

from telme.checkpoints.tiny import tiny_model
from telme.dialogue import Dialogue, Utterance
from telme.errors import UserError
from telme.inference import Recognizer, analyze_clip
from telme.limits import MAX_CLIP_SECONDS, Limits, TooMuchInput
from telme.media import pipeline
from telme.media.transcripts import read_transcript


def srt(count, text="Hello there."):
    return "".join(f"{i + 1}\n00:{i // 60:02d}:{i % 60:02d},000 --> 00:{i // 60:02d}:{i % 60:02d},500\n{text}\n\n"
                   for i in range(count))


def utterances(texts):
    return Dialogue([Utterance(i, i + 0.5, "A", text) for i, text in enumerate(texts)])


class NoDecoder:
    """A decoder that must not be reached: the limits come first."""

    def probe(self, path):
        raise AssertionError("the clip was probed before the limits were checked")

    decode_audio_native = probe


def test_limits_name_the_limit_and_the_value():
    limits = Limits(utterances=3, utterance_chars=10, total_chars=25)
    assert issubclass(TooMuchInput, UserError)
    with pytest.raises(TooMuchInput, match="talk.srt has too many utterances: 4 utterances, over the limit of 3 "):
        limits.check_texts(["a"] * 4, "talk.srt")
    with pytest.raises(TooMuchInput, match="utterance 1 of the dialogue is too long: 11 characters, over the limit of 10"):
        limits.check_texts(["short", "x" * 11])
    with pytest.raises(TooMuchInput, match="holds too much text: 27 characters, over the limit of 25 characters") as info:
        limits.check_texts(["x" * 9, "x" * 9, "x" * 9])
    assert (info.value.value, info.value.limit) == (27, 25)
    limits.check_texts(["x" * 10, "x" * 10, "x" * 5])  # exactly at every limit is allowed


def test_transcript_file_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "huge.srt"
    with path.open("wb") as file:
        file.truncate(4 * 1024 * 1024 + 1)  # sparse: nothing is written, the size is what counts
    with pytest.raises(TooMuchInput, match=r"huge.srt is too large: 4,194,305 bytes, over the limit of 4,194,304 bytes"):
        read_transcript(path)


def test_transcript_reader_refuses_too_many_cues_and_too_long_cues(tmp_path):
    (tmp_path / "many.srt").write_text(srt(601))
    with pytest.raises(TooMuchInput, match="many.srt has too many utterances: 601 utterances, over the limit of 600"):
        read_transcript(tmp_path / "many.srt")
    assert len(read_transcript(tmp_path / "many.srt", limits=Limits(utterances=601))) == 601
    (tmp_path / "long.srt").write_text(srt(2) + "3\n00:00:09,000 --> 00:00:10,000\n" + "word " * 401 + "\n")
    with pytest.raises(TooMuchInput, match="utterance 2 of long.srt is too long: 2,004 characters"):
        read_transcript(tmp_path / "long.srt")


def test_pipeline_checks_a_given_dialogue_before_decoding():
    clip_to_dialogue = pipeline.ClipToDialogue(decoder=NoDecoder(), transcriber=None, speaker_assigner=lambda *a: [])
    with pytest.raises(TooMuchInput, match="2,000 utterances, over the limit of 600"):
        clip_to_dialogue.run("clip.mp4", transcript=utterances(["hi"] * 2000))
    with pytest.raises(TooMuchInput, match="10,485,760 characters"):
        clip_to_dialogue.run("clip.mp4", transcript=utterances(["hi", "x" * 10 * 1024 * 1024]))
    assert pipeline.MAX_DURATION == MAX_CLIP_SECONDS == 600.0  # one constant for the clip length


def test_a_2000_cue_transcript_is_refused_at_once_through_analyze_clip(tmp_path):
    path = tmp_path / "long_talk.srt"
    path.write_text(srt(2000))
    recognizer = Recognizer(tiny_model(seed=0))
    with pytest.raises(TooMuchInput, match="long_talk.srt has too many utterances: 2,000 utterances") as info:
        analyze_clip(None, recognizer, transcript=path)
    assert info.value.limit == 600
    assert recognizer.stats.teacher_forwards == 0
