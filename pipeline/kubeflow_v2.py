"""Compile the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines (``quickdraw kubeflow compile``).

The *same* ``create_pipeline(...)`` as ``quickdraw run``, compiled by TFX's
``KubeflowV2DagRunner`` into a pipeline JSON. Compiling is offline: no cloud
access and no credentials. (TFX touches ``pipeline_root`` while compiling only to
upload the wheels of ``module_file`` user code; this pipeline references its code
by import path from the image, so nothing is uploaded and a ``gs://`` root is fine.)

Every component runs in ``--image`` (see ``kubeflow/Dockerfile``). With
``--beam-runner DataflowRunner`` the Beam-powered components (ExampleGen,
StatisticsGen, Transform, Evaluator) run on Dataflow, whose workers use the same
image (``--sdk_container_image``), so ``components/`` is importable there too.
``kubeflow/kubeflow_v2_runner.py`` is the same thing as a script, in the TFX templates' layout.
Dataflow's required options are checked before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from components.errors import UserError
from pipeline.configs import PIPELINE_NAME, PipelineConfig

DATAFLOW = "DataflowRunner"
REQUIRED_DATAFLOW = ("project", "region", "temp_location")
# kubeflow/Dockerfile copies the repository to /pipeline (its WORKDIR): the built-in schemas' folder in the
# image is under it, and ImportSchemaGen reads them there.
IMAGE_PROJECT_DIR = "/pipeline"
IMAGE_SCHEMAS_DIR = IMAGE_PROJECT_DIR + "/components/data_validation/schemas"


class CompileError(UserError, ValueError):
    """A compile request that would not run: said before anything is written or submitted."""


def dataflow_args(
    project: str | None,
    region: str | None,
    temp_location: str | None,
    image: str,
    machine_type: str | None = None,
    max_num_workers: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """Beam options for the Beam-powered components on Dataflow, validated with Beam's own parser."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, WorkerOptions

    args = [f"--runner={DATAFLOW}"]
    for name, value in (("project", project), ("region", region), ("temp_location", temp_location)):
        if value:
            args.append(f"--{name}={value}")
    args += [f"--sdk_container_image={image}", "--experiments=use_runner_v2"]
    if machine_type:
        args.append(f"--machine_type={machine_type}")
    if max_num_workers:
        args.append(f"--max_num_workers={max_num_workers}")
    args += list(extra)
    options = PipelineOptions(args)
    cloud = options.view_as(GoogleCloudOptions)
    missing = [name for name in REQUIRED_DATAFLOW if not getattr(cloud, name)]
    if missing:
        flags = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise CompileError(f"--beam-runner {DATAFLOW} needs {flags}")
    if not cloud.temp_location.startswith("gs://"):
        raise CompileError(f"--temp-location must be a gs:// path for Dataflow, got {cloud.temp_location!r}")
    workers = options.view_as(WorkerOptions)
    if workers.max_num_workers is not None and workers.max_num_workers < 1:
        raise CompileError("--max-num-workers must be >= 1")
    return args


def _absolute(path: str) -> str:
    """A local path as the tasks will see it wherever they start (``quickdraw kubeflow run-local``)."""
    return path if "://" in path else os.path.abspath(path)


def compile_pipeline(
    output: str,
    *,
    input_pattern: str,
    pipeline_root: str,
    serving_dir: str,
    image: str,
    settings: PipelineConfig = PipelineConfig(),
    beam_args: Sequence[str] = (),
    pipeline_name: str | None = None,
) -> dict:
    """Writes the pipeline JSON to ``output`` and returns it as a dict."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner  # not tfx.v1: see pipeline.pipeline

    from pipeline.fingerprints import input_fingerprint
    from pipeline.local_run import default_beam_args
    from pipeline.pipeline import create_pipeline

    if not image:
        raise CompileError("--image is required: every component runs in it")
    name = pipeline_name or PIPELINE_NAME
    input_pattern = _absolute(input_pattern)
    pipeline = create_pipeline(
        pipeline_name=name,
        input_pattern=input_pattern,
        pipeline_root=_absolute(pipeline_root),
        serving_dir=_absolute(serving_dir),
        settings=settings,
        beam_pipeline_args=default_beam_args(beam_args, image),
        # A local corpus is fingerprinted now, so a changed corpus is not a cache hit (run-local); a gs://
        # one is not read offline, and the backend caches its ExampleGen on the parameters (README).
        input_fingerprint=None if "://" in input_pattern else input_fingerprint(input_pattern),
        schemas_dir=IMAGE_SCHEMAS_DIR,
    )
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output)),
        output_filename=os.path.basename(output),
    )
    return runner.run(pipeline)
