"""The offline demo corpus: procedural drawings in the official *simplified* schema.

Each class is a family of shapes drawn the way people draw them, modelled on the real drawings of the same
classes (never trained or tuned on them): where the pen starts and which way it runs, how many strokes,
outlines that overshoot or stop short of closing, a slow wobble, small turns, stretches and slants, and
the official simplification (scaled to 0-255 with the top-left at 0, then Ramer-Douglas-Peucker at 2.0),
which gives the real point counts. Some classes are close cousins (circle/hexagon, square/diamond,
zigzag/wave), so a model learns them but not trivially. How well a demo model recognises real drawings
is measured by ``make bench-demo`` (BENCHMARKS.md).

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


# --------------------------------------------------------------------------- the ideal shapes
# Unit coordinates, y down (screen), about [-1, 1]. Each function also decides what people decide: where the
# pen starts, which way it runs, and how many strokes the shape takes (from the real drawings of the class:
# circles mostly start near the top and run counter-clockwise; squares start at the top-left corner; stars
# are mostly drawn as an outline, some as a pentagram; a diamond is as often the gem as the rhombus).


def _vertices(count: int, phase: float, inner: float | None = None) -> np.ndarray:
    """A regular polygon's corners (or a star's, alternating ``inner`` radius), counter-clockwise on screen
    from the angle ``phase``."""
    angles = phase - np.arange(count) * 2 * np.pi / count
    radius = np.ones(count) if inner is None else np.where(np.arange(count) % 2 == 0, 1.0, inner)
    return np.stack([np.cos(angles) * radius, np.sin(angles) * radius], axis=1)


def _closed(
    rng: Rng, corners: np.ndarray, start: int, counter_clockwise: float, unfinished: float = 0.1
) -> np.ndarray:
    """The closed outline through ``corners`` (given counter-clockwise) from corner ``start``; clockwise
    with probability 1 - ``counter_clockwise``. With probability ``unfinished`` it stops one or more sides
    short: the game ends a round as soon as its model recognises the drawing, so many real outlines are
    left open."""
    order = np.roll(np.arange(len(corners)), -start)
    if rng.random() >= counter_clockwise:
        order = np.concatenate([order[:1], order[1:][::-1]])
    path = corners[np.concatenate([order, order[:1]])]
    if rng.random() < unfinished:
        sides = len(corners)
        path = path[: int(rng.integers((sides + 1) // 2, sides)) + 1]
    return path


def _in_strokes(rng: Rng, path: np.ndarray, weights: dict[int, float]) -> list[Stroke]:
    """A polyline cut at its corners into 1, 2, … strokes (``weights``: strokes → probability)."""
    counts, p = list(weights), np.array(list(weights.values()))
    pieces = min(int(rng.choice(counts, p=p / p.sum())), len(path) - 1)
    if pieces <= 1:
        return [path]
    cuts = np.sort(rng.choice(np.arange(1, len(path) - 1), size=pieces - 1, replace=False))
    bounds = np.concatenate([[0], cuts, [len(path) - 1]])
    return [path[bounds[i] : bounds[i + 1] + 1] for i in range(pieces)]


def circle(rng: Rng) -> list[Stroke]:
    start = -np.pi / 2 + rng.normal(0.2, 0.5)
    turn = rng.choice([-1, 1], p=[0.75, 0.25]) * rng.uniform(0.93, 1.12) * 2 * np.pi
    angles = start + np.linspace(0, turn, 64)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return [ring] if rng.random() < 0.93 else [ring[:34], ring[30:]]


def square(rng: Rng) -> list[Stroke]:
    corners = np.array([[-1, -1], [-1, 1], [1, 1], [1, -1]], float)  # counter-clockwise on screen
    start = 0 if rng.random() < 0.75 else int(rng.integers(4))
    return _in_strokes(rng, _closed(rng, corners, start, 0.6), {1: 0.8, 2: 0.1, 4: 0.1})


def triangle(rng: Rng) -> list[Stroke]:
    corners = np.array([[rng.uniform(-0.3, 0.3), -1], [-1, 1], [1, 1]], float)
    start = int(rng.choice(3, p=[0.35, 0.55, 0.1]))  # most start at the bottom-left corner, then the apex
    return _in_strokes(rng, _closed(rng, corners, start, 0.3), {1: 0.65, 2: 0.15, 3: 0.2})


def star(rng: Rng) -> list[Stroke]:
    kind = rng.random()
    if kind < 0.55:  # the outline: ten corners
        corners = _vertices(10, -np.pi / 2, inner=rng.uniform(0.35, 0.55))
        start = 0 if rng.random() < 0.5 else 2 * int(rng.integers(5))
        return _in_strokes(rng, _closed(rng, corners, start, 0.5), {1: 0.85, 2: 0.1, 5: 0.05})
    points = _vertices(5, -np.pi / 2)
    if kind < 0.9:  # the pentagram, in one stroke
        order = (np.array([0, 2, 4, 1, 3, 0]) + int(rng.choice([0, 2, 3], p=[0.3, 0.2, 0.5]))) % 5
        return [points[order] if rng.random() < 0.6 else points[order[::-1]]]
    up, down = _vertices(3, -np.pi / 2), _vertices(3, np.pi / 2)  # two triangles
    return [up[[0, 1, 2, 0]], down[[0, 1, 2, 0]]]


def zigzag(rng: Rng) -> list[Stroke]:
    corners = int(rng.integers(4, 12))
    along = np.linspace(0, 1, corners) + rng.normal(0, 0.02, corners)
    across = np.where(np.arange(corners) % 2 == 0, 0.0, 1.0) * rng.uniform(0.15, 0.7)
    path = np.stack([along, across], axis=1) * 2 - 1
    if rng.random() < 0.15:
        path = path[::-1]
    turn = rng.uniform(-0.7, 0.7) + (np.pi / 2 if rng.random() < 0.2 else 0.0)  # slanted, some upright
    cos, sin = np.cos(turn), np.sin(turn)
    return [path @ np.array([[cos, sin], [-sin, cos]])]


def spiral(rng: Rng) -> list[Stroke]:
    turns = rng.uniform(2, 4)
    t = np.linspace(0, 1, 120)
    angle = t * turns * 2 * np.pi * rng.choice([-1, 1])
    path = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return [path if rng.random() < 0.7 else path[::-1]]


def hexagon(rng: Rng) -> list[Stroke]:
    corners = _vertices(6, -np.pi / 2 + (np.pi / 6 if rng.random() < 0.5 else 0.0))
    start = int(rng.choice(3, p=[0.3, 0.4, 0.3])) if rng.random() < 0.8 else int(rng.integers(6))
    strokes = {1: 0.55, 2: 0.15, 3: 0.1, 4: 0.1, 6: 0.1}
    return _in_strokes(rng, _closed(rng, corners, start, 0.5, unfinished=0.35), strokes)


def diamond(rng: Rng) -> list[Stroke]:
    kind = rng.random()
    if kind < 0.55:  # the gem: a flat top, the girdle, a point at the bottom, mostly with its facets
        girdle = rng.uniform(-0.6, -0.2)
        top = rng.uniform(0.35, 0.7)
        corners = np.array([[-top, -1], [-1, girdle], [0, 1], [1, girdle], [top, -1]], float)
        strokes = _in_strokes(rng, _closed(rng, corners, 0, 0.5), {1: 0.6, 2: 0.3, 3: 0.1})
        if rng.random() < 0.9:
            strokes.append(np.array([[-1, girdle], [1, girdle]]))
            for x in rng.choice([-0.5, -0.15, 0.15, 0.5], size=int(rng.integers(1, 4)), replace=False):
                strokes.append(np.array([[x * top * 2, -1 if rng.random() < 0.5 else girdle], [0, 1]]))
        return strokes
    waist = rng.uniform(-0.35, 0.0) if kind > 0.9 else 0.0  # a kite, or the rhombus
    corners = np.array([[0, -1], [-1, waist], [0, 1], [1, waist]], float)
    start = 0 if rng.random() < 0.7 else int(rng.integers(4))
    return _in_strokes(rng, _closed(rng, corners, start, 0.55), {1: 0.6, 2: 0.3, 4: 0.1})


def wave(rng: Rng) -> list[Stroke]:
    periods = rng.uniform(1.0, 3.5)
    x = np.linspace(-1, 1, 80)
    y = np.sin(x * periods * np.pi + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.15, 0.5)
    return [np.stack([x, y], axis=1)]


def cross(rng: Rng) -> list[Stroke]:
    horizontal = np.array([[-1, 0], [1, 0]], float)
    vertical = np.array([[0, -1], [0, 1]], float)
    if rng.random() < 0.3:  # the diagonal cross
        horizontal, vertical = np.array([[-1, -1], [1, 1]], float), np.array([[1, -1], [-1, 1]], float)
    return [vertical, horizontal] if rng.random() < 0.6 else [horizontal, vertical]


def arrow(rng: Rng) -> list[Stroke]:
    shaft = np.array([[-1, 0], [1, 0]], float)
    head = np.array([[0.5, -0.4], [1, 0], [0.5, 0.4]], float)
    return [shaft, head] if rng.random() < 0.8 else [np.concatenate([shaft, head[::-1][1:]])]


def house(rng: Rng) -> list[Stroke]:
    walls = np.array([[-1, -0.1], [-1, 1], [1, 1], [1, -0.1], [-1, -0.1]], float)
    roof = np.array([[-1, -0.1], [0, -1], [1, -0.1]], float)
    return [walls, roof]


SHAPES: dict[str, Callable[[Rng], list[Stroke]]] = {
    f.__name__: f
    for f in (circle, square, triangle, star, zigzag, spiral, hexagon, diamond, wave, cross, arrow, house)
}


# --------------------------------------------------------------------------- the hand and the simplification

DENSE = 96  # points per stroke while the hand wobbles along it
WOBBLE_WAVELENGTH = 1.0  # unit lengths (about 100 of the 0-255 pixels) per cycle of a hand's slowest wobble
SIMPLIFY_EPSILON = 2.0  # the official simplification: RDP at 2.0 on the 0-255 drawing


def _resample(stroke: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along a polyline (its corners may be cut by up to one spacing)."""
    steps = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    distance = np.concatenate([[0.0], np.cumsum(steps)])
    if distance[-1] == 0:
        return np.repeat(stroke[:1], count, axis=0)
    targets = np.linspace(0, distance[-1], count)
    return np.stack([np.interp(targets, distance, stroke[:, k]) for k in (0, 1)], axis=1)


