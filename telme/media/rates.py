"""Sample rates, in one place, with what listens at each.

Everything that hears audio takes its rate from here or from the model's preprocessing profile
(`PreprocessProfile.audio_sample_rate`, which is one of these two).
"""

SPEECH_RATE = 16_000  # Hz: Whisper (ASR), resemblyzer (voices) and data2vec-audio's pretraining (clean profile)
LIBROSA_RATE = 22_050  # Hz: librosa.load's default; the official code decoded at it and told data2vec 16 kHz
