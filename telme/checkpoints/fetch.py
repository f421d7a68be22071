"""`telme fetch-official`: the authors' release (one Google Drive tarball) -> checked bundles.

    fetch_official(to, datasets=("meld", "iemocap"), archive=None, half=False) -> {dataset: bundle folder}

Steps: download model.tar.gz with gdown (resumable: an interrupted download stays as a .part file
next to it and the next run continues it), or take a local `archive`; check every member of the
tarball before anything is written (plain files and folders only, no absolute paths, no `..`, no
links, no devices); extract the wanted `<DATASET>/save_model/` folders with tarfile's "data"
filter; load each with `load_official`, which checks every tensor's name and shape against the
model built from the shipped full-size configs; write the bundles into a `.partial` folder and
move them into place only once all of them are whole. On any failure nothing is left in `to`
except a resumable download.
"""

import shutil
import sys
import tarfile
from pathlib import Path, PurePosixPath

from telme.checkpoints.errors import CheckpointError

DRIVE_FILE_ID = "1JIh77AqJ-mfME-nxv8r7hU3UZSrGukv0"  # the official README's model.tar.gz
ARCHIVE_NAME = "model.tar.gz"
DATASET_FOLDERS = {"meld": "MELD", "iemocap": "IEMOCAP"}  # top-level folders of the tarball
RELEASE_FOLDER = "save_model"
DOWNLOAD_FOLDER = ".download"  # inside `to`: the tarball (and its .part while downloading)
PARTIAL_FOLDER = ".partial"  # inside `to`: everything being built, renamed into place at the end
DEFAULT_DESTINATION = Path("weights")


class FetchError(CheckpointError):
    """The official release could not be downloaded, read or converted."""


class UnsafeArchive(FetchError):
    """A tarball member could write outside its folder (absolute path, `..`, link, device)."""


