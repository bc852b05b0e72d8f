"""Per-stage cache keys: an edit re-runs the stage it belongs to and the stages that read its output, no other.

Each case edits one file in a copy of the source tree and compares the keys
(``pipeline.fingerprints.stage_fingerprints``) before and after.
"""

from __future__ import annotations

import os

import pytest

from pipeline import fingerprints
from pipeline.fingerprints import (
    DATA_GATE,
    EVALUATOR,
    EXAMPLE_GEN,
    INFRA_VALIDATOR,
    PUSHER,
    STAGES,
    TRAINER,
    TRANSFORM,
    TUNER,
)
from tests.support import REPO, copy_sources

EVERYTHING = {EXAMPLE_GEN, DATA_GATE, TRANSFORM, TUNER, TRAINER, EVALUATOR, INFRA_VALIDATOR, PUSHER}


@pytest.fixture
def tree(tmp_path) -> str:
    """A copy of the sources the keys are computed from."""
    return copy_sources(str(tmp_path))


@pytest.mark.parametrize(
    "edited, changed",
    [
        ("components/conversion/parsing.py", EVERYTHING),
        ("components/conversion/config.py", EVERYTHING),
        ("components/example_gen/executor.py", EVERYTHING),
        ("components/features.py", EVERYTHING),
        ("components/data_validation/checks.py", {DATA_GATE}),
        ("components/data_validation/executor.py", {DATA_GATE}),
        ("components/training/transform.py", {TRANSFORM, TUNER, TRAINER, EVALUATOR, INFRA_VALIDATOR, PUSHER}),
        ("components/training/model.py", {TUNER, TRAINER, EVALUATOR, INFRA_VALIDATOR, PUSHER}),
        ("components/training/signatures.py", {TUNER, TRAINER, EVALUATOR, INFRA_VALIDATOR, PUSHER}),
        ("components/training/batching.py", {TUNER, TRAINER, EVALUATOR, INFRA_VALIDATOR, PUSHER}),
        ("components/training/augment.py", {TUNER, TRAINER, EVALUATOR, INFRA_VALIDATOR, PUSHER}),
        # The Tuner's code: a new search re-runs the Trainer through its new best_hyperparameters artifact
        # (TFX re-runs a component whose input artifact is new), not through its key.
        ("components/tuning/tuner.py", {TUNER}),
        ("components/training/evaluation.py", {EVALUATOR, PUSHER}),
        ("components/infra_validation/executor.py", {INFRA_VALIDATOR, PUSHER}),
        # The server the InfraValidator starts is part of what it checks.
        ("pipeline/serve/predictions.py", {INFRA_VALIDATOR, PUSHER}),
        ("components/pusher/executor.py", {PUSHER}),
        ("components/pusher/component.py", {PUSHER}),
        ("pipeline/report/render.py", set()),
        ("pipeline/tools/classes.py", set()),
        ("pipeline/tools/schemas.py", set()),
        ("pipeline/cli.py", set()),
    ],
)
def test_an_edit_changes_its_stage_and_the_stages_downstream_only(tree, edited, changed):
    before = fingerprints.stage_fingerprints(tree)
    with open(os.path.join(tree, edited), "a", encoding="utf-8") as f:
        f.write("\n# an edit\n")
    after = fingerprints.stage_fingerprints(tree)
    assert {stage for stage in before if before[stage] != after[stage]} == changed


def test_adding_or_removing_a_module_changes_its_stage(tree):
    before = fingerprints.stage_fingerprints(tree)
    new = os.path.join(tree, "components", "pusher", "retry.py")
    with open(new, "w", encoding="utf-8") as f:
        f.write("x = 1\n")
    added = fingerprints.stage_fingerprints(tree)
    assert added[PUSHER] != before[PUSHER] and added[TRAINER] == before[TRAINER]
    os.remove(new)
    assert fingerprints.stage_fingerprints(tree) == before


def test_every_module_of_components_belongs_to_a_stage():
    """New code cannot escape the cache key: each file under components/ is some stage's source."""
    covered = {f for stage in STAGES.values() for f in fingerprints.stage_files(REPO, stage)}
    modules = {
        os.path.relpath(os.path.join(d, f), REPO)
        for d, _, files in os.walk(os.path.join(REPO, "components"))
        if "__pycache__" not in d
        for f in files
        if f.endswith(".py")
    }
    assert modules - covered == set()


def test_the_keys_do_not_depend_on_where_the_tree_lies(tree):
    assert fingerprints.stage_fingerprints(tree) == fingerprints.stage_fingerprints(REPO)


def test_the_input_fingerprint_follows_the_files(tmp_path):
    (tmp_path / "a.ndjson").write_text("{}\n")
    first = fingerprints.input_fingerprint(str(tmp_path))
    assert fingerprints.input_fingerprint(str(tmp_path)) == first
    (tmp_path / "b.ndjson").write_text("{}\n")
    second = fingerprints.input_fingerprint(str(tmp_path))
    assert second != first
    (tmp_path / "b.ndjson").write_text("{}\n{}\n")
    assert fingerprints.input_fingerprint(str(tmp_path)) != second
