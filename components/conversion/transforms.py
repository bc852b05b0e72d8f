"""The conversion job as Beam PTransforms (``ConvertQuickDraw``): NDJSON files → deterministic TFRecord shards.

``ConvertQuickDraw`` is composed of named steps, as Beam's own examples compose theirs
(each element is a batch of drawings, never a single drawing):

1. ``ParseDrawings``: split files into line-aligned chunks, read each in blocks of
   lines, parse/validate them (``parsing``), hash each key_id (``splits``) and
   encode the Examples (``encoding``).
   Drawings are spilled to "run" files per (split, shard) under the output
   directory; rejections, counts and class names go to side outputs.
2. ``CapPerClass`` (only with per-class caps): each worker keeps the ``k`` drawings
   with the smallest hash per (split, class), and a ``CombineFn`` merges those
   samples: a uniform deterministic sample in memory O(k × classes) (the seed
   instead took each file's first lines). The kept drawings go to run files too.
3. ``WriteShards``: group run files by (split, shard); in each shard, sort by hash,
   drop repeated key_ids (the first in (hash, key_id, file, line) order is kept), and
   write the file under a temporary name, renamed when complete. Only file names
   cross the shuffle, so a local runner never holds the corpus in memory.
4. ``WriteRejections``: ``rejected.jsonl``; ``WriteManifest``: the classes file and,
   last, ``manifest.json``, which reconciles every input line: read = written +
   rejected + filtered + over cap.

Nothing here depends on the order in which a runner delivers elements, so the
bytes out are the same for any worker count or running mode.
"""

from __future__ import annotations

import collections
import json
import os
import posixpath
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from components.conversion import config as tuning
from components.conversion import parsing, splits
from components.conversion.batch import EncodedDrawings
from components.conversion.config import ConversionConfig
from components.conversion.encoding import encode_tails, finish_examples
from components.conversion.files import FileChunk, delete_tree, read_line_blocks, split_file, write_atomically
from components.conversion.manifest import (
    CLASSES_FILE,
    MANIFEST_FILE,
    REJECTED_FILE,
    SPLIT_PREFIX,
    build_manifest,
    shard_name,
)
from components.conversion.runs import RUNS_DIR_PREFIX, RunFile, read_run, write_run
from components.conversion.tfrecord import write_records

_REJECTED = "rejected"
_STATS = "stats"
_WORDS = "words"


# --------------------------------------------------------------------------- 1. parse


def _add_counts(into: dict, other: dict) -> dict:
    """Recursive sum of nested count dicts."""
    for key, value in other.items():
        if isinstance(value, dict):
            _add_counts(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value
    return into


class SumCounts(beam.CombineFn):
    """Sums nested ``{name: count | {...}}`` dicts."""

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, accumulator: dict, element: dict) -> dict:
        return _add_counts(accumulator, element)

    def merge_accumulators(self, accumulators: Iterable[dict]) -> dict:
        merged: dict = {}
        for accumulator in accumulators:
            _add_counts(merged, accumulator)
        return merged

    def extract_output(self, accumulator: dict) -> dict:
        return accumulator


def _split_index(batch: EncodedDrawings, config: ConversionConfig) -> np.ndarray:
    return splits.is_eval(batch.hash, config.eval_fraction).astype(np.int64)


def _group(batch: EncodedDrawings, codes: np.ndarray) -> Iterator[tuple[Any, EncodedDrawings]]:
    """Split ``batch`` into sub-batches by integer or object code."""
    if not len(batch):
        return
    uniques, inverse = np.unique(codes, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniques) + 1))
    for i, code in enumerate(uniques):
        yield code, batch.take(order[bounds[i] : bounds[i + 1]])


