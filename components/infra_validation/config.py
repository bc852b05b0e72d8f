"""``InfraValidationConfig``: how hard the InfraValidator tries a candidate model (light: no TensorFlow).

The fields are ``quickdraw run`` / ``kubeflow compile`` flags (derived in ``pipeline.cli``) and travel to
the component as execution parameters.
"""

from __future__ import annotations

import dataclasses

from components import settings
from components.settings import at_least, between, setting


@dataclasses.dataclass(frozen=True)
class InfraValidationConfig:
    infra_drawings: int = setting(
        8,
        "eval drawings sent to the candidate's server (and written as its warm-up requests)",
        between(1, 64),
    )
    infra_warmup_points: int = setting(
        200,
        "predict_strokes warm-up requests for every drawing length from 2 points to this many (prefixes of"
        " the eval drawings): TensorFlow sets its CPU kernels up once per input shape, so a length the"
        " server has not run costs its first request more; 0 for none",
        between(0, 900),
    )
    infra_load_timeout_s: float = setting(
        180.0, "seconds the candidate's server may take to start and load the model", at_least(1.0)
    )
    infra_request_timeout_s: float = setting(
        60.0, "seconds the candidate's server may take to answer one request", at_least(0.1)
    )

    def __post_init__(self) -> None:
        settings.validate(self)
