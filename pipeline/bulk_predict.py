"""``quickdraw predict --output DIR``: a whole corpus scored with Beam's ``RunInference``, into deterministic shards.

The one-process ``quickdraw predict`` reads one file after another; this is the same command for a corpus:
the same parsing and reasons, the same ink, the same ``serving_default`` signature and the same JSON lines,
on the DirectRunner in several processes here and on Dataflow unchanged. ``ScoreDrawings`` is composed of
named steps, as the conversion is:

1. ``ReadDrawings``: NDJSON files cut into line-aligned chunks (the conversion's) and parsed line by line as
   the one-process command parses them, or the conversion's TFRecord shards read record by record; the
   drawings that follow each other in a file are cut into batches of ``batch_size``. A line or record that
   cannot be scored becomes a ``Rejection`` with its reason, never an error of the job.
2. ``RunInference``, Beam's, with ``TopKModelHandler``: one ``serving_default`` call per batch; the model is
   loaded once per worker process and shared by its threads.
3. ``WritePredictions``: a drawing's output shard is a hash of its key_id (of ``file:line`` without one);
   each worker spills its scored lines per shard to run files (the conversion's), so only file names cross
   the shuffle; each shard's lines, sorted by that hash, are written under a temporary name and renamed
   (every shard, an empty one too). ``WriteRejections`` (the conversion's): ``rejected.jsonl``; last,
   ``summary.json``, which reconciles every line read: read = predicted + rejected, written = predicted.

The batches are made where the drawings are read, from their positions in the files, not by the runner: a
model's scores move in their last bits with the other rows of a batch, so batches made from a runner's bundles
would not give the same bytes twice. Nor do the scored lines travel through the runner: on Beam 2.74's
multi-process DirectRunner, a run that shuffled them lost one 10 MB data message of a 1M-drawing job (caught
by the reconciliation, never reproduced at will), while file names are what the conversion has always
shuffled.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from components import features as F
from components.conversion import parsing, splits
from components.conversion.config import CHUNK_BYTES, LINES_PER_BATCH
from components.conversion.files import (
    ConversionError,
    delete_tree,
    read_line_blocks,
    resolve_inputs,
    split_file,
    write_atomically,
)
from components.conversion.runs import RUNS_DIR_PREFIX, RunFile, read_run, write_run
from components.conversion.tfrecord import read_records
from components.conversion.transforms import SumCounts, WriteRejections
from components.errors import UserError
from pipeline import predict
from pipeline.convert import beam_options, delete_leftovers, local_runner

SHARD_PREFIX = "predictions"
SUMMARY_FILE = "summary.json"  # written last: only a directory with one holds finished predictions
SUMMARY_FORMAT = "quickdraw-pipeline/predict/v1"
DEFAULT_SHARDS = 10
INVALID_EXAMPLE = "invalid tf.Example"  # a TFRecord record without a usable ink feature
CORRUPT_TFRECORD = "corrupt TFRecord"  # a file whose framing breaks: the records after it cannot be read
_COUNTED = ("predicted", "labelled", "top1", "topk")  # per worker, then summed
SPILL_LINES = 100_000  # scored lines a worker buffers before writing them to run files
_COUNTS = "counts"
_REJECTED = "rejected"
_LINES = "lines"


def shard_file(shard: int, shards: int) -> str:
    return f"{SHARD_PREFIX}-{shard:05d}-of-{shards:05d}.jsonl"


def is_tfrecord(path: str) -> bool:
    """The conversion's shards (``training.tfrecord-…``, an ExampleGen's ``data_tfrecord-…``); else NDJSON."""
    return "tfrecord" in os.path.basename(path)


class Row(NamedTuple):
    """A drawing in a batch: its place in its output shard, and its identity."""

    shard: int
    order: tuple[int, str, str, int]  # (hash, key_id or "", file, line): the drawing's place in its shard
    key_id: str | None
    word: str | None


class ScoringBatch(NamedTuple):
    """One model call: up to ``batch_size`` drawings that follow each other in one input file."""

    rows: list[Row]
    examples: list[bytes]  # serving_default's input, one serialized tf.Example per row


def _batches(drawings: list[tuple], shards: int, batch_size: int) -> Iterator[ScoringBatch]:
    """(key_id, word, ink, file, line) tuples, in file order → ``ScoringBatch``es of consecutive drawings."""
    if not drawings:
        return
    keys = [key_id if key_id is not None else f"{source}:{line}" for key_id, _, _, source, line in drawings]
    hashes = splits.key_hashes(keys, "")
    rows = [
        Row(int(shard), (int(value), key_id or "", source, line), key_id, word)
        for (key_id, word, _, source, line), value, shard in zip(
            drawings, hashes, splits.shard_of(hashes, shards)
        )
    ]
    for start in range(0, len(drawings), batch_size):
        inks = [ink for _, _, ink, _, _ in drawings[start : start + batch_size]]
        yield ScoringBatch(rows[start : start + batch_size], predict.ink_examples(inks))


class ParseNdjsonFn(beam.DoFn):
    """A chunk of an NDJSON file → ``ScoringBatch``es; rejections and the lines read on side outputs."""

    def __init__(self, shards: int, max_points: int, batch_size: int) -> None:
        self._shards, self._max_points, self._batch_size = shards, max_points, batch_size

    def process(self, chunk) -> Iterator[Any]:
        for first, lines in read_line_blocks(chunk, LINES_PER_BATCH):
            usable, rejected = [], []
            for number, line in enumerate(lines, start=first):
                parsed = predict.parse_drawing(chunk.path, number, line, self._max_points)
                if isinstance(parsed, str):
                    rejected.append(
                        parsing.Rejection(chunk.path, number, parsed, parsing.decode_for_report(line))
                    )
                else:
                    usable.append(parsed)
            inks = predict.inks(usable) if usable else []
            yield from _batches(
                [(d.key_id, d.word, ink, d.source, d.line) for d, ink in zip(usable, inks)],
                self._shards,
                self._batch_size,
            )
            if rejected:
                yield beam.pvalue.TaggedOutput(_REJECTED, rejected)
            yield beam.pvalue.TaggedOutput(_LINES, {"lines_read": len(lines)})


def _drawing_of_record(record: bytes) -> tuple[str | None, str | None, np.ndarray] | str:
    """A conversion ``tf.Example`` → (key_id, word, ink), or why it cannot be scored."""
    from tensorflow.core.example import example_pb2

    try:
        feature = example_pb2.Example.FromString(record).features.feature
        ink = np.asarray(feature[F.INK].float_list.value, np.float32).reshape(-1, 3)
        key_id, word = (
            feature[name].bytes_list.value[0].decode("utf-8") if feature[name].bytes_list.value else None
            for name in (F.KEY_ID, F.WORD)
        )
    except Exception as error:  # a foreign record: counted with its reason, the rest scored
        return f"{type(error).__name__}: {str(error)[:200]}"
    if not len(ink) or not np.isfinite(ink).all():
        return "no finite ink"
    return key_id, word, ink


class ReadTFRecordFn(beam.DoFn):
    """A TFRecord file of the conversion's ``tf.Example``s → ``ScoringBatch``es; a record is a "line"."""

    def __init__(self, shards: int, batch_size: int) -> None:
        self._shards, self._batch_size = shards, batch_size

    def process(self, path: str) -> Iterator[Any]:
        usable, rejected, read = [], [], 0
        with FileSystems.open(path) as f:
            records = iter(read_records(f))
            while True:
                try:
                    record = next(records, None)
                except ValueError as error:  # broken framing: the rest of the file is one rejected "record"
                    read += 1
                    rejected.append(parsing.Rejection(path, read, CORRUPT_TFRECORD, str(error)))
                    break
                if record is None:
                    break
                read += 1
                drawing = _drawing_of_record(record)
                if isinstance(drawing, str):
                    rejected.append(parsing.Rejection(path, read, INVALID_EXAMPLE, drawing))
                else:
                    usable.append((*drawing, path, read))
        yield from _batches(usable, self._shards, self._batch_size)
        if rejected:
            yield beam.pvalue.TaggedOutput(_REJECTED, rejected)
        yield beam.pvalue.TaggedOutput(_LINES, {"lines_read": read})


