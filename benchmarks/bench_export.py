"""The Trainer's export: the SavedModel and the TFLite conversion, from the Keras model vs a holder of its weights.

    python benchmarks/bench_export.py --pipeline-root build/demo/pipeline_root [--reps 3] [--json FILE]

Builds the model the pipeline root's Trainer trained (its architecture and class vocabulary; fresh weights:
the time does not depend on them) and times, in alternating pairs, the two ways to export it:

- ``keras``: ``tf.saved_model.save(model, …)`` and ``TFLiteConverter.from_concrete_functions(…, model)``, which
  serialize the Keras model object (Keras traces every layer's ``call`` for a Keras reload);
- ``holder``: what the Trainer does (``signatures.save`` / ``tflite_export.convert``): the same signatures and
  concrete function saved from a ``tf.Module`` that holds the model's weights.

It checks that both SavedModels and both TFLite models give the same probabilities on the eval drawings (and
that the two flatbuffers have the same size), then prints a table of the median [min, max] seconds.
"""

from __future__ import annotations

import argparse
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

    def tflite_keras(model):
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [tflite_export.single_drawing_function(model)], model
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        with tflite_export.native_output_to_log("the TFLite converter"):
            return converter.convert()

    seconds: dict[str, list[float]] = {
        k: [] for k in ("save keras", "save holder", "tflite keras", "tflite holder")
    }
    for rep in range(args.reps):
        model = fresh_model()
        with tempfile.TemporaryDirectory() as tmp:
            order = (("keras", save_keras), ("holder", save_holder))
            for name, save in order if rep % 2 == 0 else order[::-1]:
                started = time.monotonic()
                save(model, os.path.join(tmp, name))
                seconds[f"save {name}"].append(time.monotonic() - started)
            a = tf.saved_model.load(os.path.join(tmp, "keras")).signatures["serving_default"](
                examples=examples
            )
            b = tf.saved_model.load(os.path.join(tmp, "holder")).signatures["serving_default"](
                examples=examples
            )
            np.testing.assert_allclose(a["probabilities"].numpy(), b["probabilities"].numpy(), atol=1e-6)
        flatbuffers = {}
        order = (("keras", tflite_keras), ("holder", lambda m: tflite_export.convert(m, "float32")))
        for name, convert in order if rep % 2 == 0 else order[::-1]:
            started = time.monotonic()
            flatbuffers[name] = convert(model)
            seconds[f"tflite {name}"].append(time.monotonic() - started)
        # The same model: the same probabilities on the eval drawings (the bytes differ in names only).
        inks = tflite_export.eval_inks(list(examples.numpy()))
        outputs = {
            name: [tflite_export.Interpreter(content)(ink) for ink in inks]
            for name, content in flatbuffers.items()
        }
        np.testing.assert_allclose(outputs["keras"], outputs["holder"], atol=1e-6)
        assert len(flatbuffers["keras"]) == len(flatbuffers["holder"])
        print(f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in seconds.items()), flush=True)

    print(
        f"\nmodel: {config.lstm_layers} × {config.lstm_units}-unit BiLSTM, {len(class_names)} outputs; {args.reps} reps"
    )
    print("| step | Keras model object, s | weights holder (the Trainer), s | ratio |")
    print("|---|---:|---:|---:|")
    results = {}
    for step in ("save", "tflite"):
        keras_s, holder_s = seconds[f"{step} keras"], seconds[f"{step} holder"]
        ratios = [k / h for k, h in zip(keras_s, holder_s)]
        results[step] = {"keras": keras_s, "holder": holder_s, "ratio": ratios}

        def fmt(values, unit=""):
            return f"{statistics.median(values):.1f}{unit} [{min(values):.1f}, {max(values):.1f}]"

        print(f"| {step} | {fmt(keras_s)} | {fmt(holder_s)} | {fmt(ratios, '×')} |")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
