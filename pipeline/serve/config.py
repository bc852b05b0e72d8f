"""The settings of ``quickdraw serve``, declared once: the CLI's flags and their bounds come from here.

No TensorFlow or Tornado here: ``quickdraw --help`` stays instant.
"""

from __future__ import annotations

import dataclasses
import os
import re

from components import settings
from components.settings import at_least, between, setting

DEFAULT_MODEL_NAME = "quickdraw"  # TF Serving's MODEL_NAME in the README's docker example


def _path_segment(name: str) -> str | None:
    """A model name must fit in a URL path segment as it is (TF Serving's names do)."""
    return None if re.fullmatch(r"[A-Za-z0-9_.-]+", name) else "letters, digits, '_', '.' and '-' only"


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    model_name: str = setting(
        DEFAULT_MODEL_NAME, "the model's name in the REST paths (/v1/models/NAME)", _path_segment
    )
    host: str = setting("127.0.0.1", "address to bind; the server has no authentication (see the README)")
    port: int = setting(8501, "port (TF Serving's REST port; 0 picks a free one)", between(0, 65535))
    workers: int = setting(
        max(2, os.cpu_count() or 2), "threads that run the model (requests beyond them queue)", at_least(1)
    )
    intra_op_parallelism: int = setting(
        0,
        "threads TensorFlow may use inside one model call (TF Serving's --tensorflow_intra_op_parallelism; "
        "0: TensorFlow's own choice)",
        between(0, 1024),
    )
    max_body_bytes: int = setting(4 * 1024 * 1024, "largest request body accepted", at_least(1024))
    body_timeout_s: float = setting(30.0, "seconds a client may take to send a body", at_least(0.1))
    idle_timeout_s: float = setting(60.0, "seconds an idle keep-alive connection is kept", at_least(0.1))
    max_header_bytes: int = setting(64 * 1024, "largest request head accepted", at_least(1024))
    grpc_port: int = setting(
        8500,
        "gRPC port for TF Serving's PredictionService and ModelService (0 picks a free one; -1: off)",
        between(-1, 65535),
    )
    enable_batching: bool = setting(
        False, "merge concurrent predict requests of a signature into one model call (TF Serving's flag)"
    )
    max_batch_size: int = setting(32, "most drawings (rows) in one merged model call", between(1, 4096))
    batch_timeout_micros: int = setting(
        2000, "longest a request waits for others to join its batch", between(0, 1_000_000)
    )
    request_timeout_s: float = setting(
        30.0,
        "a predict call that has not been answered after this long fails (gRPC's deadline, if shorter, wins)",
        at_least(0.1),
    )
    poll_seconds: float = setting(
        1.0, "how often the serving directory is checked for new versions", at_least(0.05)
    )

    def __post_init__(self) -> None:
        settings.validate(self)
