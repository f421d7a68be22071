"""Text features: the teacher's prompt, the tokenizers that turn it into ids, left-padded batches.

The prompt over utterances 0..i of a dialogue is `<sA> utt <sB> utt ... </s> Now <sK> feels`
(speakers numbered from 1); its last `max_tokens` ids are kept and the mask token is appended,
so the teacher pools the last position. Batches are padded on the LEFT. `encode_dialogue` builds
every prompt's ids from per-turn pieces, so a dialogue costs time linear in its length (not
quadratic, as re-tokenising each prompt's whole history did), with the same ids.

Two tokenizers share one small protocol (`encode(prompt) -> ids` without the mask, `eos_token`,
`mask_id`, `pad_id`, `kind`, `save(folder)`):
- `OfficialRobertaTokenizer` gives exactly the ids of transformers 4.27's slow RobertaTokenizer
  with the nine speaker tokens added as plain strings, which the official weights were trained
  on: a speaker token strips whitespace on BOTH sides, `</s>` strips none, `<mask>` its left.
- `HFPromptTokenizer` wraps any transformers tokenizer (clean profile): the speaker tokens are
  added as special tokens, the tokenizer's own sep/eos replaces `</s>`, its own mask is appended.
  No CLS is added: the teacher pools the last position, so a CLS would only cost a token.
"""

import json
import shutil
from importlib import resources
from pathlib import Path

import regex
import torch

from telme.dialogue import MAX_SPEAKERS

SPEAKER_TOKENS = tuple(f"<s{k}>" for k in range(1, MAX_SPEAKERS + 1))  # <s1>..<s9>
MAX_TEXT_TOKENS = 511  # prompt tokens kept; + the mask = RoBERTa's 512 positions

