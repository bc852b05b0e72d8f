"""The TFX user code of the training half, referenced by import path from the pipeline.

- ``config``: ``ModelConfig`` and ``TrainingConfig`` with their defaults (light: no TensorFlow).
- ``transform``: ``preprocessing_fn`` (label vocabulary on train, ink → sequence + length).
- ``model``: the tutorial's Conv1D + BiLSTM in Keras 2, cuDNN-eligible.
- ``trainer``: ``run_fn``, the Trainer's entry point.
- ``signatures`` + ``ink_tf``: the SavedModel's serving signatures and the in-graph ink.
- ``evaluation``: the Evaluator's TFMA ``EvalConfig``.

The package ``__init__`` imports nothing, so ``config`` stays light.
"""
