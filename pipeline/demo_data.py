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
import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np

Stroke = np.ndarray  # [k, 2] float, unit coordinates
Rng = np.random.Generator

COUNTRIES = ("US", "GB", "DE", "BR", "RU", "CA", "FR", "PL", "JP", "KR", "IT", "AU", "SE", "TH", "CZ")
COUNTRY_WEIGHTS = np.array([30, 8, 7, 6, 6, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3], float) / 96
EPOCH_2017_03_01 = 1488326400  # the real corpus was collected around early 2017


def _polygon(vertices: int, phase: float = 0.0) -> np.ndarray:
    angles = phase + np.linspace(0, 2 * np.pi, vertices + 1)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _resample(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along the polyline ``points``."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    distance = np.concatenate([[0.0], np.cumsum(steps)])
    if distance[-1] == 0:
        return np.repeat(points[:1], count, axis=0)
    targets = np.linspace(0, distance[-1], count)
    return np.stack([np.interp(targets, distance, points[:, i]) for i in range(2)], axis=1)


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


def _hand_drawn(rng: Rng, strokes: list[Stroke]) -> tuple[list[np.ndarray], float]:
    """A person's version of the ideal strokes, as int [2, k] arrays in 0-255."""
    difficulty = rng.random()
    angle = rng.normal(0, math.radians(10 + 15 * difficulty))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    stretch = np.diag(rng.uniform(0.7, 1.3, size=2))
    shear = np.array([[1, rng.normal(0, 0.1)], [0, 1]])
    transform = rotation @ stretch @ shear
    drawn = []
    for stroke in strokes:
        if rng.random() < 0.5:
            stroke = stroke[::-1]
        dense = _resample(stroke, 64)
        wobble = np.cumsum(rng.normal(0, 0.006 + 0.012 * difficulty, size=dense.shape), axis=0)
        wobble -= np.linspace(0, 1, len(dense))[:, None] * wobble[-1]  # the hand comes back on target
        dense = (dense + wobble) @ transform.T
        count = int(np.clip(rng.normal(6 + 2.5 * len(stroke), 4), 2, 40))
        sparse = _resample(dense, count) + rng.normal(0, 0.01 + 0.01 * difficulty, size=(count, 2))
        drawn.append(sparse)
    order = rng.permutation(len(drawn)) if rng.random() < 0.3 else np.arange(len(drawn))
    drawn = [drawn[i] for i in order]
    points = np.concatenate(drawn)
    lower = points.min(axis=0)
    scale = 255.0 / max(float((points.max(axis=0) - lower).max()), 1e-9)
    return [np.clip(np.rint((s - lower) * scale), 0, 255).astype(np.int64).T for s in drawn], difficulty


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
        for i in range(count):
            strokes, difficulty = _hand_drawn(rng, shape(rng))
            recognized = bool(rng.random() > 0.05 + 0.3 * difficulty)
            drawing = json.dumps([s.tolist() for s in strokes], separators=(",", ":"))
            yield (
                f'{{"word":"{name}","countrycode":"{COUNTRIES[countries[i]]}",'
                f'"timestamp":"{_timestamp(int(seconds[i]), int(micros[i]))}",'
                f'"recognized":{"true" if recognized else "false"},"key_id":"{key_base + start + i}",'
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


def write_corpus(output_dir: str, per_class: int, classes: int, seed: int) -> tuple[list[str], float]:
    """Write ``classes`` files of ``per_class`` drawings; return their paths and the seconds taken."""
    if not 1 <= classes <= len(SHAPES):
        raise ValueError(f"--classes must be between 1 and {len(SHAPES)}, got {classes}")
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
