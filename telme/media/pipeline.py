"""From a clip (and maybe a transcript) to a `Dialogue`: decode → transcribe → speech → speakers → cut.

`ClipToDialogue` is given its parts, each swappable in tests:
- decoder: anything with `probe(path)` and `decode_audio_native(path) -> (wave, rate)` (the
  `telme.media.decode` module by default);
- transcriber: `(wave_16k, language=None, progress=None) -> list[Word]` (faster-whisper, Whisper
  base by default);
- find_speech: `(wave_16k) -> [(start, end), ...]` speech regions (Silero VAD);
- speaker_assigner: `(wave_16k, spans, num_speakers=None, progress=None) -> SpeakerTurns`
  (labels per span + a SpeakerEstimate; Resemblyzer + pitch + clustering).
Words are placed in the speech regions, the regions that hold words get speakers, every word
takes its region's speaker (words → diarization turns by overlap, as whisperX does), and
`telme.media.segment` cuts utterances at speaker changes, pauses and the maximum length.
`utterance_media` then cuts each utterance's audio and frames out of one decode of the clip.
The audio is decoded once per clip: `ClipToDialogue.run` returns the `DecodedAudio` next to the
Dialogue, and `utterance_media(..., audio=...)` resamples it to the model's rate instead of
decoding the file again.
"""

from dataclasses import dataclass, replace

import numpy as np

from telme.dialogue import MAX_SPEAKERS, Dialogue, speaker_numbers
from telme.errors import UserError
from telme.limits import DEFAULT_LIMITS, MAX_CLIP_SECONDS
from telme.media import decode as default_decoder
from telme.media import segment
from telme.media.decode import DecodedAudio
from telme.media.errors import ClipTooLong, NoAudioTrack, NoSpeechFound, TooManySpeakers
from telme.media.rates import SPEECH_RATE
from telme.media.speakers import SpeakerEstimate
from telme.media.transcripts import read_transcript

MAX_DURATION = MAX_CLIP_SECONDS  # s, longest clip analysed (checked before decoding)
SILENCE_PEAK = 1e-3  # a wave whose peak stays under this holds no speech


def is_silent(wave):
    """Whether a wave holds no speech at all (empty, or its peak under SILENCE_PEAK)."""
    return wave.size == 0 or float(np.abs(wave).max()) < SILENCE_PEAK


def _no_progress(step, done, total):
    pass


def speaker_name(label):
    return f"Speaker {label + 1}"


@dataclass(frozen=True)
class ClipDialogue:
    dialogue: Dialogue
    audio: DecodedAudio | None  # the clip's one decode; None without a clip (or from a stub)
    speakers: SpeakerEstimate | None = None  # how many speakers, and how sure; None from a stub

    def status(self):
        """'N utterances; 2 speakers found (clear: clustering margin 0.41)' for a status line."""
        found = self.speakers.status() if self.speakers else f"{len(self.dialogue.speakers)} speakers"
        return f"{len(self.dialogue)} utterances; {found}"


