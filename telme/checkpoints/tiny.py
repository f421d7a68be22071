"""A tiny random TelME (16-d everywhere, one layer) for tests and demos that must run in seconds.

Its weights are random: `tiny_model(mark_trained=True)` only *pretends* they are trained so that
tests can drive every live path. Never ship or report such a model as a real one.
"""

import dataclasses

import torch

from telme.checkpoints.container import PARTS, TelME, part_class
from telme.dialogue import MAX_SPEAKERS
from telme.labels import MELD_LABELS

TINY_WIDTH = 16  # every hidden vector the fusion sees
TINY_IMAGE = 32  # px, frames are resized/cropped to this square
TINY_AUDIO_SAMPLES = 16_000  # samples kept per utterance (1 s at 16 kHz)


def tiny_configs(num_labels: int = len(MELD_LABELS), width: int = TINY_WIDTH, fusion_heads: int = 2,
                 text_vocab: int = 50265) -> dict:
    """Configs of the four parts with one-layer backbones (roberta / data2vec-audio / timesformer).

    width: the vectors the fusion sees (768 gives the official fusion's shapes, 3 heads its heads).
    """
    from telme.models.configs import (
        OFFICIAL_MASK_TIME_LENGTH,
        AudioStudentConfig,
        FusionConfig,
        TeacherConfig,
        VideoStudentConfig,
    )

    layers = {"num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "hidden_size": width}
    text = dict(layers, hidden_size=TINY_WIDTH, model_type="roberta", vocab_size=text_vocab,
                max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                layer_norm_eps=1e-5)
    audio = dict(layers, model_type="data2vec-audio", conv_dim=[16, 16], conv_stride=[5, 2], conv_kernel=[10, 3],
                 num_feat_extract_layers=2, num_conv_pos_embeddings=1, conv_pos_kernel_size=3,
                 num_conv_pos_embedding_groups=2, mask_time_length=OFFICIAL_MASK_TIME_LENGTH)
    video = dict(layers, model_type="timesformer", image_size=TINY_IMAGE, patch_size=16, num_frames=8)
    return {
        "teacher": TeacherConfig(backbone=text, num_labels=num_labels, vocab_size=text_vocab + MAX_SPEAKERS,
                                 hidden_size=width),
        "audio": AudioStudentConfig(backbone=audio, num_labels=num_labels),
        "video": VideoStudentConfig(backbone=video, num_labels=num_labels),
        "fusion": FusionConfig(num_labels=num_labels, hidden_size=width, num_heads=fusion_heads),
    }


def tiny_profile():
    """The official preprocessing with small frames and short audio, to match the tiny students."""
    from telme.features.profiles import OFFICIAL

    return dataclasses.replace(OFFICIAL, name="tiny", image_size=TINY_IMAGE, audio_max_samples=TINY_AUDIO_SAMPLES)


def build_model(configs: dict, labels, profile=None, tokenizer=None, trained=None, name="telme") -> TelME:
    """A TelME with freshly initialised parts for every config given (None/absent = no part)."""
    parts = {part: part_class(part)(cfg).eval() for part, cfg in configs.items() if cfg is not None}
    return TelME(**parts, labels=labels, profile=profile, tokenizer=tokenizer, trained=trained or {}, name=name)


def tiny_model(labels=MELD_LABELS, seed: int = 0, parts=PARTS, mark_trained: bool = True, **widths) -> TelME:
    """Tiny random TelME with the official RoBERTa prompt tokenizer and `tiny_profile()`.

    widths: `width` / `fusion_heads` for tiny_configs (768 / 3 = the official fusion's shapes).
    """
    from telme.features.text import OfficialRobertaTokenizer

    torch.manual_seed(seed)
    configs = {part: cfg for part, cfg in tiny_configs(len(labels), **widths).items() if part in parts}
    trained = {part: mark_trained for part in configs}
    model = build_model(configs, labels, tiny_profile(), OfficialRobertaTokenizer.default(), trained, name="telme-tiny")
    model.card = {"source": "random tiny model (tests only)", "seed": seed}
    return model


TINY_MPNET_WORDS = ("<s>", "<pad>", "</s>", "[UNK]", "<mask>", "now", "feels", "oh", "my", "god", "!", "speaker",
                    "hello", "yes", "no", ".", ",", "i", "am", "fine") + tuple(str(k) for k in range(1, 10))  # fmt: skip


def save_tiny_mpnet(folder, seed: int = 0):
    """A random 3-layer, 16-d MPNet with a 29-word tokenizer, saved as a pretrained folder (a stand-in
    for all-mpnet-base-v2 in tests of telme.training.upper and of bundles on a pip base)."""
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizer

    torch.manual_seed(seed)
    config = MPNetConfig(vocab_size=len(TINY_MPNET_WORDS), hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=66)  # fmt: skip
    MPNetModel(config).save_pretrained(folder)
    MPNetTokenizer(vocab={word: index for index, word in enumerate(TINY_MPNET_WORDS)}).save_pretrained(folder)
    return folder
