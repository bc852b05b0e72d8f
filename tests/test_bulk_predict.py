"""`quickdraw predict --output DIR`: Beam's RunInference with the demo pipeline's pushed model, on real drawings.

The same top-k as the one-process command, the same bytes for any runner mode and on a rerun, a bad line
counted with its reason, and the conversion's TFRecord shards scored as the Evaluator scored them.
"""

from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pytest

from pipeline import bulk_predict, cli, predict, runs
from tests.support import BAD_LINES, IN_MEMORY

pytestmark = pytest.mark.slow  # Beam jobs with a SavedModel: `make test` only

CLASSES = 12  # files of real drawings scored (~300 drawings): enough rows for several batches per shard


@pytest.fixture(scope="module")
def corpus(real_dir, tmp_path_factory):
    """A dozen real class files and one file of the conversion's hostile lines."""
    base = tmp_path_factory.mktemp("bulk_predict_input")
    for name in sorted(os.listdir(real_dir))[:CLASSES]:
        if name.endswith(".ndjson"):
            shutil.copy(os.path.join(real_dir, name), base / name)
    with open(base / "hostile.ndjson", "wb") as f:
        f.write(b"\n".join(line for line, _ in BAD_LINES.values()) + b"\n")
    return str(base)


@pytest.fixture(scope="module")
def in_memory(demo, corpus, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("bulk_in_memory"))
    summary = bulk_predict.predict_corpus(
        [corpus], demo["serving"], output, shards=3, top_k=3, beam_args=IN_MEMORY
    )
    return output, summary


def _shards(output: str) -> dict[str, bytes]:
    out = {}
    for name in sorted(os.listdir(output)):
        with open(os.path.join(output, name), "rb") as f:
            out[name] = f.read()
    return out


def _lines(output: str) -> list[dict]:
    return [
        json.loads(line)
        for name, data in _shards(output).items()
        if name.startswith(bulk_predict.SHARD_PREFIX)
        for line in data.splitlines()
    ]


def _by_drawing(records) -> dict[tuple, list[list[dict]]]:
    """{(key_id, word): the top-k lists of the drawings with them, by their best score}."""
    grouped: dict[tuple, list[list[dict]]] = {}
    for r in records:
        grouped.setdefault((r["key_id"], r.get("word")), []).append(r["top_k"])
    return {k: sorted(v, key=lambda best: (best[0]["score"], best[0]["label"])) for k, v in grouped.items()}


def test_run_inference_gives_the_one_process_top_k_and_counts_every_bad_line(demo, corpus, in_memory):
    output, summary = in_memory
    files = sorted(os.path.join(corpus, n) for n in os.listdir(corpus))
    out, errors = io.StringIO(), io.StringIO()
    counts = predict.predict_files(demo["serving"], files, top_k=3, out=out, errors=errors)
    one_process = _by_drawing(json.loads(line) for line in out.getvalue().splitlines())
    beam = _by_drawing(_lines(output))
    # The same drawings (the hostile file repeats some key_ids: grouped), and each one's top-k.
    assert {k: len(v) for k, v in beam.items()} == {k: len(v) for k, v in one_process.items()}
    assert sum(map(len, beam.values())) == counts["predicted"] > 250
    for drawing, found in beam.items():
        for best, expected in zip(found, one_process[drawing]):
            # Other rows in a batch move a score in its last bits; the labels are the same unless scores tie.
            assert best[0]["label"] == expected[0]["label"], drawing
            assert all(abs(a["score"] - b["score"]) <= 2e-6 for a, b in zip(best, expected)), drawing
    # Every line is accounted for: the hostile ones are rejected with the one-process command's reasons.
    assert summary["counts"]["reconciled"] and summary["counts"]["predicted"] == counts["predicted"]
    assert summary["counts"]["rejected"] == counts["skipped"] > 0
    with open(os.path.join(output, "rejected.jsonl"), encoding="utf-8") as f:
        rejected = [json.loads(line) for line in f]
    hostile = os.path.join(corpus, "hostile.ndjson")
    skipped = [line.split(": skipped: ") for line in errors.getvalue().splitlines()]
    assert [(r["source"], r["line"], r["reason"]) for r in rejected] == [
        (path.rsplit(":", 1)[0], int(path.rsplit(":", 1)[1]), reason) for path, reason in skipped
    ]
    assert {r["source"] for r in rejected} == {hostile}
    assert sum(summary["rejected_by_reason"].values()) == len(rejected)
    assert summary["counts"]["top1"] == counts["top1"] and summary["counts"]["labelled"] == counts["labelled"]


