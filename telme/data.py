"""Dataset readers: MELD and IEMOCAP CSV splits as `Dialogue`s with gold labels.

    dialogues = read_split("dev_sent_emo.csv")              # the header says MELD or IEMOCAP
    numbers = split_speaker_numbers(dialogues, "official")  # one list of <sK> numbers per dialogue

Text is kept exactly as in the CSV (MELD's mis-decoded cp1252 punctuation included): the official
profile feeds it as is, the clean profile maps it with `telme.features.text.fix_cp1252` when
building prompts (`dialogue_texts`). Rows are grouped into dialogues by consecutive Dialogue_ID,
in file order, as the official reader does. MELD's rows (and a MELD-style transcript's,
`telme.media.transcripts`) become utterances through `meld_utterance` and `parse_clock`.

Speaker numbers for the prompt come from `split_speaker_numbers(dialogues, numbering)`:
- "clean": per dialogue, 1 for the first speaker to appear, 2 for the next, ...
  (`telme.dialogue.number_by_appearance`, the rule the app uses for a clip).
- "official": what the official reader (TelME f22fc9f, preprocessing.py) produces. It keeps one
  speaker list while reading the file and empties it only AFTER numbering the first row of a new
  dialogue, so that row is numbered in the PREVIOUS dialogue's list (appended to it when new),
  and the dialogue's second row starts again from 1 (even for the same speaker). On IEMOCAP the
  official reader's Speaker column is the utterance name, so every row is a new speaker.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from telme.dialogue import Dialogue, Utterance, number_by_appearance
from telme.errors import UserError

__all__ = [
    "CorpusDialogue",
    "SplitFormatError",
    "dialogue_name",
    "meld_utterance",
    "official_speaker_numbers",
    "parse_clock",
    "read_iemocap_csv",
    "read_meld_csv",
    "read_split",
    "split_format",
    "split_speaker_numbers",
    "utterance_keys",
]

MELD_COLUMNS = (
    "Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID", "StartTime", "EndTime",
)  # fmt: skip
IEMOCAP_COLUMNS = ("Utterance", "Speaker", "Dialogue_ID", "Start_Time", "End_Time", "Emotion")
NUMBERINGS = ("clean", "official")


class SplitFormatError(UserError):
    """A CSV that is not a MELD or IEMOCAP split (or lacks some of its columns)."""


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


def dialogue_name(dialogue):
    """A dialogue's id: "dia49" (MELD), "Ses01F_impro01" (IEMOCAP), else its source."""
    return dialogue.source.rsplit(":", 1)[-1]


def utterance_keys(dialogue):
    """What each utterance is called: a corpus dialogue's ids ("dia49_utt6"), else "<source>#<index>"."""
    ids = getattr(dialogue, "utterance_ids", ())  # a plain Dialogue (e.g. from a transcript) has none
    return list(ids) if ids else [f"{dialogue.source}#{index}" for index in range(len(dialogue))]


def parse_clock(text):
    """Seconds from "HH:MM:SS,mmm", "MM:SS.mmm" or "SS.mmm" (MELD's StartTime, SRT, WebVTT); a
    leading "-" makes them negative (so that transcripts can refuse such cues)."""
    text = text.strip().replace(",", ".")
    sign = -1.0 if text.startswith("-") else 1.0
    seconds = 0.0
    for part in text.lstrip("-").split(":"):
        seconds = seconds * 60 + float(part)
    return sign * seconds


def meld_utterance(row):
    """One MELD-style CSV row -> Utterance; times are positions in the episode (s)."""
    label = (row.get("Emotion") or "").strip().lower()
    return Utterance(start=parse_clock(row["StartTime"]), end=parse_clock(row["EndTime"]),
                     speaker=row.get("Speaker") or "", text=row["Utterance"], label=label or None)  # fmt: skip


def _read_rows(path, required):
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in required if column not in (reader.fieldnames or ())]
        if missing:
            raise SplitFormatError(f"{path} lacks the column(s) {', '.join(missing)}")
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


def read_meld_csv(path, split=None):
    """MELD `*_sent_emo.csv` -> list of CorpusDialogue, source "meld:<split>:dia<ID>"."""
    split = _split_name(path, split)
    dialogues = []
    for rows in _group_consecutive(_read_rows(path, MELD_COLUMNS), "Dialogue_ID"):
        dialogue_id = rows[0]["Dialogue_ID"]
        dialogues.append(CorpusDialogue(
            utterances=[meld_utterance(row) for row in rows],
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


READERS = {"meld": read_meld_csv, "iemocap": read_iemocap_csv}


def split_format(path):
    """"meld" or "iemocap", from the CSV's header (MELD has Utterance_ID, IEMOCAP Start_Time)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    if "Utterance_ID" in header:
        return "meld"
    if "Start_Time" in header:
        return "iemocap"
    raise SplitFormatError(f"{Path(path).name} is neither a MELD nor an IEMOCAP CSV (header: {header.strip()[:120]})")


def read_split(path, dataset=None):
    """A MELD or IEMOCAP split CSV -> list of CorpusDialogue; `dataset` None: the header decides."""
    dataset = dataset or split_format(path)
    if dataset not in READERS:
        raise SplitFormatError(f"unknown dataset {dataset!r}; expected {' or '.join(READERS)}")
    return READERS[dataset](path)


def _official_keys(dialogue):
    keys = getattr(dialogue, "official_speakers", ())
    return list(keys) if keys else [u.speaker for u in dialogue.utterances]


def official_speaker_numbers(dialogues):
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


def split_speaker_numbers(dialogues, numbering="clean"):
    """1-based speaker number per utterance, one list per dialogue, as the profile's `numbering` says.

    `dialogues` must be the whole split in file order for "official" numbering. Numbers above 9
    are possible (official IEMOCAP); the prompt then holds "<s10>", which no tokenizer treats as
    a speaker token, exactly as in the official code.
    """
    if numbering == "clean":
        return [number_by_appearance(u.speaker for u in dialogue.utterances) for dialogue in dialogues]
    if numbering == "official":
        return official_speaker_numbers(dialogues)
    raise UserError(f"unknown speaker numbering {numbering!r}; use {' or '.join(map(repr, NUMBERINGS))}")
