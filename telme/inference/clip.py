"""A clip in, emotions per utterance out: media pipeline -> per-utterance media -> Recognizer."""

from functools import partial

from telme.inference.results import ClipAnalysis, model_summary


def analyze_clip(path, model=None, transcript=None, asr_model=None, num_speakers=None, language=None,
                 device=None, drop=frozenset(), progress=None, to_dialogue=None) -> ClipAnalysis:
    """Transcribe (or read `transcript`), find speakers, and predict every utterance's emotion.

    model: a Recognizer, a loaded TelME, or anything `telme.checkpoints.load_model` accepts
    (None = the default bundle). to_dialogue: a `ClipToDialogue` (tests give it stub parts); by
    default one is built with faster-whisper `asr_model` (None = Whisper base, offline).
    """
    from telme.inference.recognizer import Recognizer

    recognizer = model if isinstance(model, Recognizer) else Recognizer(_loaded(model), device=device)
    to_dialogue = to_dialogue or clip_pipeline(asr_model)
    found = to_dialogue.run(path, transcript=transcript, num_speakers=num_speakers, language=language,
                            progress=progress)  # the audio is decoded once, reused below
    dialogue = found.dialogue
    media = load_clip_media(path, dialogue, recognizer.model, progress, found.audio) if path is not None else None
    prediction = recognizer.run_dialogue(dialogue, media=media, drop=drop, progress=progress)
    speakers = found.speakers.to_dict() if found.speakers else None
    return ClipAnalysis(dialogue=dialogue, prediction=prediction, model=model_summary(recognizer), speakers=speakers)


def clip_pipeline(asr_model=None):
    from telme.media.pipeline import ClipToDialogue

    if asr_model is None:
        return ClipToDialogue()
    from telme.media.asr import WhisperTranscriber

    return ClipToDialogue(transcriber=WhisperTranscriber(model=asr_model))


def load_clip_media(path, dialogue, model, progress=None, audio=None, decoder=None):
    """Per-utterance audio (at the profile's rate) and frames, decoded once; None when no student is live.

    audio: the clip's `DecodedAudio` when it is already decoded (it is then only resampled).
    decoder: a `telme.media.decode`-like object (the app passes one that probes each file once)."""
    from telme.features.video import sample_frame_indices
    from telme.media import pipeline

    live = model.live_modalities
    if not {"audio", "video"} & set(live):
        return None
    profile = model.profile
    frames = partial(sample_frame_indices, n=profile.num_frames) if "video" in live else None
    return pipeline.utterance_media(path, dialogue, profile.audio_sample_rate, sample_frames=frames, progress=progress,
                                    audio=audio, decoder=decoder)


def _loaded(model):
    from telme.checkpoints import TelME, load_model

    return model if isinstance(model, TelME) else load_model(model)
