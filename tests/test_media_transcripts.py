"""Transcripts: SRT, WebVTT and MELD-style CSV give the same utterances and speaker names."""

from pathlib import Path

import pytest

from telme.media.errors import BadTranscript
from telme.media.transcripts import parse_clock, read_transcript, split_speaker

MEDIA = Path(__file__).parent / "fixtures" / "media"


@pytest.mark.parametrize("suffix", ["srt", "vtt", "csv"])
def test_every_format_reads_the_fixture(suffix):
    dialogue = read_transcript(MEDIA / f"conversation.{suffix}")
    assert [u.speaker for u in dialogue] == ["Ross", "Rachel"] * 3
    assert dialogue[0].text == "Hey, did you see my keys?"
    assert (dialogue[0].start, dialogue[0].end) == pytest.approx((0.4, 2.097))


def test_clock_formats():
    assert parse_clock("01:02:03,500") == pytest.approx(3723.5)
    assert parse_clock("02:03.250") == pytest.approx(123.25)


def test_speaker_prefixes_and_voices():
    assert split_speaker("Ross: We were on a break!") == ("Ross", "We were on a break!")
    assert split_speaker("<v Mr. Heckles>Keep it down</v>") == ("Mr. Heckles", "Keep it down")
    assert split_speaker("Note: no speaker here") == ("", "Note: no speaker here")
    assert split_speaker("<i>just text</i> at 10:30") == ("", "just text at 10:30")


def test_srt_without_names_and_with_crlf(tmp_path):
    path = tmp_path / "plain.srt"
    path.write_bytes(
        b"1\r\n00:00:01,000 --> 00:00:02,000\r\nHello\r\nthere\r\n\r\n"
        b"2\r\n00:00:03,000 --> 00:00:04,000\r\nBye\r\n"
    )
    dialogue = read_transcript(path)
    assert [(u.speaker, u.text) for u in dialogue] == [("", "Hello there"), ("", "Bye")]


def test_csv_with_several_dialogues_needs_an_id(tmp_path):
    path = tmp_path / "meld.csv"
    path.write_text(
        "Utterance,Speaker,Emotion,Dialogue_ID,StartTime,EndTime\n"
        '"Hi",Joey,joy,0,"00:00:01,000","00:00:02,000"\n'
        '"Hey",Ross,neutral,1,"00:00:01,000","00:00:02,000"\n'
    )
    with pytest.raises(BadTranscript, match="Dialogue_ID"):
        read_transcript(path)
    dialogue = read_transcript(path, dialogue_id=1)
    assert [(u.speaker, u.text, u.label) for u in dialogue] == [("Ross", "Hey", "neutral")]


def test_not_a_transcript(tmp_path):
    path = tmp_path / "notes.srt"
    path.write_text("just some words\n")
    with pytest.raises(BadTranscript, match="no timed lines"):
        read_transcript(path)
