"""The Trainer's machinery without a pipeline: length-bucketed batches, checkpoints, warm start, mixed precision."""

from __future__ import annotations

import collections
import dataclasses
import re
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components import features as F
from components.training import batching, checkpoints, warm_start
from components.training import model as M
from components.training.config import ModelConfig

SMALL = ModelConfig(conv_filters=(8, 8), conv_kernels=(5, 3), lstm_units=8, lstm_layers=1, dropout=0.0)


def _example(key: int, points: int) -> bytes:
    ink = np.zeros(points * 3, np.float32)
    features = {
        F.INK: tf.train.Feature(float_list=tf.train.FloatList(value=ink)),
        F.KEY_ID: tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(key).encode()])),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _records(n: int, seed: int = 0) -> tuple[tf.data.Dataset, dict[bytes, int]]:
    lengths = np.random.default_rng(seed).integers(2, 300, n)  # a long tail, like real drawings
    examples = [_example(i, int(length)) for i, length in enumerate(lengths)]
    return tf.data.Dataset.from_tensor_slices(examples), {
        str(i).encode(): int(x) for i, x in enumerate(lengths)
    }


def _batches(ds: tf.data.Dataset) -> list[list[bytes]]:
    spec = {F.KEY_ID: tf.io.FixedLenFeature([], tf.string)}
    return [list(tf.io.parse_example(b, spec)[F.KEY_ID].numpy()) for b in ds]


def test_bucketed_batches_hold_every_drawing_once_and_waste_less_padding():
    records, lengths = _records(1000)
    shuffled = records.shuffle(1000, seed=3)
    batches = _batches(batching.length_bucketed_batches(shuffled, batch_size=16, window_batches=8, seed=3))
    keys = [k for b in batches for k in b]
    assert collections.Counter(keys) == collections.Counter(lengths.keys())  # nothing lost or repeated
    # full batches, but for one in the last (short) window: 1000 = 62 × 16 + 8
    assert sorted(len(b) for b in batches) == [8] + [16] * 62
    assert len(batches[-1]) == 8 or any(len(b) == 8 for b in batches[-7:])

    def real_fraction(bs: list[list[bytes]]) -> float:
        return sum(lengths[k] for b in bs for k in b) / sum(len(b) * max(lengths[k] for k in b) for b in bs)

    plain = _batches(shuffled.batch(16))
    assert real_fraction(batches) > 0.85 > 0.6 > real_fraction(plain)


def test_bucketed_batches_are_deterministic_for_a_seed_and_shuffled():
    records, lengths = _records(512)

    def run(seed: int) -> list[list[bytes]]:
        return _batches(batching.length_bucketed_batches(records, 16, 32, seed))

    first = run(7)
    assert first == run(7) and first != run(8)
    longest = [max(lengths[k] for k in b) for b in first]
    assert longest != sorted(longest), "the batches of a window must not come in length order"


def _data(n: int = 64, classes: int = 5):
    rng = np.random.default_rng(0)
    ink = rng.normal(size=(n, 30, 3)).astype(np.float32)
    length = rng.integers(5, 30, n).astype(np.int64)
    labels = rng.integers(0, classes, n).astype(np.int64)
    return tf.data.Dataset.from_tensor_slices(({F.INK: ink, F.LENGTH: length}, labels)).batch(16).repeat()


def test_mixed_precision_keeps_cudnn_float32_outputs_and_finite_loss():
    config = dataclasses.replace(SMALL, mixed_precision=True)
    model = M.build_model(5, config)
    assert keras.mixed_precision.global_policy().name == "float32", "the global policy must be restored"
    assert M.cudnn_violations(model) == []
    assert isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer)
    assert (
        model.get_layer("conv0").compute_dtype == "float16"
        and model.get_layer("conv0").kernel.dtype == tf.float32
    )
    history = model.fit(_data(), steps_per_epoch=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    ((features, _),) = _data().take(1)
    assert model(features).dtype == tf.float32


def test_a_checkpoint_restores_weights_optimizer_and_step(tmp_path):
    model = M.build_model(5, SMALL)
    saved = checkpoints.Resumable(str(tmp_path / "ckpt"), model)
    assert saved.restore() == 0  # nothing there yet
    model.fit(_data(), steps_per_epoch=3, epochs=1, verbose=0)
    saved.save(3)
    fresh = M.build_model(5, SMALL)
    restored = checkpoints.Resumable(str(tmp_path / "ckpt"), fresh)
    assert restored.restore() == 3
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizer.iterations.numpy()) == 3
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    restored.remove()
    assert not (tmp_path / "ckpt").exists()


