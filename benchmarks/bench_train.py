"""Training cost on the real drawings, CPU: length-bucketed vs padded batches, the same run, paired.

The Trainer's own code (``make_dataset`` with the transform layer, ``build_model``: the
tutorial's Conv1D 48/64/96 + 3 × 128 BiLSTM) on ../shared/data/quickdraw. A first
pipeline run (1 training step) makes the Examples and the transform graph; then, for
batch 32 and 256, ``--reps`` pairs of runs alternate padded and bucketed batches
(examples/s over ``--steps`` steps after ``--warmup``), and their ratio is reported as
the median of the pairs with its spread. Then, for each of ``--accuracy-seeds`` seeds
(initial weights and shuffle), a pair at batch 32 trains ``--accuracy-steps`` steps each
and evaluates top-1/top-3 on the whole eval split: accuracy compared at equal steps,
as the median and spread over the seeds of bucketed − padded. The input pipeline alone (read, sort by length,
parse, transform layer; no model) is measured on one core (a private one-thread pool), without and with the
training augmentation (``--input-only``: that alone).

    python benchmarks/bench_train.py --workdir build/bench-train [--reps 3] [--json out.json]
    python benchmarks/bench_train.py --input-only --pipeline-root ROOT [--reps 3]
    python benchmarks/bench_train.py --smoke --pipeline-root ROOT   # tiny, for the test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

from harness import DATA, missing, prepared_root, write_json  # also puts the project on sys.path

from components.training.config import TrainingConfig  # noqa: E402  (light: no TensorFlow)


class Timer:
    """Seconds spent on the steps after the warm-up ones."""

    def __init__(self, warmup: int) -> None:
        import tf_keras as keras

        outer = self

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch + 1 == warmup:
                    outer.start = time.perf_counter()

            def on_train_end(self, logs=None):
                outer.seconds = time.perf_counter() - outer.start

        self.start, self.seconds, self.callback = time.perf_counter(), 0.0, Callback()


def input_pipeline(measure, batches: int, reps: int) -> dict:
    """Examples/s of the input pipeline alone on one core (read, sort by length, parse, transform layer, and
    the training augmentation), batch 32: padded, bucketed, bucketed + augmented, alternated, median of
    ``reps``; with each rep's figures."""
    modes = {"padded": (False, False), "bucketed": (True, False), "bucketed_augmented": (True, True)}
    measured: dict[str, list[float]] = {mode: [] for mode in modes}
    for rep in range(reps):
        for mode in list(modes) if rep % 2 == 0 else list(modes)[::-1]:
            bucketed, augmented = modes[mode]
            measured[mode].append(measure(32, bucketed, batches, augmented))
    return {**{mode: statistics.median(v) for mode, v in measured.items()}, "reps": measured}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", default="build/bench-train")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--pipeline-root", help="reuse this pipeline root's Examples and transform graph")
    parser.add_argument("--batch-sizes", default="32,256")
    parser.add_argument("--steps", default="60,12", help="measured steps per batch size")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3, help="pairs (padded, bucketed) per batch size")
    parser.add_argument(
        "--accuracy-steps", type=int, default=600, help="steps of the accuracy pair (batch 32)"
    )
    parser.add_argument("--accuracy-seeds", type=int, default=3, help="seeds of the accuracy pairs")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--bucket-window",
        type=int,
        default=TrainingConfig().bucket_window,
        help="batches per length-sorting window (default: the Trainer's)",
    )
    parser.add_argument(
        "--accuracy-only",
        action="store_true",
        help="only the accuracy runs (no throughput, no input pipeline)",
    )
    parser.add_argument(
        "--accuracy-modes", default="padded,bucketed", help="which accuracy runs (both: pairs)"
    )
    parser.add_argument(
        "--input-only",
        action="store_true",
        help="only the input pipeline: padded, bucketed, bucketed + augmented",
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny model and a few steps (the test)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not args.pipeline_root and missing(args.data):
        return 0

    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft
    import tf_keras as keras

    from components.training import batching, trainer, transform
    from components.training import model as model_lib
    from components.training.config import ModelConfig
    from pipeline.runs import find_run

    root = args.pipeline_root or prepared_root(args.data, args.workdir)
    nodes = find_run(root, "quickdraw", with_node="Trainer").nodes
    examples = nodes["QuickDrawExampleGen"].uri("examples")
    train_files = [os.path.join(examples, "Split-train", "*")]
    eval_files = [os.path.join(examples, "Split-eval", "*")]
    tto = tft.TFTransformOutput(nodes["Transform"].uri("transform_graph"))
    layer = tto.transform_features_layer()
    classes = len(transform.class_names(tto))
    config = ModelConfig(learning_rate=args.learning_rate)
    if args.smoke:
        config = ModelConfig(
            conv_filters=(8,), conv_kernels=(3,), lstm_units=8, lstm_layers=1, learning_rate=1e-3
        )
        args.batch_sizes, args.steps, args.warmup, args.reps = "8", "3", 1, 1
        args.accuracy_steps, args.accuracy_seeds = 4, 1
    window = args.bucket_window

    def dataset(batch: int, bucketed: bool, repeat: bool = True, seed: int = 0, augmented: bool = False):
        return trainer.make_dataset(
            train_files if repeat else eval_files, tto, layer, batch, 10_000 if repeat else 0,
            seed if repeat else None, repeat=repeat, bucket_window=window if bucketed else None,
            augmentation=TrainingConfig().augmentation() if augmented else None,
        )  # fmt: skip

    def train(batch: int, bucketed: bool, steps: int, warmup: int, seed: int = 0):
        keras.backend.clear_session()  # a dozen models in one process: without it memory grew to ~14 GB
        keras.utils.set_random_seed(seed)
        model = model_lib.build_model(classes, config)
        timer = Timer(warmup)
        model.fit(dataset(batch, bucketed, seed=seed), steps_per_epoch=warmup + steps, epochs=1, verbose=0,
                  callbacks=[timer.callback])  # fmt: skip
        return model, steps * batch / timer.seconds

    def real_fraction(batch: int, bucketed: bool, batches: int = 50) -> float:
        records = trainer.example_records(train_files, 10_000, 0)
        ds = batching.length_bucketed_batches(records, batch, window, 0) if bucketed else records.batch(batch)
        real = padded = 0
        for serialized in ds.take(batches):
            lengths = batching.ink_lengths(serialized).numpy()
            real, padded = real + lengths.sum(), padded + lengths.max() * len(lengths)
        return float(real / padded)

    def input_only(batch: int, bucketed: bool, batches: int, augmented: bool = False) -> float:
        options = tf.data.Options()
        options.threading.private_threadpool_size = 1
        ds = dataset(batch, bucketed, augmented=augmented).with_options(options)
        iterator = iter(ds)
        next(iterator)
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        return batches * batch / (time.perf_counter() - start)

    if args.input_only:
        alone = input_pipeline(input_only, 20 if args.smoke else 200, args.reps)
        print(json.dumps(alone, indent=2))
        print(f"| input pipeline alone, 1 core, batch 32 (median of {args.reps}) | padded {alone['padded']:.0f} ex/s | "
              f"bucketed {alone['bucketed']:.0f} ex/s | bucketed + augmented {alone['bucketed_augmented']:.0f} ex/s |")  # fmt: skip
        write_json(args.json, {"input_only_per_core": alone})
        return 0

    results: dict = {
        "corpus": args.data, "model": "smoke" if args.smoke else "the tutorial's: Conv1D 48/64/96 k5/5/3 + 3x128 BiLSTM",
        "learning_rate": args.learning_rate, "bucket_window": window, "reps": args.reps, "throughput": [],
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, TF {tf.__version__}",
    }  # fmt: skip
    started = time.monotonic()
    sizes = [] if args.accuracy_only else args.batch_sizes.split(",")
    for batch, steps in zip(map(int, sizes), map(int, args.steps.split(","))):
        padded, bucketed = [], []
        for rep in range(args.reps):
            for mode in (False, True) if rep % 2 == 0 else (True, False):  # alternate who goes first
                _, rate = train(batch, mode, steps, args.warmup)
                (bucketed if mode else padded).append(rate)
                print(f"batch {batch} rep {rep} {'bucketed' if mode else 'padded'}: {rate:.1f} examples/s",
                      file=sys.stderr, flush=True)  # fmt: skip
        ratios = [b / p for b, p in zip(bucketed, padded)]
        results["throughput"].append({
            "batch": batch, "steps": steps, "padded": padded, "bucketed": bucketed, "ratios": ratios,
            "median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios),
            "real_ink_padded": real_fraction(batch, False), "real_ink_bucketed": real_fraction(batch, True),
        })  # fmt: skip
    runs: dict[str, list[dict]] = {"padded": [], "bucketed": []}
    for seed in range(args.accuracy_seeds):
        for mode in (False, True) if seed % 2 == 0 else (True, False):
            if ("bucketed" if mode else "padded") not in args.accuracy_modes.split(","):
                continue
            model, _ = train(
                32 if not args.smoke else 8, mode, args.accuracy_steps, 0 if args.smoke else args.warmup, seed
            )
            evaluation = model.evaluate(dataset(256, False, repeat=False), verbose=0, return_dict=True)
            runs["bucketed" if mode else "padded"].append({
                "seed": seed, "top1": evaluation["accuracy"], "top3": evaluation["top3_accuracy"],
                "loss": evaluation["loss"],
            })  # fmt: skip
            print(f"accuracy seed {seed} {'bucketed' if mode else 'padded'}: {runs['bucketed' if mode else 'padded'][-1]}",
                  file=sys.stderr, flush=True)  # fmt: skip
    accuracy: dict = {"batch": 32, "steps": args.accuracy_steps + args.warmup, **runs}
    paired = all(runs.values())  # both modes ran: deltas to report
    for metric in ("top1", "top3") if paired else ():
        deltas = [b[metric] - p[metric] for b, p in zip(runs["bucketed"], runs["padded"])]
        accuracy[f"{metric}_delta"] = {
            "median": statistics.median(deltas),
            "min": min(deltas),
            "max": max(deltas),
        }
        for mode in ("padded", "bucketed"):
            accuracy[f"{metric}_{mode}_median"] = statistics.median(r[metric] for r in runs[mode])
    results["accuracy"] = accuracy
    if args.accuracy_only:
        print(json.dumps(results, indent=2))
        write_json(args.json, results)
        return 0
    results["input_only_per_core"] = input_pipeline(input_only, 20 if args.smoke else 200, args.reps)
    results["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(results, indent=2))
    print(
        "\n| batch | padded ex/s (median) | bucketed ex/s (median) | ratio: median [min, max] | real ink: padded → bucketed |"
    )
    for t in results["throughput"]:
        print(f"| {t['batch']} | {np.median(t['padded']):.1f} | {np.median(t['bucketed']):.1f} | "
              f"{t['median_ratio']:.2f}× [{t['min_ratio']:.2f}, {t['max_ratio']:.2f}] | "
              f"{t['real_ink_padded']:.2f} → {t['real_ink_bucketed']:.2f} |")  # fmt: skip
    for metric in ("top1", "top3") if paired else ():
        d = accuracy[f"{metric}_delta"]
        print(f"| {metric}, median of {args.accuracy_seeds} seeds | padded {accuracy[f'{metric}_padded_median']:.4f} | "
              f"bucketed {accuracy[f'{metric}_bucketed_median']:.4f} | bucketed − padded: median "
              f"{d['median']:+.4f} [{d['min']:+.4f}, {d['max']:+.4f}] |")  # fmt: skip
    alone = results["input_only_per_core"]
    print(f"| input pipeline alone, 1 core | padded {alone['padded']:.0f} ex/s | bucketed {alone['bucketed']:.0f} "
          f"ex/s | bucketed + augmented {alone['bucketed_augmented']:.0f} ex/s |")  # fmt: skip
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
