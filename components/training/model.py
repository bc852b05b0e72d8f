"""The classifier: the seed tutorial's Conv1D + bidirectional LSTM model, in Keras.

Architecture (as ``train_model.py``): Conv1D layers (filters 48, 64, 96; kernel
sizes 5, 5, 3; ``same`` padding; optional batch norm; dropout on the inputs of
all but the first; outputs beyond each drawing's length zeroed, so scores do not
depend on the batch's padding), then bidirectional LSTM layers (3 × 128 units), outputs
beyond each drawing's length zeroed and summed over time, then dense logits.
Adam (the tutorial: a constant 1e-4; here by default a peak of 1e-3 with linear warm-up and cosine decay
over the run's steps, ``learning_rate_for``), the gradients clipped to a *global* norm of 9.0, as the seed's
``optimize_loss(clip_gradients=9.0)`` does (``clip_by_global_norm``); Keras's ``clipnorm`` would
clip each variable's gradient on its own, which changes the direction of large steps.

Keras 2 (``tf_keras``), explicitly: tensorflow-transform forces Keras 2
(``TF_USE_LEGACY_KERAS=1``) in every process that imports it, the TFX Trainer
included, so the model is written against that API whatever the import order.

Inputs: ``ink`` float32 [batch, time, 3], right-padded with zeros (the last
convolution windows read the padding, as in the seed, so it must be zeros), and
``length`` int [batch]. The LSTMs must stay eligible for the cuDNN kernel on
GPUs (the tutorial's "much faster" path): tanh/sigmoid activations,
``recurrent_dropout=0``, ``unroll=False``, ``use_bias=True`` and a right-padded
mask. ``cudnn_violations`` checks those conditions on a built model; a test
asserts there are none, so an edit cannot silently fall back to the slow kernel.
Where no GPU is visible, building and training the model skip tracing that kernel;
the serving signatures keep it (``lstm_variants``).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from components import features as F
from components.training.config import ModelConfig
from components.training.lstm_variants import cudnn_variant_only_with_a_gpu


def _leave_tf_keras_to_itself() -> None:
    """Keras 2 (``tf_keras``) is not AutoGraph-converted, as TensorFlow already leaves ``keras`` alone.

    AutoGraph rewrites the Python source of every function a ``tf.function`` reaches unless its module is on
    a do-not-convert list. TensorFlow's list names ``keras`` but not ``tf_keras``, the same code under the name
    tensorflow-transform makes every process use, so the first ``fit`` of a process spent ~15 s (5× the rest
    of building the training graph) rewriting Keras's train step, optimizer and metrics; the graph and the
    numbers are the same (BENCHMARKS.md, "The Trainer's first step"). Our own layers are still converted. A
    TensorFlow without this private list only loses the speed.
    """
    try:
        from tensorflow.python.autograph.core import config as autograph
    except ImportError:
        return
    if not any(rule.matches("tf_keras") for rule in autograph.CONVERSION_RULES):
        autograph.CONVERSION_RULES = (autograph.DoNotConvert("tf_keras"), *autograph.CONVERSION_RULES)


_leave_tf_keras_to_itself()


class QuickDrawRNN(keras.Model):
    """The functional model, built (``build_model``) and trained with ``cudnn_variant_only_with_a_gpu``: its
    ``fit``, ``evaluate`` and ``predict`` build their graphs so (``lstm_variants``)."""

    def fit(self, *args, **kwargs):
        with cudnn_variant_only_with_a_gpu():
            return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        with cudnn_variant_only_with_a_gpu():
            return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        with cudnn_variant_only_with_a_gpu():
            return super().predict(*args, **kwargs)


class LengthMask(keras.layers.Layer):
    """[batch, time] booleans, True on each drawing's first ``length`` steps (right-padded)."""

    def call(self, ink, length):
        return tf.sequence_mask(length, maxlen=tf.shape(ink)[1])


class ZeroPadded(keras.layers.Layer):
    """Zeros the steps beyond each drawing's length.

    Stacked ``same`` convolutions read the previous layer's output on padded
    steps, which is not zero (bias, neighbours): without this, a drawing's
    scores would depend on the longest drawing in its batch (they do in the seed).
    """

    def call(self, sequence, mask):
        return _zero_beyond(sequence, mask)


def _zero_beyond(sequence, mask):
    return tf.where(mask[:, :, None], sequence, tf.zeros_like(sequence))