class ClipToDialogue:
    """`pipeline(path, transcript=None, num_speakers=None, language=None, progress=None)`.

    `pipeline.run(...)` takes the same arguments and returns a `ClipDialogue`, the decoded audio
    included, so later stages need not decode the clip again.
    """

    def __init__(self, decoder=None, transcriber=None, speaker_assigner=None, find_speech=None,
                 max_duration=MAX_DURATION, rules=None):  # fmt: skip
        if transcriber is None:
            from telme.media.asr import WhisperTranscriber

            transcriber = WhisperTranscriber()
        if speaker_assigner is None:
            from telme.media.speakers import VoiceClusterer

            speaker_assigner = VoiceClusterer()
        if find_speech is None:
            from telme.media.diarize import speech_regions as find_speech
        self.decoder = decoder or default_decoder
        self.transcriber = transcriber
        self.speaker_assigner = speaker_assigner
        self.find_speech = find_speech
        self.max_duration = max_duration  # s
        self.rules = dict(rules or {})  # sentence_pause / long_pause / max_length for segment

    def __call__(self, path, transcript=None, num_speakers=None, language=None, progress=None):
        return self.run(path, transcript, num_speakers, language, progress).dialogue

    def run(self, path, transcript=None, num_speakers=None, language=None, progress=None):
        """The Dialogue and the clip's decoded audio (no state is kept: instances are shared)."""
        progress = progress or _no_progress
        DEFAULT_LIMITS.check_transcript(transcript)  # before any reading or decoding
        if num_speakers is not None and num_speakers > MAX_SPEAKERS:
            raise TooManySpeakers(num_speakers, MAX_SPEAKERS)
        if transcript is not None and not isinstance(transcript, Dialogue):
            transcript = read_transcript(transcript)
        if path is None:
            dialogue = self.transcript_only(transcript)
            return ClipDialogue(dialogue, audio=None, speakers=from_transcript(dialogue))
        audio = self.decode(path, progress)
        wave = audio.at(SPEECH_RATE)  # (samples,) at 16 kHz, for ASR and voices
        if transcript is not None:
            utterances, estimate = self.name_transcript_speakers(wave, transcript, num_speakers, progress)
        else:
            utterances, estimate = self.transcribe_and_assign(path, wave, num_speakers, language, progress)
        dialogue = Dialogue(utterances, source=str(path), duration=audio.duration,
                            warnings=transcript.warnings if transcript else ())  # fmt: skip
        speaker_numbers(dialogue)  # raises TooManySpeakers beyond nine
        return ClipDialogue(dialogue, audio, estimate)

    def decode(self, path, progress):
        """The clip's DecodedAudio; refuses files without audio or longer than allowed."""
        progress("decode", 0, 1)
        info = self.decoder.probe(path)
        if not info.has_audio:
            raise NoAudioTrack(path)
        if info.duration > self.max_duration:
            raise ClipTooLong(path, info.duration, self.max_duration)
        audio = DecodedAudio(*self.decoder.decode_audio_native(path))
        if audio.duration > self.max_duration:  # a container that misreported
            raise ClipTooLong(path, audio.duration, self.max_duration)
        progress("decode", 1, 1)
        return audio

    def transcribe_and_assign(self, path, wave, num_speakers, language, progress):
        """Utterances from ASR words, speech regions and voices, and the SpeakerEstimate."""
        words = self.transcribe(path, wave, language, progress)
        regions = self.speech(wave, words)
        placed = segment.place_words(words, regions)
        spoken = sorted(set(placed))  # regions that hold words get a speaker; noise does not
        turns = self.assign_speakers(wave, [regions[i] for i in spoken], num_speakers, progress)
        region_speaker = dict(zip(spoken, turns.labels, strict=True))
        speakers = [region_speaker[i] for i in placed]
        names = {label: speaker_name(label) for label in set(speakers)}
        utterances = segment.make_utterances(words, speakers, names, regions, placed, **self.rules)
        return utterances, turns.estimate

    def speech(self, wave, words):
        """Speech regions of the wave; the words' own spans when the VAD finds none."""
        regions = self.find_speech(wave)
        return regions or [(w.start, max(w.end, w.start + 0.01)) for w in words]

    def transcribe(self, path, wave, language, progress):
        """Words with times; NoSpeechFound when the audio is silent or nothing is recognised."""
        if is_silent(wave):
            raise NoSpeechFound(path)
        progress("transcribe", 0, 1)
        words = self.transcriber(wave, language=language, progress=progress)
        if not words:
            raise NoSpeechFound(path)
        return words

    def assign_speakers(self, wave, spans, num_speakers, progress):
        """SpeakerTurns: a label per span (0, 1, ... by first appearance) and the estimate."""
        progress("speakers", 0, len(spans))
        turns = self.speaker_assigner(wave, spans, num_speakers=num_speakers, progress=progress)
        progress("speakers", len(spans), len(spans))
        return turns

    def name_transcript_speakers(self, wave, transcript, num_speakers, progress):
        """Transcript utterances (its names win) and the estimate; unnamed ones get a voice."""
        utterances = list(transcript.utterances)
        unnamed = [i for i, u in enumerate(utterances) if not u.speaker]
        if not unnamed:
            return utterances, from_transcript(transcript)
        if is_silent(wave):
            labels = [0] * len(unnamed)  # no voice to tell speakers apart: text-only use
            estimate = SpeakerEstimate(1, estimated=True)
        else:
            spans = [(utterances[i].start, utterances[i].end) for i in unnamed]
            turns = self.assign_speakers(wave, spans, num_speakers, progress)
            labels, estimate = turns.labels, turns.estimate
        for index, label in zip(unnamed, labels, strict=True):
            utterances[index] = replace(utterances[index], speaker=speaker_name(label))
        if len(unnamed) < len(utterances):
            estimate = from_transcript(Dialogue(utterances))
        return utterances, estimate

    def transcript_only(self, transcript):
        """A Dialogue from the transcript alone (the text teacher still works)."""
        if transcript is None:
            raise UserError("give a clip, a transcript, or both")
        utterances = [u if u.speaker else replace(u, speaker=speaker_name(0)) for u in transcript]
        dialogue = Dialogue(utterances, source=transcript.source, duration=transcript.duration,
                            warnings=transcript.warnings)  # fmt: skip
        speaker_numbers(dialogue)
        return dialogue


