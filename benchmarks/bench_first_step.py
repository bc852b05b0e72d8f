"""The Trainer's first step: what a process pays to build the model and the graphs of its first ``fit`` and
``evaluate``, with the two rules of ``components/training/model.py`` and without each.

    python benchmarks/bench_first_step.py [--model small|tutorial] [--kinds now,cudnn,converted] [--reps 3]
                                          [--json FILE]

The rules: ``tf_keras`` is on AutoGraph's do-not-convert list (TensorFlow's own list names ``keras`` only), and
on a machine without a GPU building and training the model do not trace each LSTM's cuDNN variant
(``cudnn_variant_only_with_a_gpu``). The costs are paid once per process, so each measurement is a fresh
process that builds the model (``small``: the tests' one 16-unit BiLSTM; ``tutorial``: the default 3 × 128),
for 5 classes, and times the build, its first ``fit`` (3 epochs of 2 batches of fixed random drawings, fixed
seed) and its first ``evaluate``. The kinds alternate. The losses of every kind must be identical: the rules
change how the graphs are built, not the graphs that run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from harness import REPO, write_json

KINDS = {
    "now": "the Trainer now",
    "cudnn": "cuDNN variant traced (before 2026-12-04)",
    "converted": "tf_keras converted by AutoGraph too (before 2026-12-02)",
}
CHILD = """
import contextlib, json, sys, time
import numpy as np
from components.training import model as M
kind, size = sys.argv[1], sys.argv[2]
if kind in ("cudnn", "converted"):  # undo the cuDNN rule: every LSTM traces its cuDNN variant, as before
    M.cudnn_variant_only_with_a_gpu = contextlib.nullcontext
if kind == "converted":  # undo the AutoGraph rule: AutoGraph rewrites tf_keras as it did before
    from tensorflow.python.autograph.core import config as autograph
    autograph.CONVERSION_RULES = tuple(r for r in autograph.CONVERSION_RULES if not r.matches("tf_keras"))
M.keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = {"ink": rng.random((64, 40, 3)).astype(np.float32), "length": np.full([64], 40)}
y = rng.integers(0, 5, 64)
config = M.ModelConfig(lstm_units=16, lstm_layers=1) if size == "small" else M.ModelConfig()
started = time.monotonic()
model = M.build_model(5, config)
built = time.monotonic()
history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=False).history
fitted = time.monotonic()
evaluation = model.evaluate(x, y, batch_size=32, verbose=0)
done = time.monotonic()
print(json.dumps({"build": built - started, "fit": fitted - built, "evaluate": done - fitted,
                  "seconds": done - started, "loss": history["loss"] + [evaluation[0]]}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("small", "tutorial"), default="small")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"which of {', '.join(KINDS)}")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for rep in range(args.reps):
        for kind in kinds if rep % 2 == 0 else kinds[::-1]:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, kind, args.model],
                capture_output=True,
                text=True,
                cwd=REPO,
                env=env,
                check=True,
            )
            results[kind].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"rep {rep + 1} {kind}: {results[kind][-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    losses = {kind: {json.dumps(r["loss"]) for r in runs} for kind, runs in results.items()}
    assert len(set.union(*losses.values())) == 1, losses

    def fmt(values: list[float], unit: str = " s") -> str:
        return f"{statistics.median(values):.1f}{unit} [{min(values):.1f}, {max(values):.1f}]"

    print(f"model: {args.model}; seconds, median [min, max] of {args.reps}")
    print("| a process's first | build | fit | evaluate | all three |")
    print("|---|---:|---:|---:|---:|")
    for kind in kinds:
        runs = results[kind]
        print(f"| {KINDS[kind]} | " + " | ".join(fmt([r[k] for r in runs]) for k in ("build", "fit", "evaluate", "seconds")) + " |")  # fmt: skip
    for kind in kinds[1:]:
        ratios = [b["seconds"] / n["seconds"] for b, n in zip(results[kind], results[kinds[0]])]
        print(f"| all three, {KINDS[kind]} / {KINDS[kinds[0]]}, per pair | {fmt(ratios, '×')} |")
    print(f"identical losses in every run (3 epochs, then evaluate): {json.loads(losses[kinds[0]].pop())}")
    write_json(args.json, {"model": args.model, **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
