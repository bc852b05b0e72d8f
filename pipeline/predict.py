"""``quickdraw predict``: classify the drawings of NDJSON files with a pushed model.

Each line's drawing is validated exactly as the conversion validates it (same
reasons); ``word``, ``key_id`` and the other metadata are optional here (a drawing
to classify need not be labelled). A bad line is reported on stderr with its file
and line number and the others are still predicted. Valid drawings go through the model's ``serving_default``
signature in batches, as serialized ``tf.Example``s whose ink is computed by the
conversion's own code, so predictions match what the Evaluator scored. With
``tflite`` the version's ``model.tflite`` scores them instead, one drawing at a time.

With ``--output DIR`` the same parsing, ink, signature and lines score a whole corpus with Beam
(``pipeline.bulk_predict``).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np

from components import features as F
from components.conversion import parsing
from components.conversion.config import DEFAULT_MAX_POINTS
from components.conversion.ink import batch_ink
from components.errors import UserError
from components.training.config import TrainingConfig

BATCH = 256
DEFAULT_TOP_K = TrainingConfig().top_k  # as many as the signatures return by default


class ModelNotFound(UserError, FileNotFoundError):
    """--model names no SavedModel and no serving directory with one."""


def resolve_model_dir(path: str) -> str:
    """A SavedModel directory, or a serving directory → its newest numeric version (local or gs://)."""
    from tensorflow.io import gfile

    if gfile.exists(os.path.join(path, "saved_model.pb")):
        return path
    if not gfile.isdir(path):
        raise ModelNotFound(f"no model at {path}")
    names = [n.rstrip("/") for n in gfile.listdir(path)]
    for version in sorted((int(n) for n in names if n.isdigit()), reverse=True):
        candidate = os.path.join(path, str(version))
        if gfile.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise ModelNotFound(f"{path} holds neither saved_model.pb nor a numeric version directory with one")


@dataclasses.dataclass
class Drawing:
    source: str
    line: int
    key_id: str | None
    word: str | None
    strokes: list


def parse_drawing(source: str, number: int, line: bytes, max_points: int) -> Drawing | str:
    """One NDJSON line → a drawing to classify, or the reason it cannot be (the conversion's reasons and
    checks; ``word`` and ``key_id`` are optional here)."""
    if not line.strip():
        return parsing.BLANK_LINE
    try:
        obj: Any = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return parsing.INVALID_UTF8
    except (ValueError, RecursionError):
        return parsing.INVALID_JSON
    if not isinstance(obj, dict):
        return parsing.NOT_AN_OBJECT
    reason = parsing.check_drawing(obj.get("drawing"), max_points)
    if reason is not None:
        return reason
    key_id, word = obj.get("key_id"), obj.get("word")
    return Drawing(
        source,
        number,
        None if key_id is None else str(key_id),
        word if isinstance(word, str) else None,
        obj["drawing"],
    )


def read_drawings(path: str, max_points: int, errors: IO[str], skipped: list[str]) -> Iterator[Drawing]:
    """The usable drawings of one NDJSON file; each unusable line is reported to ``errors``
    (``file:line: skipped: reason``) and its reason appended to ``skipped``."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            parsed = parse_drawing(path, number, line, max_points)
            if isinstance(parsed, str):
                print(f"{path}:{number}: skipped: {parsed}", file=errors)
                skipped.append(parsed)
                continue
            yield parsed


def inks(drawings: Sequence[Drawing]) -> list[np.ndarray]:
    """Each drawing's ink [points, 3], computed as the conversion computes it."""
    xs, ys, ends, counts = [], [], [], []
    for d in drawings:
        n = 0
        for stroke in d.strokes:
            xs += stroke[0]
            ys += stroke[1]
            ends += [0] * (len(stroke[0]) - 1) + [1] if stroke[0] else []
            n += len(stroke[0])
        counts.append(n)
    ink = batch_ink(np.array(xs), np.array(ys), np.array(ends), np.concatenate([[0], np.cumsum(counts)]))
    return [np.asarray(ink.drawing(i), np.float32).reshape(-1, 3) for i in range(len(drawings))]


def strokes_inputs(strokes: list) -> dict[str, list]:
    """``predict_strokes``'s inputs for one NDJSON drawing (``[[x…], [y…]]`` per stroke): the strokes' points
    concatenated, and each stroke's length."""
    return {
        "x": [float(v) for s in strokes for v in s[0]],
        "y": [float(v) for s in strokes for v in s[1]],
        "stroke_lengths": [len(s[0]) for s in strokes],
    }


def serialized_examples(drawings: Sequence[Drawing]) -> list[bytes]:
    """``tf.Example``s holding each drawing's ink, computed as the conversion computes it."""
    return ink_examples(inks(drawings))


def ink_examples(drawing_inks: Sequence[np.ndarray]) -> list[bytes]:
    """``serving_default``'s input: a serialized ``tf.Example`` holding each ink [points, 3]."""
    import tensorflow as tf

    out = []
    for ink in drawing_inks:
        example = tf.train.Example()
        example.features.feature[F.INK].float_list.value.extend(ink.ravel().tolist())
        out.append(example.SerializeToString())
    return out


def top_k_labels(probabilities: np.ndarray, class_names: list[str], k: int) -> list[list[dict[str, Any]]]:
    k = min(k, probabilities.shape[1])
    best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [
        [{"label": class_names[j], "score": round(float(p[j]), 6)} for j in row]
        for p, row in zip(probabilities, best)
    ]


class Predictor:
    def __init__(self, model_dir: str) -> None:
        import tensorflow as tf

        self.model_dir = resolve_model_dir(model_dir)
        self._loaded = tf.saved_model.load(self.model_dir)
        self._serve = self._loaded.signatures["serving_default"]
        self.class_names = [n.decode() for n in self._loaded.class_names().numpy()]

    def close(self) -> None:
        """Drop the model (its functions are freed now, not during interpreter shutdown)."""
        self._loaded = self._serve = None
        gc.collect()

    def top_k(self, drawings: Sequence[Drawing], k: int) -> list[list[dict[str, Any]]]:
        return self.top_k_of_examples(serialized_examples(drawings), k)

    def top_k_of_examples(self, examples: Sequence[bytes], k: int) -> list[list[dict[str, Any]]]:
        """``serving_default`` on serialized ``tf.Example``s (one call) → each one's top-k."""
        import tensorflow as tf

        probabilities = self._serve(examples=tf.constant(list(examples)))["probabilities"].numpy()
        return top_k_labels(probabilities, self.class_names, k)


class TFLitePredictor:
    """The version's ``model.tflite`` (written beside the SavedModel by the Trainer), one drawing at a time."""

    def __init__(self, model_dir: str) -> None:
        from components.training import tflite_export

        self.model_dir = resolve_model_dir(model_dir)
        path = os.path.join(self.model_dir, tflite_export.TFLITE_FILE)
        if not os.path.exists(path):
            raise ModelNotFound(
                f"{self.model_dir} has no {tflite_export.TFLITE_FILE} (trained with --tflite none, or its "
                "parity check failed: see the Trainer's training_summary.json)"
            )
        with open(path, "rb") as f:
            self._interpreter = tflite_export.Interpreter(f.read())
        with open(os.path.join(self.model_dir, tflite_export.LABELS_FILE), encoding="utf-8") as f:
            self.class_names = f.read().splitlines()

    def top_k(self, drawings: Sequence[Drawing], k: int) -> list[list[dict[str, Any]]]:
        probabilities = np.stack([self._interpreter(ink) for ink in inks(drawings)])
        return top_k_labels(probabilities, self.class_names, k)


def new_counts() -> dict[str, int]:
    """What ``summary`` reports: drawings predicted, lines skipped, and the hits among the labelled ones."""
    return {"predicted": 0, "skipped": 0, "labelled": 0, "top1": 0, "topk": 0}


def scored_record(key_id: str | None, word: str | None, best: list[dict[str, Any]], counts: dict[str, int]):
    """A drawing's output line (``key_id``, ``word`` when known, ``top_k``), counted into ``counts``."""
    record: dict[str, Any] = {"key_id": key_id}
    if word is not None:
        record["word"] = word
        counts["labelled"] += 1
        labels = [b["label"] for b in best]
        counts["top1"] += labels[:1] == [word]
        counts["topk"] += word in labels
    record["top_k"] = best
    counts["predicted"] += 1
    return record


def predict_files(
    model_dir: str,
    paths: Sequence[str],
    top_k: int = DEFAULT_TOP_K,
    max_points: int = DEFAULT_MAX_POINTS,
    out: IO[str] = sys.stdout,
    errors: IO[str] = sys.stderr,
    tflite: bool = False,
) -> dict[str, int]:
    """Writes one JSON line per usable drawing to ``out``; returns the counts."""
    predictor = TFLitePredictor(model_dir) if tflite else Predictor(model_dir)
    counts = new_counts()
    skipped: list[str] = []

    def flush(batch: list[Drawing]) -> None:
        for drawing, best in zip(batch, predictor.top_k(batch, top_k)):
            print(
                json.dumps(scored_record(drawing.key_id, drawing.word, best, counts), ensure_ascii=False),
                file=out,
            )

    for path in paths:
        batch: list[Drawing] = []
        for drawing in read_drawings(path, max_points, errors, skipped):
            batch.append(drawing)
            if len(batch) == BATCH:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
    counts["skipped"] = len(skipped)
    return counts


def summary(counts: dict[str, int], top_k: int) -> str:
    return f"predicted {counts['predicted']:,} drawings; skipped {counts['skipped']:,} lines" + accuracy_text(
        counts, top_k
    )


def accuracy_text(counts: dict[str, int], top_k: int) -> str:
    """The accuracy clause of a summary line ("; on the N with a word: top-1 …, top-k …"); empty when no
    drawing had a word."""
    n = counts["labelled"]
    if not n:
        return ""
    return (
        f"; on the {n:,} with a word: top-1 accuracy {counts['top1'] / n:.4f}, "
        f"top-{top_k} accuracy {counts['topk'] / n:.4f}"
    )
