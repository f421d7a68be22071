"""ClipToDialogue with stub parts: the steps, transcripts, bad inputs, per-utterance media."""

import json
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest

from telme.dialogue import Word
from telme.media import decode
from telme.media.errors import (
    ClipTooLong,
    NoAudioTrack,
    NoSpeechFound,
    NotAMediaFile,
    TooManySpeakers,
)
from telme.media.pipeline import (
    ClipToDialogue,
    frame_span,
    utterance_media,
)
from telme.media.speakers import SpeakerEstimate, SpeakerTurns

MEDIA = Path(__file__).parent / "fixtures" / "media"
TRUTH = json.loads((MEDIA / "conversation.json").read_text())["utterances"]


def true_words(wave, language=None, progress=None):
    """A transcriber that 'hears' the fixture's truth, words spread over each utterance."""
    words = []
    for utterance in TRUTH:
        step = (utterance["end"] - utterance["start"]) / len(utterance["words"])
        words += [Word(text, utterance["start"] + i * step, utterance["start"] + (i + 1) * step)
                  for i, text in enumerate(utterance["words"])]  # fmt: skip
    return words


def alternating(wave, spans, num_speakers=None, progress=None):
    """A speaker assigner that gives 0, 1, 0, 1, ... (the fixture's true pattern per turn)."""
    starts = [u["start"] for u in TRUTH]
    labels = [min(range(len(starts)), key=lambda i: abs(starts[i] - s)) % 2 for s, _ in spans]
    return SpeakerTurns(labels, SpeakerEstimate(2, estimated=True, margin=0.2))


def never(*args, **kwargs):
    raise AssertionError("this step must not run")


class SpyDecoder(SimpleNamespace):
    def __init__(self):
        super().__init__(probe=decode.probe, decode_frames=decode.decode_frames, calls=[])

    def decode_audio_native(self, path):
        self.calls.append(path)
        return decode.decode_audio_native(path)


@pytest.fixture
def native_decodes(monkeypatch):
    """Every path the real decoder decodes audio from, however it is reached."""
    calls, native = [], decode.decode_audio_native
    monkeypatch.setattr(decode, "decode_audio_native", lambda path: calls.append(path) or native(path))
    return calls


def test_steps_make_a_dialogue_with_turns_and_progress():
    steps = []
    pipeline = ClipToDialogue(transcriber=true_words, speaker_assigner=alternating)
    dialogue = pipeline(MEDIA / "conversation.mp4", progress=lambda *s: steps.append(s))
    assert [u.speaker for u in dialogue] == ["Speaker 1", "Speaker 2"] * 3
    assert [u.text for u in dialogue] == [u["text"] for u in TRUTH]
    assert max(abs(u.start - t["start"]) for u, t in zip(dialogue, TRUTH)) < 0.1  # VAD edges (32 ms frames)
    assert dialogue.duration == pytest.approx(12.9, abs=0.1)
    assert [s[0] for s in steps][:2] == ["decode", "decode"] and ("speakers", 6, 6) in steps


def test_transcript_names_skip_asr_and_voices(tmp_path):
    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=never)
    dialogue = pipeline(MEDIA / "conversation.webm", transcript=MEDIA / "conversation.csv")
    assert dialogue.speakers == ["Ross", "Rachel"] and len(dialogue) == 6


def test_the_result_says_how_the_speakers_were_found():
    pipeline = ClipToDialogue(transcriber=true_words, speaker_assigner=alternating)
    assert pipeline.run(MEDIA / "conversation.wav").speakers.status().startswith("2 speakers found (clear")
    named = ClipToDialogue(transcriber=never, speaker_assigner=never).run(
        MEDIA / "conversation.wav", transcript=MEDIA / "conversation.srt")  # fmt: skip
    assert named.speakers.status() == "2 speakers (from the transcript)"


def test_transcript_without_names_gets_voices(tmp_path):
    plain = tmp_path / "plain.srt"
    plain.write_text(
        (MEDIA / "conversation.srt").read_text().replace("Ross: ", "").replace("Rachel: ", "")
    )
    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=alternating)
    dialogue = pipeline(MEDIA / "conversation.wav", transcript=plain)
    assert [u.speaker for u in dialogue] == ["Speaker 1", "Speaker 2"] * 3


def write_silence(path, seconds=2.0):
    with wave.open(str(path), "wb") as handle:  # 16-bit mono, 16 kHz, all zeros
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(bytes(2 * int(16000 * seconds)))
    return path


def test_silent_audio_is_no_speech_before_asr(tmp_path):
    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=never)
    with pytest.raises(NoSpeechFound, match="no speech was found"):
        pipeline(write_silence(tmp_path / "silence.wav"))


def test_silent_audio_with_a_transcript_is_still_usable(tmp_path):
    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=never)
    dialogue = pipeline(
        write_silence(tmp_path / "silence.wav"), transcript=MEDIA / "conversation.vtt"
    )
    assert dialogue.speakers == ["Ross", "Rachel"]
    assert pipeline(None, transcript=MEDIA / "conversation.srt").speakers == ["Ross", "Rachel"]