# cp1252 bytes that were decoded as Latin-1 show up as C1 controls U+0080..U+009F.
_CP1252_FIXES = {}
for _code in range(0x80, 0xA0):
    try:
        _CP1252_FIXES[_code] = bytes([_code]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined in cp1252
        pass
_CP1252_FIXES[0xA0] = " "  # a no-break space is a plain space in a transcript


def fix_cp1252(text: str) -> str:
    """`he\\x92s` -> `he’s`: map mis-decoded cp1252 punctuation to the characters meant."""
    return text.translate(_CP1252_FIXES)


def _turn(speaker, text):
    """Utterance `text` of speaker number `speaker` as it reads inside a prompt's history."""
    return f"<s{speaker}> {text} "


def _ending(speaker, text, eos):
    """The last turn of a prompt and the question after it: `<sK> text </s> Now <sK> feels`."""
    return f"{_turn(speaker, text).rstrip()} {eos} Now <s{speaker}> feels"


def build_prompt(speakers, texts, index, eos="</s>"):
    """The teacher prompt over utterances 0..index; `speakers` are 1-based numbers."""
    if not 0 <= index < len(texts) or len(speakers) != len(texts):
        raise ValueError(
            f"index {index} outside {len(texts)} utterances / {len(speakers)} speakers"
        )
    history = "".join(_turn(s, t) for s, t in zip(speakers[:index], texts[:index]))
    return history + _ending(speakers[index], texts[index], eos)


def encode_dialogue(speakers, texts, tokenizer, max_tokens=MAX_TEXT_TOKENS):
    """One id list per utterance: the last `max_tokens` prompt ids, then the mask id.

    Linear in the dialogue: every turn is tokenised on its own, once as it reads inside the
    history and once as a prompt's last turn, and each prompt is its history's last ids plus its
    own ending. The pieces are checked against the exact encoding of the longest prompt (the
    whole dialogue); where they do not compose (a tokenizer that merges across turns), every
    prompt is tokenised whole instead (`encode_each_prompt`).
    """
    if len(speakers) != len(texts):
        raise ValueError(f"{len(texts)} utterances but {len(speakers)} speakers")
    if not texts:
        return []
    history = _history_ids(speakers, texts, tokenizer)
    endings = [tokenizer.encode(_ending(s, t, tokenizer.eos_token)) for s, t in zip(speakers, texts)]
    if history is None or not _composes(history, endings[-1], speakers, texts, tokenizer):
        return encode_each_prompt(speakers, texts, tokenizer, max_tokens)
    flat, ends = history
    encoded = []
    for index, ending in enumerate(endings):
        room = max_tokens - len(ending)  # history ids that still fit before this prompt's ending
        kept = ending[-max_tokens:] if room <= 0 else flat[max(0, ends[index] - room):ends[index]] + ending
        encoded.append(kept + [tokenizer.mask_id])
    return encoded


def encode_each_prompt(speakers, texts, tokenizer, max_tokens=MAX_TEXT_TOKENS):
    """`encode_dialogue` by tokenising every prompt whole: exact for any tokenizer, quadratic."""
    encoded = []
    for index in range(len(texts)):
        ids = tokenizer.encode(build_prompt(speakers, texts, index, eos=tokenizer.eos_token))
        encoded.append(ids[-max_tokens:] + [tokenizer.mask_id])
    return encoded


def _history_ids(speakers, texts, tokenizer):
    """(flat, ends): the ids of turns 0..n-2 end to end, and `ends[i]` = how many precede turn i.

    Each turn is encoded followed by the next turn's speaker token (so whitespace the speaker
    token strips is stripped here too), whose ids are then cut off; None when they do not end
    the encoding as expected.
    """
    speaker_ids = {k: tokenizer.encode(f"<s{k}>") for k in set(speakers)}
    flat, ends = [], [0]
    for index in range(len(texts) - 1):
        follower = speaker_ids[speakers[index + 1]]
        ids = tokenizer.encode(_turn(speakers[index], texts[index]) + f"<s{speakers[index + 1]}>")
        if not follower or ids[-len(follower):] != follower:
            return None
        flat.extend(ids[: -len(follower)])
        ends.append(len(flat))
    return flat, ends


def _composes(history, last_ending, speakers, texts, tokenizer):
    """Whether the pieces give exactly the ids of the whole dialogue's (longest) prompt."""
    if len(texts) == 1:
        return True  # the one prompt is its ending, encoded whole
    prompt = build_prompt(speakers, texts, len(texts) - 1, eos=tokenizer.eos_token)
    return history[0] + last_ending == tokenizer.encode(prompt)


def collate_left(ids_list, pad_id):
    """LEFT-padded (input_ids, attention_mask), both (B, longest) int64; 0 marks padding."""
    if not ids_list:
        raise ValueError("nothing to collate")
    longest = max(len(ids) for ids in ids_list)
    input_ids = torch.full((len(ids_list), longest), pad_id, dtype=torch.long)  # (B, L)
    attention_mask = torch.zeros((len(ids_list), longest), dtype=torch.long)  # (B, L)
    for row, ids in enumerate(ids_list):
        if ids:
            input_ids[row, longest - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, longest - len(ids):] = 1
    return input_ids, attention_mask


def _package_tokenizer_files():
    folder = resources.files("telme").joinpath("resources", "roberta-tokenizer")
    return folder.joinpath("vocab.json"), folder.joinpath("merges.txt")


class OfficialRobertaTokenizer:
    """RoBERTa byte-level BPE with transformers-4.27 added-token splitting and stripping."""

    kind = "official-roberta"
    eos_token = "</s>"
    SPECIAL_IDS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 50264}
    SPEAKER_IDS = {token: 50265 + k for k, token in enumerate(SPEAKER_TOKENS)}

    def __init__(self, vocab_path, merges_path):
        from tokenizers import Tokenizer, models, pre_tokenizers

        self._files = (Path(str(vocab_path)), Path(str(merges_path)))
        self._bpe = Tokenizer(models.BPE.from_file(str(vocab_path), str(merges_path)))
        self._bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        self._ids = {**self.SPECIAL_IDS, **self.SPEAKER_IDS}
        longest_first = sorted(self._ids, key=len, reverse=True)
        self._splitter = regex.compile("(" + "|".join(map(regex.escape, longest_first)) + ")")
        self.mask_id, self.pad_id = self.SPECIAL_IDS["<mask>"], self.SPECIAL_IDS["<pad>"]

    @classmethod
    def default(cls):
        """The RoBERTa vocabulary shipped in telme/resources/roberta-tokenizer."""
        vocab, merges = _package_tokenizer_files()
        with resources.as_file(vocab) as vocab_path, resources.as_file(merges) as merges_path:
            return cls(vocab_path, merges_path)

    def _strip_around_added(self, parts):
        """Speaker tokens strip both neighbours, <mask> its left one, the others none."""
        for i in range(1, len(parts), 2):  # odd positions hold the added tokens
            token = parts[i]
            if token in self.SPEAKER_IDS:
                parts[i + 1] = parts[i + 1].lstrip()
            if token in self.SPEAKER_IDS or token == "<mask>":
                parts[i - 1] = parts[i - 1].rstrip()
        return parts

    def encode(self, prompt):
        """Token ids of `prompt`, no BOS/EOS added."""
        parts = self._strip_around_added(self._splitter.split(prompt))
        ids = []
        for i, part in enumerate(parts):
            if i % 2:
                ids.append(self._ids[part])
            elif part:
                ids.extend(self._bpe.encode(part, add_special_tokens=False).ids)
        return ids

    def save(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._files[0], folder / "vocab.json")
        shutil.copyfile(self._files[1], folder / "merges.txt")
        (folder / "prompt_tokenizer.json").write_text(json.dumps({"kind": self.kind}))


