"""Shared test setup: offline, no analytics, and the ../shared reference folder when present."""

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TELME_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference"
DATA = SHARED / "data"
SCRIPTS = REPO / "scripts"


def load_script(name):
    """scripts/NAME.py as a module (the scripts are not a package), for tests of their functions."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def reference_dir() -> Path:
    """../shared/reference (official golden vectors); skips when this checkout has none."""
    if not REFERENCE.is_dir():
        pytest.skip(f"golden reference folder {REFERENCE} is absent (it ships beside the repo for CI, not in a clone)")
    return REFERENCE


@pytest.fixture
def data_dir() -> Path:
    """../shared/data (MELD / IEMOCAP text splits); skips when absent."""
    if not DATA.is_dir():
        pytest.skip(f"dataset folder {DATA} is absent (it ships beside the repo for CI, not in a clone)")
    return DATA
