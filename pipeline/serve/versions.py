"""The versions of a serving directory, loaded the way TF Serving loads them, swapped without a restart.

TF Serving polls a model's base path for numeric version directories and serves the
newest one it could load, keeping the previous one available until the new one has
loaded (its availability-preserving, latest-version policy). ``ModelVersions`` does the
same from a background thread:

* a version directory is read only once none of its files changed for
  ``settle_seconds``: a copy in progress is never loaded half-way (the Pusher renames a
  complete staging directory into place, but other tools copy file by file);
* a version that fails to load is recorded with the reason (``statuses``) and tried
  again only when its files change; the version served before it stays served;
* a request takes the ``LoadedVersion`` it starts with and keeps it: a swap replaces
  the reference, never the object a running request holds, so it finishes on the
  version it began with.

A version with TF Serving's warm-up file (``assets.extra/tf_serving_warmup_requests``) has
its requests replayed after it loads and before it is served, as TF Serving does; a
request that fails makes the load fail.

A version directory removed while served stays served until a newer one loads (TF
Serving would unload it).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pipeline import console

logger = logging.getLogger(__name__)

AVAILABLE = "AVAILABLE"  # TF Serving's ManagerState names
LOADING = "LOADING"
END = "END"


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
    """One loaded SavedModel version: its callable signatures and what the metadata API shows of them."""

    version: int
    path: str
    signatures: Mapping[str, Any]  # name → concrete function
    signature_defs: dict[str, Any]  # name → SignatureDef as JSON (TF Serving's metadata format)
    keep_alive: Any = None  # the restored object: its variables live as long as this version does
    signature_def_protos: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # for gRPC's metadata
    warmup_requests: int = 0  # replayed before it was served


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str
    error: str = ""


Loader = Callable[[int, str], LoadedVersion]


class ModelVersions:
    """Watches ``base`` (a serving directory) and serves its newest loadable version."""

    def __init__(
        self,
        base: str,
        loader: Loader,
        poll_seconds: float = 1.0,
        settle_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base, self.loader = base, loader
        self.poll_seconds, self.settle_seconds, self.clock = poll_seconds, settle_seconds, clock
        self._current: LoadedVersion | None = None
        self._failed: dict[int, tuple[tuple, str]] = {}  # version → (files when it failed, why)
        self._loading: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_loaded: Callable[[LoadedVersion], None] = lambda loaded: None
        self._on_failed: Callable[[int, str], None] = lambda version, why: None

    def listen(
        self, on_loaded: Callable[[LoadedVersion], None], on_failed: Callable[[int, str], None]
    ) -> None:
        """Calls ``on_loaded(version)`` when a version starts being served, ``on_failed(number, why)`` when one
        fails to load (the server's metrics)."""
        self._on_loaded, self._on_failed = on_loaded, on_failed

    def current(self) -> LoadedVersion | None:
        return self._current

    def get(self, version: int | None) -> LoadedVersion | None:
        """The served version when ``version`` is None or names it; else None (only the newest is served)."""
        current = self._current
        if current is None or (version is not None and version != current.version):
            return None
        return current

    def statuses(self) -> list[VersionStatus]:
        """What TF Serving's model status lists: the served version, and newer ones loading or failed."""
        with self._lock:
            out = [VersionStatus(v, END, why) for v, (_, why) in self._failed.items()]
            if self._loading is not None:
                out.append(VersionStatus(self._loading, LOADING))
        if self._current is not None:
            out.append(VersionStatus(self._current.version, AVAILABLE))
        return sorted(out, key=lambda s: s.version, reverse=True)

    def poll_once(self) -> None:
        """One scan: load the newest settled version newer than the served one that is not known broken."""
        served = self._current.version if self._current else -1
        for version in sorted(self._versions(), reverse=True):
            if version <= served:
                break
            path = os.path.join(self.base, str(version))
            files = _listing(path)
            if files and self.clock() - max(mtime for _, _, mtime in files) < self.settle_seconds:
                continue  # still being written
            failed = self._failed.get(version)
            if failed and failed[0] == files:
                continue  # known broken, unchanged
            if self._load(version, path, files):
                return

    def _load(self, version: int, path: str, files: tuple) -> bool:
        with self._lock:
            self._loading = version
        try:
            if not any(name == "saved_model.pb" for name, _, _ in files):
                raise FileNotFoundError("no saved_model.pb (an unfinished copy, or not a SavedModel)")
            loaded = self.loader(version, path)
        except Exception as error:  # noqa: BLE001 - any failure keeps the served version; the status says why
            why = (
                f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            )
            with self._lock:
                self._failed[version] = (files, why)
                self._loading = None
            logger.warning("version %d of %s not loaded: %s", version, self.base, why)
            self._on_failed(version, why)
            return False
        with self._lock:
            self._failed = {v: f for v, f in self._failed.items() if v > version}
            self._loading = None
            previous, self._current = self._current, loaded
        logger.info(
            "serving version %d%s%s",
            version,
            f" (was {previous.version})" if previous is not None else "",
            f" after {loaded.warmup_requests} warm-up requests" if loaded.warmup_requests else "",
            extra=console.SHOW_ON_TERMINAL,
        )
        self._on_loaded(loaded)
        return True

    def _versions(self) -> list[int]:
        try:
            names = os.listdir(self.base)
        except OSError:
            return []
        return [int(n) for n in names if n.isdigit() and os.path.isdir(os.path.join(self.base, n))]

    def start(self) -> None:
        """Polls in a daemon thread until ``stop``."""

        def loop() -> None:
            while not self._stop.wait(self.poll_seconds):
                try:
                    self.poll_once()
                except Exception:  # noqa: BLE001 - the poller must outlive a bad scan
                    logger.exception("scanning %s failed", self.base)

        self._thread = threading.Thread(target=loop, name="model-versions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _listing(path: str) -> tuple:
    """(relative path, size, mtime) of every file under ``path``: what changes while a copy runs."""
    out = []
    for directory, _, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            out.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime))
    return tuple(sorted(out))