def _rounded(dense: np.ndarray, window: int) -> np.ndarray:
    """Corners rounded as a hand that does not stop rounds them: a moving average of ``window`` points
    (the stroke's ends stay where they are)."""
    if window <= 1:
        return dense
    padded = np.concatenate(
        [np.repeat(dense[:1], window, axis=0), dense, np.repeat(dense[-1:], window, axis=0)]
    )
    kernel = np.ones(window) / window
    smooth = np.stack([np.convolve(padded[:, k], kernel, mode="same") for k in (0, 1)], axis=1)
    return smooth[window:-window]


def _wobble(rng: Rng, stroke: np.ndarray, size: float) -> np.ndarray:
    """A hand's smooth deviations along a stroke, [DENSE, 2]: a few sine waves per axis, the slowest one
    cycle per ``WOBBLE_WAVELENGTH`` of the stroke's length, each faster one weaker. People's straight sides
    bow a little, so simplification keeps a few points on each, as in the real drawings."""
    length = float(np.linalg.norm(np.diff(stroke, axis=0), axis=1).sum())
    t = np.linspace(0, 1, DENSE)[:, None, None]
    cycles = max(length / WOBBLE_WAVELENGTH, 0.5) * np.array([1.0, 1.7, 2.9])[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, 3, 2))
    amplitude = rng.normal(0, size, size=(1, 3, 2)) / np.array([1.0, 1.5, 2.5])[None, :, None]
    return (amplitude * np.sin(2 * np.pi * cycles * t + phase)).sum(axis=1)


