"""Compile the pipeline for Kubeflow Pipelines v2 / Vertex AI, as a script (the TFX templates' layout).

    python kubeflow/kubeflow_v2_runner.py --pipeline-root gs://… --input gs://…/*.ndjson \\
        --serving-dir gs://… --image IMAGE --output pipeline.json [--beam-runner DataflowRunner …]

The same as ``quickdraw kubeflow compile`` (``pipeline.kubeflow_v2`` holds the code). This
folder is deployment material, not an installed package: ``kubeflow`` is the import
name of the Kubeflow SDK, and this project must install beside it without shadowing it.
"""

from __future__ import annotations

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["kubeflow", "compile", *sys.argv[1:]]))
