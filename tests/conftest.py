"""Fixtures only (helpers live in ``tests/support.py``): ../shared's data, the seed's code, the demo pipeline."""

from __future__ import annotations

import os
import sys
import warnings

import pytest

from tests.support import DEMO_CLASSES, RAW_DIR, REAL_DIR, REFERENCE_DIR, SETTINGS, require

warnings.filterwarnings("ignore", message=".*non-supported Python version", category=FutureWarning)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def real_dir() -> str:
    """../shared/data/quickdraw: 9,810 real simplified drawings, 345 classes."""
    return require(REAL_DIR, "the real Quick, Draw! drawings")


@pytest.fixture(scope="session")
def raw_dir() -> str:
    """../shared/data/quickdraw-raw-sample: 100 raw drawings (with timings) of 10 classes."""
    return require(RAW_DIR, "the raw-format sample")


@pytest.fixture(scope="session")
def seed_reference():
    """The seed tutorial's conversion (`seed_convert.py`), the golden reference for ink."""
    require(os.path.join(REFERENCE_DIR, "seed_convert.py"), "the seed reference port")
    sys.path.insert(0, REFERENCE_DIR)
    try:
        import seed_convert
    finally:
        sys.path.remove(REFERENCE_DIR)
    return seed_convert


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A first run of the whole pipeline on 6 demo classes: its outcome and paths."""
    from pipeline import local_run
    from pipeline.tools import demo_data

    base = tmp_path_factory.mktemp("e2e")
    corpus = str(base / "ndjson")
    demo_data.write_corpus(corpus, per_class=120, classes=DEMO_CLASSES, seed=0)
    root, serving = str(base / "root"), str(base / "serving")
    result, _ = local_run.run(corpus, root, serving, SETTINGS)
    return {"corpus": corpus, "root": root, "serving": serving, "first": result}


@pytest.fixture(scope="session")
def served(demo):
    """The pushed SavedModel, loaded once (loading takes seconds)."""
    import tensorflow as tf

    from pipeline import predict

    return tf.saved_model.load(predict.resolve_model_dir(demo["serving"]))
