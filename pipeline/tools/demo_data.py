"""The offline demo corpus: procedural drawings in the official *simplified* schema.

Each class is a family of shapes drawn the way people draw them: one or more
strokes, random stroke order and direction, rotation, aspect and scale changes,
a wobbly hand (low-frequency noise along the path), jitter, and point counts
like the real simplified data (RDP-simplified strokes of 3-40 points, then
scaled to 0-255 with the top-left at 0). Some classes are close cousins
(circle/hexagon, square/diamond, zigzag/wave), so a model learns them but not
trivially.

Determinism: class ``c`` of seed ``s`` draws from its own ``numpy`` generator
seeded with ``(s, c)``, so the same arguments give the same bytes, and classes
can be written in parallel processes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from components.errors import UserError

DEFAULT_PER_CLASS = 500  # drawings per class (`make demo`)
DEFAULT_SEED = 0

Stroke = np.ndarray  # [k, 2] float, unit coordinates
Rng = np.random.Generator

COUNTRIES = ("US", "GB", "DE", "BR", "RU", "CA", "FR", "PL", "JP", "KR", "IT", "AU", "SE", "TH", "CZ")
COUNTRY_WEIGHTS = np.array([30, 8, 7, 6, 6, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3], float) / 96
EPOCH_2017_03_01 = 1488326400  # the real corpus was collected around early 2017


def _polygon(vertices: int, phase: float = 0.0) -> np.ndarray:
    angles = phase + np.linspace(0, 2 * np.pi, vertices + 1)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _ragged_resample(points: np.ndarray, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Resample every polyline ``points[offsets[i]:offsets[i+1]]`` (>= 2 points) to ``counts[i]``
    points evenly spaced along it; all polylines at once. Returns [sum(counts), 2]."""
    strokes = len(counts)
    owner = np.repeat(np.arange(strokes), np.diff(offsets))
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    steps[offsets[1:-1] - 1] = 0.0  # no distance between one polyline's end and the next one's start
    distance = np.concatenate([[0.0], np.cumsum(steps)])
    start, end = offsets[:-1], offsets[1:] - 1
    length = distance[end] - distance[start]
    gap = float(length.max()) + 1.0  # keeps polylines apart for searchsorted
    key = distance + owner * gap
    target_owner = np.repeat(np.arange(strokes), counts)
    target_offsets = np.concatenate([[0], np.cumsum(counts)])
    fraction = (np.arange(target_offsets[-1]) - target_offsets[:-1][target_owner]) / (
        counts[target_owner] - 1
    )
    targets = key[start][target_owner] + fraction * length[target_owner]
    left = np.searchsorted(key, targets, side="right") - 1
    left = np.clip(left, start[target_owner], end[target_owner] - 1)
    span = key[left + 1] - key[left]
    weight = np.divide(targets - key[left], span, out=np.zeros_like(span), where=span > 0)[:, None]
    return points[left] * (1 - weight) + points[left + 1] * weight


def _outline(rng: Rng, corners: np.ndarray, separate: float) -> list[Stroke]:
    """A closed outline: one stroke, or one stroke per side with probability ``separate``."""
    if rng.random() < separate:
        return [corners[i : i + 2] for i in range(len(corners) - 1)]
    start = rng.integers(len(corners) - 1)
    return [np.concatenate([corners[start:-1], corners[: start + 1]])]


def circle(rng: Rng) -> list[Stroke]:
    start = rng.uniform(0, 2 * np.pi)
    turn = rng.uniform(0.9, 1.15) * 2 * np.pi * rng.choice([-1, 1])
    angles = start + np.linspace(0, turn, 48)
    return [np.stack([np.cos(angles), np.sin(angles)], axis=1)]


def hexagon(rng: Rng) -> list[Stroke]:
    return _outline(rng, _polygon(6, rng.uniform(0, np.pi / 3)), separate=0.2)


def square(rng: Rng) -> list[Stroke]:
    return _outline(rng, np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], float), separate=0.35)


def diamond(rng: Rng) -> list[Stroke]:
    return _outline(rng, np.array([[0.5, 0], [1, 0.5], [0.5, 1], [0, 0.5], [0.5, 0]], float), separate=0.3)


def triangle(rng: Rng) -> list[Stroke]:
    apex = rng.uniform(0.3, 0.7)
    return _outline(rng, np.array([[0, 1], [1, 1], [apex, 0], [0, 1]], float), separate=0.35)


