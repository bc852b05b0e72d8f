"""The drawings the model disputes, read from a run's bulk predictions (``--bulk-infer``).

TFX's BulkInferrer writes one ``PredictionLog`` per train and eval example: the example itself (its word,
key_id, ``recognized`` flag and ink) and the blessed model's ``serving_default`` outputs. A drawing is
*disputed* when the model gives another class at least ``CONFIDENT`` probability and ranks it above the
drawing's own word: the labels a team should look at before trusting an accuracy figure (unfinished
drawings, scribbles, drawings of another class). ``Disputes`` streams the logs once and keeps what the
report shows (per class, the disputed drawings whose own word scores lowest; the class pairs most often
confused in the training split itself; the disputed share among drawings the game recognised and did not),
and ``quickdraw disputes`` writes every disputed drawing as an NDJSON line of the corpus format plus the
scores, to review or drop before a rerun.

A log's split is the conversion's: a pure function of the key_id and the ExampleGen's salt and eval fraction
(``components.conversion.splits``), since BulkInferrer does not record it.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import json
import os
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from components import features as F
from components.conversion import splits
from components.conversion.ink import points_of_ink
from components.errors import UserError
from pipeline import runs
from pipeline.configs import PIPELINE_NAME

CONFIDENT = 0.5  # another class's probability at which the model disputes a drawing's word
SHOWN_PER_CLASS = 3  # disputed drawings per class in the report
SHOWN_CLASSES = 40  # classes with disputed drawings shown in the report, the most disputed first
TOP_PAIRS = 15
TOP_K = 3  # scores written per disputed drawing


class NoBulkPredictions(UserError, LookupError):
    """The run has no BulkInferrer output (it ran without --bulk-infer, or the model was not blessed)."""


@dataclasses.dataclass(frozen=True)
class ScoredDrawing:
    """A bulk-predicted drawing: who it is, the model's probability for its own word, and its top-k."""

    key_id: str
    word: str
    split: str
    countrycode: str
    recognized: bool
    word_score: float  # the model's probability for the drawing's own word
    top_k: tuple[tuple[str, float], ...]  # best first; top_k[0] is the class the model prefers
    ink: np.ndarray  # [n, 3], as converted

    @property
    def predicted(self) -> str:
        return self.top_k[0][0]

    @property
    def predicted_score(self) -> float:
        return self.top_k[0][1]

    @property
    def misclassified(self) -> bool:
        return self.predicted != self.word

    @property
    def disputed(self) -> bool:
        """Another class ranks first with at least ``CONFIDENT``."""
        return self.misclassified and self.predicted_score >= CONFIDENT

    def ndjson(self) -> dict[str, Any]:
        """The corpus format (word, countrycode, recognized, key_id, drawing), plus the scores. The drawing is
        rebuilt from the stored ink: the shape as converted (its bounding box scaled to 0–255), not the
        original coordinates; ``key_id`` finds the original in the corpus."""
        x, y, lengths = points_of_ink(self.ink)
        lower = float(x.min()), float(y.min())
        span = max(float(x.max()) - lower[0], float(y.max()) - lower[1], 1e-6)
        xs = np.rint((x - lower[0]) / span * 255).astype(int).tolist()
        ys = np.rint((y - lower[1]) / span * 255).astype(int).tolist()
        ends = np.cumsum(lengths).tolist()
        starts = [0, *ends[:-1]]
        return {
            "word": self.word,
            "countrycode": self.countrycode,
            "recognized": self.recognized,
            "key_id": self.key_id,
            "drawing": [[xs[a:b], ys[a:b]] for a, b in zip(starts, ends)],
            "split": self.split,
            "word_score": round(self.word_score, 6),
            "top_k": [{"label": label, "score": round(score, 6)} for label, score in self.top_k],
        }


@dataclasses.dataclass
class Disputes:
    """What the bulk predictions of a run say about its labels."""

    scored: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # by split
    disputed: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # by split
    by_recognized: dict[bool, list[int]] = dataclasses.field(
        default_factory=lambda: {True: [0, 0], False: [0, 0]}  # [scored, disputed]
    )
    per_class: dict[str, int] = dataclasses.field(default_factory=dict)  # disputed drawings per word
    train_confusions: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    _lowest: dict[str, list] = dataclasses.field(default_factory=dict)  # word → heap of the lowest word_score

    def add(self, drawing: ScoredDrawing) -> None:
        self.scored[drawing.split] += 1
        self.by_recognized[drawing.recognized][0] += 1
        if drawing.misclassified and drawing.split == splits.TRAIN:
            self.train_confusions[(drawing.word, drawing.predicted)] += 1
        if not drawing.disputed:
            return
        self.disputed[drawing.split] += 1
        self.by_recognized[drawing.recognized][1] += 1
        self.per_class[drawing.word] = self.per_class.get(drawing.word, 0) + 1
        heap = self._lowest.setdefault(drawing.word, [])
        # A max-heap on word_score (the highest leaves first); the count keeps equal entries apart.
        item = (-drawing.word_score, drawing.key_id, sum(self.scored.values()), drawing)
        if len(heap) < SHOWN_PER_CLASS:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)

    def most_disputed(self) -> list[tuple[str, int, list[ScoredDrawing]]]:
        """(word, disputed count, its lowest-scored disputed drawings) for the most disputed classes."""
        words = sorted(self.per_class, key=lambda w: (-self.per_class[w], w))[:SHOWN_CLASSES]
        return [
            (
                w,
                self.per_class[w],
                [i[-1] for i in sorted(self._lowest[w], key=lambda i: (-i[0], i[1], i[2]))],
            )
            for w in words
        ]

    def confused_pairs(self) -> list[tuple[str, str, int]]:
        """(word, predicted, count) in the training split, the most frequent first."""
        pairs = sorted(self.train_confusions.items(), key=lambda p: (-p[1], p[0]))
        return [(a, b, n) for (a, b), n in pairs[:TOP_PAIRS]]