def test_nothing_recognised_is_no_speech():
    pipeline = ClipToDialogue(transcriber=lambda wave, **kw: [], speaker_assigner=never)
    with pytest.raises(NoSpeechFound):
        pipeline(MEDIA / "conversation.wav")


def test_too_long_is_refused_before_decoding():
    spy = SpyDecoder()
    pipeline = ClipToDialogue(
        decoder=spy, transcriber=never, speaker_assigner=never, max_duration=5
    )
    with pytest.raises(ClipTooLong, match="longer than the maximum of 5 s"):
        pipeline(MEDIA / "conversation.webm")
    assert spy.calls == []


def test_bad_files_fail_with_typed_errors(tmp_path):
    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=never)
    with pytest.raises(NoAudioTrack):
        pipeline(MEDIA / "no_audio.mp4")
    (tmp_path / "empty.mp4").touch()
    (tmp_path / "text.mov").write_text("hello")
    for path in [tmp_path / "empty.mp4", tmp_path / "text.mov"]:
        with pytest.raises(NotAMediaFile):
            pipeline(path)


def test_more_than_nine_speakers(tmp_path):
    crowd = tmp_path / "crowd.srt"
    crowd.write_text("\n".join(f"{i + 1}\n00:00:{i:02d},000 --> 00:00:{i:02d},900\nP{i}: line {i}\n"
                               for i in range(10)))  # fmt: skip
    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=never)
    with pytest.raises(TooManySpeakers, match="10 speakers"):
        pipeline(MEDIA / "conversation.wav", transcript=crowd)
    with pytest.raises(TooManySpeakers):
        pipeline(MEDIA / "conversation.wav", num_speakers=10)


def test_frame_span_covers_the_utterance():
    assert frame_span(1.0, 2.0, fps=10.0, frame_count=128) == (10, 10)
    assert frame_span(12.8, 13.5, fps=10.0, frame_count=128) == (127, 1)


def test_utterance_media_cuts_audio_and_frames_from_one_decode():
    spy = SpyDecoder()
    dialogue = ClipToDialogue(transcriber=never, speaker_assigner=never)(
        MEDIA / "conversation.mp4", transcript=MEDIA / "conversation.srt")  # fmt: skip
    media = utterance_media(MEDIA / "conversation.mp4", dialogue, 22050,
                            sample_frames=lambda n: [n // 2] * 8, decoder=spy)  # fmt: skip
    assert spy.calls == [MEDIA / "conversation.mp4"]
    assert len(media) == 6 and media[0].frames.shape == (8, 120, 160, 3)
    assert len(media[1].audio) == pytest.approx(
        (dialogue[1].end - dialogue[1].start) * 22050, abs=2
    )
    red_minus_blue = [int(m.frames[0, 5, 5, 0]) - int(m.frames[0, 5, 5, 2]) for m in media]
    assert [d > 0 for d in red_minus_blue] == [True, False] * 3  # Ross red, Rachel blue
    audio_only = utterance_media(MEDIA / "conversation.wav", dialogue, 16000, sample_frames=len)
    assert audio_only[0].frames is None


def test_one_native_decode_serves_speakers_and_the_model_rate():
    spy, heard = SpyDecoder(), []
    pipeline = ClipToDialogue(decoder=spy, transcriber=lambda wave, **kw: heard.append(len(wave)) or true_words(wave),
                              speaker_assigner=alternating)  # fmt: skip
    found = pipeline.run(MEDIA / "conversation.mp4")
    assert heard == [len(found.audio.at(16000))] and found.audio.sample_rate == 44100
    media = utterance_media(MEDIA / "conversation.mp4", found.dialogue, 22050,
                            sample_frames=lambda n: [0] * 8, decoder=spy, audio=found.audio)  # fmt: skip
    assert spy.calls == [MEDIA / "conversation.mp4"]  # one decode for ASR, voices and the model
    whole = decode.decode_audio(MEDIA / "conversation.mp4", 22050)
    first = found.dialogue[0]
    expected = decode.cut_audio(whole, 22050, first.start, first.end)
    assert media[0].audio.shape == expected.shape and abs(media[0].audio - expected).max() < 1e-6
    assert media[0].frames.shape == (8, 120, 160, 3)


def test_a_transcript_alone_gives_a_dialogue_without_audio():
    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=never)
    found = pipeline.run(None, transcript=MEDIA / "conversation.srt")
    assert found.audio is None and len(found.dialogue) == 6


def test_analyze_clip_decodes_the_audio_once(native_decodes):
    from telme.checkpoints.tiny import tiny_model
    from telme.inference import analyze_clip

    pipeline = ClipToDialogue(transcriber=never, speaker_assigner=never)
    analysis = analyze_clip(MEDIA / "conversation.mp4", tiny_model(seed=3), transcript=MEDIA / "conversation.srt",
                            to_dialogue=pipeline)  # fmt: skip
    assert native_decodes == [MEDIA / "conversation.mp4"]
    assert len(analysis.prediction.utterances) == 6
    assert all(u.audio is not None and u.video is not None for u in analysis.prediction.utterances)
