"""The Trainer's export: the SavedModel and the TFLite conversion, from the Keras model vs a holder of its weights,
and with each LSTM's cuDNN variant registered as Keras does vs as the Trainer does.

    python benchmarks/bench_export.py --pipeline-root build/demo/pipeline_root [--reps 3] [--json FILE]

Builds the model the pipeline root's Trainer trained (its architecture and class vocabulary; fresh weights:
the time does not depend on them) and times, in alternating pairs, the two ways to export it:

- ``keras``: ``tf.saved_model.save(model, …)`` and ``TFLiteConverter.from_concrete_functions(…, model)``, which
  serialize the Keras model object (Keras traces every layer's ``call`` for a Keras reload);
- ``holder, cuDNN variant with its gradient``: the same signatures and concrete function saved from a
  ``tf.Module`` that holds the model's weights, each LSTM registering its cuDNN variant as Keras does (the
  Trainer from 2026-12-02 to 2026-12-04);
- ``holder``: what the Trainer does (``signatures.save`` / ``tflite_export.convert``): the weights holder, the
  signatures carrying the cuDNN variant without its gradient, the TFLite graph without it (``lstm_variants``).

It also times loading each SavedModel and its first ``serving_default`` call (what ``quickdraw serve``, the
InfraValidator and the Evaluator pay). It checks that every SavedModel and every TFLite model gives the same
probabilities on the eval drawings (and that the flatbuffers have the same size), then prints a table of the
median [min, max] seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import statistics
import sys
import tempfile
import time

from harness import write_json  # also puts the project on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline-root", required=True, help="a pipeline root with a finished Trainer")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft

    from components.training import model as model_lib
    from components.training import signatures, tflite_export, warm_start
    from components.training.trainer import example_records
    from pipeline import runs

    nodes = runs.find_run(args.pipeline_root, "quickdraw", with_node=runs.TRAINER).nodes
    version = os.path.join(nodes[runs.TRAINER].uri("model"), "Format-Serving")
    class_names, config = warm_start.described(version)
    tf_transform_output = tft.TFTransformOutput(nodes[runs.TRANSFORM].uri("transform_graph"))
    eval_files = sorted(glob.glob(os.path.join(nodes[runs.EXAMPLE_GEN].uri("examples"), "Split-eval", "*")))
    examples = tf.constant(list(example_records(eval_files, repeat=False).take(200).as_numpy_iterator()))

    def fresh_model():
        model = model_lib.build_model(len(class_names), config)
        model({"ink": np.zeros((1, 5, 3), np.float32), "length": np.array([5])})  # built
        return model

    def save_keras(model, directory):
        module = signatures.serving_module(model, tf_transform_output, class_names)
        model.tft_layer, model.class_names = module.tft_layer, module.class_names
        sigs = signatures.make_signatures(model, model, tf_transform_output, class_names, 5, 20_000)
        tf.saved_model.save(model, directory, signatures=sigs)

    def save_holder(model, directory):
        signatures.save(model, directory, tf_transform_output, class_names, 5, 20_000)

    @contextlib.contextmanager
    def as_keras_registers():  # each LSTM registers its cuDNN variant with its gradient, as Keras does
        saved = signatures.cudnn_variant_for_inference, tflite_export.no_cudnn_variant
        signatures.cudnn_variant_for_inference = tflite_export.no_cudnn_variant = contextlib.nullcontext
        try:
            yield
        finally:
            signatures.cudnn_variant_for_inference, tflite_export.no_cudnn_variant = saved

    def save_before(model, directory):
        with as_keras_registers():
            save_holder(model, directory)

    def tflite_before(model):
        with as_keras_registers():
            return tflite_export.convert(model, "float32")

    def tflite_keras(model):
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [tflite_export.single_drawing_function(model)], model
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        with tflite_export.native_output_to_log("the TFLite converter"):
            return converter.convert()

    kinds = ("keras", "before", "holder")
    seconds: dict[str, list[float]] = {
        f"{step} {kind}": [] for step in ("save", "load", "tflite") for kind in kinds
    }
    for rep in range(args.reps):
        model = fresh_model()
        order = kinds if rep % 2 == 0 else kinds[::-1]
        with tempfile.TemporaryDirectory() as tmp:
            saves = {"keras": save_keras, "before": save_before, "holder": save_holder}
            for name in order:
                started = time.monotonic()
                saves[name](model, os.path.join(tmp, name))
                seconds[f"save {name}"].append(time.monotonic() - started)
            probabilities = {}
            for name in order:
                started = time.monotonic()
                loaded = tf.saved_model.load(os.path.join(tmp, name))
                probabilities[name] = loaded.signatures["serving_default"](examples=examples)[
                    "probabilities"
                ].numpy()
                seconds[f"load {name}"].append(time.monotonic() - started)
            for name in kinds[1:]:
                np.testing.assert_allclose(probabilities["keras"], probabilities[name], atol=1e-6)
        flatbuffers = {}
        converts = {
            "keras": tflite_keras,
            "before": tflite_before,
            "holder": lambda m: tflite_export.convert(m, "float32"),
        }
        for name in order:
            started = time.monotonic()
            flatbuffers[name] = converts[name](model)
            seconds[f"tflite {name}"].append(time.monotonic() - started)
        # The same model: the same probabilities on the eval drawings (the bytes differ in names only).
        inks = tflite_export.eval_inks(list(examples.numpy()))
        outputs = {
            name: [tflite_export.Interpreter(content)(ink) for ink in inks]
            for name, content in flatbuffers.items()
        }
        for name in kinds[1:]:
            np.testing.assert_allclose(outputs["keras"], outputs[name], atol=1e-6)
            assert len(flatbuffers["keras"]) == len(flatbuffers[name])
        print(f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in seconds.items()), flush=True)

    print(
        f"\nmodel: {config.lstm_layers} × {config.lstm_units}-unit BiLSTM, {len(class_names)} outputs; {args.reps} reps"
    )
    print(
        "| step | Keras model object, s | holder, cuDNN variant with its gradient, s | holder (the Trainer now), s "
        "| ratios to the Trainer now, per pair |"
    )
    print("|---|---:|---:|---:|---:|")
    results = {}

    def fmt(values, unit=""):
        return f"{statistics.median(values):.1f}{unit} [{min(values):.1f}, {max(values):.1f}]"

    for step in ("save", "load", "tflite"):
        by_kind = {kind: seconds[f"{step} {kind}"] for kind in kinds}
        ratios = {kind: [b / h for b, h in zip(by_kind[kind], by_kind["holder"])] for kind in kinds[:2]}
        results[step] = {**by_kind, "ratios": ratios}
        print(
            f"| {step} | {fmt(by_kind['keras'])} | {fmt(by_kind['before'])} | {fmt(by_kind['holder'])} | "
            f"{fmt(ratios['keras'], '×')}, {fmt(ratios['before'], '×')} |"
        )
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
