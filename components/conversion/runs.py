"""Run files: spilled batches of encoded drawings of one (split, shard), or of any picklable sequence.

Drawings move from the parse workers (or, with caps, from the sampling step) to
the shard writers through these files: the shuffle then carries only their
names, so a local runner never holds the corpus in memory, and no runner
process copies it between workers. They live under a hidden ``.tmp-runs-*``
directory of the output, deleted when the manifest is written. ``quickdraw predict --output`` moves its
scored lines to its shard writers the same way (``pipeline.bulk_predict``).
"""

from __future__ import annotations

import pickle
import uuid
from typing import NamedTuple

from apache_beam.io.filesystems import FileSystems

from components.conversion.batch import EncodedDrawings

RUNS_DIR_PREFIX = ".tmp-runs-"


class RunFile(NamedTuple):
    """Where one spilled batch lies, and how many drawings it holds (checked on reading)."""

    path: str
    records: int


def write_run(runs_dir: str, key: tuple[str, int], batch: EncodedDrawings | list) -> RunFile:
    split, shard = key
    path = FileSystems.join(runs_dir, f"{split}-{shard:05d}-{uuid.uuid4().hex}.pkl")
    with FileSystems.create(path) as f:
        f.write(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    return RunFile(path, len(batch))


def read_run(run: RunFile) -> EncodedDrawings | list:
    with FileSystems.open(run.path) as f:
        batch = pickle.loads(f.read())
    if len(batch) != run.records:
        raise OSError(f"run file {run.path} holds {len(batch)} records, expected {run.records}")
    return batch
