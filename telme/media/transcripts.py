"""Read a transcript (SRT, WebVTT or MELD-style CSV) into a `Dialogue` without word times.

Speaker names come from prefixes ("Ross: text"), WebVTT voices (`<v Ross>text`) or the CSV's
Speaker column; an utterance without a name gets speaker "" (the pipeline fills it by voice).

Files are decoded by their byte-order mark (UTF-8, UTF-16 or UTF-32; UTF-16 without one is
recognised by its zero bytes), else as UTF-8, else as cp1252. A cue with a negative time or an
end before its start is refused, naming the cue; overlapping cues are kept and listed in the
Dialogue's `warnings`. Files, utterances and text beyond `telme.limits` are refused.
"""

import codecs
import csv
import html
import io
import math
import re
from dataclasses import replace
from pathlib import Path

from telme.data import meld_utterance, parse_clock
from telme.dialogue import Dialogue, Utterance
from telme.limits import DEFAULT_LIMITS
from telme.media.errors import BadTranscript

TIMING = re.compile(  # a sign is matched so that "-00:00:02,000" is refused, not read as +2 s
    r"(?P<start>-?(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>-?(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+(?P<name>[^>]+)>")
TAG = re.compile(r"</?[^>]+>")
SPEAKER_PREFIX = re.compile(
    r"^\s*-?\s*(?P<name>[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2})\s*:\s+(?P<text>\S.*)$"
)
NOT_SPEAKERS = {"NOTE", "Note", "Warning", "Translation", "Subtitle", "Subtitles"}
BYTE_ORDER_MARKS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
OVERLAPS_LISTED = 3  # overlapping pairs named in the warning; the rest are counted


def check_cue_times(start, end, cue):
    """Refuse a negative time or an end before the start; `cue` names the cue in the message."""
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"{cue} has a time that is not a finite number ({start} s to {end} s)")
    if start < 0 or end < 0:
        raise ValueError(f"{cue} has a negative time ({start:.3f} s to {end:.3f} s)")
    if end < start:
        raise ValueError(f"{cue} ends before it starts ({start:.3f} s to {end:.3f} s)")


def overlap_warnings(utterances):
    """One warning naming the first overlapping cues (in time order), or none."""
    pairs, latest = [], None  # latest: the cue that ends last so far
    for utterance in utterances:
        if latest is not None and utterance.start < latest.end:
            pairs.append((latest, utterance))
        if latest is None or utterance.end > latest.end:
            latest = utterance
    if not pairs:
        return ()
    named = "; ".join(f"{_cue_name(a)} and {_cue_name(b)}" for a, b in pairs[:OVERLAPS_LISTED])
    more = f" and {len(pairs) - OVERLAPS_LISTED} more" if len(pairs) > OVERLAPS_LISTED else ""
    return (f"{len(pairs)} cue(s) overlap the one before, kept as they are: {named}{more}",)


def _cue_name(utterance):
    words = utterance.text if len(utterance.text) <= 30 else utterance.text[:29] + "…"
    return f'"{words}" ({utterance.start:.2f}-{utterance.end:.2f} s)'


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
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    for number, block in enumerate(re.split(r"\n\s*\n", text), start=1):
        lines = [line for line in block.strip().split("\n") if line.strip()]
        timing_at = next((i for i, line in enumerate(lines) if TIMING.search(line)), None)
        if timing_at is None:
            continue  # the WEBVTT header, NOTE and STYLE blocks
        timing = TIMING.search(lines[timing_at])
        speaker, words = split_speaker(" ".join(lines[timing_at + 1 :]))
        if not words:
            continue
        start, end = parse_clock(timing.group("start")), parse_clock(timing.group("end"))
        cue_id = lines[0].strip()[:20] if timing_at else f"#{number}"
        check_cue_times(start, end, f"cue {cue_id} ({timing.group(0)})")
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
    utterances = [meld_utterance(row) for row in rows if row.get("Dialogue_ID", "") == wanted]
    return [replace(u, speaker=u.speaker.strip(), text=clean_text(u.text)) for u in utterances]


def decode_transcript(data):
    """Text of a transcript file's bytes: by its byte-order mark, UTF-16 by its zero bytes, else
    UTF-8, else cp1252 (MELD's CSVs). Raises ValueError when the bytes do not fit the mark."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return data.decode(encoding)
    head = data[:4096]
    if head.count(0) * 4 > len(head):  # ASCII in UTF-16: every other byte is zero
        return data.decode("utf-16-be" if head[0::2].count(0) > head[1::2].count(0) else "utf-16-le")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def read_transcript(path, dialogue_id=None, limits=DEFAULT_LIMITS):
    """A Dialogue (times from the transcript, no word times) from an SRT, WebVTT or CSV file."""
    path = Path(path)
    if not path.is_file():
        raise BadTranscript(path, "no such file")
    limits.check_transcript_file(path)
    try:
        text = decode_transcript(path.read_bytes())
        if path.suffix.lower() == ".csv":
            utterances = read_meld_csv_text(text, dialogue_id)
            for row, u in enumerate(utterances, start=1):
                check_cue_times(u.start, u.end, f"utterance {row} ({u.text[:30]!r})")
        else:
            utterances = read_cues(text)
    except (ValueError, KeyError) as error:
        raise BadTranscript(path, str(error)) from error
    if not utterances:
        raise BadTranscript(path, "no timed lines found (expected SRT, WebVTT or MELD CSV)")
    limits.check_texts([u.text for u in utterances], path.name)
    utterances.sort(key=lambda u: u.start)
    return Dialogue(utterances, source=str(path), duration=max(u.end for u in utterances),
                    warnings=overlap_warnings(utterances))
