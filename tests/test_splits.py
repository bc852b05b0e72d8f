"""Split and shard are a stable pure function of (key_id, salt)."""

from __future__ import annotations

import numpy as np
import pytest

from components.conversion import splits
from components.conversion.batch import EncodedDrawings, object_array
from components.conversion.transforms import BottomKFn


def test_hash_is_pinned_across_versions_and_processes():
    # Pinned values: a change here re-splits every user's data, so it must be deliberate.
    hashes = splits.key_hashes(["5201136883597312", "1"], "quickdraw")
    assert hashes.tolist() == [int(h) for h in splits.key_hashes(["5201136883597312", "1"], "quickdraw")]
    assert hashes.dtype == np.uint64
    import hashlib

    expected = int.from_bytes(hashlib.blake2b(b"1", digest_size=8, key=b"quickdraw").digest(), "big")
    assert int(hashes[1]) == expected


def test_salt_changes_the_split_and_long_salts_are_refused():
    a = splits.key_hashes([str(i) for i in range(100)], "a")
    b = splits.key_hashes([str(i) for i in range(100)], "b")
    assert (a != b).all()
    with pytest.raises(ValueError, match="at most 64 bytes"):
        splits.key_hashes(["1"], "x" * 65)


def test_eval_fraction_and_shards_are_uniform():
    hashes = splits.key_hashes([str(i) for i in range(200_000)], "quickdraw")
    assert abs(splits.is_eval(hashes, 0.1).mean() - 0.1) < 0.005
    assert splits.is_eval(hashes, 0.0).sum() == 0 and splits.is_eval(hashes, 1.0).all()
    counts = np.bincount(splits.shard_of(hashes, 7), minlength=7)
    assert counts.min() > 0.97 * len(hashes) / 7 and counts.max() < 1.03 * len(hashes) / 7


def test_adding_drawings_never_moves_an_existing_one():
    keys = [str(i) for i in range(1000)]
    before = splits.is_eval(splits.key_hashes(keys, "s"), 0.2)
    after = splits.is_eval(splits.key_hashes(keys + [str(i) for i in range(1000, 5000)], "s"), 0.2)
    np.testing.assert_array_equal(after[:1000], before)


def _batch(keys: list[str], lines: list[int]) -> EncodedDrawings:
    return EncodedDrawings(
        hash=splits.key_hashes(keys, "s"),
        key_id=object_array(keys),
        source=object_array(["f"] * len(keys)),
        line=np.asarray(lines),
        word=object_array(["w"] * len(keys)),
        tail=object_array([k.encode() for k in keys]),
    )


def test_bottom_k_is_the_same_whatever_the_merge_order():
    keys = [str(i) for i in range(300)] + ["7", "7"]  # a duplicate key_id twice more
    everything = _batch(keys, list(range(len(keys))))
    expected = everything.take(everything.sort_order()[:50])
    combine = BottomKFn(50)
    rng = np.random.default_rng(0)
    for _ in range(5):
        order = rng.permutation(len(keys))
        parts = [everything.take(p) for p in np.array_split(order, 7)]
        accumulators = []
        for part in parts:
            accumulators.append(combine.add_input(combine.create_accumulator(), (part, len(part))))
        kept, seen = combine.extract_output(combine.merge_accumulators(accumulators[::-1]))
        assert seen == len(keys)
        assert list(kept.key_id) == list(expected.key_id) and list(kept.line) == list(expected.line)


def test_duplicates_sort_together_and_the_first_by_source_line_is_kept():
    batch = _batch(["a", "b", "a", "c", "a"], [9, 2, 4, 5, 1])
    ordered = batch.take(batch.sort_order())
    duplicate = ordered.duplicate_mask()
    kept = ordered.take(np.flatnonzero(~duplicate))
    assert sorted(kept.key_id) == ["a", "b", "c"]
    assert int(kept.line[list(kept.key_id).index("a")]) == 1
    assert duplicate.sum() == 2