def _simplified(points: np.ndarray, epsilon: float = SIMPLIFY_EPSILON) -> np.ndarray:
    """Ramer-Douglas-Peucker, as the official simplified drawings were made (iterative, no recursion)."""
    keep = np.zeros(len(points), bool)
    keep[[0, -1]] = True
    spans = [(0, len(points) - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        segment = points[last] - points[first]
        inner = points[first + 1 : last] - points[first]
        norm = np.hypot(*segment)
        if norm == 0:
            distance = np.hypot(inner[:, 0], inner[:, 1])
        else:
            distance = np.abs(segment[0] * inner[:, 1] - segment[1] * inner[:, 0]) / norm
        far = int(np.argmax(distance))
        if distance[far] > epsilon:
            middle = first + 1 + far
            keep[middle] = True
            spans += [(first, middle), (middle, last)]
    return points[keep]


def _hand_drawn(rng: Rng, ideals: list[list[Stroke]]) -> tuple[list[list[list[list[int]]]], np.ndarray]:
    """People's versions of ideal drawings: per drawing, its strokes as ``[[x…], [y…]]`` integer lists in
    0-255 (top-left at 0, longest side 255), and each drawing's difficulty in [0, 1).

    A drawing is turned, stretched and slanted a little; each stroke is displaced a little (strokes do not
    meet exactly) and wobbles slowly along its length; the result is scaled to 0-255 and simplified as the
    official data was (RDP, epsilon 2), which gives point counts like the real ones (many on curves, few on
    straight sides).
    """
    n = len(ideals)
    difficulty = rng.random(n)
    drawings = []
    for d, strokes in enumerate(ideals):
        angle = rng.normal(0, np.radians(5 + 10 * difficulty[d]))
        stretch = rng.uniform(0.75, 1.3, size=2)
        shear = rng.normal(0, 0.08)
        cos, sin = np.cos(angle), np.sin(angle)
        transform = np.array([[cos, -sin], [sin, cos]]) @ np.diag(stretch) @ np.array([[1, shear], [0, 1]])
        size = 0.005 + 0.01 * difficulty[d]
        hand = []
        for stroke in strokes:
            stroke = np.asarray(stroke, float)
            dense = _rounded(_resample(stroke, DENSE), int(rng.integers(1, 8)))
            hand.append((dense + _wobble(rng, stroke, size) + rng.normal(0, size, 2)) @ transform.T)
        if rng.random() < 0.1 and len(hand) > 1:
            hand = [hand[i] for i in rng.permutation(len(hand))]
        points = np.concatenate(hand)
        lower = points.min(axis=0)
        scale = 255.0 / max(float((points.max(axis=0) - lower).max()), 1e-9)
        drawing = []
        for stroke in hand:
            simple = np.clip(np.rint(_simplified((stroke - lower) * scale)), 0, 255).astype(np.int64)
            drawing.append([simple[:, 0].tolist(), simple[:, 1].tolist()])
        drawings.append(drawing)
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
