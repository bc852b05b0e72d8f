"""The atomic, never-overwriting push (components.pusher.push) on a real filesystem."""

from __future__ import annotations

import os

import pytest

from components.pusher.executor import STAGING_PREFIX, push, versions


def _model(path, payload: bytes) -> str:
    os.makedirs(os.path.join(path, "variables"))
    with open(os.path.join(path, "variables", "variables.index"), "wb") as f:
        f.write(payload * 3)
    with open(os.path.join(path, "saved_model.pb"), "wb") as f:
        f.write(payload)
    return str(path)


def test_a_push_publishes_a_complete_version_and_leaves_no_staging(tmp_path):
    model = _model(tmp_path / "m1", b"one")
    serving = str(tmp_path / "serving")
    version, copied = push(model, serving, now=1000)
    assert (version, copied) == (1000, True)
    assert sorted(os.listdir(serving)) == ["1000"]
    with open(os.path.join(serving, "1000", "saved_model.pb"), "rb") as f:
        assert f.read() == b"one"
    assert os.path.exists(os.path.join(serving, "1000", "variables", "variables.index"))


def test_versions_only_grow_and_an_existing_version_is_never_replaced(tmp_path):
    serving = str(tmp_path / "serving")
    push(_model(tmp_path / "m1", b"one"), serving, now=1000)
    # A clock that went backwards, or two pushes in one second: the next version, not 1000 again.
    version, _ = push(_model(tmp_path / "m2", b"two"), serving, now=1000)
    assert version == 1001
    version, _ = push(_model(tmp_path / "m3", b"three"), serving, now=5)
    assert version == 1002
    with open(os.path.join(serving, "1000", "saved_model.pb"), "rb") as f:
        assert f.read() == b"one"
    assert versions(serving) == [1000, 1001, 1002]


def test_the_same_model_twice_is_not_copied_again(tmp_path):
    serving = str(tmp_path / "serving")
    model = _model(tmp_path / "m1", b"one")
    assert push(model, serving, now=1000) == (1000, True)
    assert push(model, serving, now=2000) == (1000, False)
    assert versions(serving) == [1000]


def test_a_half_written_push_is_not_a_version(tmp_path):
    """What a push killed mid-copy leaves: a hidden staging directory TF Serving ignores."""
    serving = tmp_path / "serving"
    leftover = serving / f"{STAGING_PREFIX}dead"
    os.makedirs(leftover / "variables")
    assert versions(str(serving)) == []
    version, _ = push(_model(tmp_path / "m1", b"one"), str(serving), now=7)
    assert versions(str(serving)) == [version] == [7]


def test_a_model_without_saved_model_pb_is_refused(tmp_path):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="not a SavedModel"):
        push(str(empty), str(tmp_path / "serving"), now=1)
    assert not (tmp_path / "serving").exists()
