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


SRT = "1\n00:00:01,000 --> 00:00:02,000\nRoss: Hi.\n\n2\n00:00:03,000 --> 00:00:04,000\nRachel: Hey!\n"


def write_srt(tmp_path, text, name="cues.srt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("timing", "problem"), [
    ("-00:00:02,000 --> 00:00:03,000", "negative time"),
    ("00:00:02,000 --> -00:00:03,000", "negative time"),
    ("00:00:05,000 --> 00:00:04,500", "ends before it starts"),
])
def test_srt_cue_with_a_bad_time_is_refused_by_name(tmp_path, timing, problem):
    path = write_srt(tmp_path, SRT.replace("00:00:03,000 --> 00:00:04,000", timing))
    with pytest.raises(BadTranscript, match=f"cue 2 \\({timing}\\) .*{problem}"):
        read_transcript(path)


def test_vtt_cue_without_an_id_is_named_by_its_block(tmp_path):
    path = write_srt(tmp_path, "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ross>Hi.\n\n00:04.000 --> 00:03.000\n<v Rachel>Hey\n",
                     name="cues.vtt")
    with pytest.raises(BadTranscript, match=r"cue #3 \(00:04.000 --> 00:03.000\) ends before it starts"):
        read_transcript(path)


@pytest.mark.parametrize(("start", "end", "problem"), [
    ("-00:00:02,000", "00:00:03,000", "negative time"), ("00:00:05,000", "00:00:04,000", "ends before it starts"),
    ("nan", "00:00:04,000", "not a finite number")])
def test_csv_row_with_a_bad_time_is_refused_by_name(tmp_path, start, end, problem):
    path = tmp_path / "meld.csv"
    path.write_text(
        "Utterance,Speaker,Emotion,Dialogue_ID,StartTime,EndTime\n"
        '"Hi",Joey,joy,0,"00:00:01,000","00:00:02,000"\n'
        f'"Hey there",Ross,neutral,0,"{start}","{end}"\n'
    )
    with pytest.raises(BadTranscript, match=f"utterance 2 \\('Hey there'\\) .*{problem}"):
        read_transcript(path)


def test_negative_clock_is_negative():
    assert parse_clock("-00:00:02,000") == pytest.approx(-2.0)
    assert parse_clock("-01:30.5") == pytest.approx(-90.5)


def test_overlapping_cues_are_kept_and_reported(tmp_path):
    path = write_srt(tmp_path, SRT.replace("00:00:03,000 --> 00:00:04,000", "00:00:01,500 --> 00:00:04,000")
                     + "\n3\n00:00:05,000 --> 00:00:06,000\nRoss: Bye.\n")
    dialogue = read_transcript(path)
    assert [u.text for u in dialogue] == ["Hi.", "Hey!", "Bye."]
    assert dialogue.warnings == ('1 cue(s) overlap the one before, kept as they are: "Hi." (1.00-2.00 s) and '
                                 '"Hey!" (1.50-4.00 s)',)
    assert read_transcript(write_srt(tmp_path, SRT, "clean.srt")).warnings == ()
    assert type(dialogue).from_dict(dialogue.to_dict()).warnings == dialogue.warnings


def test_many_overlaps_are_counted_after_the_first_few(tmp_path):
    cues = "".join(f"{i}\n00:00:{i:02d},000 --> 00:00:{i + 2:02d},000\nline {i}\n\n" for i in range(1, 9))
    (warning,) = read_transcript(write_srt(tmp_path, cues)).warnings
    assert warning.startswith("7 cue(s) overlap") and warning.endswith("and 4 more")
    assert '"line 1" (1.00-3.00 s) and "line 2" (2.00-4.00 s)' in warning  # a cue inside a longer one counts too


def test_overlap_warnings_reach_the_dialogue_the_pipeline_makes(tmp_path):
    from telme.media.pipeline import ClipToDialogue

    path = write_srt(tmp_path, SRT.replace("00:00:03,000", "00:00:01,500"))
    pipeline = ClipToDialogue(transcriber=lambda *a, **k: [], speaker_assigner=lambda *a, **k: [])
    assert len(pipeline.run(None, transcript=path).dialogue.warnings) == 1


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_transcripts_in_unicode_encodings_are_read(tmp_path, encoding):
    """Python's utf-16/utf-32 write a BOM; utf-16-le/-be none; utf-32-be gets one written by hand."""
    text = SRT.replace("Hey!", "Héy 😀 ¿qué?")
    data = text.encode(encoding)
    if encoding == "utf-32-be":
        data = "\ufeff".encode(encoding) + data
    path = tmp_path / "cues.srt"
    path.write_bytes(data)
    dialogue = read_transcript(path)
    assert [(u.speaker, u.text) for u in dialogue] == [("Ross", "Hi."), ("Rachel", "Héy 😀 ¿qué?")]


def test_utf16_csv_and_cp1252_csv_are_read(tmp_path):
    rows = 'Utterance,Speaker,Emotion,Dialogue_ID,StartTime,EndTime\n"It’s me",Joey,joy,0,"00:00:01,000","00:00:02,000"\n'
    for encoding in ("utf-16", "cp1252"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(rows.encode(encoding))
        assert [u.text for u in read_transcript(path)] == ["It’s me"]


def test_bytes_that_do_not_fit_their_mark_are_a_bad_transcript(tmp_path):
    path = tmp_path / "broken.srt"
    path.write_bytes(b"\xff\xfe" + SRT.encode("utf-16-le")[:-1])  # an odd number of UTF-16 bytes
    with pytest.raises(BadTranscript, match="utf-16"):
        read_transcript(path)


def test_old_mac_line_endings(tmp_path):
    path = tmp_path / "cr.srt"
    path.write_bytes(SRT.replace("\n", "\r").encode())
    assert [u.text for u in read_transcript(path)] == ["Hi.", "Hey!"]