def from_transcript(dialogue):
    """The SpeakerEstimate of a dialogue whose speakers the transcript named."""
    return SpeakerEstimate(len(dialogue.speakers), estimated=False, given_by="the transcript")


@dataclass(frozen=True)
class UtteranceMedia:
    audio: np.ndarray  # float32 mono at the requested sample rate, shape (samples,)
    frames: np.ndarray | None  # uint8 RGB (N, H, W, 3); None when the clip has no video


def frame_span(start, end, fps, frame_count):
    """(first frame, number of frames) shown between `start` and `end` seconds (at least 1)."""
    first = min(max(int(round(start * fps)), 0), max(frame_count - 1, 0))
    last = min(max(int(round(end * fps)), first + 1), frame_count)
    return first, last - first


def utterance_media(path, dialogue, sample_rate, sample_frames=None, decoder=None, progress=None,
                    audio=None):  # fmt: skip
    """Each utterance's audio (at `sample_rate` Hz) and frames, from one decode of the clip.

    `sample_frames(frame_count) -> indices` chooses frames within an utterance (e.g.
    `telme.features.video.sample_frame_indices`); without it, or without video, frames are None.
    `audio`: the clip's `DecodedAudio` when it was already decoded (`ClipToDialogue.run`); without
    it the clip's audio is decoded here.
    """
    decoder = decoder or default_decoder
    progress = progress or _no_progress
    info = decoder.probe(path)
    if audio is None and info.has_audio:
        audio = DecodedAudio(*decoder.decode_audio_native(path))
    wave = audio.at(sample_rate) if audio is not None else np.zeros(0, np.float32)
    cuts = [default_decoder.cut_audio(wave, sample_rate, u.start, u.end) for u in dialogue]
    if sample_frames is None or not info.has_video or not len(dialogue):
        return [UtteranceMedia(audio=a, frames=None) for a in cuts]
    progress("frames", 0, 1)
    picks = []
    for utterance in dialogue:
        first, count = frame_span(utterance.start, utterance.end, info.fps, info.frame_count)
        picks.append([first + int(i) for i in sample_frames(count)])
    frames = decoder.decode_frames(path, indices=[i for pick in picks for i in pick])
    progress("frames", 1, 1)
    bounds = np.cumsum([0] + [len(pick) for pick in picks])
    return [
        UtteranceMedia(audio=a, frames=frames[bounds[i] : bounds[i + 1]])
        for i, a in enumerate(cuts)
    ]