def key_by_shard(
    batch: EncodedDrawings, config: ConversionConfig
) -> Iterator[tuple[tuple[str, int], EncodedDrawings]]:
    codes = _split_index(batch, config) * config.shards + splits.shard_of(batch.hash, config.shards)
    for code, sub in _group(batch, codes):
        yield (splits.SPLITS[code // config.shards], int(code % config.shards)), sub


class ParseFilesFn(beam.DoFn):
    """File chunk → keyed drawing batches; rejections, counts and words on side outputs."""

    def __init__(self, config: ConversionConfig, capped_splits: frozenset[str], runs_dir: str) -> None:
        self._config = config
        self._capped = capped_splits
        self._runs_dir = runs_dir
        self._options = parsing.ParseOptions(config.max_points, config.recognized_only)
        self._lines = Metrics.counter("quickdraw", "lines_read")
        self._drawings = Metrics.counter("quickdraw", "drawings_valid")

    def start_bundle(self) -> None:
        self._buffers: dict[tuple[str, int], list[EncodedDrawings]] = collections.defaultdict(list)
        self._buffered = 0
        # Capped splits: this worker's own bottom-k per (split, word), so only samples leave it.
        self._samples: dict[tuple[str, str], list[EncodedDrawings]] = collections.defaultdict(list)
        self._sampled: collections.Counter = collections.Counter()
        self._seen: collections.Counter = collections.Counter()

    def _sample(self, split: str, word: str, batch: EncodedDrawings) -> None:
        key, k = (split, word), self._config.cap(split)
        self._samples[key].append(batch)
        self._sampled[key] += len(batch)
        self._seen[key] += len(batch)
        if self._sampled[key] >= 2 * max(k, 256):  # compact at twice the cap: O(log k) per drawing
            self._samples[key] = [EncodedDrawings.concat(self._samples[key]).smallest(k)]
            self._sampled[key] = len(self._samples[key][0])

    def _spill(self) -> Iterator[tuple[tuple[str, int], RunFile]]:
        """Write every buffered (split, shard) batch to a run file; memory stays bounded."""
        for key in sorted(self._buffers):
            yield key, write_run(self._runs_dir, key, EncodedDrawings.concat(self._buffers[key]))
        self._buffers.clear()
        self._buffered = 0

    def finish_bundle(self) -> Iterator[Any]:
        for keyed_run in self._spill():
            yield WindowedValue(keyed_run, MIN_TIMESTAMP, [GlobalWindow()])
        for split, word in sorted(self._samples):
            sample = EncodedDrawings.concat(self._samples[(split, word)]).smallest(self._config.cap(split))
            value = (word, (sample, self._seen[(split, word)]))
            yield beam.pvalue.TaggedOutput(split, WindowedValue(value, MIN_TIMESTAMP, [GlobalWindow()]))

    def setup(self) -> None:
        self._progress_lines = 0
        self._progress_start = time.monotonic()
        self._progress_last = self._progress_start

    def _report(self, lines: int, path: str) -> None:
        """Progress on stderr every few seconds (workers' stderr reaches the user's terminal
        under the local runner, and the worker logs on Dataflow)."""
        self._progress_lines += lines
        now = time.monotonic()
        if now - self._progress_last >= tuning.PROGRESS_SECONDS:
            self._progress_last = now
            rate = self._progress_lines / max(now - self._progress_start, 1e-9)
            print(
                f"convert: worker {os.getpid()} has read {self._progress_lines:,} lines "
                f"({rate:,.0f} lines/s), now in {posixpath.basename(path)}",
                file=sys.stderr,
                flush=True,
            )

    def process(self, chunk: FileChunk) -> Iterator[Any]:
        path = chunk.path
        lines_in_chunk = 0
        for first_line, lines in read_line_blocks(chunk, tuning.LINES_PER_BATCH):
            parsed = parsing.parse_lines(lines, first_line, path, self._options)
            lines_in_chunk += parsed.lines
            self._lines.inc(parsed.lines)
            self._drawings.inc(len(parsed.drawings))
            self._report(parsed.lines, path)
            drawings = parsed.drawings
            batch = EncodedDrawings(
                hash=splits.key_hashes(drawings.key_id, self._config.salt),
                key_id=drawings.key_id,
                source=drawings.source,
                line=drawings.line,
                word=drawings.word,
                tail=encode_tails(drawings),
            )
            if parsed.rejections:
                yield beam.pvalue.TaggedOutput(_REJECTED, parsed.rejections)
            stats: dict = {"lines_read": parsed.lines, "filtered": parsed.filtered}
            yield beam.pvalue.TaggedOutput(_STATS, stats)
            if not len(batch):
                continue
            yield beam.pvalue.TaggedOutput(_WORDS, set(batch.word.tolist()))
            is_eval = splits.is_eval(batch.hash, self._config.eval_fraction)
            for split_name, mask in ((splits.TRAIN, ~is_eval), (splits.EVAL, is_eval)):
                part = batch.take(np.flatnonzero(mask))
                if not len(part):
                    continue
                if split_name in self._capped:
                    for word, sub in _group(part, part.word.astype(str)):
                        self._sample(split_name, str(word), sub)
                else:
                    for key, sub in key_by_shard(part, self._config):
                        self._buffers[key].append(sub)
                        self._buffered += len(sub)
            if self._buffered >= tuning.SPILL_RECORDS:
                yield from self._spill()
        yield beam.pvalue.TaggedOutput(_STATS, {"files": {path: lines_in_chunk}})  # summed per file


# --------------------------------------------------------------------------- 2. caps


class BottomKFn(beam.CombineFn):
    """Per key: the ``k`` drawings first in canonical (hash) order, and how many were seen.

    Inputs are partial samples ``(drawings, seen)`` (each parse worker samples its
    own share first). Bottom-k under a total order is associative and
    commutative, so the sample does not depend on how the runner splits or
    merges the work.
    """

    def __init__(self, k: int) -> None:
        self._k = k

    def create_accumulator(self) -> tuple[EncodedDrawings, int]:
        return EncodedDrawings.empty(), 0

    def add_input(self, accumulator, element: tuple[EncodedDrawings, int]):
        return self.merge_accumulators([accumulator, element])

    def merge_accumulators(self, accumulators):
        accumulators = list(accumulators)
        merged = EncodedDrawings.concat([kept for kept, _ in accumulators])
        return merged.smallest(self._k), sum(seen for _, seen in accumulators)

    def extract_output(self, accumulator):
        return accumulator


def _after_cap(
    element: tuple[str, Iterable[tuple[str, tuple[EncodedDrawings, int]]]],
    config: ConversionConfig,
    runs_dir: str,
):
    """All classes' samples of one split → counts over cap, and run files keyed by shard.

    The kept drawings go to run files like the uncapped ones, so the shuffle to
    the shard writers carries file names, not the sample itself.
    """
    split, per_word = element
    per_word = sorted(per_word, key=lambda item: item[0])
    over_cap = {word: seen - len(kept) for word, (kept, seen) in per_word}
    yield beam.pvalue.TaggedOutput(_STATS, {"over_cap": {split: over_cap}})
    kept = EncodedDrawings.concat([kept for _, (kept, _) in per_word])
    for key, batch in key_by_shard(kept, config):
        yield key, write_run(runs_dir, key, batch)


# --------------------------------------------------------------------------- 3. shards


class WriteShardFn(beam.DoFn):
    """(split, shard), batches → one TFRecord file; yields its manifest entry."""

    def __init__(self, output_dir: str, config: ConversionConfig, prefixes: dict[str, str]) -> None:
        self._output_dir = output_dir
        self._config = config
        self._prefixes = prefixes

    def process(self, element, classes: list[str]) -> Iterator[Any]:
        (split, shard), values = element
        batch = EncodedDrawings.concat([read_run(run) for run in values if run is not None])
        batch = batch.take(batch.sort_order())
        duplicate = batch.duplicate_mask()
        if duplicate.any():
            kept_index = np.maximum.accumulate(np.where(duplicate, 0, np.arange(len(batch))))
            yield beam.pvalue.TaggedOutput(
                _REJECTED,
                [
                    parsing.Rejection(
                        batch.source[i],
                        int(batch.line[i]),
                        parsing.DUPLICATE_KEY_ID,
                        f"key_id {batch.key_id[i]} already kept from "
                        f"{batch.source[kept_index[i]]}:{batch.line[kept_index[i]]}",
                    )
                    for i in np.flatnonzero(duplicate)
                ],
            )
            batch = batch.take(np.flatnonzero(~duplicate))
        class_index = {word: i for i, word in enumerate(classes)}
        records = finish_examples([class_index[w] for w in batch.word], batch.tail)
        name = shard_name(split, shard, self._config.shards, self._prefixes)
        digest = write_atomically(
            FileSystems.join(self._output_dir, name), lambda f: write_records(f, records)
        )
        yield {
            "file": name,
            "split": split,
            "records": len(records),
            "sha256": digest,
            "per_class": dict(collections.Counter(batch.word.tolist())),
        }


# --------------------------------------------------------------------------- 4. rejections and manifest


def _write_rejected(element, output_dir: str) -> Iterator[dict]:
    _, groups = element
    rejections = sorted(
        (r for group in groups if group for r in group), key=lambda r: (r.source, r.line, r.reason)
    )

    def write(fileobj) -> None:
        for r in rejections:
            fileobj.write(json.dumps(r.to_json(), ensure_ascii=False).encode("utf-8") + b"\n")

    write_atomically(FileSystems.join(output_dir, REJECTED_FILE), write)
    yield dict(collections.Counter(r.reason for r in rejections))


def _finish(
    _,
    *,
    output_dir: str,
    runs_dir: str,
    config: ConversionConfig,
    shards: list[dict],
    stats: dict,
    rejected_by_reason: dict | None,
    classes: list[str],
) -> Iterator[dict]:
    def write_classes(fileobj) -> None:
        fileobj.write("".join(f"{c}\n" for c in classes).encode("utf-8"))

    write_atomically(FileSystems.join(output_dir, CLASSES_FILE), write_classes)
    manifest = build_manifest(
        config=config,
        shards=shards,
        stats=stats,
        rejected_by_reason=rejected_by_reason or {},
        classes=classes,
    )
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_atomically(FileSystems.join(output_dir, MANIFEST_FILE), lambda f: f.write(data))
    delete_tree(runs_dir)
    yield manifest


# --------------------------------------------------------------------------- the named steps


class ParseDrawings(beam.PTransform):
    """Files → drawing batches in run files keyed by (split, shard), plus tagged outputs: rejections,
    counts, class names and, for a capped split, per-class samples keyed by (split, word)."""

    def __init__(self, files: list[str], config: ConversionConfig, capped: frozenset[str], runs_dir: str):
        super().__init__()
        self._files, self._config, self._capped, self._runs_dir = files, config, capped, runs_dir

    def expand(self, pbegin):
        return (
            pbegin
            | "ListFiles" >> beam.Create(self._files)
            | "SplitFiles" >> beam.FlatMap(split_file, tuning.CHUNK_BYTES)
            | "SpreadChunks" >> beam.Reshuffle()
            | "Parse"
            >> beam.ParDo(ParseFilesFn(self._config, self._capped, self._runs_dir)).with_outputs(
                _REJECTED, _STATS, _WORDS, *splits.SPLITS, main="by_shard"
            )
        )


class CapPerClass(beam.PTransform):
    """One split's per-class samples → the ``cap`` drawings with the smallest hash per class, in run files
    keyed by (split, shard); the drawings over the cap are counted on the ``stats`` output."""

    def __init__(self, split: str, config: ConversionConfig, runs_dir: str) -> None:
        super().__init__()
        self._split, self._config, self._runs_dir = split, config, runs_dir

    def expand(self, samples):
        split = self._split
        return (
            samples
            | "BottomK" >> beam.CombinePerKey(BottomKFn(self._config.cap(split)))
            | "KeyBySplit" >> beam.Map(lambda sample: (split, sample))
            | "GatherClasses" >> beam.GroupByKey()
            | "ToRunFiles"
            >> beam.FlatMap(_after_cap, self._config, self._runs_dir).with_outputs(_STATS, main="by_shard")
        )


class CollectClasses(beam.PTransform):
    """Each worker's set of class names → one sorted list (the classes file's order: ``class_index``)."""

    def expand(self, words):
        return (
            words
            | "Union" >> beam.CombineGlobally(lambda sets: set().union(*sets))
            | "Sort" >> beam.Map(sorted)
        )


class WriteShards(beam.PTransform):
    """Run files keyed by (split, shard) → one TFRecord file per shard (every shard, an empty one too);
    yields each shard's manifest entry, and repeated key_ids on the ``rejected`` output."""

    def __init__(self, output_dir: str, config: ConversionConfig, prefixes: dict[str, str], classes) -> None:
        super().__init__()
        self._output_dir, self._config, self._prefixes, self._classes = output_dir, config, prefixes, classes

    def expand(self, keyed):
        config = self._config
        every_shard = [((split, shard), None) for split in splits.SPLITS for shard in range(config.shards)]
        listed = keyed.pipeline | "EveryShard" >> beam.Create(every_shard)
        return (
            (keyed, listed)
            | "WithEveryShard" >> beam.Flatten()
            | "GroupByShard" >> beam.GroupByKey()
            | "Write"
            >> beam.ParDo(
                WriteShardFn(self._output_dir, config, self._prefixes), beam.pvalue.AsSingleton(self._classes)
            ).with_outputs(_REJECTED, main="shards")
        )


class WriteRejections(beam.PTransform):
    """Every rejection → ``rejected.jsonl`` in (file, line) order; yields the count per reason."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._output_dir = output_dir

    def expand(self, rejected):
        none = rejected.pipeline | "NoRejections" >> beam.Create([None])  # written when there are none too
        return (
            (rejected, none)
            | "WithNone" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda r: (None, r))
            | "Gather" >> beam.GroupByKey()
            | "Write" >> beam.FlatMap(_write_rejected, self._output_dir)
        )


class WriteManifest(beam.PTransform):
    """Once every shard and the rejections are written: the classes file, then ``manifest.json`` (last: only
    a directory with a manifest holds a finished conversion); the run files are removed. Yields the manifest."""

    def __init__(self, output_dir: str, runs_dir: str, config: ConversionConfig) -> None:
        super().__init__()
        self._output_dir, self._runs_dir, self._config = output_dir, runs_dir, config

    def expand(self, parts: dict):
        return (
            parts["shards"].pipeline
            | "Once" >> beam.Create([None])
            | "Write"
            >> beam.FlatMap(
                _finish,
                output_dir=self._output_dir,
                runs_dir=self._runs_dir,
                config=self._config,
                shards=beam.pvalue.AsList(parts["shards"]),
                stats=beam.pvalue.AsSingleton(parts["stats"]),
                rejected_by_reason=beam.pvalue.AsSingleton(parts["rejected_by_reason"]),
                classes=beam.pvalue.AsSingleton(parts["classes"]),
            )
        )


class ConvertQuickDraw(beam.PTransform):
    """PBegin → PCollection with one element, the manifest (a dict), once all is written.

    ``prefixes`` names each split's shards relative to ``output_dir``: the
    tutorial's names by default; the TFX ExampleGen uses ``Split-<name>/…``.
    """

    def __init__(
        self,
        files: list[str],
        output_dir: str,
        config: ConversionConfig,
        prefixes: dict[str, str] = SPLIT_PREFIX,
    ) -> None:
        super().__init__()
        if not files:
            raise ValueError("no input files")
        self._files = sorted(files)
        self._output_dir = output_dir
        self._config = config
        self._prefixes = dict(prefixes)
        self._runs_dir = FileSystems.join(output_dir, f"{RUNS_DIR_PREFIX}{uuid.uuid4().hex}")

    def expand(self, pbegin):
        config, output_dir, runs_dir = self._config, self._output_dir, self._runs_dir
        capped = frozenset(s for s in splits.SPLITS if config.cap(s) is not None)
        parsed = pbegin | "ParseDrawings" >> ParseDrawings(self._files, config, capped, runs_dir)
        keyed, stats = [parsed.by_shard], [parsed[_STATS]]
        for split in sorted(capped):
            kept = parsed[split] | f"CapPerClass{split.capitalize()}" >> CapPerClass(split, config, runs_dir)
            keyed.append(kept.by_shard)
            stats.append(kept[_STATS])
        classes = parsed[_WORDS] | "CollectClasses" >> CollectClasses()
        written = (
            keyed
            | "FlattenShardKeyed" >> beam.Flatten()
            | "WriteShards" >> WriteShards(output_dir, config, self._prefixes, classes)
        )
        rejected_by_reason = (
            (parsed[_REJECTED], written[_REJECTED])
            | "FlattenRejected" >> beam.Flatten()
            | "WriteRejections" >> WriteRejections(output_dir)
        )
        totals = stats | "FlattenCounts" >> beam.Flatten() | "SumCounts" >> beam.CombineGlobally(SumCounts())
        return {
            "shards": written.shards,
            "stats": totals,
            "rejected_by_reason": rejected_by_reason,
            "classes": classes,
        } | "WriteManifest" >> WriteManifest(output_dir, runs_dir, config)
