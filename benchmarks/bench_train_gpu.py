"""Training throughput of the Trainer's model on a GPU: cuDNN vs generic LSTM kernel.

Runs `components.training.model.build_model` (the tutorial's Conv1D + 3×128 BiLSTM, 345
classes) on real-shaped batches: real drawings from ../shared, padded per batch
to the batch's longest drawing as in training, already on the device, so the
input pipeline is out of the measurement. For every combination of

* LSTM kernel: ``cudnn`` (the model as the Trainer builds it) and ``generic``
  (``generic_kernel=True``: tanh under another name, identical math, which Keras
  does not hand to cuDNN: the slow path a non-eligible setting falls back to);
* batch size: 8 (the tutorial's), 64, 256, 1024;
* mixed precision: off (float32) and on (``mixed_float16``; logits stay float32);

it reports step time and examples/s after warm-up. Keras 2 (tf_keras, what the
TFX stack runs) reports which kernel an LSTM actually ran (``return_runtime``):
a probe layer on a real batch must report the GPU (cuDNN) kernel, and the
result says so. Separately, it measures the
input pipeline alone (tf.data from TFRecord shards written by the conversion job,
parsed and padded per batch), to tell which of the two bounds a real run.

    python benchmarks/bench_train_gpu.py [--steps 50] [--json build/bench/train-gpu.json]
    python benchmarks/bench_train_gpu.py --smoke      # CPU sanity run: tiny, generic kernel only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "quickdraw")

import tensorflow as tf  # noqa: E402

from components import features  # noqa: E402
from components.conversion import parsing  # noqa: E402
from components.conversion.config import ConversionConfig  # noqa: E402
from components.training import model  # noqa: E402
from components.training.config import ModelConfig  # noqa: E402

CLASSES = 345


def real_inks(data_dir: str) -> list[np.ndarray]:
    """Every real drawing's ink, as the conversion computes it."""
    inks = []
    options = parsing.ParseOptions(max_points=ConversionConfig().max_points)
    for name in sorted(n for n in os.listdir(data_dir) if n.endswith(".ndjson")):
        with open(os.path.join(data_dir, name), "rb") as f:
            lines = f.read().splitlines()
        batch = parsing.parse_lines(lines, 1, name, options).drawings
        inks += [batch.ink.drawing(i) for i in range(len(batch))]
    return inks


