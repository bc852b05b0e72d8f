"""``ConversionConfig``: every setting that decides the conversion's output bytes, declared once.

Its fields are the ``quickdraw convert`` / ``run`` / ``kubeflow compile`` flags, the
ExampleGen's execution parameters and the manifest's ``config`` block, all derived
from the declarations below (``components.settings``). Light: no Beam, no NumPy.

The module constants after it tune speed and memory only; they never change a byte.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from components import settings
from components.settings import at_least, between, setting

TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)
MAX_SALT_BYTES = 64  # BLAKE2b's key limit
# Real raw drawings run to a few thousand points; 20k is far above them and bounds what one
# hostile line can cost the trainer (a padded batch is as long as its longest drawing).
DEFAULT_MAX_POINTS = 20_000


def _salt_fits(salt: str) -> str | None:
    size = len(salt.encode("utf-8"))
    return None if size <= MAX_SALT_BYTES else f"must be at most {MAX_SALT_BYTES} bytes in UTF-8, got {size}"


@dataclasses.dataclass(frozen=True)
class ConversionConfig:
    """Everything that decides the output bytes (and nothing that does not)."""

    eval_fraction: float = setting(
        0.1, "share of drawings in the eval split (by hash of key_id)", between(0.0, 1.0)
    )
    shards: int = setting(10, "TFRecord shards per split", at_least(1))
    salt: str = setting(
        "quickdraw", "salt of the split/shard hash; change it to draw another split", _salt_fits
    )
    train_per_class: int | None = setting(
        None,
        "keep at most N train drawings per class (smallest hash: a uniform sample); default all",
        at_least(0),
    )
    eval_per_class: int | None = setting(None, "the same cap for eval", at_least(0))
    recognized_only: bool = setting(False, "keep only drawings the game recognised")
    max_points: int = setting(
        DEFAULT_MAX_POINTS,
        "reject drawings with more points; also the largest drawing the served model accepts",
        at_least(2),
    )

    def __post_init__(self) -> None:
        settings.validate(self)

    def cap(self, split: str) -> int | None:
        return self.train_per_class if split == TRAIN else self.eval_per_class

    def to_json(self) -> dict[str, Any]:
        return settings.to_dict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ConversionConfig:
        return settings.from_dict(cls, values)


# Speed and memory only (never the bytes written).
LINES_PER_BATCH = 16_384  # lines parsed per vectorised block
CHUNK_BYTES = 32 << 20  # input files are split into line-aligned chunks of about this size
SPILL_RECORDS = 200_000  # encoded drawings a parse worker buffers before spilling them to run files
READ_BLOCK_BYTES = 1 << 23  # bytes read from an input file at a time
PROGRESS_SECONDS = 10.0  # how often each conversion worker logs its progress
