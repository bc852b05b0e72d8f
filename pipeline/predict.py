"""``quickdraw predict``: classify the drawings of NDJSON files with a pushed model.

Each line's drawing is validated exactly as the conversion validates it (same
reasons); ``word``, ``key_id`` and the other metadata are optional here (a drawing
to classify need not be labelled). A bad line is reported on stderr with its file
and line number and the others are still predicted. Valid drawings go through the model's ``serving_default``
signature in batches, as serialized ``tf.Example``s whose ink is computed by the
conversion's own code, so predictions match what the Evaluator scored. With
``tflite`` the version's ``model.tflite`` scores them instead, one drawing at a time.
"""

from __future__ import annotations

import dataclasses
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
    """A SavedModel directory, or a serving directory → its newest numeric version."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    if not os.path.isdir(path):
        raise ModelNotFound(f"no model at {path}")
    versions = sorted((int(n) for n in os.listdir(path) if n.isdigit()), reverse=True)
    for version in versions:
        candidate = os.path.join(path, str(version))
        if os.path.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise ModelNotFound(f"{path} holds neither saved_model.pb nor a numeric version directory with one")


@dataclasses.dataclass
class Drawing:
    source: str
    line: int
    key_id: str | None
    word: str | None
    strokes: list


def read_drawings(path: str, max_points: int, errors: IO[str], skipped: list[str]) -> Iterator[Drawing]:
    """The usable drawings of one NDJSON file; each unusable line is reported to ``errors``
    (``file:line: skipped: reason``) and its reason appended to ``skipped``."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            reason = None
            obj: Any = None
            if not line.strip():
                reason = parsing.BLANK_LINE
            else:
                try:
                    obj = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError:
                    reason = parsing.INVALID_UTF8
                except (ValueError, RecursionError):
                    reason = parsing.INVALID_JSON
            if reason is None and not isinstance(obj, dict):
                reason = parsing.NOT_AN_OBJECT
            if reason is None:
                reason = parsing.check_drawing(obj.get("drawing"), max_points)
            if reason is not None:
                print(f"{path}:{number}: skipped: {reason}", file=errors)
                skipped.append(reason)
                continue
            key_id = obj.get("key_id")
            word = obj.get("word")
            yield Drawing(
                path,
                number,
                None if key_id is None else str(key_id),
                word if isinstance(word, str) else None,
                obj["drawing"],
            )


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
    import tensorflow as tf

    out = []
    for ink in inks(drawings):
        example = tf.train.Example()
        example.features.feature[F.INK].float_list.value.extend(ink.ravel().tolist())
        out.append(example.SerializeToString())
    return out


def _top_k(probabilities: np.ndarray, class_names: list[str], k: int) -> list[list[dict[str, Any]]]:
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

    def top_k(self, drawings: Sequence[Drawing], k: int) -> list[list[dict[str, Any]]]:
        import tensorflow as tf

        examples = tf.constant(serialized_examples(drawings))
        return _top_k(self._serve(examples=examples)["probabilities"].numpy(), self.class_names, k)


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
        return _top_k(probabilities, self.class_names, k)


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
    counts = {"predicted": 0, "skipped": 0, "labelled": 0, "top1": 0, "topk": 0}
    skipped: list[str] = []

    def flush(batch: list[Drawing]) -> None:
        for drawing, best in zip(batch, predictor.top_k(batch, top_k)):
            record = {"key_id": drawing.key_id}
            if drawing.word is not None:
                record["word"] = drawing.word
                counts["labelled"] += 1
                labels = [b["label"] for b in best]
                counts["top1"] += labels[:1] == [drawing.word]
                counts["topk"] += drawing.word in labels
            record["top_k"] = best
            print(json.dumps(record, ensure_ascii=False), file=out)
            counts["predicted"] += 1

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
    text = f"predicted {counts['predicted']:,} drawings; skipped {counts['skipped']:,} lines"
    if counts["labelled"]:
        n = counts["labelled"]
        text += (
            f"; on the {n:,} with a word: top-1 accuracy {counts['top1'] / n:.4f}, "
            f"top-{top_k} accuracy {counts['topk'] / n:.4f}"
        )
    return text
