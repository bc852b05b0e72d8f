"""The ``Report`` as one self-contained HTML page, for reviews.

Inline CSS and SVG, no script and nothing fetched from a network, so the page
opens anywhere and can be attached to a review. The markup lives in Jinja2
templates (``templates/``) rendered with autoescaping on: every value from the run
(class names, countries, key_ids, paths) is text unless a template says otherwise,
so the page never inserts data as markup, whichever place shows it. This module
only turns the ``Report`` into the rows and shapes the templates lay out.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jinja2
import numpy as np

from components.conversion.ink import points_of_ink
from components.training import evaluation
from pipeline.disputes import CONFIDENT, SHOWN_CLASSES, Disputes
from pipeline.outcome import METRIC_LABELS
from pipeline.report.collect import Report, SliceRow
from pipeline.report.data import DataSection

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
CHART_ROWS = 60  # classes in the bar chart; every class is in the table

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template: the pages are HTML, and the data is never markup
    undefined=jinja2.StrictUndefined,  # a misspelt name fails the render instead of vanishing
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclasses.dataclass(frozen=True)
class InkDrawing:
    """A drawing as polylines (points as "x,y x,y …" in pixels) in a square of ``size`` pixels."""

    size: int
    strokes: list[str]


def ink_drawing(ink: np.ndarray, size: int = 96) -> InkDrawing:
    """A drawing's ink ([n, 3] deltas + stroke ends, as converted) scaled into a square of ``size`` pixels."""
    x, y, stroke_lengths = points_of_ink(ink)
    points = np.stack([x, y], axis=1).astype(np.float64)
    lower = points.min(axis=0)
    span = max(float((points.max(axis=0) - lower).max()), 1e-6)
    xy = (points - lower) / span * (size - 8) + 4
    strokes = np.split(xy, np.cumsum(stroke_lengths)[:-1])
    return InkDrawing(size, [" ".join(f"{px:.1f},{py:.1f}" for px, py in s) for s in strokes if len(s) > 1])


def ink_svg(ink: np.ndarray, size: int = 96) -> str:
    """The drawing as a standalone SVG element (the template's ``ink`` macro)."""
    macros = _ENVIRONMENT.get_template("macros.html").module
    return str(macros.ink(ink_drawing(ink, size)))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _bar_chart(rows: list[SliceRow], width: int = 640) -> dict[str, Any]:
    """Horizontal bars of accuracy per row, laid out for the ``bars`` macro."""
    bar_height, label_width = 14, 170
    height = bar_height * len(rows) + 24
    return {
        "shown": CHART_ROWS,
        "width": label_width + width + 60,
        "height": height,
        "bar_height": bar_height,
        "label_width": label_width,
        "axis_y": height - 8,
        "bars": [
            {
                "name": row.name,
                "y": 4 + i * bar_height,
                "length": max(row.accuracy, 0.0) * width,
                "accuracy": row.accuracy,
                "colour": "#d93025" if row.accuracy < 0.5 else "#1a73e8",
            }
            for i, row in enumerate(rows)
        ],
        "ticks": [{"x": label_width + t * width, "value": t} for t in (0.0, 0.25, 0.5, 0.75, 1.0)],
    }


def _data_rows(section: DataSection | None) -> dict[str, Any]:
    """The data section's tables as rows of text."""
    if section is None:
        return {}
    train = [c["train"] for c in section.counts_by_class.values()]
    return {
        "lengths": [
            [
                s.split,
                f"{s.drawings:,}",
                f"{s.mean:.1f}",
                *(f"{s.at(q):.0f}" for q in (0, 0.1, 0.5, 0.9, 1.0)),
            ]
            for s in section.lengths
        ],
        "classes": [[name, c["train"], c["eval"]] for name, c in section.counts_by_class.items()],
        "countries": [
            [name or "(none)", c["train"], c["eval"]] for name, c in section.counts_by_country.items()
        ],
        "spread": f", {min(train):,}–{max(train):,} train drawings per class" if train else "",
    }


def _provenance(report: Report) -> list[list[Any]]:
    return [
        [k, json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v]
        for k, v in report.provenance.items()
    ]


