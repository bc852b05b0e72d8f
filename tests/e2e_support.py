"""The demo pipeline that the end-to-end, report and fault tests share (fixtures are in conftest).

One small pipeline root on 6 demo classes, built once per test session. The model
is shrunk (one 16-unit BiLSTM, 80 steps) so that a run takes about a minute.
"""

from __future__ import annotations

import pytest

from components.conversion import ConversionConfig
from components.model import ModelConfig
from components.trainer import TrainingConfig
from pipeline.pipeline import PipelineSettings

DEMO_CLASSES = 6
SMALL = TrainingConfig(
    batch_size=32, model=ModelConfig(lstm_units=16, lstm_layers=1, learning_rate=5e-3, dropout=0.1)
)
SETTINGS = PipelineSettings(
    train_steps=80,
    eval_steps=4,
    accuracy_threshold=0.4,
    conversion=ConversionConfig(shards=2),
    training=SMALL,
)
# The same settings as `quickdraw run` flags.
SETTINGS_FLAGS = [
    "--train-steps", "80", "--eval-steps", "4", "--shards", "2", "--batch-size", "32", "--lstm-units", "16",
    "--lstm-layers", "1", "--learning-rate", "0.005", "--dropout", "0.1",
]  # fmt: skip


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A first run on 6 demo classes: its outcome and paths."""
    from pipeline import demo_data, local_run

    base = tmp_path_factory.mktemp("e2e")
    corpus = str(base / "ndjson")
    demo_data.write_corpus(corpus, per_class=120, classes=DEMO_CLASSES, seed=0)
    root, serving = str(base / "root"), str(base / "serving")
    result, _ = local_run.run(corpus, root, serving, SETTINGS)
    return {"corpus": corpus, "root": root, "serving": serving, "first": result}


@pytest.fixture(scope="session")
def served(demo):
    """The pushed SavedModel, loaded once (loading takes seconds)."""
    import tensorflow as tf

    from pipeline import predict

    return tf.saved_model.load(predict.resolve_model_dir(demo["serving"]))