def test_another_setting_or_input_gets_another_checkpoint_directory():
    identity = {"train_files": ["a/Split-train/*"], "custom_config": {"batch_size": 32}, "train_steps": 100}
    same = checkpoints.checkpoint_directory("root", dict(identity))
    assert same == checkpoints.checkpoint_directory("root", identity)
    for changed in (
        {**identity, "train_files": ["b/Split-train/*"]},
        {**identity, "custom_config": {"batch_size": 64}},
        {**identity, "train_steps": 200},
    ):
        assert checkpoints.checkpoint_directory("root", changed) != same


def test_a_trainer_with_another_setting_starts_at_step_0_and_leaves_the_interrupted_runs_checkpoints(
    tmp_path,
):
    """What a re-run of the Trainer with another setting does, through `start_training` as `run_fn` calls it:
    another checkpoint directory, step 0, and the interrupted run's checkpoints untouched when it finishes.
    (`test_a_pipeline_killed_in_example_gen_transform_and_after_a_training_checkpoint_completes_on_rerun`
    kills a real run.)"""
    import types

    from components.training import trainer
    from components.training.config import CHECKPOINT_ROOT_KEY, TrainingConfig

    def fn_args(model: ModelConfig = SMALL):
        config = TrainingConfig(model=model).to_custom_config()
        return types.SimpleNamespace(
            custom_config={**config, CHECKPOINT_ROOT_KEY: str(tmp_path / "checkpoints")},
            train_files=["root/Split-train/*"], eval_files=["root/Split-eval/*"], transform_output="graph",
            train_steps=100, eval_steps=4, base_model=None, working_dir=None, model_run_dir=str(tmp_path),
        )  # fmt: skip

    names = ["a", "b", "c", "d", "e"]
    interrupted = trainer.start_training(fn_args(), TrainingConfig(model=SMALL), names, {})
    interrupted.resumable.save(20)  # killed after this checkpoint (the weights need no training for this)
    same = trainer.start_training(fn_args(), TrainingConfig(model=SMALL), names, summary := {})
    assert same.step == 20 and summary["resumed_from_step"] == 20  # the same command resumes
    other_model = dataclasses.replace(SMALL, learning_rate=0.004)
    other = trainer.start_training(
        fn_args(model=other_model), TrainingConfig(model=other_model), names, summary := {}
    )
    assert other.step == 0 and summary["resumed_from_step"] == 0, "another setting resumed a stale checkpoint"
    assert other.resumable.directory != interrupted.resumable.directory
    other.resumable.remove()  # the other run finished
    assert same.resumable.restore() == 20, "the interrupted run's checkpoints belong to its own settings"
    # Another Tuner result (or imported file) is another training too: it must not resume this checkpoint.
    tuned_args = fn_args()
    tuned_args.hyperparameters = {"space": [], "values": {"dropout": 0.1}}
    tuned = trainer.start_training(tuned_args, TrainingConfig(model=SMALL), names, summary := {})
    assert tuned.step == 0 and tuned.resumable.directory != interrupted.resumable.directory


def test_warm_start_loads_matching_weights_and_refuses_the_rest(tmp_path):
    names = ["cat", "dog", "<class not in training data>"]
    base = M.build_model(len(names), SMALL)
    base.fit(_data(classes=3), steps_per_epoch=2, epochs=1, verbose=0)
    warm_start.write(base, str(tmp_path), names, SMALL)

    fresh = M.build_model(
        len(names), dataclasses.replace(SMALL, learning_rate=0.5)
    )  # not an architecture change
    assert (
        warm_start.load(
            fresh, str(tmp_path), names, fresh_config := dataclasses.replace(SMALL, learning_rate=0.5)
        )
        is None
    )
    assert fresh_config.learning_rate == 0.5
    for a, b in zip(base.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizer.iterations.numpy()) == 0  # weights only

    other = M.build_model(len(names), SMALL)
    before = [w.numpy() for w in other.weights]
    why = warm_start.load(other, str(tmp_path), ["cat", "cow", "<class not in training data>"], SMALL)
    assert why and "class vocabulary differs" in why
    bigger = dataclasses.replace(SMALL, lstm_units=16)
    why = warm_start.load(M.build_model(len(names), bigger), str(tmp_path), names, bigger)
    assert why and "architecture differs" in why and "lstm_units" in why
    for a, b in zip(before, other.weights):
        np.testing.assert_array_equal(a, b.numpy())  # a refused warm start leaves the model as it was
    assert "no assets.extra" in warm_start.load(other, str(tmp_path / "nothing"), names, SMALL)


