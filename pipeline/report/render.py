"""The ``Report`` as one self-contained HTML page, for reviews.

Inline CSS and SVG, no script and nothing fetched from a network, so the page
opens anywhere and can be attached to a review. Every value from the run (class
names, countries, key_ids, paths) is escaped: the page never inserts data as markup.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any

import numpy as np

from components.training import evaluation
from pipeline.outcome import METRIC_LABELS
from pipeline.report.collect import Report, SliceRow
from pipeline.report.data import DataSection


def ink_svg(ink: np.ndarray, size: int = 96) -> str:
    """A drawing's ink ([n, 3] deltas + stroke ends, as converted) as an SVG of ``size`` pixels."""
    points = np.vstack([[0.0, 0.0], np.cumsum(ink[:, :2], axis=0)])
    ends = np.concatenate([[0.0], ink[:, 2]])
    lower = points.min(axis=0)
    span = max(float((points.max(axis=0) - lower).max()), 1e-6)
    xy = (points - lower) / span * (size - 8) + 4
    strokes, current = [], [xy[0]]
    for i in range(1, len(xy)):
        if ends[i - 1] and i > 1:  # the previous point ended a stroke: the pen was lifted
            strokes.append(current)
            current = []
        current.append(xy[i])
    strokes.append(current)
    paths = "".join(
        '<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in s) + '"/>'
        for s in strokes
        if len(s) > 1
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f'<g fill="none" stroke="#222" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">'
        f"{paths}</g></svg>"
    )


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d1d1f;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.verdict{padding:.8rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
.ok{background:#e6f4ea;color:#0d652d}.bad{background:#fce8e6;color:#a50e0e}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .7rem;border-bottom:1px solid #eee;text-align:left}
th{background:#fafafa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}.muted{color:#666}.grid{display:flex;flex-wrap:wrap;gap:.6rem}
figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:.3rem;width:110px;text-align:center;font-size:12px}
figure svg{background:#fff}.pass{color:#0d652d}.fail{color:#a50e0e}code{font-size:12px;word-break:break-all}
details{margin:.5rem 0}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _table(head: list[str], rows: list[list[Any]], numeric: set[int] = frozenset()) -> str:
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _bars(rows: list[SliceRow], width: int = 640) -> str:
    """Horizontal bar chart of accuracy per row, as inline SVG."""
    bar_h, label_w = 14, 170
    height = bar_h * len(rows) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 60}" height="{height}" '
        f'role="img" aria-label="accuracy per class">'
    ]
    for i, row in enumerate(rows):
        y = 4 + i * bar_h
        w = max(row.accuracy, 0.0) * width
        colour = "#d93025" if row.accuracy < 0.5 else "#1a73e8"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 10}" font-size="11" text-anchor="end">{_e(row.name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 3}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 10}" font-size="10">{row.accuracy:.2f}</text>'
        )
    axis_y = height - 8
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * width
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 6}" font-size="9" text-anchor="middle">{tick:.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _data(section: DataSection | None) -> str:
    """The data section: anomalies first (what decides whether the run trained), then the counts."""
    if section is None:
        return '<p class="muted">No statistics recorded for this run.</p>'
    parts = []
    verdict = section.verdict
    if verdict is None:
        parts.append('<p class="muted">This run predates the data validation: no anomalies were checked.</p>')
    else:
        if verdict.lines:
            state = (
                "Trained anyway (--proceed-on-anomalies)"
                if verdict.proceeded
                else "The run stopped here: nothing was trained"
            )
            items = "".join(f"<li>{_e(line)}</li>" for line in verdict.lines)
            parts.append(
                f'<div class="verdict bad">{len(verdict.lines)} data anomalies. {_e(state)}.</div><ul>{items}</ul>'
            )
        else:
            parts.append("<p>Anomalies found: <b>none</b>.</p>")
        notes = "".join(f"<li>{_e(note)}</li>" for note in verdict.notes)
        parts.append(
            f'<ul class="muted">{notes}</ul><p class="muted">Anomalies artifact: {_e(verdict.uri)}; '
            f"ExampleValidator's: {_e(verdict.validator_uri)}</p>"
        )
    lengths = _table(
        ["split", "drawings", "mean", "min", "p10", "median", "p90", "max"],
        [
            [
                s.split,
                f"{s.drawings:,}",
                f"{s.mean:.1f}",
                *(f"{s.at(q):.0f}" for q in (0, 0.1, 0.5, 0.9, 1.0)),
            ]
            for s in section.lengths
        ],
        {1, 2, 3, 4, 5, 6, 7},
    )
    classes = _table(
        ["class", "train", "eval"],
        [[name, c["train"], c["eval"]] for name, c in section.counts_by_class.items()],
        {1, 2},
    )
    countries = _table(
        ["country", "train", "eval"],
        [[name or "(none)", c["train"], c["eval"]] for name, c in section.counts_by_country.items()],
        {1, 2},
    )
    train = [c["train"] for c in section.counts_by_class.values()]
    spread = f", {min(train):,}–{max(train):,} train drawings per class" if train else ""
    parts.append(
        f"<h3>Points per drawing</h3>{lengths}"
        f"<details><summary>Drawings per class and split ({len(section.counts_by_class)} classes{spread})"
        f"</summary>{classes}</details>"
        f"<details><summary>Countries ({len(section.counts_by_country)})</summary>{countries}</details>"
    )
    return "".join(parts)


