"""Dataset readers: MELD and IEMOCAP CSV splits as `Dialogue`s with gold labels.

Text is kept exactly as in the CSV (MELD's mis-decoded cp1252 punctuation included): the official
profile feeds it as is, the clean profile maps it with `fix_cp1252` when building prompts
(`telme.features.text.dialogue_texts`). Rows are grouped into dialogues by consecutive
Dialogue_ID, in file order, as the official reader does.

Speaker numbers for the prompt come from `speaker_numbers(dialogues, numbering)`:
- "clean": per dialogue, 1 for the first speaker to appear, 2 for the next, ...
- "official": what the official reader (TelME f22fc9f, preprocessing.py) produces. It keeps one
  speaker list while reading the file and empties it only AFTER numbering the first row of a new
  dialogue, so that row is numbered in the PREVIOUS dialogue's list (appended to it when new),
  and the dialogue's second row starts again from 1 (even for the same speaker). On IEMOCAP the
  official reader's Speaker column is the utterance name, so every row is a new speaker.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from telme.dialogue import Dialogue, Utterance
from telme.features.text import fix_cp1252

__all__ = [
    "CorpusDialogue",
    "fix_cp1252",
    "read_iemocap_csv",
    "read_meld_csv",
    "speaker_numbers",
]

MELD_COLUMNS = (
    "Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID", "StartTime", "EndTime",
)  # fmt: skip
IEMOCAP_COLUMNS = ("Utterance", "Speaker", "Dialogue_ID", "Start_Time", "End_Time", "Emotion")


@dataclass(frozen=True)
class CorpusDialogue(Dialogue):
    """A Dialogue read from a dataset, with what the corpus calls each utterance."""

    # per utterance: MELD "dia49_utt6" (its clip name), IEMOCAP "Ses01F_impro01_F000"
    utterance_ids: tuple = ()
    official_speakers: tuple = ()  # per utterance: the Speaker column as the official reader saw it

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "utterance_ids", tuple(self.utterance_ids))
        object.__setattr__(self, "official_speakers", tuple(self.official_speakers))


def _read_rows(path, required):
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in required if column not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(missing)}")
        return list(reader)


def _group_consecutive(rows, key):
    """Runs of consecutive rows sharing row[key], in file order."""
    groups = []
    for row in rows:
        if groups and groups[-1][0][key] == row[key]:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _split_name(path, split):
    """'dev_sent_emo.csv', 'iemocap_dev.csv' -> 'dev'; otherwise the file's stem."""
    if split is not None:
        return split
    stem = Path(path).stem.lower()
    known = [part for part in stem.split("_") if part in ("train", "dev", "test")]
    return known[0] if known else stem


def _srt_seconds(stamp):
    """'00:20:57,256' -> 1257.256 s."""
    hours, minutes, seconds = stamp.strip().replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def read_meld_csv(path, split=None):
    """MELD `*_sent_emo.csv` -> list of CorpusDialogue, source "meld:<split>:dia<ID>".

    Utterance times are positions in the Friends episode (s), not in any clip.
    """
    split = _split_name(path, split)
    dialogues = []
    for rows in _group_consecutive(_read_rows(path, MELD_COLUMNS), "Dialogue_ID"):
        utterances = [
            Utterance(
                start=_srt_seconds(row["StartTime"]),
                end=_srt_seconds(row["EndTime"]),
                speaker=row["Speaker"],
                text=row["Utterance"],
                label=row["Emotion"].strip().lower(),
            )
            for row in rows
        ]
        dialogue_id = rows[0]["Dialogue_ID"]
        dialogues.append(CorpusDialogue(
            utterances=utterances,
            source=f"meld:{split}:dia{dialogue_id}",
            utterance_ids=[f"dia{dialogue_id}_utt{row['Utterance_ID']}" for row in rows],
            official_speakers=[row["Speaker"] for row in rows],
        ))  # fmt: skip
    return dialogues


def _iemocap_speaker(utterance_name):
    """'Ses01M_impro01_F000' -> 'F': the actor's gender letter names the speaker in a session."""
    return utterance_name.rsplit("_", 1)[-1][:1]


def read_iemocap_csv(path, split=None):
    """IEMOCAP CSV -> list of CorpusDialogue, source "iemocap:<split>:<Dialogue_ID>".

    Speakers are "F" and "M"; times are seconds in the dialogue's recording.
    """
    split = _split_name(path, split)
    dialogues = []
    for rows in _group_consecutive(_read_rows(path, IEMOCAP_COLUMNS), "Dialogue_ID"):
        utterances = [
            Utterance(
                start=float(row["Start_Time"]),
                end=float(row["End_Time"]),
                speaker=_iemocap_speaker(row["Speaker"]),
                text=row["Utterance"],
                label=row["Emotion"].strip().lower(),
            )
            for row in rows
        ]
        dialogues.append(CorpusDialogue(
            utterances=utterances,
            source=f"iemocap:{split}:{rows[0]['Dialogue_ID']}",
            utterance_ids=[row["Speaker"] for row in rows],
            official_speakers=[row["Speaker"] for row in rows],
        ))  # fmt: skip
    return dialogues


def _clean_numbers(dialogue):
    order = {}
    return [order.setdefault(u.speaker, len(order) + 1) for u in dialogue.utterances]


def _official_keys(dialogue):
    keys = getattr(dialogue, "official_speakers", ())
    return list(keys) if keys else [u.speaker for u in dialogue.utterances]


def _official_numbers(dialogues):
    """The official reader's numbering over dialogues in file order (see the module doc)."""
    speaker_list, numbers = [], []
    for dialogue_index, dialogue in enumerate(dialogues):
        current = []
        for row, speaker in enumerate(_official_keys(dialogue)):
            if speaker not in speaker_list:
                speaker_list.append(speaker)
            current.append(speaker_list.index(speaker) + 1)
            if row == 0 and dialogue_index > 0:
                speaker_list = []  # emptied after the new dialogue's first row was numbered
        numbers.append(current)
    return numbers


def speaker_numbers(dialogues, numbering="clean"):
    """1-based speaker number per utterance, one list per dialogue.

    `dialogues` must be the whole split in file order for "official" numbering. Numbers above 9
    are possible (official IEMOCAP); the prompt then holds "<s10>", which no tokenizer treats as
    a speaker token, exactly as in the official code.
    """
    if numbering == "clean":
        return [_clean_numbers(dialogue) for dialogue in dialogues]
    if numbering == "official":
        return _official_numbers(dialogues)
    raise ValueError(f"unknown speaker numbering {numbering!r}; use 'clean' or 'official'")