def star(rng: Rng) -> list[Stroke]:
    points = _polygon(5, -np.pi / 2)[:-1]
    order = [0, 2, 4, 1, 3, 0]  # the one-stroke pentagram
    return [points[order]]


def zigzag(rng: Rng) -> list[Stroke]:
    teeth = rng.integers(3, 8)
    x = np.linspace(0, 1, 2 * teeth + 1)
    y = np.where(np.arange(len(x)) % 2 == 0, 0.0, 1.0) * rng.uniform(0.2, 0.6)
    return [np.stack([x, y], axis=1)]


def wave(rng: Rng) -> list[Stroke]:
    periods = rng.uniform(1.5, 3.5)
    x = np.linspace(0, 1, 60)
    y = np.sin(x * periods * 2 * np.pi + rng.uniform(0, np.pi)) * rng.uniform(0.1, 0.3)
    return [np.stack([x, y], axis=1)]


def spiral(rng: Rng) -> list[Stroke]:
    turns = rng.uniform(2, 4)
    t = np.linspace(0, 1, 90)
    angle = t * turns * 2 * np.pi * rng.choice([-1, 1])
    return [np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)]


def cross(rng: Rng) -> list[Stroke]:
    horizontal = np.array([[0, 0.5], [1, 0.5]], float)
    vertical = np.array([[0.5, 0], [0.5, 1]], float)
    return [horizontal, vertical]


def arrow(rng: Rng) -> list[Stroke]:
    shaft = np.array([[0, 0.5], [1, 0.5]], float)
    head = np.array([[0.75, 0.3], [1, 0.5], [0.75, 0.7]], float)
    return [shaft, head] if rng.random() < 0.8 else [np.concatenate([shaft, head[::-1][1:]])]


def house(rng: Rng) -> list[Stroke]:
    walls = np.array([[0, 0.45], [0, 1], [1, 1], [1, 0.45], [0, 0.45]], float)
    roof = np.array([[0, 0.45], [0.5, 0], [1, 0.45]], float)
    return [walls, roof]


SHAPES: dict[str, Callable[[Rng], list[Stroke]]] = {
    f.__name__: f
    for f in (circle, square, triangle, star, zigzag, spiral, hexagon, diamond, wave, cross, arrow, house)
}


DENSE = 64  # points per stroke while the "hand" wobbles along it


def _hand_drawn(rng: Rng, ideals: list[list[Stroke]]) -> tuple[list[list[list[list[int]]]], np.ndarray]:
    """People's versions of many ideal drawings at once: per drawing, its strokes as
    ``[[x…], [y…]]`` integer lists in 0-255 (top-left at 0, longest side 255), and each
    drawing's difficulty in [0, 1). Vectorised over every stroke of every drawing."""
    n = len(ideals)
    difficulty = rng.random(n)
    angle = rng.normal(0, np.radians(10 + 15 * difficulty))
    stretch = rng.uniform(0.7, 1.3, size=(n, 2))
    shear = rng.normal(0, 0.1, size=n)
    cos, sin = np.cos(angle), np.sin(angle)
    # transform = rotation @ diag(stretch) @ [[1, shear], [0, 1]], one 2x2 per drawing
    transform = np.empty((n, 2, 2))
    transform[:, 0, 0] = cos * stretch[:, 0]
    transform[:, 0, 1] = cos * stretch[:, 0] * shear - sin * stretch[:, 1]
    transform[:, 1, 0] = sin * stretch[:, 0]
    transform[:, 1, 1] = sin * stretch[:, 0] * shear + cos * stretch[:, 1]

    strokes_per_drawing = np.array([len(strokes) for strokes in ideals])
    drawing_of_stroke = np.repeat(np.arange(n), strokes_per_drawing)
    flat = [stroke for strokes in ideals for stroke in strokes]
    reverse = rng.random(len(flat)) < 0.5
    flat = [stroke[::-1] if r else stroke for stroke, r in zip(flat, reverse)]
    vertices = np.array([len(stroke) for stroke in flat])
    offsets = np.concatenate([[0], np.cumsum(vertices)])
    dense = _ragged_resample(np.concatenate(flat), offsets, np.full(len(flat), DENSE)).reshape(-1, DENSE, 2)
    sigma = (0.006 + 0.012 * difficulty)[drawing_of_stroke][:, None, None]
    wobble = np.cumsum(rng.normal(size=dense.shape) * sigma, axis=1)
    wobble -= np.linspace(0, 1, DENSE)[None, :, None] * wobble[:, -1:, :]  # the hand comes back on target
    dense = np.einsum("spk,sjk->spj", dense + wobble, transform[drawing_of_stroke])
    counts = np.clip(rng.normal(6 + 2.5 * vertices, 4), 2, 40).astype(np.int64)
    sparse = _ragged_resample(dense.reshape(-1, 2), np.arange(0, DENSE * len(flat) + 1, DENSE), counts)
    point_drawing = np.repeat(drawing_of_stroke, counts)
    sparse += rng.normal(size=sparse.shape) * (0.01 + 0.01 * difficulty)[point_drawing][:, None]

    point_offsets = np.concatenate([[0], np.cumsum(counts)])
    drawing_starts = point_offsets[np.concatenate([[0], np.cumsum(strokes_per_drawing)[:-1]])]
    lower = np.minimum.reduceat(sparse, drawing_starts, axis=0)
    extent = (np.maximum.reduceat(sparse, drawing_starts, axis=0) - lower).max(axis=1)
    scale = 255.0 / np.maximum(extent, 1e-9)
    ints = np.clip(np.rint((sparse - lower[point_drawing]) * scale[point_drawing][:, None]), 0, 255)
    xs, ys = ints[:, 0].astype(np.int64).tolist(), ints[:, 1].astype(np.int64).tolist()

    permute = rng.random(n) < 0.3
    drawings = []
    stroke = 0
    for d in range(n):
        k = int(strokes_per_drawing[d])
        order = rng.permutation(k) if permute[d] else range(k)
        drawings.append(
            [
                [
                    xs[point_offsets[stroke + i] : point_offsets[stroke + i + 1]],
                    ys[point_offsets[stroke + i] : point_offsets[stroke + i + 1]],
                ]
                for i in order
            ]
        )
        stroke += k
    return drawings, difficulty