def _stopped(report: Report) -> str:
    """The page of a run the data validation stopped: the verdict, the data, the provenance."""
    o = report.outcome
    provenance = _table(
        ["", ""],
        [
            [k, json.dumps(v, sort_keys=True) if isinstance(v, dict) else v]
            for k, v in report.provenance.items()
        ],
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quick, Draw! run — {_e(o.run_id)}</title><style>{_CSS}</style></head>
<body>
<h1>Quick, Draw! pipeline run</h1>
<p class="muted">Pipeline run {_e(o.run_id)}</p>
<div class="verdict bad">Not trained: the data validation stopped the run before Transform; nothing pushed.</div>
<h2>Data</h2>{_data(report.data)}
<h2>Provenance</h2>{provenance}
</body></html>
"""


def render(report: Report) -> str:
    o = report.outcome
    if not o.trained:
        return _stopped(report)
    verdict = (
        f'<div class="verdict ok">Blessed{" and pushed to " + _e(o.pushed_to) if o.pushed_to else ""}</div>'
        if o.blessed
        else f'<div class="verdict bad">Not blessed: {_e("; ".join(o.reasons) or "see the thresholds")}; not pushed.</div>'
    )
    thresholds = _table(
        ["threshold", "value", "result"],
        [
            [
                t.description,
                _pct(t.value),
                "not applied (no blessed baseline yet)"
                if t.passed is None
                else ("passed" if t.passed else "FAILED"),
            ]
            for t in report.thresholds
        ],
        {1},
    )
    cards = "".join(
        f'<div class="card"><span class="muted">{_e(label)}</span><b>'
        + (f"{int(o.metrics[key]):,}" if key == evaluation.EXAMPLE_COUNT else f"{o.metrics[key]:.4f}")
        + "</b>"
        + (
            f'<span class="muted">baseline {report.baseline[key]:.4f}</span>'
            if key in report.baseline and key != evaluation.EXAMPLE_COUNT
            else ""
        )
        + "</div>"
        for key, label in METRIC_LABELS.items()
        if key in o.metrics
    )
    compare = ""
    if report.has_baseline:
        compare = "<h3>Candidate vs baseline (latest blessed model)</h3>" + _table(
            ["metric", "candidate", "baseline", "change"],
            [
                [
                    label,
                    _pct(o.metrics.get(k)),
                    _pct(report.baseline.get(k)),
                    f"{o.metrics[k] - report.baseline[k]:+.4f}",
                ]
                for k, label in METRIC_LABELS.items()
                if k in report.baseline and k in o.metrics
            ],
            {1, 2, 3},
        )
    per_class = _table(
        ["class", "accuracy", "eval drawings"],
        [[r.name, f"{r.accuracy:.4f}", r.count] for r in report.per_class],
        {1, 2},
    )
    country = _table(
        ["country", "accuracy", "eval drawings"],
        [[r.name, f"{r.accuracy:.4f}", r.count] for r in report.by_country],
        {1, 2},
    )
    recognized = _table(
        ["recognized by the game", "accuracy", "eval drawings"],
        [
            [{"1": "yes", "0": "no"}.get(r.name, r.name), f"{r.accuracy:.4f}", r.count]
            for r in report.by_recognized
        ],
        {1, 2},
    )
    confused = (
        _table(["true class", "predicted as", "eval drawings"], [list(p) for p in report.confused], {2})
        if report.confused
        else '<p class="muted">No confusions.</p>'
    )
    grid = "".join(
        f"<figure>{ink_svg(m.ink)}<figcaption><b>{_e(m.true)}</b><br>→ {_e(m.predicted)} ({m.score:.2f})<br>"
        f'<span class="muted">{_e(m.key_id)}</span></figcaption></figure>'
        for m in report.misclassified
    )
    provenance = _table(
        ["", ""],
        [
            [k, json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v]
            for k, v in report.provenance.items()
        ],
    )
    chart_rows = report.per_class if len(report.per_class) <= 60 else report.per_class[:60]
    chart_note = (
        ""
        if len(report.per_class) <= 60
        else f'<p class="muted">The 60 worst of {len(report.per_class)} classes; all are in the table.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quick, Draw! evaluation — {_e(o.run_id)}</title><style>{_CSS}</style></head>
<body>
<h1>Quick, Draw! model evaluation</h1>
<p class="muted">Pipeline run {_e(o.run_id)} · TFMA evaluation of the eval split</p>
{verdict}
<h2>Blessing thresholds</h2>{thresholds}
<h2>Overall</h2><div class="cards">{cards}</div>{compare}
<h2>Accuracy per class, worst first</h2>{chart_note}{_bars(chart_rows)}
<details><summary>Table: every class ({len(report.per_class)})</summary>{per_class}</details>
<h2>By country</h2>{country}
<h2>By <code>recognized</code></h2>{recognized}
<h2>Most confused class pairs</h2>{confused}
<h2>Data</h2>{_data(report.data)}
<h2>Misclassified eval drawings</h2>
<p class="muted">The first {len(report.misclassified)} mistakes among {report.scanned:,} eval drawings scanned in shard order: true class, predicted class (score), key_id.</p>
<div class="grid">{grid}</div>
<h2>Provenance</h2>{provenance}
</body></html>
"""


def write(report: Report, output: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(report))
    os.replace(tmp, output)
