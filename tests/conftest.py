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
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # ../shared stays as it is
    try:
        import seed_convert
    finally:
        sys.path.remove(REFERENCE_DIR)
        sys.dont_write_bytecode = writes_bytecode
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
    result, _ = local_run.run(
        input_pattern=corpus, pipeline_root=root, serving_dir=serving, settings=SETTINGS
    )
    return {"corpus": corpus, "root": root, "serving": serving, "first": result}


@pytest.fixture(scope="session")
def served(demo):
    """The first run's pushed SavedModel, loaded once (loading takes seconds). The version the first run
    pushed, not the newest: a test that reruns the demo pipeline may push another."""
    import tensorflow as tf

    return tf.saved_model.load(demo["first"].pushed_to)


# --------------------------------------------------------------------------- scheduling on xdist workers
# `make test` runs two workers with `--dist loadscope --no-loadscope-reorder` and the scheduler below: each
# group of tests runs on one worker, groups are handed out in collection order (sorted below, longest first),
# and a worker takes the next group when it is nearly done. A test file is a group (its module fixtures are
# built once), except that the files whose tests use the demo pipeline form one group, so the demo pipeline is
# built once per session instead of once per worker.
DEMO_GROUP = "demo-pipeline"
DEMO_FIXTURES = {"demo", "served"}
DEMO_FILES = {
    "test_benchmarks.py",
    "test_bulk_predict.py",
    "test_infra_validation.py",
    "test_pipeline_e2e.py",
    "test_report.py",
    "test_runs.py",
    "test_serve.py",
    "test_tflite.py",
}
# Seconds of one worker per group, measured with `--durations=0` on 2026-12-04 at 06:48 (only the order depends on
# them): the longest start first, so that the two workers finish together instead of one finishing a long file alone.
MEASURED_SECONDS = {
    DEMO_GROUP: 305,
    "test_faults.py": 99,
    "test_kubeflow_run_local.py": 65,
    "test_pipeline_real_drawings.py": 34,
    "test_conversion.py": 31,
    "test_data_validation.py": 26,
    "test_training.py": 12,
    "test_model.py": 12,
    "test_example_gen.py": 8,
    "test_layout.py": 7,
    "test_ink_tf.py": 7,
    "test_serve_units.py": 5,
}


def group_of(nodeid: str) -> str:
    """The group of a test: its file, or the demo pipeline's group."""
    path = nodeid.split("::")[0]
    return DEMO_GROUP if os.path.basename(path) in DEMO_FILES else path


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's loadscope scheduling, with `group_of` as the scope (xdist's own loadgroup does not regroup
    tests under pytest 9: it renames node ids through an attribute pytest no longer reads)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    strays = [
        item.nodeid
        for item in items
        if DEMO_FIXTURES & set(getattr(item, "fixturenames", ())) and group_of(item.nodeid) != DEMO_GROUP
    ]
    if strays:
        raise pytest.UsageError(
            f"{strays[0]} uses the demo pipeline: add its file to DEMO_FILES in tests/conftest.py, "
            "or the demo pipeline is built once more on the other worker"
        )
    # Longest group first; within a group, the collection order (a module's tests in their file order).
    items.sort(key=lambda item: -MEASURED_SECONDS.get(os.path.basename(group_of(item.nodeid)), 0))
