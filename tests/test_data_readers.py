"""Dataset readers: MELD / IEMOCAP CSVs to Dialogues, and both speaker numberings."""

import json

import pytest

from telme.data import CorpusDialogue, read_iemocap_csv, read_meld_csv, speaker_numbers
from telme.dialogue import Dialogue
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
    assert speaker_numbers(dialogues, "clean") == [[1, 2], [1, 2, 1], [1, 2]]
    # dia1 row 0: Cid joins [Ann, Bob] -> 3, list emptied; Ann -> 1, Cid again -> 2.
    # dia2 row 0: Cid in [Ann, Cid] -> 2, list emptied; Dan -> 1.
    assert speaker_numbers(dialogues, "official") == [[1, 2], [3, 1, 2], [2, 1]]
    with pytest.raises(ValueError):
        speaker_numbers(dialogues, "bogus")


def test_official_numbering_matches_golden_meld_dev(reference_dir, data_dir):
    path = reference_dir / "golden_text" / "meld_dev_teacher_inputs.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    golden = [json.loads(line)["speakers"] for line in lines]
    dialogues = read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")
    assert len(dialogues) == 114
    prefixes = [numbers[: i + 1] for numbers in speaker_numbers(dialogues, "official")
                for i in range(len(numbers))]  # fmt: skip
    assert prefixes == golden
    assert speaker_numbers(dialogues, "clean") != speaker_numbers(dialogues, "official")


def test_meld_splits_read_with_known_labels(data_dir):
    for name, utterances, count in (("dev", 1109, 114), ("train", 9989, 1038)):
        dialogues = read_meld_csv(data_dir / "meld" / f"{name}_sent_emo.csv")
        assert len(dialogues) == count and sum(len(d) for d in dialogues) == utterances
        assert {u.label for d in dialogues for u in d} == set(MELD_LABELS)
        assert max(max(n) for n in speaker_numbers(dialogues, "clean")) <= 9


def test_iemocap_reader(data_dir):
    dialogues = read_iemocap_csv(data_dir / "iemocap" / "iemocap_dev.csv")
    assert sum(len(d) for d in dialogues) == 647
    assert all(isinstance(d, CorpusDialogue) for d in dialogues)
    assert {u.speaker for d in dialogues for u in d} == {"F", "M"}
    assert {u.label for d in dialogues for u in d} <= set(IEMOCAP_LABELS)
    first = dialogues[0]
    assert first.source == "iemocap:dev:Ses01M_impro01" and first[0].start == pytest.approx(6.77)
    # The official reader's Speaker column is the utterance name: every row a new speaker.
    official = speaker_numbers(dialogues, "official")
    assert official[0] == list(range(1, len(first) + 1))
    assert max(speaker_numbers(dialogues, "clean")[0]) == 2
