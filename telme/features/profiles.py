"""Preprocessing profiles: every choice that turns a dialogue and its media into model inputs.

Two profiles exist. OFFICIAL reproduces the official TelME code (release f22fc9f) bit for bit,
quirks included, because the official weights were trained on exactly those inputs. CLEAN fixes
the quirks for models trained here. The profile travels in a bundle's config.json, so a model is
always fed the way it was trained.
"""

from dataclasses import asdict, dataclass, fields, replace

from telme.errors import UserError
from telme.media.rates import LIBROSA_RATE, SPEECH_RATE

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # VideoMAE image processor (MCG-NJU/videomae-base)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessProfile:
    name: str
    # text
    text_tokenizer: str  # "official-roberta" (transformers-4.27-exact ids) or "hf"
    max_text_tokens: int  # prompt tokens kept (the last ones), before the mask token is appended
    speaker_numbering: str  # "official" (carried across dialogues) or "clean" (per dialogue)
    fix_cp1252: bool  # map MELD's mis-decoded C1 controls (U+0092...) to the punctuation they meant
    # audio
    audio_sample_rate: int  # Hz of the decoded waveform (official: 22,050, labelled 16 kHz)
    audio_max_samples: int  # samples kept per utterance, after normalisation
    audio_keep: str  # "last" or "first": which end of a long utterance is kept
    audio_pad: str  # "left" or "right": where training and `evaluate` batches pad short utterances with zeros (no mask,
    # as the official code); the Recognizer always right-pads with an attention mask so rows stay independent
    audio_normalize: bool  # zero mean, unit variance over the whole utterance
    # video
    frame_order: str  # "bgr" (official: OpenCV frames fed as if RGB) or "rgb"
    num_frames: int  # frames per utterance
    image_size: int  # px: shortest edge resized to this, then centre crop of this square
    image_mean: tuple = IMAGENET_MEAN
    image_std: tuple = IMAGENET_STD
    # both media
    max_utterance_seconds: float | None = None  # longer utterances get zero audio and frames (`too_long`)

    def to_dict(self):
        data = asdict(self)
        data["image_mean"], data["image_std"] = list(self.image_mean), list(self.image_std)
        return data

    @classmethod
    def from_dict(cls, data):
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown preprocessing profile fields: {', '.join(unknown)} (a bundle of another version?)")
        values = dict(data)
        for key in ("image_mean", "image_std"):
            if key in values:
                values[key] = tuple(float(x) for x in values[key])
        return cls(**values)


OFFICIAL = PreprocessProfile(
    name="official",
    text_tokenizer="official-roberta",
    max_text_tokens=511,
    speaker_numbering="official",
    fix_cp1252=False,
    audio_sample_rate=LIBROSA_RATE,  # the extractor is then told 16 kHz
    audio_max_samples=400_000,
    audio_keep="last",
    audio_pad="left",
    audio_normalize=True,
    frame_order="bgr",
    num_frames=8,
    image_size=224,
    max_utterance_seconds=30.0,
)

# Clean: what differs from the official profile. 16 kHz as data2vec-audio was pretrained, RGB
# frames, speakers numbered per dialogue, no zeroing of long utterances. Audio keeps the last 30 s
# (as the official keeps the end) and pads on the RIGHT, because the audio student pools its
# FIRST frame: with right padding that frame is always real audio.
CLEAN = replace(
    OFFICIAL,
    name="clean",
    text_tokenizer="hf",
    speaker_numbering="clean",
    fix_cp1252=True,
    audio_sample_rate=SPEECH_RATE,
    audio_max_samples=30 * SPEECH_RATE,
    audio_pad="right",
    frame_order="rgb",
    max_utterance_seconds=None,
)


def too_long(duration, profile):
    """True when the profile feeds zero audio and frames for an utterance of `duration` seconds.

    The official code's rule (over 30 s: zeros); every caller asks here (features, training and
    evaluation clips, the app's note).
    """
    limit = profile.max_utterance_seconds
    return limit is not None and duration > limit
