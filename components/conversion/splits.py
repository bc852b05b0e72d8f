"""Split, shard and sampling order of a drawing: a pure function of (key_id, salt).

The 64-bit hash is keyed BLAKE2b (stable across processes, machines and Python
versions, unlike ``hash()``). Its top 53 bits decide the split, its low 32 bits
the shard, and the whole value orders drawings for per-class sampling and inside
each shard. Adding drawings to the corpus therefore never moves an existing
drawing to the other split or shard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from components.conversion.config import EVAL, MAX_SALT_BYTES, SPLITS, TRAIN

__all__ = ["EVAL", "SPLITS", "TRAIN", "check_salt", "eval_threshold", "is_eval", "key_hashes", "shard_of"]


def check_salt(salt: str) -> bytes:
    encoded = salt.encode("utf-8")
    if len(encoded) > MAX_SALT_BYTES:
        raise ValueError(f"--salt must be at most {MAX_SALT_BYTES} bytes in UTF-8, got {len(encoded)}")
    return encoded


def key_hashes(key_ids: Iterable[str], salt: str) -> np.ndarray:
    """uint64 hash of each key_id under ``salt``."""
    key = check_salt(salt)
    blake2b = hashlib.blake2b
    return np.fromiter(
        (int.from_bytes(blake2b(k.encode("utf-8"), digest_size=8, key=key).digest(), "big") for k in key_ids),
        dtype=np.uint64,
    )


def eval_threshold(eval_fraction: float) -> int:
    if not 0.0 <= eval_fraction <= 1.0:
        raise ValueError(f"eval fraction must be in [0, 1], got {eval_fraction}")
    return round(eval_fraction * (1 << 53))


def is_eval(hashes: np.ndarray, eval_fraction: float) -> np.ndarray:
    """True where the drawing belongs to the eval split (a fraction ≈ eval_fraction)."""
    return (hashes >> np.uint64(11)) < np.uint64(eval_threshold(eval_fraction))


def shard_of(hashes: np.ndarray, shards: int) -> np.ndarray:
    """Shard index in [0, shards): multiply-shift on the hash's low 32 bits."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    low = hashes & np.uint64(0xFFFFFFFF)
    return ((low * np.uint64(shards)) >> np.uint64(32)).astype(np.int64)
