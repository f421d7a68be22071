"""The media side of telme: from a clip (and maybe a transcript) to a `Dialogue`.

Importing this package loads nothing heavy; ASR and speaker models load on first use.
"""

from telme.media.errors import (
    AsrModelUnavailable,
    BadTranscript,
    ClipTooLong,
    EmptyFile,
    MediaError,
    NoAudioTrack,
    NoSpeechFound,
    NotAMediaFile,
    NoVideoTrack,
    TooManySpeakers,
)

__all__ = [
    "AsrModelUnavailable",
    "BadTranscript",
    "ClipTooLong",
    "EmptyFile",
    "MediaError",
    "NoAudioTrack",
    "NoSpeechFound",
    "NotAMediaFile",
    "NoVideoTrack",
    "TooManySpeakers",
]
