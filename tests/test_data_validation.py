"""Data validation: the curated schemas, the skew/drift checks, and the DataGate stopping real TFX runs.

The pipeline cases run the real pipeline (LocalDagRunner, MLMD in SQLite) on a demo corpus with
one fault each, and read back from MLMD that it stopped after the DataGate: no Transform, no
Trainer. They stop in seconds (nothing trains), except the one that proceeds on purpose.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os

import pytest

from components.conversion.config import DEFAULT_MAX_POINTS, ConversionConfig
from components.data_validation import checks
from components.data_validation import schema as schema_lib
from components.data_validation.config import BUILT_IN_SCHEMAS, ValidationConfig, built_in_path
from components.training.config import ModelConfig, TrainingConfig
from pipeline.configs import PipelineConfig
from pipeline.tools import schemas
from pipeline.tools.classes import OFFICIAL_CLASSES
from tests.support import GATED_COMPONENTS, write_ndjson
from tests.support import SETTINGS as SUITE_SETTINGS

# --------------------------------------------------------------------------- the checked-in schemas


def _ink_bound_points(schema) -> int | None:
    """The most points the schema allows a drawing (None: unbounded)."""
    values = schema_lib.feature(schema, "ink").value_count.max
    return schema_lib.points_of(values) if values else None


@pytest.mark.parametrize("name", BUILT_IN_SCHEMAS)
def test_the_checked_in_schemas_are_what_the_code_writes(name):
    with open(built_in_path(name), encoding="utf-8") as f:
        assert f.read() == schemas.built_in_text(name), "run `python -m pipeline.tools.schemas`"


def _domain(schema, name: str) -> list[str]:
    (domain,) = [d for d in schema.string_domain if d.name == name]
    return list(domain.value)


def test_the_quickdraw_schema_holds_the_official_classes_and_the_pipeline_constraints():
    schema, _ = schema_lib.read(built_in_path("quickdraw"))
    assert sorted(_domain(schema, "word")) == sorted(OFFICIAL_CLASSES) and len(OFFICIAL_CLASSES) == 345
    countries = _domain(schema, "countrycode")
    assert {"US", "GB", "DE", "ZZ"} <= set(countries) and all(len(c) == 2 and c.isupper() for c in countries)
    country = schema_lib.feature(schema, "countrycode")
    assert country.distribution_constraints.min_domain_mass == pytest.approx(0.99)
    recognized = schema_lib.feature(schema, "recognized")
    assert (recognized.int_domain.min, recognized.int_domain.max) == (0, 1)
    assert _ink_bound_points(schema) == DEFAULT_MAX_POINTS
    assert schema_lib.feature(schema, "ink").value_count.min == 3  # 2 points: one row of differences
    assert list(schema.default_environment) == ["TRAINING", "SERVING"]
    at_serving = [f.name for f in schema.feature if "SERVING" not in f.not_in_environment]
    assert at_serving == ["ink"]  # no word (nor anything but ink) at serving
    for f in schema.feature:
        assert f.presence.min_fraction == 1.0, f.name


def test_the_demo_schema_holds_the_demo_classes():
    from pipeline.tools.demo_data import SHAPES

    schema, _ = schema_lib.read(built_in_path("demo"))
    assert sorted(_domain(schema, "word")) == sorted(SHAPES)


def test_the_real_drawings_fit_the_quickdraw_schema_domains(real_dir):
    schema, _ = schema_lib.read(built_in_path("quickdraw"))
    words, countries = set(), set()
    for path in glob.glob(os.path.join(real_dir, "*.ndjson")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                drawing = json.loads(line)
                words.add(drawing["word"])
                countries.add(drawing["countrycode"])
    assert words <= set(_domain(schema, "word"))
    assert countries <= set(_domain(schema, "countrycode"))


def test_an_unreadable_schema_is_a_clear_error(tmp_path):
    bad = tmp_path / "schema.pbtxt"
    bad.write_text("feature { nme: 'x' }")
    with pytest.raises(schema_lib.SchemaError, match="not a schema in text format"):
        schema_lib.read(str(bad))
    with pytest.raises(schema_lib.SchemaError, match="cannot read the schema"):
        schema_lib.read(str(tmp_path / "absent.pbtxt"))


# --------------------------------------------------------------------------- skew and drift


def _stats(words: dict[str, int], countries: dict[str, int] | None = None):
    import pandas as pd
    import tensorflow_data_validation as tfdv

    column = [w for w, n in words.items() for _ in range(n)]
    country_column = [c for c, n in (countries or {"US": len(column)}).items() for _ in range(n)]
    frame = pd.DataFrame({"word": column, "countrycode": country_column})
    return tfdv.generate_statistics_from_dataframe(frame).datasets[0]


def _schema():
    schema = schema_lib.base_schema()
    return schema_lib.constrain(schema, ["a", "b", "c"], ["US", "GB"], 100)


def test_skew_beyond_the_threshold_is_an_anomaly_with_its_distance():
    train = _stats({"a": 400, "b": 400, "c": 400})
    skewed = _stats({"a": 600, "b": 200, "c": 400})
    found = checks.compare("skew", train, skewed, _schema(), 0.1)
    (anomaly,) = checks.listed(found.anomalies, "eval vs train")
    assert anomaly.feature == "word" and "Linfty distance between training and serving" in anomaly.line()
    assert "word 0.167" in found.note
    assert not checks.listed(checks.compare("skew", train, train, _schema(), 0.1).anomalies, "x")


def test_drift_from_the_previous_statistics_is_an_anomaly():
    before = _stats({"a": 400, "b": 400, "c": 400}, {"US": 1200})
    after = _stats({"a": 400, "b": 400, "c": 400}, {"US": 600, "GB": 600})
    found = checks.compare("drift", before, after, _schema(), 0.1)
    (anomaly,) = checks.listed(found.anomalies, "train vs previous run")
    assert anomaly.feature == "countrycode" and "previous run" in anomaly.line()


def test_a_comparison_on_too_few_examples_is_skipped_and_says_so():
    small = _stats({"a": 30, "b": 10})
    other = _stats({"a": 10, "b": 30})
    found = checks.compare("skew", small, other, _schema(), 0.1)
    assert not found.anomalies.anomaly_info
    assert "not checked: 40 examples on one side, 225 needed" in found.note
    assert checks.min_examples(0.2) == 57


# --------------------------------------------------------------------------- real pipeline runs

SETTINGS = PipelineConfig(
    train_steps=10,
    eval_steps=2,
    accuracy_threshold=0.0,
    conversion=ConversionConfig(shards=1),
    validation=ValidationConfig(schema="demo"),
    training=TrainingConfig(batch_size=16, tflite="none", model=ModelConfig(lstm_units=8, lstm_layers=1)),
    infra_validation=SUITE_SETTINGS.infra_validation,
)


@pytest.fixture(scope="module")
def clean_lines(tmp_path_factory) -> dict[str, list[dict]]:
    """The demo corpus (6 classes × 120) as parsed lines, by class file name."""
    from pipeline.tools import demo_data

    folder = tmp_path_factory.mktemp("demo")
    demo_data.write_corpus(str(folder), per_class=120, classes=6, seed=0)
    lines = {}
    for path in sorted(glob.glob(str(folder / "*.ndjson"))):
        with open(path, encoding="utf-8") as f:
            lines[os.path.basename(path)] = [json.loads(line) for line in f]
    return lines


def _renamed(rows: list[dict], word: str, prefix: str) -> list[dict]:
    """Copies with another class name and new key ids (the conversion drops repeated ids)."""
    return [{**row, "word": word, "key_id": prefix + row["key_id"]} for row in rows]


def _run(tmp_path, corpus: dict, settings: PipelineConfig = SETTINGS, root=None):
    from pipeline import local_run

    root = root or tmp_path / "root"
    folder = write_ndjson(tmp_path / f"ndjson-{len(os.listdir(tmp_path))}", corpus)
    result, _ = local_run.run(
        input_pattern=folder,
        pipeline_root=str(root),
        serving_dir=str(tmp_path / "serving"),
        settings=settings,
    )
    return result, root


def _assert_stopped_before_training(result, root, expected: str) -> None:
    from pipeline.runs import find_run

    assert not result.trained and not result.pushed_to
    assert any(expected in line for line in result.data.lines), result.data.lines
    summary = result.summary()
    assert "Stopped before Transform and training" in summary and result.data.anomalies_uri in summary
    assert "--proceed-on-anomalies" in summary
    # From MLMD: this run executed the validation and nothing after it.
    run = find_run(str(root), "quickdraw")
    run_id, nodes = run.run_id, run.nodes
    assert run_id == result.run_id
    assert {"ExampleValidator", "DataGate"} <= set(nodes)
    assert not set(GATED_COMPONENTS) & set(nodes)
    # The anomalies artifact is TFDV's layout: ExampleValidator's per split, the gate's skew/drift.
    assert os.path.exists(
        os.path.join(result.data.example_validator_anomalies, "Split-train", "SchemaDiff.pb")
    )
    assert os.path.exists(os.path.join(result.data.anomalies_uri, "Split-eval", "SchemaDiff.pb"))


def _schema_file(tmp_path, change) -> str:
    schema, _ = schema_lib.read(built_in_path("demo"))
    change(schema)
    path = tmp_path / "curated.pbtxt"
    path.write_text(schema_lib.to_text(schema))
    return str(path)


pipeline_cases = pytest.mark.slow


@pytest.fixture(scope="module")
def new_class_run(clean_lines, tmp_path_factory):
    """The demo corpus plus 40 drawings of a class the demo schema does not know."""
    first = next(iter(clean_lines.values()))
    corpus = {**clean_lines, "unicorn.ndjson": _renamed(first[:40], "unicorn", "9")}
    return _run(tmp_path_factory.mktemp("new-class"), corpus)


@pipeline_cases
def test_a_new_class_stops_the_run(new_class_run):
    result, root = new_class_run
    _assert_stopped_before_training(result, root, "word [train]: Unexpected string values")
    assert "unicorn" in " ".join(result.data.lines)


@pipeline_cases
def test_a_missing_feature_stops_the_run(clean_lines, tmp_path):
    # The conversion writes every feature, so "the examples lack a feature the schema requires" is
    # what an ExampleGen that stopped writing one (or an older schema's feature) looks like.
    def require_timestamp(schema):
        extra = schema.feature.add(name="timestamp", type=schema_lib.schema_pb2.BYTES)
        extra.presence.min_fraction = 1.0

    settings = dataclasses.replace(
        SETTINGS, validation=ValidationConfig(schema=_schema_file(tmp_path, require_timestamp))
    )
    result, root = _run(tmp_path, clean_lines, settings)
    _assert_stopped_before_training(result, root, "timestamp [train]: Column dropped")


@pipeline_cases
def test_an_out_of_domain_country_code_stops_the_run(clean_lines, tmp_path):
    name = sorted(clean_lines)[0]
    broken = [{**row, "countrycode": "USA"} for row in clean_lines[name]]  # 1 in 6: beyond the 1% tolerance
    result, root = _run(tmp_path, {**clean_lines, name: broken})
    _assert_stopped_before_training(result, root, "countrycode [train]: Unexpected string values")
    assert "USA" in " ".join(result.data.lines)


@pipeline_cases
def test_an_ink_above_the_schema_bound_stops_the_run(clean_lines, tmp_path):
    longest = max(sum(len(s[0]) for s in row["drawing"]) for rows in clean_lines.values() for row in rows)

    def bound(schema):
        schema_lib.feature(schema, "ink").value_count.max = schema_lib.ink_values(
            longest // 2
        )  # "none this long"

    settings = dataclasses.replace(
        SETTINGS, validation=ValidationConfig(schema=_schema_file(tmp_path, bound))
    )
    result, root = _run(tmp_path, clean_lines, settings)
    _assert_stopped_before_training(result, root, "ink [train]: Superfluous values")
    expected = f"The longest drawing has {longest:,} points; the schema allows {longest // 2:,}."
    assert any(expected in line for line in result.data.lines), result.data.lines


def _eval_only(rows: list[dict], word: str, count: int, fraction: float = 0.1) -> list[dict]:
    """``count`` copies of ``rows`` as class ``word`` whose key ids the hash split puts in eval."""
    from components.conversion import splits

    chosen, n = [], 0
    while len(chosen) < count:
        key = f"77{n:011d}"
        n += 1
        if splits.is_eval(splits.key_hashes([key], "quickdraw"), fraction)[0]:
            row = rows[len(chosen) % len(rows)]
            chosen.append({**row, "word": word, "key_id": key})
    return chosen


@pipeline_cases
def test_a_skewed_eval_split_stops_the_run(clean_lines, tmp_path):
    name = sorted(clean_lines)[0]
    word = clean_lines[name][0]["word"]
    extra = _eval_only(clean_lines[name], word, 60)
    corpus = {**clean_lines, "extra.ndjson": extra}
    # 73 + 60 eval drawings: a threshold of 0.2 needs 57 per side (checks.min_examples).
    settings = dataclasses.replace(SETTINGS, validation=ValidationConfig(schema="demo", skew_threshold=0.2))
    result, root = _run(tmp_path, corpus, settings)
    _assert_stopped_before_training(result, root, "word [eval vs train]")


@pipeline_cases
def test_drift_from_the_previous_run_stops_the_run(clean_lines, tmp_path):
    first = next(iter(clean_lines.values()))
    before = {**clean_lines, "unicorn.ndjson": _renamed(first[:40], "unicorn", "9")}
    result, root = _run(tmp_path, before)  # stops (a new class), but its statistics are recorded
    assert "drift not checked: no statistics of earlier examples" in " ".join(result.data.notes)
    two_classes = dict(sorted(clean_lines.items())[:2])
    # ~216 train drawings now: a threshold of 0.2 needs 57 per side (checks.min_examples).
    settings = dataclasses.replace(SETTINGS, validation=ValidationConfig(schema="demo", drift_threshold=0.2))
    result, _ = _run(tmp_path, two_classes, settings, root=root)
    _assert_stopped_before_training(result, root, "word [train vs previous run]")


@pipeline_cases
def test_the_report_of_a_stopped_run_shows_the_data_and_its_anomalies(new_class_run):
    from pipeline.report import collect, render

    result, root = new_class_run
    report = collect.build(str(root))
    assert report.text_summary() == result.summary()
    page = render.render(report)
    assert "Not trained: the data validation stopped the run" in page
    assert "Unexpected string values" in page and "unicorn" in page
    assert [s.split for s in report.data.lengths] == ["train", "eval"]
    lengths = report.data.lengths[0]
    assert 2 <= lengths.at(0) <= lengths.at(0.5) <= lengths.at(1.0) and lengths.drawings > 600
    assert sum(c["train"] + c["eval"] for c in report.data.counts_by_class.values()) == 760
    assert set(report.data.counts_by_country) <= set(schemas.ISO_COUNTRIES)


@pipeline_cases
def test_schema_infer_writes_a_schema_the_run_passes(new_class_run, tmp_path, capsys):
    import tensorflow_data_validation as tfdv

    from pipeline import cli

    _, root = new_class_run
    output = tmp_path / "schema.pbtxt"
    assert cli.main(["schema", "infer", "--pipeline-root", str(root), "--output", str(output)]) == 0
    assert "7 classes" in capsys.readouterr().out
    inferred, _ = schema_lib.read(str(output))
    assert "unicorn" in _domain(inferred, "word")
    assert _ink_bound_points(inferred) == DEFAULT_MAX_POINTS
    # TFDV's inference agrees with the curated schemas on every feature's type and shape.
    curated = {f.name: (f.type, list(f.shape.dim)) for f in schema_lib.base_schema().feature}
    assert {f.name: (f.type, list(f.shape.dim)) for f in inferred.feature} == curated
    statistics = result_statistics(root)
    for split in ("train", "eval"):
        anomalies = tfdv.validate_statistics(statistics[split], inferred, environment="TRAINING")
        assert not anomalies.anomaly_info, split


def result_statistics(root) -> dict:
    import tensorflow_data_validation as tfdv

    (uri,) = glob.glob(str(root / "StatisticsGen" / "statistics" / "*"))
    return {
        split: tfdv.load_stats_binary(os.path.join(uri, f"Split-{split}", "FeatureStats.pb"))
        for split in ("train", "eval")
    }
