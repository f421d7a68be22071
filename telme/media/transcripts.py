"""Read a transcript (SRT, WebVTT or MELD-style CSV) into a `Dialogue` without word times.

Speaker names come from prefixes ("Ross: text"), WebVTT voices (`<v Ross>text`) or the CSV's
Speaker column; an utterance without a name gets speaker "" (the pipeline fills it by voice).
"""

import csv
import html
import io
import re
from pathlib import Path

from telme.dialogue import Dialogue, Utterance
from telme.media.errors import BadTranscript

TIMING = re.compile(
    r"(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+(?P<name>[^>]+)>")
TAG = re.compile(r"</?[^>]+>")
SPEAKER_PREFIX = re.compile(
    r"^\s*-?\s*(?P<name>[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2})\s*:\s+(?P<text>\S.*)$"
)
NOT_SPEAKERS = {"NOTE", "Note", "Warning", "Translation", "Subtitle", "Subtitles"}


def parse_clock(text):
    """Seconds from "HH:MM:SS,mmm", "MM:SS.mmm" or "SS.mmm"."""
    seconds = 0.0
    for part in text.strip().replace(",", ".").split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def split_speaker(text):
    """("Ross", "Hi there") from "Ross: Hi there"; ("", text) without a prefix."""
    voice = VOICE.search(text)
    if voice:
        return voice.group("name").strip(), clean_text(text)
    match = SPEAKER_PREFIX.match(text)
    if match and match.group("name") not in NOT_SPEAKERS:
        return match.group("name"), clean_text(match.group("text"))
    return "", clean_text(text)


def clean_text(text):
    return " ".join(html.unescape(TAG.sub("", text)).split())


def read_cues(text):
    """Utterances from SRT or WebVTT text: blocks of an optional id, a timing line, text lines."""
    utterances = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\ufeff", "")):
        lines = [line for line in block.strip().split("\n") if line.strip()]
        timing_at = next((i for i, line in enumerate(lines) if TIMING.search(line)), None)
        if timing_at is None:
            continue  # the WEBVTT header, NOTE and STYLE blocks
        timing = TIMING.search(lines[timing_at])
        speaker, words = split_speaker(" ".join(lines[timing_at + 1 :]))
        if not words:
            continue
        start, end = parse_clock(timing.group("start")), parse_clock(timing.group("end"))
        utterances.append(Utterance(start=start, end=end, speaker=speaker, text=words))
    return utterances


def read_meld_csv_text(text, dialogue_id=None):
    """Utterances of one dialogue in a MELD-style CSV (Utterance, Speaker, StartTime, EndTime)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"Utterance", "StartTime", "EndTime"} <= set(rows[0]):
        raise ValueError("a MELD-style CSV needs the columns Utterance, StartTime and EndTime")
    dialogues = list(dict.fromkeys(row.get("Dialogue_ID", "") for row in rows))
    if dialogue_id is None and len(dialogues) > 1:
        raise ValueError(f"it holds {len(dialogues)} dialogues; choose one by its Dialogue_ID")
    wanted = str(dialogue_id) if dialogue_id is not None else dialogues[0]
    return [
        Utterance(
            start=parse_clock(row["StartTime"]),
            end=parse_clock(row["EndTime"]),
            speaker=(row.get("Speaker") or "").strip(),
            text=clean_text(row["Utterance"]),
            label=(row.get("Emotion") or None),
        )
        for row in rows
        if row.get("Dialogue_ID", "") == wanted
    ]


def _read_text(path):
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")  # MELD's CSVs


def read_transcript(path, dialogue_id=None):
    """A Dialogue (times from the transcript, no word times) from an SRT, WebVTT or CSV file."""
    path = Path(path)
    if not path.is_file():
        raise BadTranscript(path, "no such file")
    text = _read_text(path)
    try:
        if path.suffix.lower() == ".csv":
            utterances = read_meld_csv_text(text, dialogue_id)
        else:
            utterances = read_cues(text)
    except (ValueError, KeyError) as error:
        raise BadTranscript(path, str(error)) from error
    if not utterances:
        raise BadTranscript(path, "no timed lines found (expected SRT, WebVTT or MELD CSV)")
    utterances.sort(key=lambda u: u.start)
    return Dialogue(utterances, source=str(path), duration=max(u.end for u in utterances))
