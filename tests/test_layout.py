"""The layering rules the layout encodes, checked: what imports what, and what gets installed."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import subprocess
import sys

import pytest

from tests.support import REPO

HEAVY = ("tensorflow", "tensorflow_transform", "tfx", "apache_beam", "pyarrow", "numpy")


def _loaded_after(statement: str) -> set[str]:
    """Top-level modules loaded in a fresh interpreter after running ``statement``."""
    code = f"import sys\n{statement}\nimport json; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _imports(path: str) -> set[str]:
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _python_files(folder: str) -> list[str]:
    return [
        os.path.join(d, f)
        for d, _, files in os.walk(os.path.join(REPO, folder))
        if "__pycache__" not in d
        for f in files
        if f.endswith(".py")
    ]


def test_the_conversion_library_never_loads_tensorflow():
    loaded = _loaded_after(
        "import importlib, pkgutil\n"
        "import components.conversion as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('components.conversion.' + m.name)\n"
        "import pipeline.convert"
    )
    assert "apache_beam" in loaded  # the modules really were imported
    assert not loaded & {"tensorflow", "tensorflow_transform", "tfx", "tf_keras"}


@pytest.mark.parametrize(
    "module",
    [
        "components.conversion.config",
        "components.training.config",
        "components.data_validation.config",
        "pipeline.configs",
        "pipeline.serve.config",
        "pipeline.cli",
    ],
)
def test_config_modules_and_the_cli_are_light(module):
    """Defaults live in modules without Beam, TF or NumPy, so `quickdraw --help` answers at once."""
    assert not _loaded_after(f"import {module}") & set(HEAVY)


def test_imports_point_down():
    """components never import pipeline or kubeflow; pipeline never imports kubeflow; benchmarks never tests."""
    rules = {
        "components": ("pipeline", "kubeflow", "tests", "benchmarks"),
        "pipeline": ("kubeflow", "tests", "benchmarks"),
        "benchmarks": ("tests",),
    }
    wrong = [
        f"{os.path.relpath(path, REPO)} imports {name}"
        for folder, banned in rules.items()
        for path in _python_files(folder)
        for name in _imports(path)
        if name.split(".")[0] in banned
    ]
    assert not wrong


def test_conftest_holds_fixtures_and_no_test_imports_it():
    for path in _python_files("tests"):
        assert "tests.conftest" not in _imports(path), path


def test_the_installed_top_level_names_leave_kubeflow_to_the_kubeflow_sdk():
    """`kubeflow` is the Kubeflow SDK's import name: this project installs only `components` and `pipeline`."""
    top_level = importlib.metadata.distribution("quickdraw-pipeline").read_text("top_level.txt").split()
    assert sorted(top_level) == ["components", "pipeline"]
    assert not os.path.exists(os.path.join(REPO, "kubeflow", "__init__.py"))


@pytest.mark.slow  # a compile in a subprocess
def test_the_kubeflow_runner_script_compiles_like_the_cli(tmp_path):
    out = tmp_path / "pipeline.json"
    done = subprocess.run(
        [sys.executable, "kubeflow/kubeflow_v2_runner.py", "--pipeline-root", "gs://b/root", "--input",
         "gs://b/ndjson", "--serving-dir", "gs://b/serving", "--image", "gcr.io/p/quickdraw:1", "--output",
         str(out)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": REPO}, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(out.read_text())["pipelineSpec"]["pipelineInfo"]["name"] == "quickdraw"
