"""VersionedPusher: ``tfx.components.Pusher`` with the atomic, never-overwriting filesystem push.

Same inputs, parameters and outputs as TFX's Pusher (so the pipeline, Kubeflow and
the outcome readers treat it as one); only the executor differs (see ``executor``).
"""

from __future__ import annotations

from tfx.components.pusher import component as pusher_component
from tfx.dsl.components.base import executor_spec

from components.pusher import executor


class VersionedPusher(pusher_component.Pusher):
    """Pushes blessed models to ``<base>/<version>/``: staged, renamed when complete, never replaced."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