def fetch_official(to=DEFAULT_DESTINATION, datasets=("meld", "iemocap"), archive=None, half: bool = False,
                   backbones: dict | None = None, quiet: bool = False, log=None) -> dict:
    """Bundles `<to>/telme-<dataset>` for each dataset; returns {dataset: folder}.

    archive: a local model.tar.gz instead of the download. backbones: overrides of the backbone
    configs (telme.checkpoints.load_official), for releases with other backbones (tests: tiny ones).
    """
    log = log or _stderr
    to = Path(to)
    targets = {dataset: to / f"telme-{dataset}" for dataset in datasets}
    for dataset in datasets:
        if dataset not in DATASET_FOLDERS:
            raise ValueError(f"unknown dataset {dataset!r}: expected one of {sorted(DATASET_FOLDERS)}")
    present = [dataset for dataset, target in targets.items() if target.exists()]
    if present:
        raise FetchError(f"{', '.join(str(targets[d]) for d in present)} already exists: remove it to fetch again")
    created = not to.exists()
    to.mkdir(parents=True, exist_ok=True)
    partial = to / PARTIAL_FOLDER
    shutil.rmtree(partial, ignore_errors=True)  # a previous run's leftovers
    downloaded = False
    try:
        if archive is None:
            archive, downloaded = download_release(to / DOWNLOAD_FOLDER, quiet), True  # keeps its .part on failure
        built = build_bundles(Path(archive), partial, datasets, half, backbones, log)
        for dataset, folder in built.items():
            folder.rename(targets[dataset])
    except FetchError:
        if downloaded:  # not the release (or damaged): a retry must download afresh
            shutil.rmtree(to / DOWNLOAD_FOLDER, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        if created:
            _remove_if_empty(to)
    if downloaded:
        shutil.rmtree(to / DOWNLOAD_FOLDER, ignore_errors=True)  # converted: free its several GB
    return targets


def build_bundles(archive: Path, partial: Path, datasets, half: bool, backbones, log) -> dict:
    """Extract and convert each dataset's release into `partial`; returns {dataset: bundle folder}."""
    from telme.checkpoints.bundle import load_bundle, save_bundle
    from telme.checkpoints.official import load_official

    extracted = extract_release(archive, partial / "official", datasets)
    built = {}
    for dataset in datasets:
        log(f"checking and converting the {DATASET_FOLDERS[dataset]} release ...")
        try:
            model = load_official(extracted[dataset], dataset=dataset, backbones=backbones)
        except CheckpointError as error:
            inside = str(error).replace(f"{extracted[dataset]}/", f"{DATASET_FOLDERS[dataset]}/{RELEASE_FOLDER}/")
            raise FetchError(f"{archive}: the {DATASET_FOLDERS[dataset]} release does not fit the official "
                             f"layout ({inside}); the Drive file may have changed") from error
        if model.missing:
            raise FetchError(f"{archive}: the {DATASET_FOLDERS[dataset]} release is incomplete: "
                             f"{'; '.join(model.missing)}")
        model.card["source"] = f"Google Drive {DRIVE_FILE_ID} ({ARCHIVE_NAME}), {DATASET_FOLDERS[dataset]}/save_model"
        folder = save_bundle(model, partial / f"telme-{dataset}", name=f"telme-official-{dataset}", half=half)
        del model
        shutil.rmtree(extracted[dataset])  # the official copy is no longer needed: free the disk
        load_bundle(folder)  # the written bundle reads back: names, shapes, config, tokenizer
        built[dataset] = folder
    return built


def download_release(folder: Path, quiet: bool = False) -> Path:
    """model.tar.gz from Google Drive into `folder` via gdown; resumes a .part left by a previous try."""
    import gdown
    import requests

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / ARCHIVE_NAME
    try:
        path = gdown.download(id=DRIVE_FILE_ID, output=str(target), quiet=quiet, resume=True, retries=2)
    except (gdown.exceptions.DownloadError, requests.RequestException, OSError) as error:
        _remove_if_empty(folder)
        raise FetchError(f"could not download the official TelME release (Google Drive file {DRIVE_FILE_ID}): "
                         f"{_first_line(error)}; check the network, or download {ARCHIVE_NAME} yourself "
                         f"and pass --archive FILE") from error
    if path is None or not Path(path).is_file():
        _remove_if_empty(folder)
        raise FetchError(f"Google Drive file {DRIVE_FILE_ID} gave no file: the release may have moved")
    return Path(path)


def extract_release(archive: Path, destination: Path, datasets) -> dict:
    """Check every member of `archive`, then extract the wanted save_model/ folders.

    Returns {dataset: extracted save_model folder}. Raises UnsafeArchive before writing anything
    when any member is unsafe, FetchError when the tarball does not hold the wanted releases.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member, archive)
            roots = {dataset: release_root(members, dataset, archive) for dataset in datasets}
            wanted = [member for member in members
                      if any(_is_under(member.name, root) for root in roots.values())]
            destination.mkdir(parents=True, exist_ok=True)
            tar.extractall(destination, members=wanted, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError) and not Path(archive).exists():
            raise FetchError(f"{archive}: no such file") from error
        raise FetchError(f"{archive}: not a readable TelME release tarball ({_first_line(error)}); "
                         "the Drive file may have changed or the download is damaged") from error
    return {dataset: destination.joinpath(*PurePosixPath(root).parts) for dataset, root in roots.items()}


def check_member(member: tarfile.TarInfo, archive) -> None:
    """Refuse any member that is not a plain file or folder with a relative, inward path."""
    name = member.name
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or path.is_absolute():
        raise UnsafeArchive(f"{archive}: member {name!r} has an absolute path; refusing to extract anything")
    if ".." in path.parts or "\\" in name:
        raise UnsafeArchive(f"{archive}: member {name!r} points outside the folder; refusing to extract anything")
    if member.issym() or member.islnk():
        raise UnsafeArchive(f"{archive}: member {name!r} is a link (to {member.linkname!r}); "
                            "refusing to extract anything")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchive(f"{archive}: member {name!r} is not a plain file or folder; refusing to extract anything")


def release_root(members, dataset: str, archive) -> str:
    """The member path of `<DATASET>/save_model` (under any leading folder), e.g. "MELD/save_model"."""
    suffix = (DATASET_FOLDERS[dataset], RELEASE_FOLDER, "teacher.bin")
    for member in members:
        parts = PurePosixPath(member.name).parts
        if member.isfile() and parts[-3:] == suffix:
            return str(PurePosixPath(*parts[:-1]))
    tops = sorted({PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts})
    raise FetchError(f"{archive}: no {'/'.join(suffix)} in the tarball (top-level entries: "
                     f"{', '.join(tops) or 'none'}); the Drive file may have changed")


def add_fetch_arguments(parser) -> None:
    parser.add_argument("--dataset", choices=("meld", "iemocap", "both"), default="both",
                        help="which release to fetch (default: both)")
    parser.add_argument("--to", type=Path, default=DEFAULT_DESTINATION,
                        help=f"folder for the bundles telme-<dataset>/ (default: {DEFAULT_DESTINATION})")
    parser.add_argument("--archive", type=Path, help=f"a local {ARCHIVE_NAME} instead of the download")
    parser.add_argument("--half", action="store_true", help="store the weights as fp16 (half the disk)")
    parser.add_argument("--backbones", type=Path, help="JSON file {teacher|audio|video: {field: value}} "
                                                       "overriding the full-size backbone configs")
    parser.add_argument("--quiet", action="store_true", help="no download progress")
    parser.set_defaults(run=run_fetch)


def run_fetch(args) -> int:
    import json

    datasets = ("meld", "iemocap") if args.dataset == "both" else (args.dataset,)
    backbones = json.loads(args.backbones.read_text()) if args.backbones else None
    targets = fetch_official(args.to, datasets, archive=args.archive, half=args.half, backbones=backbones,
                             quiet=args.quiet)
    for dataset, folder in targets.items():
        print(f"wrote {folder} ({DATASET_FOLDERS[dataset]}); use it with:  --weights {folder}")
    return 0


def _is_under(name: str, root: str) -> bool:
    parts, root_parts = PurePosixPath(name).parts, PurePosixPath(root).parts
    return parts[: len(root_parts)] == root_parts


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


