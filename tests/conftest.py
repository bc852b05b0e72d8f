"""Shared fixtures: the real drawings and the seed's reference code live in ../shared."""

from __future__ import annotations

import os
import sys
import warnings

import pytest

from tests.e2e_support import demo, served  # noqa: F401  (session fixtures: the shared demo pipeline)

warnings.filterwarnings("ignore", message=".*non-supported Python version", category=FutureWarning)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUICKDRAW_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
REAL_DIR = os.path.join(SHARED, "data", "quickdraw")
RAW_DIR = os.path.join(SHARED, "data", "quickdraw-raw-sample")
REFERENCE_DIR = os.path.join(SHARED, "reference")

# In-process Beam: fast to start, and the tests that are about runners name theirs.
IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def _require(path: str, what: str) -> str:
    if not os.path.exists(path):
        pytest.skip(f"{what} not found at {path}: clone the repo with ../shared beside it")
    return path


@pytest.fixture(scope="session")
def real_dir() -> str:
    """../shared/data/quickdraw: 9,810 real simplified drawings, 345 classes."""
    return _require(REAL_DIR, "the real Quick, Draw! drawings")


@pytest.fixture(scope="session")
def raw_dir() -> str:
    """../shared/data/quickdraw-raw-sample: 100 raw drawings (with timings) of 10 classes."""
    return _require(RAW_DIR, "the raw-format sample")


@pytest.fixture(scope="session")
def seed_reference():
    """The seed tutorial's conversion (`seed_convert.py`), the golden reference for ink."""
    _require(os.path.join(REFERENCE_DIR, "seed_convert.py"), "the seed reference port")
    sys.path.insert(0, REFERENCE_DIR)
    try:
        import seed_convert
    finally:
        sys.path.remove(REFERENCE_DIR)
    return seed_convert


def ndjson_lines(directory: str) -> dict[str, list[bytes]]:
    """{file name: its lines} for every *.ndjson file of a directory."""
    out = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".ndjson"):
            with open(os.path.join(directory, name), "rb") as f:
                out[name] = f.read().splitlines()
    return out
