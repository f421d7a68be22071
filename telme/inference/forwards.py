"""How the students are called on a padded micro-batch so that every row gets its unbatched result."""

import torch

from telme.checkpoints.errors import CheckpointError


def audio_forward(student, values, device):
    """Right-padded batch with an attention mask, so padding does not leak into a row's result.

    (The official code padded on the left without a mask, which makes an utterance's output depend
    on its batch neighbours; with a mask each row matches its unbatched forward up to the
    positional convolution's few boundary frames.)
    """
    from telme.features.audio import collate_audio

    batch = collate_audio(values, pad="right").to(device)  # (B, T)
    mask = torch.zeros(batch.shape, dtype=torch.long, device=device)  # (B, T)
    for row, row_values in enumerate(values):
        mask[row, : len(row_values)] = 1
    return student(batch, attention_mask=mask)


def check_vocabulary(ids, vocab_size):
    """The tokenizer must fit the teacher's embedding table (a mismatched bundle fails here)."""
    largest = max(max(row) for row in ids)
    if largest >= vocab_size:
        raise CheckpointError(f"the prompt tokenizer produced token id {largest} but the teacher has only "
                         f"{vocab_size} embeddings: the tokenizer and the weights do not belong together")
