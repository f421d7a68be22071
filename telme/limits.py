"""Caps on the work one request may ask for, so that one input cannot hold the service.

Each cap is checked before the work it bounds: a transcript's size before it is read, a clip's
length before it is decoded (`telme.media.pipeline` refuses longer clips with `ClipTooLong`), the
utterances before any of them is tokenised. Going over refuses the request with `TooMuchInput`, whose
message names the limit and the value. The defaults fit a conversation of up to ten minutes
with room to spare; `Limits(...)` with other values serves longer research runs.
"""

from dataclasses import dataclass
from pathlib import Path

from telme.errors import UserError

MAX_UTTERANCES = 600  # per dialogue; a 10-minute clip has ~150-250, and each is one teacher prompt
MAX_UTTERANCE_CHARS = 2_000  # one utterance; a subtitle cue holds ~100, a prompt keeps its last 511 tokens anyway
MAX_TOTAL_CHARS = 100_000  # all utterances of a dialogue together (~10x a 10-minute conversation)
MAX_TRANSCRIPT_BYTES = 4 * 1024 * 1024  # a transcript file; a 600-cue SRT is ~50 KB
MAX_CLIP_SECONDS = 600.0  # s, the longest clip analysed (checked before decoding)


class TooMuchInput(UserError):
    """The request asks for more work than a limit allows; `limit` and `value` say how much."""

    def __init__(self, what, value, limit, unit, advice):
        self.value, self.limit = value, limit
        super().__init__(f"{what}: {_amount(value, unit)}, over the limit of {_amount(limit, unit)}; {advice}")


def _amount(number, unit):
    return f"{number:,.1f} {unit}" if isinstance(number, float) else f"{number:,} {unit}"


@dataclass(frozen=True)
class Limits:
    utterances: int = MAX_UTTERANCES  # per dialogue
    utterance_chars: int = MAX_UTTERANCE_CHARS  # per utterance
    total_chars: int = MAX_TOTAL_CHARS  # per dialogue
    transcript_bytes: int = MAX_TRANSCRIPT_BYTES  # per transcript file

    def check_texts(self, texts, source="the dialogue"):
        """Refuse too many utterances, one too long, or too much text in all (lengths only: O(n))."""
        if len(texts) > self.utterances:
            raise TooMuchInput(f"{source} has too many utterances", len(texts), self.utterances, "utterances",
                               "analyse a shorter part, or split the transcript")
        for index, text in enumerate(texts):
            if len(text) > self.utterance_chars:
                raise TooMuchInput(f"utterance {index} of {source} is too long", len(text), self.utterance_chars,
                                   "characters", "split it into shorter utterances")
        total = sum(len(text) for text in texts)
        if total > self.total_chars:
            raise TooMuchInput(f"{source} holds too much text", total, self.total_chars, "characters",
                               "analyse a shorter part")

    def check_dialogue(self, dialogue):
        """`check_texts` over a Dialogue's utterances (named after its source)."""
        source = Path(dialogue.source).name if dialogue.source else "the dialogue"
        self.check_texts([utterance.text for utterance in dialogue], source)

    def check_transcript_file(self, path):
        """Refuse a transcript file larger than allowed, before reading it."""
        size = Path(path).stat().st_size
        if size > self.transcript_bytes:
            raise TooMuchInput(f"the transcript {Path(path).name} is too large", size, self.transcript_bytes, "bytes",
                               "give the transcript of a shorter clip")

    def check_transcript(self, transcript):
        """A transcript given to the media pipeline: a file (its size) or a Dialogue (its text); None passes."""
        if transcript is None:
            return
        if isinstance(transcript, (str, Path)):
            if Path(transcript).is_file():  # a missing file is the reader's error to report
                self.check_transcript_file(transcript)
            return
        self.check_dialogue(transcript)


DEFAULT_LIMITS = Limits()
