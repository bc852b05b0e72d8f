"""The benchmark harnesses run (tiny, on CPU): what is claimed ready to run is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import REPO

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only


def test_training_throughput_harness_smoke_run(real_dir):
    run = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "benchmarks", "bench_train_gpu.py"),
            "--smoke",
            "--data",
            real_dir,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"),
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| generic | 8 | off |" in run.stdout and "| generic | 8 | on |" in run.stdout
    assert "| parse + pad per batch | 8 |" in run.stdout


def test_the_bucketing_benchmark_smoke_run(demo):
    """`make bench-train`'s harness, tiny, on the demo pipeline root's Examples and transform graph."""
    run = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "bench_train.py"), "--smoke", "--pipeline-root",
         demo["root"]],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"),
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| 8 |" in run.stdout and "| top1, median of 1 seeds | padded" in run.stdout
    assert "| input pipeline alone, 1 core | padded" in run.stdout and "| bucketed + augmented " in run.stdout


def test_the_serving_benchmark_smoke_run(demo, real_dir, tmp_path):
    """`make bench-serve`'s harness, tiny: real servers (unbatched, and batching with the tuned flags) on the demo
    model, 2 levels, 1 round, and the first request after a load with and without the warm-up file."""
    run = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "bench_serve.py"), "--model", demo["serving"],
         "--clients", "1,4", "--requests", "12", "--reps", "1", "--pause-s", "0.02", "--servers", "http,http_batching_tuned", "--json", str(tmp_path / "serve.json")],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"),
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| 4 | http_batching_tuned |" in run.stdout and "| serving_default batch |" in run.stdout
    assert "| with warm-up file |" in run.stdout and "| without |" in run.stdout
    report = json.loads((tmp_path / "serve.json").read_text())
    assert report["levels"]["http"]["1"]["per_s"]["median"] > 0
    assert report["over_unbatched"]["http_batching_tuned / http"]["4"]["median"] > 0


def test_the_quality_benchmark_smoke_run(demo, tmp_path):
    """`make bench-quality`'s harness, tiny: the three runs of one seed on the demo root's Examples."""
    run = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "bench_quality.py"), "--smoke", "--pipeline-root",
         demo["root"], "--steps", "2", "--seeds", "1", "--json", str(tmp_path / "quality.json")],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"),
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| defaults − tutorial |" in run.stdout and "| defaults − tutorial_same_time |" in run.stdout
    summary = json.loads((tmp_path / "quality.json").read_text())["corpora"]["given"]["summary"]
    assert summary["eval_drawings"] > 0 and summary["classes"] == 6


def test_the_demo_benchmark_smoke_run(demo, real_dir, tmp_path):
    """`make bench-demo`'s harness on the test's demo model: the real drawings of its classes, scored."""
    run = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "bench_demo.py"), "--model", demo["serving"],
         "--data", real_dir, "--json", str(tmp_path / "demo.json")],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"),
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((tmp_path / "demo.json").read_text())
    real = {"circle", "square", "triangle", "star", "zigzag"}  # the test's 6 demo classes less spiral
    assert set(report["real_classes"]) == real
    assert report["drawings"] == sum(c["drawings"] for c in report["per_class"].values()) > 100
    assert 0.0 <= report["top1"] <= report["top3"] <= 1.0


def test_the_predict_benchmark_smoke_run(demo, real_dir, tmp_path):
    """`make bench-predict`'s harness, tiny: both commands on a 700-drawing corpus of real drawings, 1 round."""
    run = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "bench_predict.py"), "--model", demo["serving"],
         "--workdir", str(tmp_path), "--drawings", "700", "--reps", "1", "--json", str(tmp_path / "predict.json")],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"),
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| Beam / one process |" in run.stdout
    report = json.loads((tmp_path / "predict.json").read_text())
    assert report["rounds"][0]["drawings"] == report["drawings"] >= 690
