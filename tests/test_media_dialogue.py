"""Dialogue data: JSON round trip, table rows, renaming/merging speakers, speaker numbers."""

import json

import pytest

from telme.dialogue import (
    Dialogue,
    Utterance,
    Word,
    merge_speakers,
    rename_speaker,
    speaker_numbers,
)
from telme.media.errors import MediaError, TooManySpeakers


def make_dialogue(speakers):
    utterances = [
        Utterance(
            start=i, end=i + 0.5, speaker=name, text=f"line {i}", words=(Word("line", i, i + 0.2),)
        )
        for i, name in enumerate(speakers)
    ]
    return Dialogue(utterances, source="clip.mp4", duration=len(speakers))


def test_json_round_trip_keeps_everything():
    dialogue = make_dialogue(["Ross", "Rachel", "Ross"])
    dialogue = Dialogue(
        [*dialogue.utterances[:2], Utterance(3, 4, "Ross", "hi", label="joy")], "c", 4
    )
    assert Dialogue.from_dict(json.loads(json.dumps(dialogue.to_dict()))) == dialogue


def test_rename_and_merge_return_new_dialogues():
    dialogue = make_dialogue(["A", "B", "A", "C"])
    renamed = rename_speaker(dialogue, "A", "Ross")
    assert renamed.speakers == ["Ross", "B", "C"] and dialogue.speakers == ["A", "B", "C"]
    assert merge_speakers(dialogue, keep="B", drop="C").speakers == ["A", "B"]


def test_speaker_numbers_follow_first_appearance():
    assert speaker_numbers(make_dialogue(["B", "A", "B", "C"])) == [1, 2, 1, 3]


def test_more_than_nine_speakers_is_a_typed_error():
    with pytest.raises(TooManySpeakers, match="at most 9") as caught:
        speaker_numbers(make_dialogue([f"S{i}" for i in range(10)]))
    assert isinstance(caught.value, MediaError) and isinstance(caught.value, ValueError)
