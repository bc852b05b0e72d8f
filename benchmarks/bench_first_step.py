"""The Trainer's first step: a process's first ``fit`` with tf_keras left to itself by AutoGraph, and without.

    python benchmarks/bench_first_step.py [--reps 3] [--json FILE]

``components/training/model.py`` adds ``tf_keras`` to AutoGraph's do-not-convert list (TensorFlow's list
names ``keras`` only). The cost it removes is paid once per process, so each measurement is a fresh process
that builds the pipeline's model (one 16-unit BiLSTM, 5 classes), and times its first ``fit`` (3 epochs of 2
batches on fixed random drawings, fixed seed). The two kinds of process alternate. The losses of the two kinds
must be identical: the rule changes how the graph is built, not the graph.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from harness import REPO, write_json

CHILD = """
import json, sys, time
import numpy as np
from components.training import model as M
if sys.argv[1] == "converted":  # undo the rule: AutoGraph rewrites tf_keras as it did before
    from tensorflow.python.autograph.core import config as autograph
    autograph.CONVERSION_RULES = tuple(r for r in autograph.CONVERSION_RULES if not r.matches("tf_keras"))
M.keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = {"ink": rng.random((64, 40, 3)).astype(np.float32), "length": np.full([64], 40)}
y = rng.integers(0, 5, 64)
model = M.build_model(5, M.ModelConfig(lstm_units=16, lstm_layers=1))
started = time.monotonic()
history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=False).history
print(json.dumps({"seconds": time.monotonic() - started, "loss": history["loss"]}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    results: dict[str, list[dict]] = {"left to itself": [], "converted": []}
    for rep in range(args.reps):
        order = ("left to itself", "converted") if rep % 2 == 0 else ("converted", "left to itself")
        for kind in order:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, kind],
                capture_output=True,
                text=True,
                cwd=REPO,
                env=env,
                check=True,
            )
            results[kind].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"rep {rep + 1} {kind}: {results[kind][-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    losses = {kind: {json.dumps(r["loss"]) for r in runs} for kind, runs in results.items()}
    assert losses["left to itself"] == losses["converted"] and len(losses["converted"]) == 1, losses

    def fmt(values: list[float], unit: str = " s") -> str:
        return f"{statistics.median(values):.1f}{unit} [{min(values):.1f}, {max(values):.1f}]"

    converted = [r["seconds"] for r in results["converted"]]
    left = [r["seconds"] for r in results["left to itself"]]
    print("| first fit of a process | seconds: median [min, max] |")
    print("|---|---:|")
    print(f"| tf_keras converted by AutoGraph (before) | {fmt(converted)} |")
    print(f"| tf_keras left to itself (the Trainer now) | {fmt(left)} |")
    print(f"| ratio, per pair | {fmt([c / n for c, n in zip(converted, left)], '×')} |")
    print(f"identical losses in every run: {json.loads(losses['converted'].pop())}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