class ReadDrawings(beam.PTransform):
    """PBegin → ``ScoringBatch``es; ``rejected`` (lists of ``Rejection``) and ``lines`` (counts)."""

    def __init__(self, files: Sequence[str], shards: int, max_points: int, batch_size: int) -> None:
        super().__init__()
        self._files, self._shards, self._max_points = sorted(files), shards, max_points
        self._batch_size = batch_size

    def expand(self, pbegin):
        ndjson = [f for f in self._files if not is_tfrecord(f)]
        records = [f for f in self._files if is_tfrecord(f)]
        parts = []
        if ndjson:
            parts.append(
                pbegin
                | "NdjsonFiles" >> beam.Create(ndjson)
                | "Chunks" >> beam.FlatMap(split_file, CHUNK_BYTES)
                | "SpreadChunks" >> beam.Reshuffle()
                | "ParseLines"
                >> beam.ParDo(ParseNdjsonFn(self._shards, self._max_points, self._batch_size)).with_outputs(
                    _REJECTED, _LINES, main="drawings"
                )
            )
        if records:
            parts.append(
                pbegin
                | "TFRecordFiles" >> beam.Create(records)
                | "SpreadFiles" >> beam.Reshuffle()
                | "ReadRecords"
                >> beam.ParDo(ReadTFRecordFn(self._shards, self._batch_size)).with_outputs(
                    _REJECTED, _LINES, main="drawings"
                )
            )
        return {
            name: [part[name] for part in parts] | f"Flatten{name.capitalize()}" >> beam.Flatten()
            for name in ("drawings", _REJECTED, _LINES)
        }


