"""The media side of telme: from a clip (and maybe a transcript) to a `Dialogue`.

    from telme.media import ClipToDialogue, utterance_media
    dialogue = ClipToDialogue()("clip.mp4", transcript=None, num_speakers=None)
    media = utterance_media("clip.mp4", dialogue, sample_rate=22050, sample_frames=...)

Importing this package loads nothing heavy: the decoders and pipeline import on first use, and the
ASR and voice models load on first call.
"""

from importlib import import_module

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

LAZY = {  # public name: module that defines it
    "ClipToDialogue": "telme.media.pipeline",
    "UtteranceMedia": "telme.media.pipeline",
    "utterance_media": "telme.media.pipeline",
    "ClipDialogue": "telme.media.pipeline",
    "DecodedAudio": "telme.media.decode",
    "decode_audio_native": "telme.media.decode",
    "resample": "telme.media.decode",
    "MediaInfo": "telme.media.decode",
    "probe": "telme.media.decode",
    "decode_audio": "telme.media.decode",
    "decode_frames": "telme.media.decode",
    "cut_audio": "telme.media.decode",
    "read_transcript": "telme.media.transcripts",
    "WhisperTranscriber": "telme.media.asr",
    "VoiceClusterer": "telme.media.speakers",
    "SpeakerEstimate": "telme.media.speakers",
    "speech_regions": "telme.media.diarize",
}


def __getattr__(name):
    if name in LAZY:
        return getattr(import_module(LAZY[name]), name)
    raise AttributeError(f"module 'telme.media' has no attribute {name!r}")


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
    *LAZY,
]
