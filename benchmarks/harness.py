"""What every benchmark script shares: where the repository and the real drawings are, skipping without them,
and writing the results as JSON. Imported by the scripts as ``harness`` (their folder is on ``sys.path``)."""

from __future__ import annotations

import json
import os
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "quickdraw")
DEMO_SERVING = os.path.join(REPO, "build", "demo", "serving")  # what `make demo` pushes to
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # the project's packages, without installing them
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pipeline.console import quiet_library_warnings  # noqa: E402 - the repository is on sys.path from here

quiet_library_warnings()  # a benchmark's screen holds its figures, not google-api-core's notices


def missing(data: str) -> bool:
    """True, after saying so, when the real drawings are absent: the benchmark then skips (exit 0)."""
    if os.path.isdir(data):
        return False
    print(f"skipped: the real drawings are not at {data} (clone with ../shared beside the repo)")
    return True


def no_model(serving_dir: str) -> bool:
    """True, after saying what to do, when there is no serving directory to measure (exit 2)."""
    if os.path.isdir(serving_dir):
        return False
    print(f"no model at {serving_dir}: run `make demo` first, or pass --model SERVING_DIR", file=sys.stderr)
    return True


def median_range(values: list[float]) -> dict[str, float]:
    """How the rounds of a benchmark are reported: the median, with the spread [min, max]."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def write_json(path: str | None, results: dict) -> None:
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(results, f, indent=2)


def prepared_root(input_pattern: str, workdir: str, eval_fraction: float | None = None) -> str:
    """``workdir/root``: a pipeline root whose Examples and transform graph training benchmarks read, made by
    a one-step pipeline run on ``input_pattern`` (``eval_fraction``: the conversion's, default its own)."""
    from components.conversion.config import ConversionConfig
    from components.training.config import TrainingConfig
    from pipeline import local_run
    from pipeline.configs import PipelineConfig

    root = os.path.join(workdir, "root")
    conversion = (
        ConversionConfig() if eval_fraction is None else ConversionConfig(eval_fraction=eval_fraction)
    )
    settings = PipelineConfig(
        train_steps=1,
        eval_steps=1,
        accuracy_threshold=0.0,
        conversion=conversion,
        training=TrainingConfig(batch_size=8),
    )
    local_run.run(
        input_pattern=input_pattern,
        pipeline_root=root,
        serving_dir=os.path.join(workdir, "serving"),
        settings=settings,
    )
    return root