def test_the_shards_are_byte_identical_across_runner_modes_and_reruns(demo, corpus, in_memory, tmp_path):
    output, _ = in_memory
    expected = _shards(output)
    assert {n for n in expected if n.startswith(bulk_predict.SHARD_PREFIX)} == {
        bulk_predict.shard_file(s, 3) for s in range(3)
    }
    processes = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    bulk_predict.predict_corpus(
        [corpus], demo["serving"], str(tmp_path), shards=3, top_k=3, beam_args=processes
    )
    assert _shards(str(tmp_path)) == expected
    bulk_predict.predict_corpus([corpus], demo["serving"], output, shards=3, top_k=3, beam_args=IN_MEMORY)
    assert _shards(output) == expected  # rerun into the same directory: the same bytes, nothing left over
    with pytest.raises(bulk_predict.PredictionsExist, match="another number of shards"):
        bulk_predict.check_output(output, 4)


def test_the_conversions_tfrecord_shards_are_scored_as_the_evaluator_scored_them(demo, tmp_path, capsys):
    first = demo["first"]
    examples = runs.find_run(demo["root"], "quickdraw", first.run_id).nodes[runs.EXAMPLE_GEN].uri("examples")
    code = cli.main(
        [
            "predict",
            "--model",
            first.pushed_to,
            "--output",
            str(tmp_path),
            *IN_MEMORY,
            os.path.join(examples, "Split-eval"),
        ]
    )
    assert code == 0
    with open(os.path.join(tmp_path, bulk_predict.SUMMARY_FILE), encoding="utf-8") as f:
        counts = json.load(f)["counts"]
    assert counts["predicted"] == counts["labelled"] == first.metrics["example_count"]
    assert counts["top1"] / counts["labelled"] == pytest.approx(first.metrics["sparse_categorical_accuracy"])
    assert f"predicted {counts['predicted']:,} drawings, rejected 0 lines" in capsys.readouterr().err


def test_beam_flags_without_output_are_refused(demo, corpus, capsys):
    code = cli.main(["predict", "--model", demo["serving"], "--direct_num_workers=2", corpus])
    assert code == 2 and "need --output DIR" in capsys.readouterr().err


def test_a_record_that_is_not_an_example_is_a_counted_rejection(demo, tmp_path):
    """Foreign records and a file whose framing breaks (a truncated copy) are counted with their reasons."""
    from components.conversion.tfrecord import write_records

    inputs = tmp_path / "in"
    inputs.mkdir()
    good = predict.ink_examples([np.array([[0.1, 0.2, 0.0], [0.3, 0.1, 1.0]], np.float32)])[0]
    with open(inputs / "foreign.tfrecord", "wb") as f:
        write_records(f, [good, b"\x01not a proto", b""])
    with open(inputs / "truncated.tfrecord", "wb") as f:
        write_records(f, [good])
        f.write(b"\x05\x00")
    summary = bulk_predict.predict_corpus(
        [str(inputs / "*.tfrecord")], demo["serving"], str(tmp_path / "out"), shards=1, beam_args=IN_MEMORY
    )
    assert summary["counts"] == {
        "lines_read": 5, "predicted": 2, "labelled": 0, "top1": 0, "topk": 0, "written": 2, "rejected": 3,
        "reconciled": True,
    }  # fmt: skip
    assert summary["rejected_by_reason"] == {
        bulk_predict.CORRUPT_TFRECORD: 1,
        bulk_predict.INVALID_EXAMPLE: 2,
    }