Replay = Callable[[Mapping[str, Any], list], None]  # (signatures, warm-up requests) → None, or raises


def replay_here(signatures: Mapping[str, Any], requests: list) -> None:
    """Replays warm-up requests in the calling thread; ``PredictError`` for the first that fails, naming its
    signature."""
    from pipeline.serve.predictions import PredictError, call_signature

    for signature_name, inputs in requests:
        try:
            call_signature(signatures[signature_name], inputs)
        except PredictError as error:
            raise PredictError(f"{signature_name}: {error}", error.kind) from None


def load_saved_model(version: int, path: str, replay: Replay = replay_here) -> LoadedVersion:
    """Loads one SavedModel version with TensorFlow, replays its warm-up requests (``replay``: the server
    runs them on every model thread, the threads that will serve), and keeps its SignatureDefs as TF
    Serving's metadata shows them (JSON for REST, protos for gRPC)."""
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    from components.infra_validation import warmup
    from pipeline.serve.predictions import PredictError

    loaded = tf.saved_model.load(path)
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    defs = proto.meta_graphs[0].signature_def
    names = list(loaded.signatures.keys())
    signature_defs = {
        name: json_format.MessageToDict(defs[name], preserving_proto_field_name=True) for name in names
    }
    requests = warmup.read(path)
    for i, (signature_name, _) in enumerate(requests):
        if signature_name not in loaded.signatures:
            raise ValueError(f"warm-up request {i} names signature {signature_name!r}, which the model lacks")
    try:
        replay(loaded.signatures, requests)
    except PredictError as error:
        raise ValueError(f"a warm-up request failed: {error}") from None
    return LoadedVersion(
        version, path, dict(loaded.signatures), signature_defs, loaded,
        signature_def_protos={name: defs[name] for name in names}, warmup_requests=len(requests),
    )  # fmt: skip
