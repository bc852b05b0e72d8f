"""A task for `tests/test_kubeflow_run_local.py` to fork from run-local's server: it says what its process sees,
through Python and through the file descriptors native code writes to, then exits as told."""

from __future__ import annotations

import os
import sys
import time

if __name__ == "__main__":
    preloaded = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor" in sys.modules
    print(
        f"pid {os.getpid()} argv {sys.argv[1:]} env {os.environ.get('FORKED_TASK_SAYS')} preloaded {preloaded}"
    )
    os.write(2, b"written to file descriptor 2\n")
    if sys.argv[1] == "sleep":
        time.sleep(60)
    sys.exit(int(sys.argv[1]))