class TopKModelHandler(ModelHandler[ScoringBatch, PredictionResult, Any]):
    """Beam's ``RunInference`` with a SavedModel's ``serving_default``: a ``ScoringBatch`` → each row's top-k.

    Beam's own TensorFlow handler loads Keras models; the pushed SavedModel is a plain one whose
    signatures are the interface (as TF Serving uses it). Each element is already a whole batch, cut where
    the drawings were read, so Beam's own batching is told to pass elements one at a time.
    """

    def __init__(self, model_dir: str, top_k: int) -> None:
        self._model_dir, self._top_k = model_dir, top_k

    def load_model(self) -> predict.Predictor:
        predictor = predict.Predictor(self._model_dir)
        # Released before the interpreter tears its modules down: TensorFlow's functions collected after that
        # print "Exception ignored in AtomicFunction.__del__" tracebacks from every worker process.
        atexit.register(predictor.close)
        return predictor

    def run_inference(
        self,
        batch: Sequence[ScoringBatch],
        model: predict.Predictor,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        for element in batch:
            yield PredictionResult(element, model.top_k_of_examples(element.examples, self._top_k))

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": 1}

    def get_metrics_namespace(self) -> str:
        return "quickdraw_predict"


class SpillLinesFn(beam.DoFn):
    """Scored batches → each drawing's JSON line, buffered per output shard and spilled to run files (the
    conversion's); yields (shard, ``RunFile``), and this worker's counts on the ``counts`` output."""

    def __init__(self, runs_dir: str) -> None:
        self._runs_dir = runs_dir

    def start_bundle(self) -> None:
        self._buffers: dict[int, list[tuple[tuple, str]]] = collections.defaultdict(list)
        self._buffered = 0
        self._counts = dict.fromkeys(_COUNTED, 0)

    def process(self, result: PredictionResult) -> Iterator[tuple[int, RunFile]]:
        element: ScoringBatch = result.example
        for row, best in zip(element.rows, result.inference, strict=True):
            record = predict.scored_record(row.key_id, row.word, best, self._counts)
            self._buffers[row.shard].append((row.order, json.dumps(record, ensure_ascii=False)))
        self._buffered += len(element.rows)
        if self._buffered >= SPILL_LINES:
            yield from self._spill()

    def _spill(self) -> Iterator[tuple[int, RunFile]]:
        for shard in sorted(self._buffers):
            yield shard, write_run(self._runs_dir, (SHARD_PREFIX, shard), self._buffers[shard])
        self._buffers.clear()
        self._buffered = 0

    def finish_bundle(self) -> Iterator[Any]:
        for keyed_run in self._spill():
            yield WindowedValue(keyed_run, MIN_TIMESTAMP, [GlobalWindow()])
        yield beam.pvalue.TaggedOutput(_COUNTS, WindowedValue(self._counts, MIN_TIMESTAMP, [GlobalWindow()]))


class WriteShardFn(beam.DoFn):
    """(shard, run files) → ``predictions-SSSSS-of-NNNNN.jsonl``, its lines sorted; yields how many it holds."""

    def __init__(self, output_dir: str, shards: int) -> None:
        self._output_dir, self._shards = output_dir, shards

    def process(self, element) -> Iterator[int]:
        shard, runs = element
        lines = sorted(
            (line for run in runs if run is not None for line in read_run(run)), key=lambda x: x[0]
        )
        name = shard_file(shard, self._shards)

        def write(fileobj) -> None:
            fileobj.write("".join(f"{line}\n" for _, line in lines).encode("utf-8"))

        write_atomically(FileSystems.join(self._output_dir, name), write)
        print(f"predict: wrote {name} ({len(lines):,} drawings)", file=sys.stderr, flush=True)
        yield len(lines)


class WritePredictions(beam.PTransform):
    """Scored batches → every shard's file; yields each shard's line count, and on ``counts`` the drawings
    scored, labelled and right. Only run-file names cross the shuffle, as in the conversion: a local runner
    never holds the scored corpus in its memory or copies it between processes."""

    def __init__(self, output_dir: str, shards: int, runs_dir: str) -> None:
        super().__init__()
        self._output_dir, self._shards, self._runs_dir = output_dir, shards, runs_dir

    def expand(self, scored):
        spilled = scored | "SpillLines" >> beam.ParDo(SpillLinesFn(self._runs_dir)).with_outputs(
            _COUNTS, main="runs"
        )
        every_shard = scored.pipeline | "EveryShard" >> beam.Create([(s, None) for s in range(self._shards)])
        written = (
            (spilled.runs, every_shard)
            | "WithEveryShard" >> beam.Flatten()
            | "GroupByShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(WriteShardFn(self._output_dir, self._shards))
        )
        return {"written": written, _COUNTS: spilled[_COUNTS]}


def _write_summary(
    _,
    *,
    output_dir: str,
    runs_dir: str,
    summary: dict,
    counts: dict,
    written: list[int],
    lines: dict,
    rejected: dict,
) -> Iterator[dict]:
    rejected_total = sum(rejected.values())
    read = lines.get("lines_read", 0)
    predicted = counts.get("predicted", 0)
    summary = {
        **summary,
        "counts": {
            "lines_read": read,
            **counts,
            "written": sum(written),
            "rejected": rejected_total,
            "reconciled": read == predicted + rejected_total and sum(written) == predicted,
        },
        "rejected_by_reason": dict(sorted(rejected.items())),
    }
    data = (json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_atomically(FileSystems.join(output_dir, SUMMARY_FILE), lambda f: f.write(data))
    delete_tree(runs_dir)
    yield summary


class ScoreDrawings(beam.PTransform):
    """PBegin → one element, the summary (a dict), once every shard, the rejections and the summary are written."""

    def __init__(
        self,
        files: Sequence[str],
        model_dir: str,
        output_dir: str,
        *,
        shards: int = DEFAULT_SHARDS,
        top_k: int = predict.DEFAULT_TOP_K,
        max_points: int = predict.DEFAULT_MAX_POINTS,
        batch_size: int = predict.BATCH,
    ) -> None:
        super().__init__()
        if not files:
            raise ValueError("no input files")
        self._files, self._model_dir, self._output_dir = sorted(files), model_dir, output_dir
        self._shards, self._top_k, self._max_points, self._batch_size = shards, top_k, max_points, batch_size
        self._runs_dir = FileSystems.join(output_dir, f"{RUNS_DIR_PREFIX}{uuid.uuid4().hex}")

    def expand(self, pbegin):
        read = pbegin | "ReadDrawings" >> ReadDrawings(
            self._files, self._shards, self._max_points, self._batch_size
        )
        scored = read["drawings"] | "RunInference" >> RunInference(
            TopKModelHandler(self._model_dir, self._top_k)
        )
        written = scored | "WritePredictions" >> WritePredictions(
            self._output_dir, self._shards, self._runs_dir
        )
        counts = written[_COUNTS] | "SumCounts" >> beam.CombineGlobally(SumCounts())
        rejected = read[_REJECTED] | "WriteRejections" >> WriteRejections(self._output_dir)
        lines = read[_LINES] | "SumLines" >> beam.CombineGlobally(SumCounts())
        summary = {
            "format": SUMMARY_FORMAT,
            "model": self._model_dir,
            "inputs": self._files,
            "shards": self._shards,
            "top_k": self._top_k,
            "max_points": self._max_points,
        }
        return (
            pbegin
            | "Once" >> beam.Create([None])
            | "WriteSummary"
            >> beam.FlatMap(
                _write_summary,
                output_dir=self._output_dir,
                runs_dir=self._runs_dir,
                summary=summary,
                counts=beam.pvalue.AsSingleton(counts),
                written=beam.pvalue.AsList(written["written"]),
                lines=beam.pvalue.AsSingleton(lines),
                rejected=beam.pvalue.AsSingleton(rejected),
            )
        )


class PredictionsExist(UserError, FileExistsError):
    """The output directory holds predictions of another shard count."""


def check_output(output_dir: str, shards: int) -> None:
    """Refuse to mix two shard counts in one directory; remove what an interrupted run left."""
    delete_leftovers(output_dir)
    found = FileSystems.match([FileSystems.join(output_dir, f"{SHARD_PREFIX}-*-of-*.jsonl")])[0].metadata_list
    other = sorted(os.path.basename(m.path) for m in found if not m.path.endswith(f"-of-{shards:05d}.jsonl"))
    if other:
        raise PredictionsExist(
            f"{output_dir} holds predictions in another number of shards ({other[0]}); "
            "choose another --output or remove them"
        )
    summary = FileSystems.join(output_dir, SUMMARY_FILE)
    if FileSystems.exists(summary):
        FileSystems.delete([summary])  # written last: its presence marks this run's end, not an earlier one's


def input_files(spec: str) -> list[str]:
    """A file, a glob, a directory of NDJSON files, or a directory of TFRecord shards (the conversion's
    output, or an ExampleGen's ``Examples`` folder with its ``Split-*`` folders)."""
    try:
        return resolve_inputs(spec)
    except ConversionError:
        if "://" not in spec and os.path.isfile(spec):
            return [spec]  # a file of any name: a TFRecord shard, or NDJSON
        if "://" in spec or not os.path.isdir(spec):
            raise
    for pattern in ("*tfrecord*", "Split-*/*tfrecord*"):
        found = FileSystems.match([FileSystems.join(spec, pattern)])[0].metadata_list
        if found:
            return sorted(m.path for m in found if not os.path.basename(m.path).startswith("."))
    raise ConversionError(f"{spec} holds neither NDJSON files nor TFRecord shards")


def predict_corpus(
    inputs: Sequence[str],
    model: str,
    output_dir: str,
    *,
    shards: int = DEFAULT_SHARDS,
    top_k: int = predict.DEFAULT_TOP_K,
    max_points: int = predict.DEFAULT_MAX_POINTS,
    beam_args: Sequence[str] = (),
) -> dict:
    """Score every drawing of ``inputs`` (files, directories of NDJSON, globs) into ``output_dir``; returns the
    summary. A directory or a glob of TFRecord shards is read as the conversion's ``tf.Example``s."""
    model_dir = predict.resolve_model_dir(model)
    files = sorted({f for spec in inputs for f in input_files(spec)})
    if not FileSystems.exists(output_dir):
        FileSystems.mkdirs(output_dir)
    check_output(output_dir, shards)
    print(f"predict: {len(files)} input files → {output_dir} ({shards} shards)", file=sys.stderr, flush=True)
    options = beam_options(beam_args)
    with beam.Pipeline(runner=local_runner(options), options=options) as p:
        _ = p | "ScoreDrawings" >> ScoreDrawings(
            files, model_dir, output_dir, shards=shards, top_k=top_k, max_points=max_points
        )
    with FileSystems.open(FileSystems.join(output_dir, SUMMARY_FILE)) as f:
        summary = json.load(f)
    if not summary["counts"]["reconciled"]:
        raise RuntimeError(f"line accounting does not add up: {summary['counts']}")
    return summary


def summary_line(summary: dict, output_dir: str, seconds: float) -> str:
    counts = summary["counts"]
    rate = counts["predicted"] / seconds if seconds > 0 else 0.0
    reasons = ", ".join(f"{k} {v:,}" for k, v in summary["rejected_by_reason"].items())
    return (
        f"predicted {counts['predicted']:,} drawings, rejected {counts['rejected']:,} lines"
        f"{f' ({reasons})' if reasons else ''}{predict.accuracy_text(counts, summary['top_k'])}; "
        f"{seconds:.1f} s ({rate:,.0f} drawings/s) → {output_dir}"
    )
