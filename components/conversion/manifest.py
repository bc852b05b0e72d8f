"""What a conversion writes, and the manifest that describes it.

The output layout (shard names like the tutorial's, the classes file, ``rejected.jsonl``)
and ``manifest.json``: the configuration, the inputs with their line counts, counts per
split and class, rejections by reason, drawings over cap, a sha256 per shard, and the
reconciliation ``lines_read = written + rejected + filtered + over_cap``. The manifest is
written last: only a directory with one holds a finished conversion.
"""

from __future__ import annotations

import collections
import json

from apache_beam.io.filesystems import FileSystems

from components.conversion import splits
from components.conversion.config import ConversionConfig

SPLIT_PREFIX = {splits.TRAIN: "training.tfrecord", splits.EVAL: "eval.tfrecord"}
CLASSES_FILE = "training.tfrecord.classes"
REJECTED_FILE = "rejected.jsonl"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "quickdraw-pipeline/convert/v1"


def shard_name(split: str, shard: int, shards: int, prefixes: dict[str, str] = SPLIT_PREFIX) -> str:
    return f"{prefixes[split]}-{shard:05d}-of-{shards:05d}"


def read_manifest(output_dir: str) -> dict | None:
    path = FileSystems.join(output_dir, MANIFEST_FILE)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode("utf-8"))


def build_manifest(
    config: ConversionConfig,
    shards: list[dict],
    stats: dict,
    rejected_by_reason: dict,
    classes: list[str],
) -> dict:
    shards = sorted(shards, key=lambda s: s["file"])
    per_split: dict[str, dict] = {}
    for split in splits.SPLITS:
        per_class: collections.Counter = collections.Counter()
        for s in shards:
            if s["split"] == split:
                per_class.update(s["per_class"])
        per_split[split] = {
            "records": sum(per_class.values()),
            "per_class": dict(sorted(per_class.items())),
        }
    over_cap = {
        split: dict(sorted(stats.get("over_cap", {}).get(split, {}).items())) for split in splits.SPLITS
    }
    over_cap_total = sum(sum(v.values()) for v in over_cap.values())
    written = sum(s["records"] for s in shards)
    rejected = sum(rejected_by_reason.values())
    filtered = stats.get("filtered", 0)
    lines_read = stats.get("lines_read", 0)
    return {
        "format": MANIFEST_FORMAT,
        "config": config.to_json(),
        "inputs": [{"path": p, "lines": n} for p, n in sorted(stats.get("files", {}).items())],
        "counts": {
            "lines_read": lines_read,
            "written": written,
            "rejected": rejected,
            "filtered": filtered,
            "over_cap": over_cap_total,
            "reconciled": lines_read == written + rejected + filtered + over_cap_total,
        },
        "splits": per_split,
        "rejected": {"file": REJECTED_FILE, "by_reason": dict(sorted(rejected_by_reason.items()))},
        "over_cap": over_cap,
        "classes": {"file": CLASSES_FILE, "count": len(classes)},
        "shards": [{k: s[k] for k in ("file", "split", "records", "sha256")} for s in shards],
    }
