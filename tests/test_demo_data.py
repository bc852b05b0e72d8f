"""The procedural demo corpus: official schema, deterministic, varied."""

from __future__ import annotations

import json
import os

import numpy as np

from components.conversion import parsing
from pipeline.tools import demo_data


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path):
    demo_data.write_corpus(str(tmp_path / "a"), 40, 4, seed=1)
    demo_data.write_corpus(str(tmp_path / "b"), 40, 4, seed=1)
    demo_data.write_corpus(str(tmp_path / "c"), 40, 4, seed=2)
    names = sorted(os.listdir(tmp_path / "a"))
    assert names == ["circle.ndjson", "square.ndjson", "star.ndjson", "triangle.ndjson"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_lines_follow_the_official_simplified_schema(tmp_path):
    paths, _ = demo_data.write_corpus(str(tmp_path), 60, len(demo_data.SHAPES), seed=0)
    keys = set()
    for path in paths:
        lines = open(path, "rb").read().splitlines()
        assert len(lines) == 60
        parsed = parsing.parse_lines(lines, 1, path, parsing.ParseOptions(max_points=20_000))
        assert not parsed.rejections and len(parsed.drawings) == 60
        for text in lines:
            record = json.loads(text)
            assert list(record) == ["word", "countrycode", "timestamp", "recognized", "key_id", "drawing"]
            assert record["word"] == os.path.basename(path)[: -len(".ndjson")]
            assert record["timestamp"].endswith(" UTC") and len(record["countrycode"]) == 2
            values = [v for stroke in record["drawing"] for axis in stroke for v in axis]
            assert all(isinstance(v, int) and 0 <= v <= 255 for v in values)
            assert all(len(stroke) == 2 for stroke in record["drawing"])
            keys.add(record["key_id"])
    assert len(keys) == 60 * len(demo_data.SHAPES), "key_ids are unique"


def test_drawings_vary_like_real_ones():
    lines = list(demo_data.class_lines("square", 1, 300, seed=0))
    records = [json.loads(t) for t in lines]
    points = np.array([sum(len(s[0]) for s in r["drawing"]) for r in records])
    strokes = np.array([len(r["drawing"]) for r in records])
    recognized = np.array([r["recognized"] for r in records])
    assert 8 <= points.mean() <= 80 and points.std() > 3
    assert set(strokes) >= {1, 4}, "drawn as one outline or as separate sides"
    assert 0.5 < recognized.mean() < 0.98
    assert len({tuple(map(tuple, r["drawing"][0])) for r in records}) == len(records)


def test_key_ids_do_not_collide_across_seeds_and_classes():
    a = {json.loads(t)["key_id"] for t in demo_data.class_lines("circle", 0, 50, seed=0)}
    b = {json.loads(t)["key_id"] for t in demo_data.class_lines("square", 1, 50, seed=0)}
    c = {json.loads(t)["key_id"] for t in demo_data.class_lines("circle", 0, 50, seed=1)}
    assert not (a & b) and not (a & c)