class HFPromptTokenizer:
    """Any transformers tokenizer, with the nine speaker tokens added as special tokens."""

    kind = "hf"

    def __init__(self, hf_tokenizer):
        missing = [t for t in SPEAKER_TOKENS if t not in hf_tokenizer.get_vocab()]
        if missing:
            hf_tokenizer.add_special_tokens({"additional_special_tokens": list(SPEAKER_TOKENS)})
        eos = hf_tokenizer.sep_token or hf_tokenizer.eos_token
        if eos is None or hf_tokenizer.mask_token_id is None or hf_tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer needs a sep or eos token, a mask token and a pad token")
        self.hf_tokenizer = hf_tokenizer
        self.eos_token = eos
        self.mask_id, self.pad_id = hf_tokenizer.mask_token_id, hf_tokenizer.pad_token_id

    @classmethod
    def from_pretrained(cls, name_or_path):
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(name_or_path)))

    def __len__(self):
        """Vocabulary size including the speaker tokens (the text model's embedding rows)."""
        return len(self.hf_tokenizer)

    def speaker_id(self, number):
        return self.hf_tokenizer.convert_tokens_to_ids(f"<s{number}>")

    def encode(self, prompt):
        # verbose=False: a dialogue longer than the model is fine here, its last ids are kept
        return self.hf_tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"]

    def save(self, folder):
        folder = Path(folder)
        self.hf_tokenizer.save_pretrained(str(folder))
        (folder / "prompt_tokenizer.json").write_text(json.dumps({"kind": self.kind}))


def load_prompt_tokenizer(folder, kind=None):
    """Rebuild a prompt tokenizer saved with `save(folder)`; `kind` defaults to the saved one."""
    folder = Path(folder)
    if kind is None:
        marker = folder / "prompt_tokenizer.json"
        if not marker.is_file():
            raise FileNotFoundError(f"{marker} is missing; pass kind='official-roberta' or 'hf'")
        kind = json.loads(marker.read_text())["kind"]
    if kind == OfficialRobertaTokenizer.kind:
        return OfficialRobertaTokenizer(folder / "vocab.json", folder / "merges.txt")
    if kind == HFPromptTokenizer.kind:
        return HFPromptTokenizer.from_pretrained(folder)
    raise ValueError(f"unknown prompt tokenizer kind {kind!r}")


def prompt_tokenizer_for(profile, hf_name_or_path=None):
    """The tokenizer a profile names: the packaged RoBERTa one, or `hf_name_or_path`."""
    if profile.text_tokenizer == OfficialRobertaTokenizer.kind:
        return OfficialRobertaTokenizer.default()
    if hf_name_or_path is None:
        raise ValueError(f"profile {profile.name!r} needs a transformers tokenizer path")
    return HFPromptTokenizer.from_pretrained(hf_name_or_path)


def dialogue_texts(dialogue, profile):
    """The utterance texts of a Dialogue as the profile feeds them (cp1252 fixed or not)."""
    texts = [utterance.text for utterance in dialogue]
    return [fix_cp1252(text) for text in texts] if profile.fix_cp1252 else texts
