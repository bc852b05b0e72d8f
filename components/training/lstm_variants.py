"""Which of a Keras LSTM's two kernels a graph carries: each graph the project traces gets what can run it.

In a graph, a Keras 2 LSTM traces its generic kernel, which the graph calls, and registers its cuDNN kernel
beside it (``gru_lstm_utils.function_register``: traced, with its gradient, and added to the graph's
functions) so that Grappler can swap it in when the graph runs on a GPU. That registration was most of
building the model and half of building a training graph on CPU, and half of saving the SavedModel and of
loading it (BENCHMARKS.md, "The Trainer's first step" and "The Trainer's export"). So, per kind of graph:

* ``cudnn_variant_only_with_a_gpu``: the model's build and the graphs of ``fit``, ``evaluate`` and
  ``predict`` (``model.QuickDrawRNN``) register it only when a GPU is visible (where it can run);
* ``cudnn_variant_for_inference``: the serving signatures register it without its gradient, which
  nothing that serves computes, so that a GPU server still swaps it in;
* ``no_cudnn_variant``: the TFLite model's graph, which TFLite runs with its own kernels, registers none.

The graph that runs is the same in every case (identical losses, identical probabilities). These replace
a private function of tf_keras for as long as they last (one thread builds graphs at a time here); a
tf_keras without it only loses the speed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import tensorflow as tf


def _not_registered(func, *args, **kwargs) -> None:
    """Neither traced nor added."""
    return None


def _forward_only(func, *args, **kwargs):
    """Traced and added to the graph, as Keras does, but without the gradient functions Keras adds too."""
    concrete = func.get_concrete_function(*args, **kwargs)
    concrete.add_to_graph()
    return concrete


STAND_INS = (_not_registered, _forward_only)


@contextlib.contextmanager
def _registering_with(stand_in: Callable | None) -> Iterator[None]:
    """Keras's LSTMs register their cuDNN variant with ``stand_in`` (None: as Keras does) while it lasts.
    Inside another of these (``fit`` calls ``evaluate``), the outer one decides."""
    try:
        from tf_keras.src.layers.rnn import gru_lstm_utils
    except ImportError:
        gru_lstm_utils = None
    register = getattr(gru_lstm_utils, "function_register", None)
    if stand_in is None or register is None or register in STAND_INS:
        yield
        return
    gru_lstm_utils.function_register = stand_in
    try:
        yield
    finally:
        gru_lstm_utils.function_register = register


def cudnn_variant_only_with_a_gpu() -> contextlib.AbstractContextManager:
    """For training graphs: the cuDNN variant, with its gradient, only where a GPU is visible."""
    return _registering_with(None if tf.config.list_logical_devices("GPU") else _not_registered)


def cudnn_variant_for_inference() -> contextlib.AbstractContextManager:
    """For the serving signatures: the cuDNN variant for a GPU server, without its gradient."""
    return _registering_with(_forward_only)


def no_cudnn_variant() -> contextlib.AbstractContextManager:
    """For the TFLite model's graph: no cuDNN variant (TFLite has its own kernels)."""
    return _registering_with(_not_registered)