def make_batches(inks: list[np.ndarray], batch_size: int, count: int, seed: int = 0) -> list[tuple]:
    """``count`` batches of randomly drawn real drawings, each padded to its own longest."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        chosen = [inks[i] for i in rng.integers(0, len(inks), size=batch_size)]
        lengths = np.array([len(i) for i in chosen], np.int64)
        padded = np.zeros((batch_size, lengths.max(), 3), np.float32)
        for row, ink in enumerate(chosen):
            padded[row, : len(ink)] = ink
        labels = rng.integers(0, CLASSES, size=batch_size)
        batches.append(
            ({features.INK: tf.constant(padded), features.LENGTH: tf.constant(lengths)}, tf.constant(labels))
        )
    return batches


def cudnn_kernel_ran(batch: tuple) -> bool:
    """Run one LSTM on a real batch and ask Keras which kernel ran (2: the cuDNN/GPU one)."""
    from tf_keras.src.layers.rnn import gru_lstm_utils

    features_, _ = batch
    mask = tf.sequence_mask(features_[features.LENGTH], tf.shape(features_[features.INK])[1])
    probe = model.keras.layers.LSTM(16, return_sequences=True, return_runtime=True)
    _, runtime = probe(features_[features.INK], mask=mask)
    return int(runtime) == gru_lstm_utils.RUNTIME_GPU


def time_training(batches: list[tuple], generic: bool, mixed: bool, steps: int, warmup: int, config) -> dict:
    keras = model.keras
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        keras.utils.set_random_seed(0)
        net = model.build_model(CLASSES, config, generic_kernel=generic)
        # Every batch has its own padded length, hence its own traced step: warm up on all of
        # them so the timed steps measure the kernels, not tracing.
        for i in range(max(warmup, len(batches))):
            net.train_on_batch(*batches[i % len(batches)])
        start = time.perf_counter()
        examples = 0
        for i in range(steps):
            features_, labels = batches[i % len(batches)]
            loss = net.train_on_batch(features_, labels)
            examples += int(labels.shape[0])
        float(loss[0] if isinstance(loss, (list, tuple)) else loss)  # wait for the device
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return {"step_ms": 1000 * seconds / steps, "examples_per_s": examples / seconds}


def time_input_pipeline(data_dir: str, batch_size: int, batches: int) -> dict:
    """tf.data from TFRecord shards (written here by the conversion job), parsed and padded."""
    from pipeline.convert import run_conversion

    out = tempfile.mkdtemp(prefix="bench-input-")
    run_conversion(data_dir, out, ConversionConfig(), ["--direct_running_mode=in_memory"])
    files = sorted(os.path.join(out, f) for f in os.listdir(out) if f.startswith("training.tfrecord-"))
    spec = features.seed_parse_spec()

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        ink = tf.reshape(tf.sparse.to_dense(parsed[features.INK]), [-1, 3])
        return {features.INK: ink, features.LENGTH: tf.shape(ink, out_type=tf.int64)[0]}, parsed[
            features.CLASS_INDEX
        ][0]

    dataset = (
        tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
        .repeat()
        .shuffle(10_000, seed=0)
        .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        .padded_batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    iterator = iter(dataset)
    for _ in range(5):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - start
    return {"batch_size": batch_size, "examples_per_s": batches * batch_size / seconds}


def device_description() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU only ({os.cpu_count()} cores)"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{len(gpus)}× {details.get('device_name', 'GPU')} (compute capability {details.get('compute_capability')})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=SHARED_DATA, help="NDJSON directory of real drawings")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-sizes", default="8,64,256,1024")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny CPU run that only checks the harness works"
    )
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        raise SystemExit(f"skipped: needs real drawings in {args.data}")

    gpu = bool(tf.config.list_physical_devices("GPU"))
    config = ModelConfig()
    kernels = [("cudnn", False), ("generic", True)] if gpu else [("generic", True)]
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    if args.smoke:
        config = ModelConfig(conv_filters=(8, 8), conv_kernels=(5, 3), lstm_units=8, lstm_layers=1)
        sizes, args.steps, args.warmup = [8], 2, 1
    print(
        f"device: {device_description()}; TF {tf.__version__}, Keras {model.keras.__version__}, "
        f"Python {platform.python_version()}",
        flush=True,
    )
    if not gpu:
        print("no GPU: only the generic kernel runs here", flush=True)

    inks = real_inks(args.data)
    cudnn_ran = cudnn_kernel_ran(make_batches(inks, 64, count=1)[0])
    print(f"cuDNN kernel ran (Keras runtime probe): {cudnn_ran}", flush=True)
    if gpu and not cudnn_ran:
        raise SystemExit("a GPU is present but the LSTM did not run on cuDNN: the cudnn rows would be wrong")
    rows = []
    for size in sizes:
        batches = make_batches(inks, size, count=2 if args.smoke else 8)
        for kernel, generic in kernels:
            for mixed in (False, True):
                result = time_training(batches, generic, mixed, args.steps, args.warmup, config)
                row = {"kernel": kernel, "batch_size": size, "mixed_precision": mixed, **result}
                rows.append(row)
                print(json.dumps(row), flush=True)
    pipeline_rows = [time_input_pipeline(args.data, size, 5 if args.smoke else 50) for size in sizes]

    print("\n| LSTM kernel | batch | mixed precision | step ms | examples/s |")
    print("|---|---:|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['kernel']} | {r['batch_size']} | {'on' if r['mixed_precision'] else 'off'} | "
            f"{r['step_ms']:.1f} | {r['examples_per_s']:,.0f} |"
        )
    print("\n| input pipeline (tf.data from shards) | batch | examples/s |")
    print("|---|---:|---:|")
    for r in pipeline_rows:
        print(f"| parse + pad per batch | {r['batch_size']} | {r['examples_per_s']:,.0f} |")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(
                {"device": device_description(), "training": rows, "input_pipeline": pipeline_rows},
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