def test_progress_lines_show_the_step_the_rate_and_the_time_left(caplog):
    from components.training.trainer import ProgressLog

    progress = ProgressLog(total_steps=100, batch_size=32, initial_step=40, seconds=0.0)
    progress.on_train_begin()
    # On the "absl" logger itself: a pipeline run earlier in the process (absl re-parsing its flags) or the
    # TFLite converter leaves it at WARNING.
    with caplog.at_level("INFO"), caplog.at_level("INFO", logger="absl"):
        time.sleep(0.05)  # the first step builds the graph: not counted in the rate
        progress.on_train_batch_end(0, {"loss": 2.0, "accuracy": 0.1})
        time.sleep(0.05)
        progress.on_train_batch_end(9, {"loss": 1.5, "accuracy": 0.25})
    first, line = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Training:")]
    assert first.startswith("Training: step 41/100: the graph is built") and "ETA" not in first
    assert line.startswith("Training: step 50/100: loss 1.5000, accuracy 0.2500,") and "ETA " in line
    # 9 steps in ~0.05 s after the first: thousands of examples/s and seconds left, not the graph's time
    rate, eta = re.search(r"(\d+) examples/s, ETA (\S+)$", line).groups()
    assert int(rate) > 1000 and eta.startswith("0m"), line


def _current_rate(model: keras.Model) -> float:
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    schedule = optimizer.learning_rate
    step = optimizer.iterations
    return float(schedule(step)) if callable(schedule) else float(schedule)


def test_the_learning_rate_warms_up_then_decays_to_zero_over_the_steps():
    config = dataclasses.replace(SMALL, learning_rate=0.01, warmup_fraction=0.1)
    schedule = M.learning_rate_for(config, train_steps=100)
    rates = [float(schedule(step)) for step in range(101)]
    assert rates[0] == 0.0 and abs(rates[5] - 0.005) < 1e-7 and abs(rates[10] - 0.01) < 1e-7, "linear warm-up"
    assert max(rates) <= 0.01 + 1e-7 and all(a >= b for a, b in zip(rates[10:], rates[11:])), "then decays"
    assert rates[100] < 1e-7 and abs(rates[55] - 0.005) < 1e-4, "cosine: half the peak half-way, 0 at the end"
    assert M.learning_rate_for(dataclasses.replace(config, lr_schedule="constant"), 100) == 0.01
    assert M.learning_rate_for(config, None) == 0.01, "a model built outside a run: the constant peak"


def test_a_resumed_trainer_continues_the_schedule_and_a_warm_start_begins_a_new_one(tmp_path):
    config = dataclasses.replace(SMALL, learning_rate=0.01, warmup_fraction=0.1)
    model = M.build_model(5, config, train_steps=40)
    model.fit(_data(), steps_per_epoch=12, epochs=1, verbose=0)
    checkpoints.Resumable(str(tmp_path / "ckpt"), model).save(12)
    at_12 = _current_rate(model)
    assert 0.0 < at_12 < 0.01

    resumed = M.build_model(5, config, train_steps=40)
    assert checkpoints.Resumable(str(tmp_path / "ckpt"), resumed).restore() == 12
    assert _current_rate(resumed) == at_12, "the resumed run picks the schedule up at its step"

    names = ["a", "b", "c", "d", "e"]
    warm_start.write(model, str(tmp_path / "base"), names, config)
    warm = M.build_model(5, config, train_steps=40)
    assert warm_start.load(warm, str(tmp_path / "base"), names, config) is None
    assert _current_rate(warm) == 0.0, "a warm start begins a new warm-up"