def _timestamp(seconds: int, micros: int) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{micros:05d} UTC"


CHUNK = 10_000  # drawings drawn per step of a class's generator (part of the stream's definition)


def class_lines(name: str, class_index: int, per_class: int, seed: int) -> Iterator[str]:
    """The NDJSON lines of one class, streamed (deterministic in its arguments)."""
    rng = np.random.default_rng([seed, class_index])
    shape = SHAPES[name]
    key_base = (seed + 1) * 10**12 + class_index * 10**9
    for start in range(0, per_class, CHUNK):
        count = min(CHUNK, per_class - start)
        countries = rng.choice(len(COUNTRIES), size=count, p=COUNTRY_WEIGHTS)
        seconds = EPOCH_2017_03_01 + rng.integers(0, 60 * 86400, size=count)
        micros = rng.integers(0, 100000, size=count)
        drawings, difficulty = _hand_drawn(rng, [shape(rng) for _ in range(count)])
        recognized = rng.random(count) > 0.05 + 0.3 * difficulty
        for i in range(count):
            drawing = json.dumps(drawings[i], separators=(",", ":"))
            yield (
                f'{{"word":"{name}","countrycode":"{COUNTRIES[countries[i]]}",'
                f'"timestamp":"{_timestamp(int(seconds[i]), int(micros[i]))}",'
                f'"recognized":{"true" if recognized[i] else "false"},"key_id":"{key_base + start + i}",'
                f'"drawing":{drawing}}}'
            )


def _write_class(args: tuple[str, str, int, int, int]) -> str:
    output_dir, name, class_index, per_class, seed = args
    path = os.path.join(output_dir, f"{name}.ndjson")
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        for line in class_lines(name, class_index, per_class, seed):
            f.write(line + "\n")
    os.replace(temporary, path)
    return path


def write_corpus(
    output_dir: str, per_class: int = DEFAULT_PER_CLASS, classes: int | None = None, seed: int = DEFAULT_SEED
) -> tuple[list[str], float]:
    """Write ``classes`` files (default: every shape) of ``per_class`` drawings; return their paths and
    the seconds taken."""
    classes = len(SHAPES) if classes is None else classes
    if not 1 <= classes <= len(SHAPES):
        raise UserError(f"--classes must be between 1 and {len(SHAPES)}, got {classes}")
    start = time.monotonic()
    os.makedirs(output_dir, exist_ok=True)
    jobs = [(output_dir, name, i, per_class, seed) for i, name in enumerate(list(SHAPES)[:classes])]
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1 and per_class * classes >= 20_000:
        with ProcessPoolExecutor(workers) as pool:
            paths = list(pool.map(_write_class, jobs))
    else:
        paths = [_write_class(job) for job in jobs]
    return paths, time.monotonic() - start