@dataclasses.dataclass(frozen=True)
class BulkPredictions:
    """Where a run's bulk predictions are, and what reading them needs."""

    run_id: str
    uri: str  # the BulkInferrer's InferenceResult folder
    model_dir: str  # the model it ran (its class_names() names the probability columns)
    salt: str  # the ExampleGen's: a drawing's split from its key_id
    eval_fraction: float

    @classmethod
    def of(cls, run: runs.Run) -> BulkPredictions:
        inference = run.bulk_inference()
        if inference is None:
            raise NoBulkPredictions(
                f"run {run.run_id} has no bulk predictions: run the pipeline with --bulk-infer (TFX's "
                "BulkInferrer then scores the examples with the blessed model)"
            )
        if not inference.scored:
            raise NoBulkPredictions(
                f"run {run.run_id}'s BulkInferrer scored nothing: the Evaluator did not bless its model"
            )
        example_gen = run.nodes[runs.EXAMPLE_GEN]
        return cls(
            run.run_id,
            inference.uri,
            os.path.join(run.nodes[runs.TRAINER].uri("model"), "Format-Serving"),
            example_gen.parameter("salt") or "",
            float(example_gen.parameter("eval_fraction")),
        )

    def class_names(self) -> list[str]:
        import tensorflow as tf

        return [n.decode() for n in tf.saved_model.load(self.model_dir).class_names().numpy()]


def scored_drawings(
    predictions: BulkPredictions, class_names: list[str], top_k: int = TOP_K
) -> Iterator[ScoredDrawing]:
    """Each bulk-predicted drawing, disputed or not, in the order of the files."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    salt, eval_fraction = predictions.salt, predictions.eval_fraction
    column = {name: i for i, name in enumerate(class_names)}
    files = sorted(tf.io.gfile.glob(os.path.join(predictions.uri, runs.PREDICTION_LOGS)))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    for record in dataset.as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record).predict_log
        examples = tf.make_ndarray(log.request.inputs["examples"]).reshape(-1)
        probabilities = tf.make_ndarray(log.response.outputs["probabilities"]).reshape(len(examples), -1)
        for serialized, p in zip(examples, probabilities):
            feature = tf.train.Example.FromString(serialized).features.feature
            word = feature[F.WORD].bytes_list.value[0].decode()
            key_id = feature[F.KEY_ID].bytes_list.value[0].decode()
            best = np.argsort(-p, kind="stable")[:top_k]
            yield ScoredDrawing(
                key_id=key_id,
                word=word,
                split=_split(key_id, salt, eval_fraction),
                countrycode=feature[F.COUNTRYCODE].bytes_list.value[0].decode()
                if feature[F.COUNTRYCODE].bytes_list.value
                else "",
                recognized=bool(feature[F.RECOGNIZED].int64_list.value[0])
                if feature[F.RECOGNIZED].int64_list.value
                else False,
                word_score=float(p[column[word]]) if word in column else 0.0,
                top_k=tuple((class_names[j], float(p[j])) for j in best),
                ink=np.asarray(feature[F.INK].float_list.value, np.float32).reshape(-1, 3),
            )


def _split(key_id: str, salt: str, eval_fraction: float) -> str:
    return (
        splits.EVAL if splits.is_eval(splits.key_hashes([key_id], salt), eval_fraction)[0] else splits.TRAIN
    )


def collect(run: runs.Run, class_names: list[str] | None = None) -> Disputes | None:
    """The report's view of the run's bulk predictions (``class_names``: the model's, when already loaded);
    None when the run has none (no ``--bulk-infer``, or an unblessed model)."""
    try:
        predictions = BulkPredictions.of(run)
    except NoBulkPredictions:
        return None
    disputes = Disputes()
    for drawing in scored_drawings(predictions, class_names or predictions.class_names()):
        disputes.add(drawing)
    return disputes


def write_disputed(
    pipeline_root: str, output: IO[str], run_id: str | None = None, pipeline_name: str = PIPELINE_NAME
) -> tuple[str, int, int]:
    """Every disputed drawing of the run as NDJSON, by word, then lowest own-word score, then key_id. Returns
    (run id, drawings scored, drawings written)."""
    try:
        run = runs.find_run(
            pipeline_root, pipeline_name, run_id, with_node=None if run_id else runs.BULK_INFERRER
        )
    except runs.RunNotFound as error:
        if run_id is None:
            raise NoBulkPredictions(f"{error}: run the pipeline with --bulk-infer") from error
        raise
    predictions = BulkPredictions.of(run)
    disputed, scored = [], 0
    for drawing in scored_drawings(predictions, predictions.class_names()):
        scored += 1
        if drawing.disputed:
            disputed.append(drawing)
    disputed.sort(key=lambda d: (d.word, d.word_score, d.key_id))
    for drawing in disputed:
        output.write(json.dumps(drawing.ndjson(), ensure_ascii=False) + "\n")
    return run.run_id, scored, len(disputed)
