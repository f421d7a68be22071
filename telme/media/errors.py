"""Typed errors of the media side: each carries a message a user can act on.

All derive from `MediaError(ValueError)`, so callers can catch the family at once; only the app
turns them into UI errors.
"""

from telme.errors import UserError


class MediaError(UserError):
    """Base class: something about the given media or transcript prevents analysis."""


class NotAMediaFile(MediaError):
    def __init__(self, path, detail=""):
        message = f"{path} is not a readable audio or video file"
        super().__init__(f"{message} ({detail})" if detail else message)


class EmptyFile(NotAMediaFile):
    def __init__(self, path):
        MediaError.__init__(self, f"{path} is empty (0 bytes)")


class NoAudioTrack(MediaError):
    def __init__(self, path):
        super().__init__(f"{path} has no audio track: speech is needed to find utterances")


class NoVideoTrack(MediaError):
    def __init__(self, path):
        super().__init__(f"{path} has no video track, so no frames can be read")


class NoSpeechFound(MediaError):
    def __init__(self, path):
        super().__init__(
            f"no speech was found in {path}; give a transcript (SRT, WebVTT or MELD CSV) "
            "to analyse it from the text alone"
        )


class ClipTooLong(MediaError):
    def __init__(self, path, duration, max_duration):
        super().__init__(
            f"{path} lasts {duration:.1f} s, longer than the maximum of {max_duration:.0f} s; "
            "cut it into shorter clips"
        )


class TooManySpeakers(MediaError):
    def __init__(self, count, limit):
        super().__init__(
            f"{count} speakers found, but TelME distinguishes at most {limit}; "
            "merge some speakers or analyse a shorter part"
        )


class BadTranscript(MediaError):
    def __init__(self, path, detail):
        super().__init__(f"cannot read the transcript {path}: {detail}")


class AsrModelUnavailable(MediaError):
    def __init__(self, model, detail):
        super().__init__(
            f"the speech recognition model {model!r} cannot be loaded ({detail}); give a local "
            "CTranslate2 Whisper folder, or pick an offline model: base (the default) or tiny.en"
        )