def _slice_rows(rows: list[SliceRow], names: dict[str, str] | None = None) -> list[list[Any]]:
    return [[(names or {}).get(r.name, r.name), f"{r.accuracy:.4f}", r.count] for r in rows]


def _hyperparameter_rows(chosen) -> dict[str, Any] | None:
    """The hyperparameters the Trainer used: where from, and the Tuner's trials (best first) as a table."""
    if chosen is None:
        return None
    names = list(chosen.values)
    trials = [
        [t.get("trial_id", ""), f"{t['score']:.4f}", *(f"{t.get(n, '')}" for n in names)]
        for t in chosen.trials
    ]
    return {"summary": chosen.summary(), "header": ["trial", "eval top-1", *names], "trials": trials}


def _dispute_rows(found: Disputes | None) -> dict[str, Any] | None:
    """The data-quality section: the most disputed classes with their drawings, the confused pairs of the
    training split, and the disputed share among recognised and unrecognised drawings."""
    if found is None:
        return None

    def share(disputed: int, scored: int) -> str:
        return f"{disputed / scored:.1%}" if scored else "–"

    return {
        "confident": CONFIDENT,
        "scored": [
            [
                split,
                f"{found.scored[split]:,}",
                f"{found.disputed[split]:,}",
                share(found.disputed[split], found.scored[split]),
            ]
            for split in sorted(found.scored)
        ],
        "by_recognized": [
            [label, f"{scored:,}", f"{disputed:,}", share(disputed, scored)]
            for label, (scored, disputed) in (
                ("yes", found.by_recognized[True]),
                ("no", found.by_recognized[False]),
            )
        ],
        "pairs": [[a, b, f"{n:,}"] for a, b, n in found.confused_pairs()],
        "classes": [
            {
                "word": word,
                "count": count,
                "drawings": [
                    {
                        "ink": ink_drawing(d.ink),
                        "word_score": d.word_score,
                        "predicted": d.predicted,
                        "predicted_score": d.predicted_score,
                        "key_id": d.key_id,
                        "split": d.split,
                    }
                    for d in drawings
                ],
            }
            for word, count, drawings in found.most_disputed()
        ],
        "shown_classes": SHOWN_CLASSES,
    }


def render(report: Report) -> str:
    o = report.outcome
    common = {
        "report": report,
        "outcome": o,
        "data_rows": _data_rows(report.data),
        "provenance": _provenance(report),
    }
    if not o.trained:
        return _ENVIRONMENT.get_template("stopped.html").render(**common)
    cards = [
        {
            "label": label,
            "value": f"{int(o.metrics[key]):,}"
            if key == evaluation.EXAMPLE_COUNT
            else f"{o.metrics[key]:.4f}",
            "baseline": f"{report.baseline[key]:.4f}"
            if key in report.baseline and key != evaluation.EXAMPLE_COUNT
            else None,
        }
        for key, label in METRIC_LABELS.items()
        if key in o.metrics
    ]
    return _ENVIRONMENT.get_template("evaluation.html").render(
        **common,
        thresholds=[
            [
                t.description,
                _pct(t.value),
                "not applied (no blessed baseline yet)"
                if t.passed is None
                else ("passed" if t.passed else "FAILED"),
            ]
            for t in report.thresholds
        ],
        cards=cards,
        hyperparameters=_hyperparameter_rows(o.hyperparameters),
        compare=[
            [
                label,
                _pct(o.metrics.get(k)),
                _pct(report.baseline.get(k)),
                f"{o.metrics[k] - report.baseline[k]:+.4f}",
            ]
            for k, label in METRIC_LABELS.items()
            if k in report.baseline and k in o.metrics
        ],
        chart=_bar_chart(report.per_class[:CHART_ROWS]),
        per_class=_slice_rows(report.per_class),
        by_country=_slice_rows(report.by_country),
        by_recognized=_slice_rows(report.by_recognized, {"1": "yes", "0": "no"}),
        misclassified=[
            {
                "ink": ink_drawing(d.ink),
                "true": d.true,
                "predicted": d.predicted,
                "score": d.score,
                "key_id": d.key_id,
            }
            for d in report.misclassified
        ],
        disputes=_dispute_rows(report.disputes),
    )


def write(report: Report, output: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(report))
    os.replace(tmp, output)
