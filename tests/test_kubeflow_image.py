"""The pipeline image's Dockerfile names the versions the project pins, and no others.

Only a real `docker build` checks that the image builds and boots; this checks what can go stale silently
here: the TFX base image, the Beam SDK image whose worker boot is copied in, and the Python they are built
for must be the pinned TFX and Beam (constraints.txt) and the pinned Python (.python-version).
"""

from __future__ import annotations

import os
import re

from tests.support import REPO


def _read(name: str) -> str:
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        return f.read()


def _pins() -> dict[str, str]:
    pins = {}
    for line in _read("constraints.txt").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_every_version_the_dockerfile_names_is_the_pinned_one():
    dockerfile = _read("kubeflow/Dockerfile")
    pins = _pins()
    python = ".".join(_read(".python-version").strip().split(".")[:2])
    tfx_images = re.findall(r"^FROM gcr\.io/tfx-oss-public/tfx:(\S+)", dockerfile, re.M)
    beam_images = re.findall(r"^FROM apache/beam_python(\d+\.\d+)_sdk:(\S+)", dockerfile, re.M)
    assert tfx_images == [pins["tfx"]]
    assert beam_images == [(python, pins["apache-beam"])]
    # The worker boot comes from that Beam image, and the build checks what it ended up with.
    assert re.search(r"^COPY --from=\S+ /opt/apache/beam /opt/apache/beam$", dockerfile, re.M)
    checked = re.search(
        r"sys\.version_info\[:2\] == \((\d+), (\d+)\) and apache_beam\.__version__ == '([^']+)'", dockerfile
    )
    assert checked and (f"{checked[1]}.{checked[2]}", checked[3]) == (python, pins["apache-beam"])
    # No other version of TFX, Beam or Python is named anywhere in it.
    for version in re.findall(r"(?:tfx|beam|python)[^\s:=]*[:=]=?(\d+\.\d+(?:\.\d+)?)", dockerfile, re.I):
        assert version in (pins["tfx"], pins["apache-beam"], python), version
