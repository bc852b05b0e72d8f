"""The on-device model: size, single-drawing latency on one CPU core and parity, per TFLite variant.

The newest version of a serving directory (default: the demo's, ``make demo``) is
rebuilt from its weights (``assets.extra``, as a warm start reads them) and converted
to each variant: float32, float16, int8 (dynamic range). On every real drawing of
../shared/data/quickdraw each variant is compared with the SavedModel
(``serving_default``): largest probability difference and top-1 agreement. Latency:
one drawing at a time, the same ``--drawings`` drawings for all, TensorFlow and the
TFLite interpreter both on one thread; ``--reps`` rounds alternate the order, and the
table gives the median per-drawing latency with its spread.

    python benchmarks/bench_tflite.py [--model build/demo/serving] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

from harness import (  # also puts the project on sys.path
    DATA,
    DEMO_SERVING,
    missing,
    no_model,
    write_json,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEMO_SERVING)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--drawings", type=int, default=300, help="drawings timed per round")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--variants", default="float32,float16,int8")
    parser.add_argument("--json")
    args = parser.parse_args()
    if missing(args.data):
        return 0
    if no_model(args.model):
        return 2

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from components.conversion.config import DEFAULT_MAX_POINTS
    from components.training import model as model_lib
    from components.training import tflite_export, warm_start
    from pipeline import predict

    version = predict.resolve_model_dir(args.model)
    class_names, config = warm_start.described(version)
    model = model_lib.build_model(len(class_names), config)
    model.load_weights(os.path.join(version, warm_start.EXTRA, warm_start.WEIGHTS))

    drawings: list = []
    skipped: list[str] = []
    with open(os.devnull, "w") as quiet:
        for name in sorted(os.listdir(args.data)):
            if name.endswith(".ndjson"):
                drawings += predict.read_drawings(
                    os.path.join(args.data, name), DEFAULT_MAX_POINTS, quiet, skipped
                )
    inks = predict.inks(drawings)
    examples = predict.serialized_examples(drawings)
    loaded = tf.saved_model.load(version)
    serve = loaded.signatures["serving_default"]
    reference = np.concatenate(
        [
            serve(examples=tf.constant(examples[i : i + 512]))["probabilities"].numpy()
            for i in range(0, len(examples), 512)
        ]
    )
    saved_model_bytes = sum(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(version) for f in fs
        if not f.endswith((".tflite", ".h5", ".txt", ".json"))
    )  # fmt: skip
    timed = list(range(0, len(drawings), max(1, len(drawings) // args.drawings)))[: args.drawings]

    results: dict = {
        "model": version, "architecture": warm_start.architecture(config), "classes": len(class_names),
        "drawings_compared": len(drawings), "drawings_timed": len(timed), "reps": args.reps,
        "saved_model_bytes": saved_model_bytes,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, TF {tf.__version__}",
        "variants": {},
    }  # fmt: skip
    interpreters = {}
    for variant in args.variants.split(","):
        started = time.perf_counter()
        content = tflite_export.convert(model, variant)
        convert_s = time.perf_counter() - started
        interpreter = tflite_export.Interpreter(content, threads=1)
        got = np.stack([interpreter(ink) for ink in inks])
        difference = np.abs(got - reference)
        results["variants"][variant] = {
            "bytes": len(content), "convert_s": round(convert_s, 1),
            "max_abs_difference": float(difference.max()), "mean_abs_difference": float(difference.mean()),
            "top1_agreement": float((got.argmax(1) == reference.argmax(1)).mean()),
            "tolerance": tflite_export.VARIANTS[variant].tolerance, "latency_ms": [],
        }  # fmt: skip
        interpreters[variant] = interpreter
        print(f"{variant}: {results['variants'][variant]}", file=sys.stderr, flush=True)

    def saved_model_once(i: int) -> None:
        serve(examples=tf.constant([examples[i]]))["probabilities"].numpy()

    def timing(call) -> float:
        for i in timed[:10]:
            call(i)
        started = time.perf_counter()
        for i in timed:
            call(i)
        return 1000 * (time.perf_counter() - started) / len(timed)

    saved_latency = []
    for rep in range(args.reps):
        order = ["saved_model", *interpreters] if rep % 2 == 0 else [*interpreters, "saved_model"]
        for who in order:
            if who == "saved_model":
                saved_latency.append(timing(saved_model_once))
            else:
                lite = interpreters[who]
                results["variants"][who]["latency_ms"].append(timing(lambda i, lite=lite: lite(inks[i])))
    results["saved_model_latency_ms"] = saved_latency
    print(json.dumps(results, indent=2))

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} [{min(values):.2f}, {max(values):.2f}]"

    print(
        "\n| model | size | latency per drawing, 1 core, ms: median [min, max] | max \\|Δp\\| vs SavedModel | top-1 agreement |"
    )
    print(
        f"| SavedModel (serving_default) | {saved_model_bytes / 1e6:.2f} MB | {spread(saved_latency)} | — | — |"
    )
    for variant, r in results["variants"].items():
        print(f"| TFLite {variant} | {r['bytes'] / 1e6:.2f} MB | {spread(r['latency_ms'])} | "
              f"{r['max_abs_difference']:.2g} (tolerance {r['tolerance']:.0e}) | {r['top1_agreement']:.4f} |")  # fmt: skip
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
