"""The tutorial's model: cuDNN-eligible LSTMs, masking, and it learns on CPU."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from components import features as F
from components.conversion import parsing
from components.training import model as M
from components.training.config import ModelConfig
from tests.support import ndjson_lines

SMALL = ModelConfig(conv_filters=(8, 8), conv_kernels=(5, 3), lstm_units=8, lstm_layers=2, learning_rate=3e-3)


def test_the_tutorial_model_keeps_every_lstm_cudnn_eligible():
    model = M.build_model(345)
    assert M.cudnn_violations(model) == []
    assert len(M._lstm_layers(model)) == 6  # 3 bidirectional layers
    assert [layer.filters for layer in model.layers if isinstance(layer, M.keras.layers.Conv1D)] == [
        48,
        64,
        96,
    ]
    assert M._lstm_layers(model)[0].units == 128


def test_the_gradients_are_clipped_by_their_global_norm_as_in_the_tutorial():
    """The seed's ``optimize_loss(clip_gradients=9.0)`` is ``clip_by_global_norm``, not per variable."""
    optimizer = M.build_model(5, SMALL).optimizer
    assert (optimizer.global_clipnorm, optimizer.clipnorm) == (9.0, None)
    unclipped = M.build_model(5, dataclasses.replace(SMALL, clip_norm=0.0)).optimizer
    assert (unclipped.global_clipnorm, unclipped.clipnorm) == (None, None)


@pytest.mark.parametrize(
    "change, violation",
    [
        ({"recurrent_dropout": 0.1}, "recurrent_dropout is 0"),
        ({"unroll": True}, "unroll is False"),
        ({"use_bias": False}, "use_bias is True"),
        ({"activation": "relu"}, "activation is tanh"),
        ({"recurrent_activation": "hard_sigmoid"}, "recurrent_activation is sigmoid"),
    ],
)
def test_a_non_eligible_setting_is_caught(change, violation):
    ink = M.keras.Input(shape=(5, 3))  # unroll needs a fixed number of steps
    settings = dict(units=4, return_sequences=True) | change
    out = M.keras.layers.Bidirectional(M.keras.layers.LSTM(**settings))(ink)
    model = M.keras.Model(ink, out)
    assert any(violation in problem for problem in M.cudnn_violations(model))


def test_a_drawings_scores_do_not_depend_on_its_batchs_padding():
    M.keras.utils.set_random_seed(0)
    model = M.build_model(5, dataclasses.replace(SMALL, dropout=0.0))
    ink = np.random.default_rng(0).normal(size=(2, 7, 3)).astype(np.float32)
    ink[1, 4:] = 0.0  # the second drawing is 4 steps long, zero-padded
    lengths = np.array([7, 4])
    longer = np.concatenate([ink, np.zeros((2, 9, 3), np.float32)], axis=1)  # a batch with a longer drawing
    a = model({F.INK: ink, F.LENGTH: lengths}, training=False).numpy()
    b = model({F.INK: longer, F.LENGTH: lengths}, training=False).numpy()
    alone = model({F.INK: ink[1:, :4], F.LENGTH: lengths[1:]}, training=False).numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a[1:], alone, atol=1e-5)


def test_it_learns_real_drawings_on_cpu(real_dir):
    classes = ["circle", "zigzag", "star", "line"]
    every_file = ndjson_lines(real_dir)
    lines = {c: every_file[f"{c}.ndjson"] for c in classes}
    inks, labels = [], []
    for label, cls in enumerate(classes):
        parsed = parsing.parse_lines(lines[cls], 1, cls, parsing.ParseOptions(max_points=20_000)).drawings
        inks += [parsed.ink.drawing(i) for i in range(len(parsed))]
        labels += [label] * len(parsed)
    length = np.array([len(i) for i in inks])
    padded = np.zeros((len(inks), length.max(), 3), np.float32)
    for i, ink in enumerate(inks):
        padded[i, : len(ink)] = ink
    M.keras.utils.set_random_seed(1)
    model = M.build_model(len(classes), SMALL)
    features = {F.INK: padded, F.LENGTH: length}
    # The history alone (tracing an extra evaluate graph costs more than the training here).
    history = model.fit(features, np.array(labels), epochs=10, batch_size=25, verbose=0).history
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["accuracy"][-1] > 0.5


def test_keras_2_is_left_to_itself_by_autograph():
    """tf_keras is not AutoGraph-converted (TensorFlow already leaves `keras` alone): the first `fit` of a
    process took ~15 s longer rewriting Keras's own code (BENCHMARKS.md, "The Trainer's first step")."""
    from tensorflow.python.autograph.core import config as autograph
    from tensorflow.python.autograph.core.config_lib import Action

    module = sys.modules[M.keras.Model.__module__]  # tf_keras.src.engine.training
    # AutoGraph takes the first rule that decides (conversion.py): it must say "do not convert".
    decided = [
        rule.get_action(module)
        for rule in autograph.CONVERSION_RULES
        if rule.get_action(module) != Action.NONE
    ]
    assert decided and decided[0] == Action.DO_NOT_CONVERT, decided


def test_training_graphs_trace_the_cudnn_variant_only_with_a_gpu_and_a_signature_keeps_it(monkeypatch):
    """Building the model, `fit` and `evaluate` trace each LSTM's cuDNN kernel only where a GPU could run it
    (on CPU, tracing it was most of building the model and half of building its training graph: BENCHMARKS.md,
    "The Trainer's first step"); a graph traced outside them, as the export's serving signatures are,
    registers it for a server with a GPU."""
    from tf_keras.src.layers.rnn import gru_lstm_utils

    registered = []
    register = gru_lstm_utils.function_register

    def counted(func, *args, **kwargs):
        registered.append(func)
        return register(func, *args, **kwargs)

    monkeypatch.setattr(gru_lstm_utils, "function_register", counted)
    model = M.build_model(3, dataclasses.replace(SMALL, lstm_layers=1))
    data = {F.INK: np.ones((4, 6, 3), np.float32), F.LENGTH: np.array([6, 5, 4, 3])}, np.array([0, 1, 2, 0])
    model.fit(*data, epochs=1, verbose=0)
    model.evaluate(*data, verbose=0)
    with_gpu = bool(M.tf.config.list_logical_devices("GPU"))
    assert bool(registered) == with_gpu, f"{len(registered)} cuDNN variants traced; a GPU: {with_gpu}"
    assert gru_lstm_utils.function_register is counted, "restored after fit"
    M.tf.function(lambda inputs: model(inputs, training=False)).get_concrete_function(data[0])
    assert len(registered) >= 2, "a signature's graph registers the cuDNN variant of both directions"
