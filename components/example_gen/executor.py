"""Executor of QuickDrawExampleGen: runs the conversion's Beam transforms inside TFX.

The corpus is read and encoded once, straight into the ``Examples`` artifact:
``Split-train/`` and ``Split-eval/`` hold the deterministic, hash-split shards
(no second copy through ImportExampleGen, and no ``Reshuffle`` that would make
shard contents depend on the runner). The artifact's root keeps the manifest,
the classes file and ``rejected.jsonl``; its custom properties carry the counts.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from components.conversion import splits
from components.conversion.config import ConversionConfig
from components.conversion.files import resolve_inputs
from components.conversion.manifest import MANIFEST_FILE, read_manifest
from components.conversion.transforms import ConvertQuickDraw

EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
# Split directories as TFX components expect them; shard names like ExampleGen's own.
SPLIT_PREFIXES = {split: f"Split-{split}/data_tfrecord" for split in splits.SPLITS}


def config_from_properties(exec_properties: dict[str, Any]) -> ConversionConfig:
    """The conversion config from the component's execution parameters (absent: defaults)."""
    names = {f.name for f in dataclasses.fields(ConversionConfig)}
    return ConversionConfig.from_json({k: v for k, v in exec_properties.items() if k in names})


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
        config = config_from_properties(exec_properties)
        files = resolve_inputs(exec_properties["input_pattern"])
        with self._make_beam_pipeline() as p:
            _ = p | "ConvertQuickDraw" >> ConvertQuickDraw(
                files, examples.uri, config, prefixes=SPLIT_PREFIXES
            )
        manifest = read_manifest(examples.uri)
        if manifest is None:
            raise RuntimeError(f"the conversion finished but wrote no {MANIFEST_FILE}")
        counts = manifest["counts"]
        if not counts["reconciled"]:
            raise RuntimeError(f"line accounting does not add up: {counts}")
        examples.split_names = artifact_utils.encode_split_names(list(splits.SPLITS))
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        for name in ("lines_read", "written", "rejected", "filtered", "over_cap"):
            examples.set_int_custom_property(name, counts[name])
        examples.set_int_custom_property("classes", manifest["classes"]["count"])
        examples.set_string_custom_property(
            "rejected_by_reason", json.dumps(manifest["rejected"]["by_reason"])
        )
