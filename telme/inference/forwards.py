"""How each part is called on a padded micro-batch so that every row gets its unbatched result.

These mirror the pooling of telme.models (TextTeacher / AudioStudent) where the module's own
forward cannot take the extra input (position ids, an audio attention mask).
"""

import inspect

import torch


def teacher_forward(teacher, input_ids, mask):
    """Left-padded prompts, each row positioned as if it were alone.

    RoBERTa-style encoders derive positions from the ids (padding skipped), so the teacher runs
    as is. Encoders with absolute positions (BERT, MiniLM) would see every row shifted by its
    padding; they get position ids that start at 0 on each row's first real token.
    """
    if getattr(teacher.text_model.embeddings, "padding_idx", None) is not None:
        return teacher(input_ids, mask)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, T)
    states = teacher.text_model(input_ids=input_ids, attention_mask=mask, position_ids=positions).last_hidden_state
    hidden = teacher.W(states[:, -1, :])  # (B, 768): the appended mask token, pooled as in TextTeacher
    return hidden, teacher.classifier(hidden)


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
    if "attention_mask" in inspect.signature(student.forward).parameters:
        return student(batch, attention_mask=mask)
    states = student.model(batch, attention_mask=mask).last_hidden_state  # (B, frames, 768)
    hidden = states[:, 0, :]  # (B, 768): the first frame, pooled as in AudioStudent.forward
    return hidden, student.W(hidden)


def check_vocabulary(ids, vocab_size):
    """The tokenizer must fit the teacher's embedding table (a mismatched bundle fails here)."""
    largest = max(max(row) for row in ids)
    if largest >= vocab_size:
        raise ValueError(f"the prompt tokenizer produced token id {largest} but the teacher has only "
                         f"{vocab_size} embeddings: the tokenizer and the weights do not belong together")
