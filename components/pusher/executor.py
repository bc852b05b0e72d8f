"""Executor of VersionedPusher: filesystem pushes are atomic and never overwrite a version.

TFX's own Pusher copies the model straight into ``<base>/<unix time>``: a push
killed halfway leaves a half-written directory under a version name, and two
pushes in the same second share one. This one copies into a hidden staging
directory in ``<base>`` (TF Serving only loads numeric directory names), writes
``saved_model.pb`` last, then renames the staging directory to the next version:
``max(unix time, newest version + 1)``. The rename is atomic on a local or POSIX
filesystem and refuses an existing target, so a version directory, once visible,
is complete and never replaced. (On object stores such as GCS a rename is a copy;
``saved_model.pb`` arriving last is then what tells TF Serving the version is complete.)
A model already pushed byte for byte (a rerun re-blessing the same model) is not
copied again: the push records the existing version.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

STAGING_PREFIX = ".pushing-"
SAVED_MODEL = "saved_model.pb"


def versions(base: str) -> list[int]:
    """The version numbers present under a serving directory, ascending."""
    if not fileio.exists(base):
        return []
    return sorted(int(n.rstrip("/")) for n in fileio.listdir(base) if n.rstrip("/").isdigit())


def _same_model(a: str, b: str) -> bool:
    pa, pb = os.path.join(a, SAVED_MODEL), os.path.join(b, SAVED_MODEL)
    if not (fileio.exists(pa) and fileio.exists(pb)):
        return False
    with fileio.open(pa, "rb") as fa, fileio.open(pb, "rb") as fb:
        return fa.read() == fb.read()


def push(model_dir: str, base: str, now: float | None = None) -> tuple[int, bool]:
    """Publish ``model_dir`` as the next version under ``base``: (version, whether it was copied)."""
    if not fileio.exists(os.path.join(model_dir, SAVED_MODEL)):
        raise FileNotFoundError(f"{model_dir} is not a SavedModel: it has no {SAVED_MODEL}")
    fileio.makedirs(base)
    existing = versions(base)
    for version in reversed(existing):
        if _same_model(model_dir, os.path.join(base, str(version))):
            return version, False
    staging = os.path.join(base, f"{STAGING_PREFIX}{uuid.uuid4().hex}")
    io_utils.copy_dir(model_dir, staging, deny_regex_patterns=[r"saved_model\.pb"])
    io_utils.copy_file(os.path.join(model_dir, SAVED_MODEL), os.path.join(staging, SAVED_MODEL))
    version = max(int(now if now is not None else time.time()), (existing[-1] + 1) if existing else 0)
    while True:
        target = os.path.join(base, str(version))
        try:
            if fileio.exists(target):
                raise FileExistsError(target)
            fileio.rename(staging, target, overwrite=False)
            return version, True
        except (FileExistsError, OSError) as e:
            if not fileio.exists(target):
                raise
            logging.info("version %s appeared meanwhile (%s); trying the next one", version, e)
            version += 1


class Executor(pusher_executor.Executor):
    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict[str, Any]) -> None:
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("this Pusher pushes to a filesystem serving directory only")
        model_path = self.GetModelPath(input_dict)
        version, copied = push(model_path, destination.filesystem.base_directory)
        serving_path = os.path.join(destination.filesystem.base_directory, str(version))
        logging.info("model %s as %s", "pushed" if copied else "already present", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)  # the archive copy TFX's Pusher keeps
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=str(version))
