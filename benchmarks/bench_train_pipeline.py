"""Accuracy and training speed on the real drawings: the whole pipeline on CPU.

Runs ``quickdraw run``'s pipeline (LocalDagRunner) on ../shared/data/quickdraw:
345 classes, ~28 drawings per class, 10% held out by hash. It trains the
tutorial's model (Conv1D 48/64/96 + 3 × 128 BiLSTM) for a fixed number of steps
and reports the Evaluator's top-1/top-3/top-5 accuracy on the eval split and the
Trainer's examples/s (from its progress log). The tutorial's anchor is ~70% top-1
after 1M steps on 3.45M drawings (10k per class); this corpus is ~350× smaller.

    python benchmarks/bench_train_pipeline.py --workdir build/bench-train-pipeline [--train-steps 1500] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import sys
import time

from harness import DATA, missing, write_json  # also puts the project on sys.path


class _Throughput(logging.Handler):
    """Keeps the trainer's last progress line (``Training: step N/M: ... X examples/s``)."""

    def __init__(self) -> None:
        super().__init__()
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Training: step"):
            self.last = message
            print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", default="build/bench-train")
    parser.add_argument("--train-steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if missing(DATA):
        return 0

    from absl import logging as absl_logging

    from components.training.config import ModelConfig, TrainingConfig
    from pipeline import local_run
    from pipeline.configs import PipelineConfig

    absl_logging.set_verbosity(absl_logging.INFO)
    progress = _Throughput()
    logging.getLogger("absl").addHandler(progress)
    shutil.rmtree(args.workdir, ignore_errors=True)
    settings = PipelineConfig(
        train_steps=args.train_steps,
        eval_steps=20,
        accuracy_threshold=0.0,
        training=TrainingConfig(
            batch_size=args.batch_size, model=ModelConfig(learning_rate=args.learning_rate)
        ),
    )
    started = time.monotonic()
    result, _ = local_run.run(
        input_pattern=DATA,
        pipeline_root=os.path.join(args.workdir, "root"),
        serving_dir=os.path.join(args.workdir, "serving"),
        settings=settings,
    )
    wall = time.monotonic() - started
    rate = re.search(r"([\d.]+) examples/s", progress.last)
    results = {
        "corpus": DATA,
        "train_steps": args.train_steps,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "model": "Conv1D 48/64/96 k5/5/3 + 3x128 BiLSTM (the tutorial's)",
        "eval_examples": int(result.metrics["example_count"]),
        "top1": result.metrics["sparse_categorical_accuracy"],
        "top3": result.metrics["top_3_accuracy"],
        "top5": result.metrics["top_5_accuracy"],
        "eval_loss": result.metrics["loss"],
        "train_examples_per_s": float(rate.group(1)) if rate else None,
        "pipeline_wall_s": round(wall, 1),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
    }
    print(json.dumps(results, indent=2))
    print(
        f"\n| {args.train_steps} steps × batch {args.batch_size} | {results['top1']:.4f} | {results['top3']:.4f} "
        f"| {results['top5']:.4f} | {results['train_examples_per_s']:.0f} | {wall / 60:.1f} min |"
    )
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
