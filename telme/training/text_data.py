"""Teacher examples from dialogues: the same prompt features the app uses at inference."""

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Sampler

from telme.data import split_speaker_numbers, utterance_keys
from telme.features.text import collate_left, dialogue_texts, encode_dialogue


class UnknownLabel(ValueError):
    """A gold label that is not in the model's label set."""


@dataclass(frozen=True)
class TextExample:
    key: str  # e.g. "dia49_utt6" (the MELD clip name) or "<source>#<index>"
    input_ids: tuple  # prompt ids, mask id last
    label: int


def label_index(label: str, labels: tuple) -> int:
    try:
        return labels.index(label)
    except ValueError:
        raise UnknownLabel(f"label {label!r} is not one of {', '.join(labels)}") from None


def text_examples(dialogues, tokenizer, profile, labels, max_tokens: int | None = None) -> list[TextExample]:
    """One example per utterance, dialogue by dialogue, in file order."""
    max_tokens = max_tokens or profile.max_text_tokens
    numbers = split_speaker_numbers(dialogues, profile.speaker_numbering)
    examples = []
    for dialogue, speakers in zip(dialogues, numbers):
        ids = encode_dialogue(speakers, dialogue_texts(dialogue, profile), tokenizer, max_tokens)
        for key, utterance, row in zip(utterance_keys(dialogue), dialogue.utterances, ids):
            examples.append(TextExample(key, tuple(row), label_index(utterance.label, tuple(labels))))
    return examples


class TextDataset(Dataset):
    def __init__(self, examples: list[TextExample]):
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> TextExample:
        return self.examples[index]

    def lengths(self) -> list[int]:
        return [len(e.input_ids) for e in self.examples]


class TextCollator:
    """Examples -> {"input_ids", "attention_mask" (B, T) left-padded, "labels" (B,)}."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, examples: list[TextExample]) -> dict:
        input_ids, attention_mask = collate_left([list(e.input_ids) for e in examples], self.pad_id)  # (B, T)
        labels = torch.tensor([e.label for e in examples], dtype=torch.long)  # (B,)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


class LengthBucketBatches(Sampler):
    """Batches of similar prompt lengths (little padding, so less compute), in random order.

    Each epoch: shuffle, cut into chunks of `chunk_batches` batches, sort each chunk by length,
    cut it into batches, shuffle the batches. Draws from the global torch RNG, which accelerate's
    checkpoints save and restore, so a resumed run sees the same order.
    """

    def __init__(self, lengths: list[int], batch_size: int, chunk_batches: int = 50):
        self.lengths, self.batch_size, self.chunk = list(lengths), batch_size, batch_size * chunk_batches

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths)).tolist()
        batches = []
        for start in range(0, len(order), self.chunk):
            chunk = sorted(order[start:start + self.chunk], key=self.lengths.__getitem__)
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        for index in torch.randperm(len(batches)).tolist():
            yield batches[index]
