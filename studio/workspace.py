"""Where the studio writes files and keeps decoded media: one folder and one byte budget per session.

- `Workspaces`: one temporary folder per browser session (span cuts, exports, captioned clips)
  under one root made at start-up. A session's folder is removed when its tab closes
  (`demo.unload`) or its state expires (`gr.State` time-to-live), folders idle longer than
  `idle_seconds` are swept whenever a new one is made, and the root goes at exit.
- `MediaStore`: decoded per-utterance media (audio and frames) shared by all sessions, bounded in
  bytes with least-recently-used eviction; a session keeps only its key in `gr.State`, and a miss
  means "decode again".
- `Runs`: each session's latest streamed analysis (what the page last received, whether it was
  cancelled or stopped), so the Cancel button can stop it and say how far it got.
All are thread-safe: Gradio runs handlers in worker threads.
"""

import atexit
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SESSION_IDLE_SECONDS = 2 * 3600  # a session folder untouched this long is removed
MEDIA_STORE_BYTES = 512 * 2**20  # decoded media kept for all sessions together
SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")
ROOT_PREFIX = "telme-studio-"


def sweep_stale_roots(folder, idle_seconds, now=None):
    """Remove studio roots idle longer than `idle_seconds` (left by a process that was killed)."""
    now = time.time() if now is None else now
    for root in folder.glob(ROOT_PREFIX + "*"):
        if root.is_dir() and now - root.stat().st_mtime > idle_seconds:
            shutil.rmtree(root, ignore_errors=True)


class Workspaces:
    """Per-session temporary folders under one root (`root/<session>/`)."""

    def __init__(self, root=None, idle_seconds=SESSION_IDLE_SECONDS):
        self.idle_seconds = idle_seconds
        if root is None:
            sweep_stale_roots(Path(tempfile.gettempdir()), idle_seconds)
        self.root = Path(root or tempfile.mkdtemp(prefix=ROOT_PREFIX))
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        atexit.register(self.close)

    def folder(self, session):
        """The session's folder, made on first use and marked as used now."""
        path = self.root / (SAFE_NAME.sub("_", str(session or "local"))[:64] or "local")
        with self._lock:
            fresh = not path.exists()
            path.mkdir(parents=True, exist_ok=True)
            path.touch()  # its mtime says when it was last used
        if fresh:
            self.sweep()
        return path

    def release(self, session):
        """Remove the session's folder (its tab closed or its state expired)."""
        path = self.root / (SAFE_NAME.sub("_", str(session or "local"))[:64] or "local")
        with self._lock:
            shutil.rmtree(path, ignore_errors=True)

    def sweep(self, now=None):
        """Remove the folders of sessions idle longer than `idle_seconds`; returns their names."""
        now = time.time() if now is None else now
        removed = []
        with self._lock:
            for path in self.root.iterdir():
                if path.is_dir() and now - path.stat().st_mtime > self.idle_seconds:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
        return removed

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def media_bytes(media):
    """Memory held by per-utterance media (their audio and frames arrays)."""
    arrays = [getattr(item, name, None) for item in media or () for name in ("audio", "frames")]
    return sum(getattr(array, "nbytes", 0) for array in arrays if array is not None)


class MediaStore:
    """Decoded media by key, at most `max_bytes` in all; the least recently used goes first."""

    def __init__(self, max_bytes=MEDIA_STORE_BYTES):
        self.max_bytes = max_bytes
        self._items = OrderedDict()  # key -> (owner, media, bytes)
        self._lock = threading.Lock()

    @property
    def bytes(self):
        with self._lock:
            return sum(size for _, _, size in self._items.values())

    def __len__(self):
        return len(self._items)

    def put(self, key, owner, media):
        """Keep `media` under `key` (replacing `owner`'s earlier entries); False when too big."""
        size = media_bytes(media)
        with self._lock:
            for old in [k for k, (who, _, _) in self._items.items() if who == owner]:
                del self._items[old]
            if media is None or size > self.max_bytes:
                return False
            self._items[key] = (owner, media, size)
            total = sum(item[2] for item in self._items.values())
            while total > self.max_bytes:
                _, (_, _, evicted) = self._items.popitem(last=False)
                total -= evicted
        return True

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][1]

    def drop_owner(self, owner):
        with self._lock:
            for key in [k for k, (who, _, _) in self._items.items() if who == owner]:
                del self._items[key]


@dataclass
class Run:
    """One streamed analysis of one session."""

    delivered: object = None  # the last Session the page received (None: none yet)
    cancelled: bool = False  # Cancel was pressed: the analysis stops before its next step
    finished: bool = False  # it delivered its last step (nothing left to cancel)
    stopped: threading.Event = field(default_factory=threading.Event)  # set when its generator ended


class Runs:
    """The latest run per session (one entry per owner, dropped with the owner's other state)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._runs = {}

    @contextmanager
    def track(self, owner):
        """A new Run for `owner` while the block runs; it is marked stopped however the block ends."""
        run = Run()
        with self._lock:
            self._runs[owner] = run
        try:
            yield run
        finally:
            run.stopped.set()

    def cancel(self, owner, timeout):
        """Mark `owner`'s latest run cancelled and wait (at most `timeout` s) for it to stop; that run
        (it may have been stopped already by Gradio closing it), or None when there was none."""
        with self._lock:
            run = self._runs.get(owner)
        if run is not None and not run.finished:
            run.cancelled = True
            run.stopped.wait(timeout)
        return run

    def drop(self, owner):
        with self._lock:
            self._runs.pop(owner, None)
