"""Typed results of the media side: words, utterances and the dialogue they form.

Times are in seconds from the start of the clip. Renaming and merging speakers are plain data
operations that return a new `Dialogue`; nothing here touches media or models.
"""

from dataclasses import dataclass, replace

from telme.media.errors import TooManySpeakers

MAX_SPEAKERS = 9  # TelME's prompt has nine speaker tokens


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # s
    end: float  # s

    def to_dict(self):
        return {"text": self.text, "start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, data):
        return cls(text=data["text"], start=float(data["start"]), end=float(data["end"]))


@dataclass(frozen=True)
class Utterance:
    start: float  # s
    end: float  # s
    speaker: str
    text: str
    words: tuple = ()  # Word, empty when the text came from a transcript without word times
    label: str | None = None  # gold emotion, when the utterance comes from a dataset

    @property
    def duration(self):
        return self.end - self.start

    def to_dict(self):
        return {
            "start": self.start,
            "end": self.end,
            "speaker": self.speaker,
            "text": self.text,
            "words": [word.to_dict() for word in self.words],
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            speaker=str(data["speaker"]),
            text=data["text"],
            words=tuple(Word.from_dict(word) for word in data.get("words", ())),
            label=data.get("label"),
        )


@dataclass(frozen=True)
class Dialogue:
    utterances: tuple = ()  # Utterance, in time order
    source: str = ""  # the clip or transcript it was made from
    duration: float = 0.0  # s, of the whole clip (0 when unknown)
    warnings: tuple = ()  # str: what was accepted but may be wrong (overlapping cues), for the app/CLI to show

    def __post_init__(self):
        object.__setattr__(self, "utterances", tuple(self.utterances))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def __len__(self):
        return len(self.utterances)

    def __iter__(self):
        return iter(self.utterances)

    def __getitem__(self, index):
        return self.utterances[index]

    @property
    def speakers(self):
        """Distinct speakers in order of first appearance."""
        return list(dict.fromkeys(utterance.speaker for utterance in self.utterances))

    def to_dict(self):
        return {
            "source": self.source,
            "duration": self.duration,
            "warnings": list(self.warnings),
            "utterances": [utterance.to_dict() for utterance in self.utterances],
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            utterances=tuple(Utterance.from_dict(u) for u in data["utterances"]),
            source=data.get("source", ""),
            duration=float(data.get("duration", 0.0)),
            warnings=tuple(data.get("warnings", ())),
        )



def rename_speaker(dialogue, old, new):
    """A new Dialogue where speaker `old` is called `new` (merging if `new` exists already)."""
    utterances = [replace(u, speaker=new) if u.speaker == old else u for u in dialogue.utterances]
    return replace(dialogue, utterances=tuple(utterances))


def merge_speakers(dialogue, keep, drop):
    """A new Dialogue where every utterance of `drop` is attributed to `keep`."""
    return rename_speaker(dialogue, drop, keep)


def number_by_appearance(keys, first=1):
    """`first` for the first distinct key, `first + 1` for the next, ...: ["B", "A", "B"] -> [1, 2, 1].

    The one speaker-numbering rule: prompts (`speaker_numbers`, clean dataset numbering) and
    voice clusters (numbered from 0) all number by first appearance through this.
    """
    order = {}
    return [order.setdefault(key, len(order) + first) for key in keys]


def speaker_numbers(dialogue):
    """1-based speaker number per utterance of one dialogue, by first appearance (the prompt's <sK>).

    Raises TooManySpeakers when more than nine distinct speakers appear. Dataset splits under the
    official profile are numbered across dialogues instead: `telme.data.split_speaker_numbers`.
    """
    numbers = number_by_appearance(u.speaker for u in dialogue.utterances)
    if max(numbers, default=0) > MAX_SPEAKERS:
        raise TooManySpeakers(max(numbers), MAX_SPEAKERS)
    return numbers
