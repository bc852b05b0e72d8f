"""Helpers the tests share: where ../shared lies, small corpora, bad lines, the demo pipeline's settings.

Imported by test modules (``from tests.support import …``); ``conftest.py`` holds only
fixtures. Benchmarks do not import from ``tests/``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest

from components.conversion import parsing
from components.conversion.config import ConversionConfig
from components.data_validation.config import ValidationConfig
from components.infra_validation.config import InfraValidationConfig
from components.training.config import ModelConfig, TrainingConfig
from pipeline import runs
from pipeline.configs import PipelineConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUICKDRAW_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
REAL_DIR = os.path.join(SHARED, "data", "quickdraw")
RAW_DIR = os.path.join(SHARED, "data", "quickdraw-raw-sample")
REFERENCE_DIR = os.path.join(SHARED, "reference")

# In-process Beam: fast to start, and the tests that are about runners name theirs.
IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
DEFAULTS = ConversionConfig()
MAX_POINTS = DEFAULTS.max_points


def require(path: str, what: str) -> str:
    """``path``, or skip the test saying where ``what`` was looked for."""
    if not os.path.exists(path):
        pytest.skip(f"{what} not found at {path}: clone the repo with ../shared beside it")
    return path


def copy_sources(destination: str) -> str:
    """A copy of ``components/`` and ``pipeline/`` under ``destination``: a tree to edit for the cache keys."""
    for folder in ("components", "pipeline"):
        shutil.copytree(
            os.path.join(REPO, folder),
            os.path.join(destination, folder),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return str(destination)


def ndjson_lines(directory: str) -> dict[str, list[bytes]]:
    """{file name: its lines} for every *.ndjson file of a directory."""
    out = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".ndjson"):
            with open(os.path.join(directory, name), "rb") as f:
                out[name] = f.read().splitlines()
    return out


def write_ndjson(folder, corpus: dict[str, list[dict]]) -> str:
    """Writes {file name: its rows} as NDJSON files into ``folder`` (made if missing); returns the folder."""
    os.makedirs(folder, exist_ok=True)
    for name, rows in corpus.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
    return str(folder)


# --------------------------------------------------------------------------- lines, good and bad

GOOD = {
    "word": "cat",
    "countrycode": "US",
    "timestamp": "2017-03-01 00:00:00.00000 UTC",
    "recognized": True,
    "key_id": "123",
    "drawing": [[[0, 10, 20], [0, 5, 0]], [[3, 4], [9, 9]]],
}


def line(**changes) -> bytes:
    record = dict(GOOD, **changes)
    for key, value in changes.items():
        if value is ...:
            del record[key]
    return json.dumps(record).encode()


BAD_LINES = {
    "blank": (b"", parsing.BLANK_LINE),
    "spaces": (b"   \t", parsing.BLANK_LINE),
    "not utf-8": (b'{"word": "caf\xe9"}', parsing.INVALID_UTF8),
    "not json": (b'{"word": "cat", ', parsing.INVALID_JSON),
    "truncated mid-line": (line()[:-7], parsing.INVALID_JSON),
    "a list": (b"[1, 2, 3]", parsing.NOT_AN_OBJECT),
    "a number": (b"42", parsing.NOT_AN_OBJECT),
    "no word": (line(word=...), parsing.MISSING_WORD),
    "null word": (line(word=None), parsing.MISSING_WORD),
    "empty word": (line(word=""), parsing.INVALID_WORD),
    "numeric word": (line(word=7), parsing.INVALID_WORD),
    "no key_id": (line(key_id=...), parsing.MISSING_KEY_ID),
    "empty key_id": (line(key_id=""), parsing.INVALID_KEY_ID),
    "list key_id": (line(key_id=[1]), parsing.INVALID_KEY_ID),
    "numeric countrycode": (line(countrycode=1), parsing.INVALID_COUNTRYCODE),
    "string recognized": (line(recognized="yes"), parsing.INVALID_RECOGNIZED),
    "no drawing": (line(drawing=...), parsing.MISSING_DRAWING),
    "drawing not a list": (line(drawing="abc"), parsing.INVALID_DRAWING),
    "too shallow": (line(drawing=[[1, 2], [3, 4]]), parsing.INVALID_DRAWING),
    "too deep": (line(drawing=[[[[1]], [[2]]]]), parsing.INVALID_DRAWING),
    "one axis": (line(drawing=[[[1, 2]]]), parsing.INVALID_DRAWING),
    "four axes": (line(drawing=[[[1], [2], [3], [4]]]), parsing.INVALID_DRAWING),
    "string coordinate": (line(drawing=[[["1", 2], [3, 4]]]), parsing.INVALID_DRAWING),
    "bool coordinate": (line(drawing=[[[True, 2], [3, 4]]]), parsing.INVALID_DRAWING),
    "null coordinate": (line(drawing=[[[None, 2], [3, 4]]]), parsing.INVALID_DRAWING),
    "null stroke": (line(drawing=[None]), parsing.INVALID_DRAWING),
    "x/y lengths differ": (line(drawing=[[[1, 2, 3], [4, 5]]]), parsing.MISMATCHED_STROKE_LENGTHS),
    "NaN": (b'{"word":"cat","key_id":"1","drawing":[[[NaN,1],[2,3]]]}', parsing.NON_FINITE_COORDINATE),
    "Infinity": (
        b'{"word":"cat","key_id":"1","drawing":[[[1,2],[Infinity,3]]]}',
        parsing.NON_FINITE_COORDINATE,
    ),
    "beyond float32": (line(drawing=[[[1e39, 2], [3, 4]]]), parsing.NON_FINITE_COORDINATE),
    "beyond float64": (
        b'{"word":"cat","key_id":"1","drawing":[[[1e400,2],[3,4]]]}',
        parsing.NON_FINITE_COORDINATE,
    ),
    "no strokes": (line(drawing=[]), parsing.EMPTY_DRAWING),
    "empty strokes": (line(drawing=[[[], []]]), parsing.EMPTY_DRAWING),
    "one point": (line(drawing=[[[1], [2]]]), parsing.TOO_FEW_POINTS),
    "too many points": (
        line(drawing=[[list(range(MAX_POINTS + 1)), [0] * (MAX_POINTS + 1)]]),
        parsing.TOO_MANY_POINTS,
    ),
}


# --------------------------------------------------------------------------- the demo pipeline
# Every component of the pipeline by node id, resolvers aside, and those the DataGate gates: as the pipeline names them.
PIPELINE_COMPONENTS = runs.COMPONENTS
GATED_COMPONENTS = runs.GATED

# One small pipeline root on 6 demo classes, built once per test session (the `demo` fixture).
# The model is shrunk (one 16-unit BiLSTM, 80 steps) so that a run takes about a minute.

DEMO_CLASSES = 6
SMALL = TrainingConfig(
    batch_size=32, model=ModelConfig(lstm_units=16, lstm_layers=1, learning_rate=5e-3, dropout=0.1)
)
# Padded batches on the demo corpus, as `make demo`: its classes differ in length, so length-sorted batches
# hold few classes and an 80-step model learns some classes not at all (BENCHMARKS.md, bucketing).
SETTINGS = PipelineConfig(
    train_steps=80,
    eval_steps=4,
    accuracy_threshold=0.4,
    conversion=ConversionConfig(shards=2),
    validation=ValidationConfig(schema="demo"),
    training=dataclasses.replace(SMALL, bucket_by_length=False),
    # Every length up to 24 points in the warm-up file: the mechanism, without 200 first calls per server load.
    infra_validation=InfraValidationConfig(infra_warmup_points=24),
)
# The same settings as `quickdraw run` flags.
SETTINGS_FLAGS = [
    "--train-steps", "80", "--eval-steps", "4", "--shards", "2", "--batch-size", "32", "--lstm-units", "16",
    "--lstm-layers", "1", "--learning-rate", "0.005", "--dropout", "0.1", "--schema", "demo", "--no-bucket-by-length",
    "--infra-warmup-points", "24",
]  # fmt: skip
