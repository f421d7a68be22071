"""Loading and saving TelME weights: the official release layout and the project's bundle.

    load_official(folder, dataset="meld", backbones=None)   official torch pickles (weights_only)
    load_bundle(path_or_repo_id, revision=None)             config.json + model.safetensors
    load_model(spec=None)                                    either, decided by what `spec` is
    save_bundle(model, folder) / convert_official(src, dst, dataset)
"""

from pathlib import Path

from telme.checkpoints.bundle import (
    CONFIG_FILE,
    UnpinnedRevisionWarning,
    convert_official,
    load_bundle,
    save_bundle,
)
from telme.checkpoints.container import PARTS, TelME
from telme.checkpoints.errors import (
    CheckpointError,
    KeyMismatch,
    LabelCountMismatch,
    MissingCheckpoint,
    ShapeMismatch,
    UnsafeCheckpoint,
)
from telme.checkpoints.official import OFFICIAL_FILES, load_official

DEFAULT_BUNDLE = Path("checkpoints") / "telme-mpnet-meld"  # looked up in the working dir, then the repo
FAST_BUNDLE = Path("checkpoints") / "telme-mini-meld"  # MiniLM-L6: about 3x cheaper per utterance, weaker


def load_model(spec=None, dataset: str = "meld", revision: str | None = None, backbones: dict | None = None) -> TelME:
    """Load weights from whatever `spec` names.

    spec: None (the default bundle checkpoints/telme-mpnet-meld), a bundle folder (has
    config.json), an official release folder (has teacher.bin or save_model/teacher.bin), or a
    Hub repo id "owner/name" or "owner/name@revision". `dataset` and `backbones` apply to
    official folders only; `revision` to repo ids.
    """
    if isinstance(spec, TelME):
        return spec
    if spec is None:
        return load_bundle(default_bundle_path())
    path = Path(spec)
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            return load_bundle(path)
        return load_official(path, dataset=dataset, backbones=backbones)
    repo_id, _, pinned = str(spec).partition("@")
    return load_bundle(repo_id, revision=pinned or revision)


def default_bundle_path(bundle: Path = DEFAULT_BUNDLE) -> Path:
    """`bundle` (checkpoints/telme-mpnet-meld) in the working directory or next to the telme package."""
    candidates = [Path.cwd() / bundle, Path(__file__).resolve().parents[2] / bundle]
    for candidate in candidates:
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise MissingCheckpoint("default TelME bundle (pass --weights or a path)", candidates)


__all__ = [
    "CheckpointError",
    "DEFAULT_BUNDLE",
    "FAST_BUNDLE",
    "KeyMismatch",
    "LabelCountMismatch",
    "MissingCheckpoint",
    "OFFICIAL_FILES",
    "PARTS",
    "ShapeMismatch",
    "TelME",
    "UnpinnedRevisionWarning",
    "UnsafeCheckpoint",
    "convert_official",
    "default_bundle_path",
    "load_bundle",
    "load_model",
    "load_official",
    "save_bundle",
]
