"""QuickDrawExampleGen in a real TFX pipeline (LocalDagRunner, SQLite MLMD, StatisticsGen downstream)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx import components as tfx_components
from tfx.orchestration import metadata
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline

from components.conversion.config import ConversionConfig
from components.conversion.manifest import MANIFEST_FILE
from components.example_gen import QuickDrawExampleGen
from pipeline.convert import run_conversion
from pipeline.local_run import default_beam_args
from tests.support import IN_MEMORY

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only

CLASSES = ["cat", "dog", "monkey", "zigzag", "The Mona Lisa", "hot air balloon"]


@pytest.fixture(scope="module")
def corpus(real_dir, tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    for name in CLASSES:
        shutil.copy(os.path.join(real_dir, f"{name}.ndjson"), directory)
    return str(directory)


def _pipeline(corpus: str, root: str) -> Pipeline:
    example_gen = QuickDrawExampleGen(
        input_pattern=corpus, config=ConversionConfig(shards=3, train_per_class=100)
    )
    statistics_gen = tfx_components.StatisticsGen(examples=example_gen.outputs["examples"])
    return Pipeline(
        pipeline_name="example-gen-test",
        pipeline_root=os.path.join(root, "pipeline_root"),
        components=[example_gen, statistics_gen],
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            os.path.join(root, "mlmd.sqlite")
        ),
        beam_pipeline_args=default_beam_args(IN_MEMORY),
    )


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_example_gen_writes_the_conversions_shards_and_tfx_reads_them(corpus, tmp_path):
    LocalDagRunner().run(_pipeline(corpus, str(tmp_path)))
    store = metadata.Metadata(metadata.sqlite_metadata_connection_config(str(tmp_path / "mlmd.sqlite")))
    with store:
        (examples,) = store.store.get_artifacts_by_type("Examples")
        uri = examples.uri
        props = examples.custom_properties
        assert props["rejected"].int_value == 0 and props["classes"].int_value == len(CLASSES)
        assert props["lines_read"].int_value == props["written"].int_value + props["over_cap"].int_value
        assert json.loads(examples.properties["split_names"].string_value) == ["train", "eval"]

        # The same bytes as the standalone job's shards: one conversion, two front ends.
        standalone = tmp_path / "standalone"
        run_conversion(corpus, str(standalone), ConversionConfig(shards=3, train_per_class=100), IN_MEMORY)
        for split, prefix in (("train", "training.tfrecord"), ("eval", "eval.tfrecord")):
            shards = sorted(os.listdir(os.path.join(uri, f"Split-{split}")))
            assert shards == [f"data_tfrecord-{i:05d}-of-00003" for i in range(3)]
            for i, name in enumerate(shards):
                assert _digest(os.path.join(uri, f"Split-{split}", name)) == _digest(
                    str(standalone / f"{prefix}-{i:05d}-of-00003")
                )
        manifest = json.loads(open(os.path.join(uri, MANIFEST_FILE)).read())
        assert manifest["counts"]["written"] == props["written"].int_value

        # StatisticsGen (TFX's own, through tfx_bsl) read every example of both splits.
        import tensorflow_data_validation as tfdv

        (statistics,) = store.store.get_artifacts_by_type("ExampleStatistics")
        for split in ("train", "eval"):
            stats = tfdv.load_stats_binary(os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb"))
            assert stats.datasets[0].num_examples == manifest["splits"][split]["records"]


def test_a_rerun_reuses_the_cached_example_gen(corpus, tmp_path):
    for _ in range(2):
        LocalDagRunner().run(_pipeline(corpus, str(tmp_path)))
    store = metadata.Metadata(metadata.sqlite_metadata_connection_config(str(tmp_path / "mlmd.sqlite")))
    with store:
        types = {t.id: t.name for t in store.store.get_execution_types()}
        states = [
            (types[e.type_id], e.last_known_state)
            for e in sorted(store.store.get_executions(), key=lambda e: e.id)
            if "ExampleGen" in types[e.type_id]
        ]
    assert [s for _, s in states] == [
        metadata_store_pb2.Execution.COMPLETE,
        metadata_store_pb2.Execution.CACHED,
    ]
    assert (
        len(store_artifacts := os.listdir(tmp_path / "pipeline_root" / "QuickDrawExampleGen" / "examples"))
        == 1
    ), store_artifacts
