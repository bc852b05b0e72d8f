"""The conversion job end to end, on real Beam, with the real drawings and hostile input."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components import features
from components.conversion import config as tuning
from components.conversion import files, parsing, splits, tfrecord
from components.conversion.config import ConversionConfig
from components.conversion.manifest import CLASSES_FILE, SPLIT_PREFIX
from components.conversion.runs import RUNS_DIR_PREFIX
from pipeline.convert import ConversionError, resolve_inputs, run_conversion
from tests.support import BAD_LINES, DEFAULTS, IN_MEMORY, ndjson_lines


def convert(input_dir, output_dir, beam_args=IN_MEMORY, overwrite=False, **config) -> dict:
    return run_conversion(
        str(input_dir), str(output_dir), ConversionConfig(**config), beam_args, overwrite=overwrite
    )


def read_split(output_dir, split: str) -> list[list[bytes]]:
    names = sorted(f for f in os.listdir(output_dir) if f.startswith(SPLIT_PREFIX[split] + "-"))
    shards = []
    for name in names:
        with open(os.path.join(output_dir, name), "rb") as f:
            shards.append(list(tfrecord.read_records(f)))
    return shards


def parse_all(records: list[bytes]) -> dict:
    parsed = tf.io.parse_example(tf.constant(records), features.full_parse_spec())
    return {
        "key_id": [k.decode() for k in parsed["key_id"].numpy()],
        "word": [w.decode() for w in parsed["word"].numpy()],
        "class_index": parsed["class_index"].numpy()[:, 0].tolist(),
        "shape": parsed["shape"].numpy().tolist(),
    }


def file_digests(output_dir) -> dict[str, str]:
    return {
        name: hashlib.sha256(open(os.path.join(output_dir, name), "rb").read()).hexdigest()
        for name in sorted(os.listdir(output_dir))
    }


@pytest.fixture(scope="module")
def real_output(real_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "tfrecord"
    manifest = convert(real_dir, out)
    return out, manifest


def test_real_corpus_counts_manifest_and_checksums(real_output, real_dir):
    out, manifest = real_output
    lines = sum(len(v) for v in ndjson_lines(real_dir).values())
    counts = manifest["counts"]
    assert counts == {
        "lines_read": lines,
        "written": lines,
        "rejected": 0,
        "filtered": 0,
        "over_cap": 0,
        "reconciled": True,
    }
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert len(manifest["shards"]) == 2 * DEFAULTS.shards
    for shard in manifest["shards"]:
        data = (out / shard["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
    assert manifest["splits"]["train"]["records"] + manifest["splits"]["eval"]["records"] == lines
    assert 0.08 < manifest["splits"]["eval"]["records"] / lines < 0.12
    assert {os.path.basename(i["path"]) for i in manifest["inputs"]} == set(ndjson_lines(real_dir))
    assert (out / "rejected.jsonl").read_text() == ""
    assert not [f for f in os.listdir(out) if f.startswith(".")], "temporary files left behind"


def test_real_corpus_classes_splits_shards_and_order(real_output, real_dir):
    out, manifest = real_output
    classes = (out / CLASSES_FILE).read_text().splitlines()
    words = {json.loads(t)["word"] for texts in ndjson_lines(real_dir).values() for t in texts}
    assert classes == sorted(words) and len(classes) == 345
    seen = set()
    for split in splits.SPLITS:
        for shard_index, records in enumerate(read_split(out, split)):
            if not records:
                continue
            parsed = parse_all(records)
            hashes = splits.key_hashes(parsed["key_id"], DEFAULTS.salt)
            assert (splits.is_eval(hashes, DEFAULTS.eval_fraction) == (split == splits.EVAL)).all()
            assert (splits.shard_of(hashes, DEFAULTS.shards) == shard_index).all()
            assert (np.diff(hashes.astype(np.float64)) >= 0).all(), "records are in hash order"
            assert [classes[i] for i in parsed["class_index"]] == parsed["word"]
            seen.update(parsed["key_id"])
            per_class = collections.Counter(parsed["word"])
            for word, n in per_class.items():
                assert manifest["splits"][split]["per_class"][word] >= n
    assert len(seen) == manifest["counts"]["written"]


def test_shards_hold_the_seeds_ink_and_the_tutorial_reads_them(real_output, real_dir, seed_reference):
    out, _ = real_output
    by_key = {}
    for texts in ndjson_lines(real_dir).values():
        for text in texts[:3]:
            by_key[json.loads(text)["key_id"]] = text
    written = [r for shard in read_split(out, splits.TRAIN) for r in shard]
    selected = [(r, k) for r, k in zip(written, parse_all(written)["key_id"]) if k in by_key]
    # The tutorial's input_fn parse spec, unchanged, on the records of the drawings compared.
    dataset = tf.data.Dataset.from_tensor_slices([r for r, _ in selected]).map(
        lambda r: tf.io.parse_single_example(r, features.seed_parse_spec())
    )
    checked = 0
    for seed_view, (_, key) in zip(dataset, selected):
        expected, _ = seed_reference.parse_line(by_key[key].decode())
        ink = tf.sparse.to_dense(seed_view["ink"]).numpy().reshape(seed_view["shape"].numpy())
        assert np.abs(ink - expected).max() <= 1e-6
        checked += 1
    assert checked > 500


@pytest.mark.slow  # multi-process Beam
def test_bytes_identical_across_runners_and_reruns(real_dir, tmp_path):
    first = convert(real_dir, tmp_path / "a", IN_MEMORY)
    convert(real_dir, tmp_path / "b", ["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    convert(real_dir, tmp_path / "c", ["--direct_running_mode=multi_threading", "--direct_num_workers=2"])
    again = convert(real_dir, tmp_path / "a", IN_MEMORY)  # a rerun into the same directory
    digests = file_digests(tmp_path / "a")
    assert digests == file_digests(tmp_path / "b") == file_digests(tmp_path / "c")
    assert first == again


def test_per_class_caps_keep_the_smallest_hashes(real_output, real_dir, tmp_path):
    manifest = convert(real_dir, tmp_path / "capped", train_per_class=5, eval_per_class=1)
    everything, uncapped = real_output  # the same corpus, uncapped
    for split, cap in ((splits.TRAIN, 5), (splits.EVAL, 1)):
        available = uncapped["splits"][split]["per_class"]
        kept = manifest["splits"][split]["per_class"]
        for word, n in available.items():
            assert kept.get(word, 0) == min(n, cap), (split, word)
            assert manifest["over_cap"][split].get(word, 0) == n - min(n, cap)
        # Exactly the drawings with the smallest hashes of each class.
        all_records = parse_all([r for shard in read_split(everything, split) for r in shard])
        expected = set()
        by_word = collections.defaultdict(list)
        for key, word in zip(all_records["key_id"], all_records["word"]):
            by_word[word].append((int(splits.key_hashes([key], DEFAULTS.salt)[0]), key))
        for items in by_word.values():
            expected.update(k for _, k in sorted(items)[:cap])
        got = parse_all([r for shard in read_split(tmp_path / "capped", split) for r in shard])
        assert set(got["key_id"]) == expected
    assert manifest["counts"]["reconciled"]
    assert manifest["counts"]["over_cap"] == uncapped["counts"]["written"] - manifest["counts"]["written"]
    # Each worker samples its share first; the result must not depend on how work was split.
    parallel = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    convert(real_dir, tmp_path / "capped-2", parallel, train_per_class=5, eval_per_class=1)
    assert file_digests(tmp_path / "capped") == file_digests(tmp_path / "capped-2")


def test_adding_drawings_never_moves_existing_ones(real_dir, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    for name, texts in ndjson_lines(real_dir).items():
        (small / name).write_bytes(b"\n".join(texts[:10]) + b"\n")
    convert(small, tmp_path / "out-small")
    convert(real_dir, tmp_path / "out-all")

    def placement(out):
        where = {}
        for split in splits.SPLITS:
            for shard, records in enumerate(read_split(out, split)):
                for key in parse_all(records)["key_id"] if records else []:
                    where[key] = (split, shard)
        return where

    before, after = placement(tmp_path / "out-small"), placement(tmp_path / "out-all")
    assert before and all(after[key] == where for key, where in before.items())


@pytest.fixture
def hostile_corpus(real_dir, tmp_path):
    """Real lines mixed with every kind of bad line, duplicates and odd files."""
    corpus = tmp_path / "hostile"
    corpus.mkdir()
    real = ndjson_lines(real_dir)
    cats, dogs = real["cat.ndjson"], real["dog.ndjson"]
    bad = [text for text, _ in BAD_LINES.values()]
    (corpus / "cat.ndjson").write_bytes(b"\n".join(cats[:10] + bad + cats[10:]) + b"\n")
    (corpus / "dog.ndjson").write_bytes(b"\n".join(dogs))  # no final newline
    (corpus / "empty.ndjson").write_bytes(b"")
    (corpus / "truncated.ndjson").write_bytes(b"\n".join(dogs[:3]) + b"\n" + dogs[3][:40])
    (corpus / "cat copy.ndjson").write_bytes(b"\n".join(cats[:4]) + b"\n")  # same class, other file name
    (corpus / "notes.ndjson").write_bytes(b"this is not NDJSON at all\nnor is this\n")
    return corpus, cats, dogs


def test_hostile_input_every_line_accounted_for(hostile_corpus, tmp_path):
    corpus, cats, dogs = hostile_corpus
    manifest = convert(corpus, tmp_path / "out")
    counts = manifest["counts"]
    total_lines = len(cats) + len(BAD_LINES) + len(dogs) + 0 + 4 + 4 + 2
    assert counts["lines_read"] == total_lines and counts["reconciled"]
    by_reason = collections.Counter(reason for _, reason in BAD_LINES.values())
    by_reason[parsing.INVALID_JSON] += 2 + 1  # notes.ndjson, and the truncated last line
    by_reason[parsing.DUPLICATE_KEY_ID] += 4 + 3  # "cat copy" repeats 4 cats, "truncated" 3 dogs
    assert manifest["rejected"]["by_reason"] == dict(sorted(by_reason.items()))
    assert counts["written"] == len(cats) + len(dogs)
    rejected = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert len(rejected) == counts["rejected"]
    cat_file = [
        r for r in rejected if r["source"].endswith("/cat.ndjson") and r["reason"] != parsing.DUPLICATE_KEY_ID
    ]
    assert [r["line"] for r in cat_file] == list(range(11, 11 + len(BAD_LINES)))
    assert [r["reason"] for r in cat_file] == [reason for _, reason in BAD_LINES.values()]
    duplicates = [r for r in rejected if r["reason"] == parsing.DUPLICATE_KEY_ID]
    # The copy kept is the one first in (file, line) order: "cat copy.ndjson" < "cat.ndjson".
    assert {os.path.basename(r["source"]) for r in duplicates} == {"cat.ndjson", "truncated.ndjson"}
    assert sorted(r["line"] for r in duplicates if r["source"].endswith("/cat.ndjson")) == [1, 2, 3, 4]
    assert all("already kept from" in r["text"] for r in duplicates)
    assert (tmp_path / "out" / CLASSES_FILE).read_text() == "cat\ndog\n"
    inputs = {os.path.basename(i["path"]): i["lines"] for i in manifest["inputs"]}
    assert inputs["empty.ndjson"] == 0 and inputs["truncated.ndjson"] == 4


def test_chunked_reading_gives_the_same_output(hostile_corpus, tmp_path, monkeypatch):
    corpus, _, _ = hostile_corpus
    whole = convert(corpus, tmp_path / "whole")
    monkeypatch.setattr(tuning, "CHUNK_BYTES", 2_000)
    monkeypatch.setattr(tuning, "LINES_PER_BATCH", 7)
    monkeypatch.setattr(tuning, "SPILL_RECORDS", 5)
    chunks = list(files.split_file(str(corpus / "cat.ndjson"), tuning.CHUNK_BYTES))
    assert len(chunks) > 3
    chunked = convert(corpus, tmp_path / "chunked")
    assert whole == chunked
    assert file_digests(tmp_path / "whole") == file_digests(tmp_path / "chunked")


def test_split_file_chunks_cover_the_file_with_exact_line_numbers(tmp_path):
    path = tmp_path / "f.ndjson"
    lines = [b"x" * (i % 13) for i in range(500)]
    path.write_bytes(b"\n".join(lines))  # no final newline
    chunks = list(files.split_file(str(path), 300))
    assert chunks[0].start == 0 and chunks[-1].end is None
    rebuilt = []
    for chunk in chunks:
        blocks = list(files.read_line_blocks(chunk, 1000))
        for first, block in blocks:
            assert first == len(rebuilt) + 1
            rebuilt.extend(block)
    assert rebuilt == lines


def test_recognized_only_filters_and_reconciles(real_dir, tmp_path):
    manifest = convert(real_dir, tmp_path / "out", recognized_only=True)
    counts = manifest["counts"]
    assert counts["filtered"] > 0 and counts["reconciled"]
    assert counts["written"] + counts["filtered"] == counts["lines_read"]


def test_output_holding_another_conversion_is_refused_unless_overwrite(real_dir, tmp_path):
    out = tmp_path / "out"
    convert(real_dir, out, shards=3)
    with pytest.raises(ConversionError, match="another configuration"):
        convert(real_dir, out, shards=2)
    convert(real_dir, out, shards=2, overwrite=True)
    assert sorted(f for f in os.listdir(out) if "-of-" in f)[-1] == "training.tfrecord-00001-of-00002"


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(ConversionError, match="does not exist"):
        resolve_inputs(str(tmp_path / "nowhere"))
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(ConversionError, match="no input files match"):
        resolve_inputs(str(tmp_path / "empty-dir"))


def test_cli_exit_codes_and_summary(real_dir, tmp_path):
    quickdraw = [sys.executable, "-m", "pipeline.cli"]
    missing = subprocess.run(
        quickdraw + ["convert", "--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "error: input" in missing.stderr and "does not exist" in missing.stderr
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(os.path.join(real_dir, "cat.ndjson"), small)
    ok = subprocess.run(
        quickdraw + ["convert", "--input", str(small), "--output", str(tmp_path / "o"), *IN_MEMORY],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("converted 25 lines from 1 files") and "1 classes" in ok.stdout
    stray = subprocess.run(
        quickdraw + ["convert", "--input", "x", "--output", "y", "oops"], capture_output=True, text=True
    )
    assert stray.returncode == 2 and "unexpected arguments: oops" in stray.stderr


def test_a_corpus_of_only_bad_lines_still_reconciles(tmp_path):
    corpus = tmp_path / "bad"
    corpus.mkdir()
    (corpus / "x.ndjson").write_bytes(b"\n".join(text for text, _ in BAD_LINES.values()) + b"\n")
    manifest = convert(corpus, tmp_path / "out")
    assert manifest["counts"]["written"] == 0 and manifest["counts"]["rejected"] == len(BAD_LINES)
    assert manifest["counts"]["reconciled"] and manifest["classes"]["count"] == 0
    assert (tmp_path / "out" / CLASSES_FILE).read_text() == ""
    assert all((tmp_path / "out" / s["file"]).stat().st_size == 0 for s in manifest["shards"])


def test_leftovers_of_an_interrupted_run_are_cleared(real_dir, tmp_path):
    out = tmp_path / "out"
    runs = out / (RUNS_DIR_PREFIX + "deadbeef")
    runs.mkdir(parents=True)
    (runs / "train-00000-x.pkl").write_bytes(b"partial")
    (out / ".tmp-training.tfrecord-00000-of-00010-abc").write_bytes(b"partial")
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(os.path.join(real_dir, "cat.ndjson"), small)
    convert(small, out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_gzipped_input_gives_the_same_shards(real_dir, tmp_path):
    import gzip

    plain, zipped = tmp_path / "plain", tmp_path / "zipped"
    plain.mkdir()
    zipped.mkdir()
    for name in ("cat.ndjson", "dog.ndjson"):
        data = open(os.path.join(real_dir, name), "rb").read()
        (plain / name).write_bytes(data)
        (zipped / f"{name}.gz").write_bytes(gzip.compress(data))
    a = convert(plain, tmp_path / "out-plain")
    b = convert(str(zipped / "*.ndjson.gz"), tmp_path / "out-zipped")
    assert a["counts"] == b["counts"] and a["counts"]["written"] == 50
    shards = [s["file"] for s in a["shards"]]
    assert {k: v for k, v in file_digests(tmp_path / "out-plain").items() if k in shards} == {
        k: v for k, v in file_digests(tmp_path / "out-zipped").items() if k in shards
    }
