"""Dataset readers: MELD / IEMOCAP CSVs to Dialogues, and both speaker numberings."""

import json

import pytest

from telme.data import (
    CorpusDialogue,
    SplitFormatError,
    dialogue_name,
    parse_clock,
    read_iemocap_csv,
    read_meld_csv,
    read_split,
    split_format,
    split_speaker_numbers,
)
from telme.dialogue import Dialogue
from telme.errors import UserError
from telme.labels import IEMOCAP_LABELS, MELD_LABELS

MELD_HEADER = (
    "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,"
    "StartTime,EndTime\n"
)


def _meld_row(number, text, speaker, dialogue, utterance):
    times = '"00:00:01,500","00:00:02,000"'
    return f'{number},"{text}",{speaker},neutral,neutral,{dialogue},{utterance},1,1,{times}\n'


@pytest.fixture
def tiny_meld(tmp_path):
    rows = [
        ("Hi.", "Ann", 0, 0), ("Yo.", "Bob", 0, 1),
        ("So.", "Cid", 1, 0), ("Ok.", "Ann", 1, 1), ("Hm.", "Cid", 1, 2),
        ("Eh.", "Cid", 2, 0), ("Ah.", "Dan", 2, 2),
    ]  # fmt: skip
    path = tmp_path / "dev_sent_emo.csv"
    path.write_text(MELD_HEADER + "".join(_meld_row(i, *row) for i, row in enumerate(rows)))
    return path


def test_meld_reader_groups_dialogues(tiny_meld):
    dialogues = read_meld_csv(tiny_meld)
    assert [len(d) for d in dialogues] == [2, 3, 2]
    assert all(isinstance(d, Dialogue) for d in dialogues)
    assert dialogues[1].source == "meld:dev:dia1"
    assert dialogues[2].utterance_ids == ("dia2_utt0", "dia2_utt2")  # clip names keep the gaps
    assert dialogues[0][0].start == pytest.approx(1.5) and dialogues[0][0].label == "neutral"


def test_official_numbering_carries_the_previous_speaker_list(tiny_meld):
    dialogues = read_meld_csv(tiny_meld)
    assert split_speaker_numbers(dialogues, "clean") == [[1, 2], [1, 2, 1], [1, 2]]
    # dia1 row 0: Cid joins [Ann, Bob] -> 3, list emptied; Ann -> 1, Cid again -> 2.
    # dia2 row 0: Cid in [Ann, Cid] -> 2, list emptied; Dan -> 1.
    assert split_speaker_numbers(dialogues, "official") == [[1, 2], [3, 1, 2], [2, 1]]
    with pytest.raises(ValueError):
        split_speaker_numbers(dialogues, "bogus")


def test_official_numbering_matches_golden_meld_dev(reference_dir, data_dir):
    path = reference_dir / "golden_text" / "meld_dev_teacher_inputs.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    golden = [json.loads(line)["speakers"] for line in lines]
    dialogues = read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")
    assert len(dialogues) == 114
    prefixes = [numbers[: i + 1] for numbers in split_speaker_numbers(dialogues, "official")
                for i in range(len(numbers))]  # fmt: skip
    assert prefixes == golden
    assert split_speaker_numbers(dialogues, "clean") != split_speaker_numbers(dialogues, "official")


def test_meld_splits_read_with_known_labels(data_dir):
    for name, utterances, count in (("dev", 1109, 114), ("train", 9989, 1038)):
        dialogues = read_meld_csv(data_dir / "meld" / f"{name}_sent_emo.csv")
        assert len(dialogues) == count and sum(len(d) for d in dialogues) == utterances
        assert {u.label for d in dialogues for u in d} == set(MELD_LABELS)
        assert max(max(n) for n in split_speaker_numbers(dialogues, "clean")) <= 9


def test_iemocap_reader(data_dir):
    dialogues = read_iemocap_csv(data_dir / "iemocap" / "iemocap_dev.csv")
    assert sum(len(d) for d in dialogues) == 647
    assert all(isinstance(d, CorpusDialogue) for d in dialogues)
    assert {u.speaker for d in dialogues for u in d} == {"F", "M"}
    assert {u.label for d in dialogues for u in d} <= set(IEMOCAP_LABELS)
    first = dialogues[0]
    assert first.source == "iemocap:dev:Ses01M_impro01" and first[0].start == pytest.approx(6.77)
    # The official reader's Speaker column is the utterance name: every row a new speaker.
    official = split_speaker_numbers(dialogues, "official")
    assert official[0] == list(range(1, len(first) + 1))
    assert max(split_speaker_numbers(dialogues, "clean")[0]) == 2


def test_read_split_knows_the_format_from_the_header(tiny_meld, tmp_path):
    assert read_split(tiny_meld)[1].source == "meld:dev:dia1" and split_format(tiny_meld) == "meld"
    iemocap = tmp_path / "iemocap_dev.csv"
    iemocap.write_text("Utterance,Speaker,Dialogue_ID,Start_Time,End_Time,Emotion\n"
                       "Hi.,Ses01F_impro01_F000,Ses01F_impro01,0.5,1.0,neu\n")
    assert split_format(iemocap) == "iemocap" and dialogue_name(read_split(iemocap)[0]) == "Ses01F_impro01"
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(SplitFormatError, match="neither a MELD nor an IEMOCAP"):
        read_split(other)
    with pytest.raises(SplitFormatError, match="lacks the column"):
        read_split(other, "meld")
    assert issubclass(SplitFormatError, UserError)


def test_one_clock_parser_for_csv_and_subtitles():
    assert parse_clock("00:20:57,256") == pytest.approx(1257.256)  # MELD StartTime, SRT
    assert parse_clock("02:03.250") == pytest.approx(123.25) and parse_clock("4.5") == 4.5  # WebVTT
