"""Does the demo's model recognise what people draw? Its top-1/top-3 on the real drawings of its classes.

    python benchmarks/bench_demo.py --model build/demo/serving [--json FILE]

``make demo`` trains on procedural drawings only (``quickdraw demo-data``); the real Quick, Draw! drawings
of the demo classes that the real corpus has (circle, diamond, hexagon, square, star, triangle, zigzag in
../shared/data/quickdraw) are never used to train or tune it. This scores every one of them with the pushed
model, exactly as ``quickdraw predict`` does (the model chooses among all its classes), and prints top-1 and
top-3 overall and per class, with how many drawings each figure rests on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from harness import DATA, DEMO_SERVING, missing, no_model, write_json  # also puts the project on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEMO_SERVING, help="a serving directory (default: make demo's)")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    if missing(args.data):
        return 0
    if no_model(args.model):
        return 2

    from components.conversion.config import DEFAULT_MAX_POINTS
    from pipeline import predict

    predictor = predict.Predictor(args.model)  # loaded once; scored as `quickdraw predict` scores
    classes = [c for c in predictor.class_names if os.path.exists(os.path.join(args.data, f"{c}.ndjson"))]
    per_class: dict[str, dict] = {}
    for name in classes:
        path = os.path.join(args.data, f"{name}.ndjson")
        drawings = list(predict.read_drawings(path, DEFAULT_MAX_POINTS, sys.stderr, []))
        labels = [[t["label"] for t in best] for best in predictor.top_k(drawings, 3)]
        per_class[name] = {
            "drawings": len(drawings),
            "top1": sum(best[:1] == [name] for best in labels),
            "top3": sum(name in best for best in labels),
        }
    drawings = sum(c["drawings"] for c in per_class.values())
    results = {
        "model": os.path.abspath(args.model),
        "classes_of_the_model": len(predictor.class_names) - 1,  # less the out-of-vocabulary output
        "real_classes": classes,
        "drawings": drawings,
        "top1": sum(c["top1"] for c in per_class.values()) / max(drawings, 1),
        "top3": sum(c["top3"] for c in per_class.values()) / max(drawings, 1),
        "per_class": per_class,
    }
    print(f"{'class':10s} {'drawings':>8s} {'top-1':>6s} {'top-3':>6s}")
    for name, c in per_class.items():
        print(
            f"{name:10s} {c['drawings']:8d} {c['top1'] / c['drawings']:6.2f} {c['top3'] / c['drawings']:6.2f}"
        )
    print(f"{'all':10s} {drawings:8d} {results['top1']:6.3f} {results['top3']:6.3f}")
    write_json(args.json, results)
    print(json.dumps({k: results[k] for k in ("drawings", "top1", "top3")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