class MaskedSum(keras.layers.Layer):
    """Sum over time of the steps inside each drawing (the seed's zero_outside + reduce_sum)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True  # consumes the time mask; the output has no time axis

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, sequence, mask):
        return tf.reduce_sum(_zero_beyond(sequence, mask), axis=1)


@keras.saving.register_keras_serializable(package="quickdraw")
def generic_tanh(x):
    """tanh under another name: the same math, but not eligible for cuDNN (Keras checks
    the activation's identity), so benchmarks can force the generic kernel."""
    return tf.tanh(x)


def learning_rate_for(config: ModelConfig, train_steps: int | None):
    """The optimizer's learning rate: the schedule over ``train_steps``, or the constant peak.

    The schedule reads the optimizer's own step counter, which a checkpoint saves and restores, so a
    resumed Trainer continues the schedule where it stopped; a warm start loads weights only and starts a
    new one. Without ``train_steps`` (a model built outside a training run) the rate is the constant peak.
    """
    if config.lr_schedule == "constant" or not train_steps:
        return config.learning_rate
    warmup = int(round(config.warmup_fraction * train_steps))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.learning_rate,
        decay_steps=max(train_steps - warmup, 1),
        alpha=0.0,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def build_model(
    num_classes: int,
    config: ModelConfig = ModelConfig(),
    generic_kernel: bool = False,
    train_steps: int | None = None,
) -> keras.Model:
    """The compiled model: {ink, length} → logits over ``num_classes``.

    The LSTMs run on cuDNN on a GPU; ``generic_kernel=True`` (benchmarks only)
    forces Keras's generic kernel with identical math. With ``config.mixed_precision``
    the layers compute in float16 under the ``mixed_float16`` policy (weights stay
    float32), the logits, softmax and loss in float32, and ``compile`` wraps the
    optimizer in Keras's dynamic ``LossScaleOptimizer``. The global policy is set only
    while the layers are made, and restored after.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if config.mixed_precision else "float32")
    try:
        with cudnn_variant_only_with_a_gpu():  # the functional API traces each layer once, on placeholders
            return _build(num_classes, config, generic_kernel, train_steps)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _build(
    num_classes: int, config: ModelConfig, generic_kernel: bool, train_steps: int | None
) -> keras.Model:
    ink = keras.Input(shape=(None, 3), dtype=tf.float32, name=F.INK)
    length = keras.Input(shape=(), dtype=tf.int64, name=F.LENGTH)
    mask = LengthMask(name="mask")(ink, length)
    x = ink
    for i, (filters, kernel) in enumerate(zip(config.conv_filters, config.conv_kernels)):
        if config.batch_norm:
            x = keras.layers.BatchNormalization(name=f"conv{i}_norm")(x)
        if i > 0 and config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"conv{i}_dropout")(x)
        x = keras.layers.Conv1D(filters, kernel, padding="same", name=f"conv{i}")(x)
        x = ZeroPadded(name=f"conv{i}_zero_padded")(x, mask)
    for i in range(config.lstm_layers):
        lstm = keras.layers.LSTM(
            config.lstm_units,
            return_sequences=True,
            dropout=config.dropout,  # on the inputs: applied outside the recurrent kernel
            recurrent_dropout=0.0,
            activation=generic_tanh if generic_kernel else "tanh",
            recurrent_activation="sigmoid",
            use_bias=True,
            unroll=False,
            name=f"lstm{i}",
        )
        x = keras.layers.Bidirectional(lstm, name=f"bilstm{i}")(x, mask=mask)
    # float32 logits even under a mixed_float16 policy (numerically safe softmax and loss)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(
        MaskedSum(name="masked_sum")(x, mask)
    )
    model = QuickDrawRNN(inputs={F.INK: ink, F.LENGTH: length}, outputs=logits, name="quickdraw_rnn")
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate_for(config, train_steps), global_clipnorm=config.clip_norm or None
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3_accuracy"),
        ],
    )
    return model


def _lstm_layers(model: keras.Model) -> list:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, keras.layers.LSTM):
            found.append(layer)
    return found


def cudnn_violations(model: keras.Model) -> list[str]:
    """Why any LSTM of ``model`` could not run on the cuDNN kernel (empty: all eligible).

    The named checks are Keras 2's own conditions (``LSTM._could_use_gpu_kernel``);
    the mask is right-padded by construction (``LengthMask``).
    """
    problems = []
    lstms = _lstm_layers(model)
    if not lstms:
        problems.append("no LSTM layers found")
    for layer in lstms:
        cell = layer.cell
        checks = {
            "activation is tanh": cell.activation in (keras.activations.tanh, tf.tanh),
            "recurrent_activation is sigmoid": cell.recurrent_activation
            in (keras.activations.sigmoid, tf.sigmoid),
            "recurrent_dropout is 0": cell.recurrent_dropout == 0,
            "unroll is False": not layer.unroll,
            "use_bias is True": cell.use_bias,
            "Keras agrees": getattr(layer, "_could_use_gpu_kernel", False),
        }
        problems += [f"{layer.name}: not ({name})" for name, ok in checks.items() if not ok]
    return problems
