"""Model quality on the real drawings: the tutorial's training defaults vs this project's, on eval splits.

    python benchmarks/bench_quality.py --workdir build/bench-quality [--corpora all,ten] [--steps 2000]
        [--seeds 3] [--first-seed 0] [--json FILE]
    python benchmarks/bench_quality.py --smoke --pipeline-root ROOT --steps 2 --seeds 1   # tiny, for the test

The Trainer's own code (``make_dataset`` with the transform layer and the augmentation, ``build_model`` with
the learning-rate schedule, the tutorial's Conv1D 48/64/96 + 3 × 128 BiLSTM, batch 32) on
../shared/data/quickdraw, two corpora, each converted once by a one-step pipeline run:

- ``all``: every class (345), the default eval fraction (0.1);
- ``ten``: 10 classes trained on their own, eval fraction 0.4 (so that the eval split is not tiny).

Per corpus and seed (initial weights, shuffle, augmentation), three runs:

- ``tutorial``: Adam at a constant 1e-4, no augmentation (the tutorial's and the old defaults), ``--steps``;
- ``defaults``: ``TrainingConfig()``'s learning rate, schedule and augmentation, ``--steps``;
- ``tutorial_same_time``: the tutorial's settings for as long (wall clock) as ``defaults`` took.

Each is scored on the whole eval split (top-1, top-3; the figures say how many drawings they rest on), and
the table gives the median [min, max] over the seeds of each, and of the paired differences.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time

from harness import DATA, missing, prepared_root, write_json  # also puts the project on sys.path

from components.training.config import Augmentation, ModelConfig, TrainingConfig  # noqa: E402

# Ten classes of the real corpus with 25 drawings each, chosen for being unrelated to the demo's shapes.
TEN_CLASSES = ("apple", "bicycle", "cat", "clock", "fish", "guitar", "key", "shoe", "tree", "umbrella")
CORPORA = {"all": (None, 0.1), "ten": (TEN_CLASSES, 0.4)}
BATCH = 32
TUTORIAL = ModelConfig(learning_rate=1e-4, lr_schedule="constant")


def ten_class_folder(data: str, workdir: str, classes: tuple[str, ...]) -> str:
    """A folder of links to the real files of ``classes``: the subset trained on its own."""
    folder = os.path.join(workdir, "ndjson")
    os.makedirs(folder, exist_ok=True)
    for name in classes:
        link = os.path.join(folder, f"{name}.ndjson")
        if not os.path.exists(link):
            os.symlink(os.path.abspath(os.path.join(data, f"{name}.ndjson")), link)
    return folder


class Corpus:
    """A prepared pipeline root's Examples and transform graph, and training runs on them."""

    def __init__(self, root: str) -> None:
        import tensorflow as tf
        import tensorflow_transform as tft

        from components.training import trainer, transform
        from pipeline import runs

        nodes = runs.find_run(root, "quickdraw", with_node=runs.TRAINER).nodes
        examples = nodes[runs.EXAMPLE_GEN].uri("examples")
        self.train_files = [os.path.join(examples, "Split-train", "*")]
        self.tto = tft.TFTransformOutput(nodes[runs.TRANSFORM].uri("transform_graph"))
        self.layer = self.tto.transform_features_layer()
        self.names = transform.class_names(self.tto)
        self.classes = len(self.names) - 1  # less the out-of-vocabulary output
        eval_files = [os.path.join(examples, "Split-eval", "*")]
        self.evaluation = trainer.make_dataset(eval_files, self.tto, self.layer, 256, repeat=False)
        self.eval_drawings = sum(int(tf.shape(labels)[0]) for _, labels in self.evaluation)

    def train(
        self, model_config: ModelConfig, augmentation: Augmentation, seed: int, steps: int, seconds=None
    ) -> dict:
        """Train ``steps`` steps (or until ``seconds`` of wall clock), then score the whole eval split."""
        import tf_keras as keras

        from components.training import model as model_lib
        from components.training import trainer

        defaults = TrainingConfig()
        keras.backend.clear_session()  # many models in one process
        keras.utils.set_random_seed(seed)
        model = model_lib.build_model(len(self.names), model_config, train_steps=steps)
        data = trainer.make_dataset(
            self.train_files, self.tto, self.layer, BATCH, defaults.shuffle_buffer, seed,
            bucket_window=defaults.bucket_window, augmentation=augmentation,
        )  # fmt: skip
        start = time.monotonic()

        def stop_in_time(batch, logs) -> None:
            model.stop_training = seconds is not None and time.monotonic() - start > seconds

        callbacks = [keras.callbacks.LambdaCallback(on_train_batch_end=stop_in_time)]
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=callbacks)
        took = time.monotonic() - start
        scores = model.evaluate(self.evaluation, verbose=0, return_dict=True)
        return {
            "seed": seed, "steps": int(model.optimizer.iterations.numpy()), "seconds": round(took, 1),
            "top1": scores["accuracy"], "top3": scores["top3_accuracy"],
        }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", default="build/bench-quality")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--corpora", default="all,ten", help=f"which of {', '.join(CORPORA)}")
    parser.add_argument("--steps", type=int, default=2000, help="training steps at batch 32 (equal steps)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first-seed … first-seed + seeds − 1 (add seeds later)",
    )
    parser.add_argument(
        "--pipeline-root", help="measure on this pipeline root's Examples instead (one corpus)"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny model (the test)")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    if not args.pipeline_root and missing(args.data):
        return 0

    import tensorflow as tf

    defaults, tutorial = TrainingConfig(), TUTORIAL
    if args.smoke:
        tiny = {"conv_filters": (8,), "conv_kernels": (3,), "lstm_units": 8, "lstm_layers": 1}
        tutorial = dataclasses.replace(TUTORIAL, **tiny)
        defaults = dataclasses.replace(defaults, model=dataclasses.replace(defaults.model, **tiny))
    corpora = (
        {"given": (None, None)} if args.pipeline_root else {c: CORPORA[c] for c in args.corpora.split(",")}
    )
    results: dict = {
        "steps": args.steps, "batch": BATCH, "seeds": list(range(args.first_seed, args.first_seed + args.seeds)),
        "defaults": {"model": dataclasses.asdict(defaults.model), "augmentation": dataclasses.asdict(defaults.augmentation())},
        "tutorial": {"model": dataclasses.asdict(tutorial), "augmentation": None},
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, TF {tf.__version__}",
        "corpora": {},
    }  # fmt: skip
    for corpus, (classes, eval_fraction) in corpora.items():
        workdir = os.path.join(args.workdir, corpus)
        root = args.pipeline_root or os.path.join(workdir, "root")
        if not os.path.isdir(root):
            source = ten_class_folder(args.data, workdir, classes) if classes else args.data
            prepared_root(source, workdir, eval_fraction)
        data = Corpus(root)
        train = data.train
        runs_of: dict[str, list[dict]] = {"tutorial": [], "defaults": [], "tutorial_same_time": []}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            order = ("tutorial", "defaults") if seed % 2 == 0 else ("defaults", "tutorial")  # alternate
            for name in order:
                if name == "tutorial":
                    runs_of[name].append(train(tutorial, Augmentation(), seed, args.steps))
                else:
                    runs_of[name].append(train(defaults.model, defaults.augmentation(), seed, args.steps))
                print(f"{corpus} seed {seed} {name}: {runs_of[name][-1]}", file=sys.stderr, flush=True)
            budget = runs_of["defaults"][-1]["seconds"]
            # Enough steps that the clock, not the step count, stops it (the schedule is constant anyway).
            runs_of["tutorial_same_time"].append(
                train(tutorial, Augmentation(), seed, 10 * args.steps, budget)
            )
            print(f"{corpus} seed {seed} tutorial_same_time: {runs_of['tutorial_same_time'][-1]}",
                  file=sys.stderr, flush=True)  # fmt: skip
            results["corpora"][corpus] = {"runs": runs_of}  # so far: an interrupted run keeps its seeds
            write_json(args.json, results)
        summary = {
            "classes": data.classes,
            "eval_fraction": eval_fraction,
            "eval_drawings": data.eval_drawings,
        }
        for name, measured in runs_of.items():
            for metric in ("top1", "top3"):
                values = [r[metric] for r in measured]
                summary[f"{name}_{metric}"] = [statistics.median(values), min(values), max(values)]
        for baseline in ("tutorial", "tutorial_same_time"):
            for metric in ("top1", "top3"):
                deltas = [d[metric] - b[metric] for d, b in zip(runs_of["defaults"], runs_of[baseline])]
                summary[f"gain_over_{baseline}_{metric}"] = [
                    statistics.median(deltas),
                    min(deltas),
                    max(deltas),
                ]
        results["corpora"][corpus] = {"summary": summary, "runs": runs_of}
        write_json(args.json, results)

    print("\n| corpus | eval drawings | run | top-1: median [min, max] | top-3: median [min, max] |")
    for corpus, entry in results["corpora"].items():
        s = entry["summary"]
        for name in ("tutorial", "tutorial_same_time", "defaults"):
            t1, t3 = s[f"{name}_top1"], s[f"{name}_top3"]
            print(f"| {corpus} ({s['classes']} classes) | {s['eval_drawings']} | {name} | "
                  f"{t1[0]:.3f} [{t1[1]:.3f}, {t1[2]:.3f}] | {t3[0]:.3f} [{t3[1]:.3f}, {t3[2]:.3f}] |")  # fmt: skip
        for baseline in ("tutorial", "tutorial_same_time"):
            g1, g3 = s[f"gain_over_{baseline}_top1"], s[f"gain_over_{baseline}_top3"]
            print(f"| {corpus} | | defaults − {baseline} | {g1[0]:+.3f} [{g1[1]:+.3f}, {g1[2]:+.3f}] | "
                  f"{g3[0]:+.3f} [{g3[1]:+.3f}, {g3[2]:+.3f}] |")  # fmt: skip
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
