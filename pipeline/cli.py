"""The ``quickdraw`` command line: argument parsing and dispatch, nothing else.

Sub-commands: ``convert`` (NDJSON → TFRecord shards), ``run`` (the TFX pipeline
locally), ``predict`` (a pushed model on NDJSON files, or on a corpus with Beam), ``report`` (a run's
evaluation as HTML), ``kubeflow compile`` (the pipeline for KFP v2 / Vertex),
``disputes`` (the drawings the model disputes), ``demo-data`` (the offline demo corpus) and
``download`` (the official files).
As in Beam's own examples, flags that ``convert``, ``run``, ``predict --output`` and
``kubeflow compile`` do not know are handed to Beam as pipeline options.

The settings' flags are derived from the config dataclasses' declarations
(``components.settings``): a setting's name, default, bounds and help are written
once, beside the code it steers. Errors a user can fix (``UserError``) print one
line and exit with 2; anything else is a bug and keeps its traceback. Heavy
imports happen inside the sub-commands, so ``quickdraw --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from components import settings
from components.conversion.config import ConversionConfig
from components.data_validation.config import ValidationConfig
from components.errors import UserError
from components.infra_validation.config import InfraValidationConfig
from components.training.config import ModelConfig, TrainingConfig
from components.tuning.config import TuningConfig
from pipeline import console
from pipeline.configs import PIPELINE_NAME, PipelineConfig

# The sub-commands that pass unknown --flags on to Beam (`predict` only with --output: it refuses them otherwise).
BEAM_COMMANDS = ("convert", "run", "predict", "kubeflow")
T = TypeVar("T")


def _checked(kind: type, check: settings.Check | None, item: type = int) -> Callable[[str], Any]:
    """An argparse ``type``: parse as ``kind`` (a tuple: comma-separated ``item``s), then apply the bounds."""

    def parse(text: str) -> Any:
        try:
            value = tuple(item(v) for v in text.split(",")) if kind is tuple else kind(text)
        except ValueError:
            items = "integers" if item is int else "numbers"
            expected = f"comma-separated {items}" if kind is tuple else f"a {kind.__name__}"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        why = check(value) if check else None
        if why:
            raise argparse.ArgumentTypeError(why)
        return value

    parse.__name__ = kind.__name__
    return parse


def _flagged(cls: type) -> list:
    return [f for f in settings.fields(cls) if f.metadata.get("flag")]


def add_config_flags(p: argparse.ArgumentParser, cls: type, title: str | None = None) -> None:
    """One flag per declared setting of ``cls``: name, default, bounds and help from its field."""
    if title:
        p = p.add_argument_group(title)  # type: ignore[assignment]
    types = settings.field_types(cls)
    for f in _flagged(cls):
        kind = settings.base_type(types[f.name])
        help_text = f.metadata["help"]
        if kind is bool:  # --name, and --no-name for the settings that are on by default
            action = argparse.BooleanOptionalAction if f.default else "store_true"
            p.add_argument(settings.flag_name(f.name), action=action, default=f.default, help=help_text)
            continue
        default = ",".join(map(str, f.default)) if kind is tuple else f.default
        p.add_argument(
            settings.flag_name(f.name),
            type=_checked(kind, f.metadata.get("check"), settings.item_type(types[f.name])),
            default=f.default,
            help=help_text + ("" if default is None else f" (default {default})"),
        )


def config_from_args(cls: type[T], args: argparse.Namespace, **nested: Any) -> T:
    return settings.from_dict(cls, {f.name: getattr(args, f.name) for f in _flagged(cls)} | nested)


def _positive_int(text: str) -> int:
    return _checked(int, settings.at_least(1))(text)


def _non_negative_int(text: str) -> int:
    return _checked(int, settings.at_least(0))(text)


def _add_convert(subparsers) -> None:
    p = subparsers.add_parser(
        "convert",
        help="NDJSON (simplified or raw) → deterministic train/eval TFRecord shards",
        description=(
            "Convert Quick, Draw! NDJSON files to tf.Example TFRecord shards named like the "
            "tutorial's (training.tfrecord-NNNNN-of-MMMMM, eval.tfrecord-..., training.tfrecord.classes), "
            "plus manifest.json and rejected.jsonl. Unknown --flags are Apache Beam pipeline options."
        ),
    )
    p.add_argument("--input", required=True, help="directory (reads *.ndjson), glob or file; local or gs://")
    p.add_argument("--output", required=True, help="output directory; local or any Beam filesystem")
    add_config_flags(p, ConversionConfig)
    p.add_argument(
        "--overwrite", action="store_true", help="replace an output directory holding another conversion"
    )
    p.set_defaults(run=_run_convert)


def _run_convert(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline import convert

    config = config_from_args(ConversionConfig, args)
    manifest, seconds = convert.timed_conversion(
        args.input, args.output, config, beam_args, overwrite=args.overwrite
    )
    print(convert.summary_line(manifest, args.output, seconds))
    return 0


def _add_demo_data(subparsers) -> None:
    from pipeline.tools import demo_data

    p = subparsers.add_parser(
        "demo-data",
        help="write the deterministic procedural demo corpus (official simplified NDJSON schema)",
    )
    p.add_argument("--output", required=True, help="directory for <class>.ndjson files")
    p.add_argument(
        "--per-class", type=_positive_int, default=demo_data.DEFAULT_PER_CLASS, help="drawings per class"
    )
    p.add_argument(
        "--classes",
        type=_positive_int,
        default=len(demo_data.SHAPES),
        help=f"number of shape classes, at most {len(demo_data.SHAPES)}",
    )
    p.add_argument(
        "--seed", type=_non_negative_int, default=demo_data.DEFAULT_SEED, help="same seed, same bytes"
    )
    p.set_defaults(run=_run_demo_data)


def _run_demo_data(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.tools import demo_data

    paths, seconds = demo_data.write_corpus(args.output, args.per_class, args.classes, args.seed)
    total = args.per_class * len(paths)
    print(
        f"wrote {total:,} drawings in {len(paths)} classes to {args.output} in {seconds:.1f} s "
        f"({total / max(seconds, 1e-9):,.0f} drawings/s)"
    )
    return 0


def _add_download(subparsers) -> None:
    from pipeline.tools import download

    p = subparsers.add_parser(
        "download", help="fetch the official per-class NDJSON files (resumable, verified, parallel)"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--categories", help="comma-separated class names, e.g. 'cat,dog,hot air balloon'")
    which.add_argument("--all", action="store_true", help="all 345 classes")
    p.add_argument("--format", choices=download.FORMATS, default="simplified")
    p.add_argument("--output", required=True)
    p.add_argument("--base-url", default=download.DEFAULT_BASE_URL)
    p.add_argument("--parallel", type=_positive_int, default=8, help="files fetched at once")
    p.add_argument("--retries", type=_non_negative_int, default=3, help="retries per file")
    p.set_defaults(run=_run_download)


def _run_download(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.tools import download

    names = download.ALL_CLASSES if args.all else download.parse_categories(args.categories)
    results = download.download_all(
        names,
        args.output,
        fmt=args.format,
        base_url=args.base_url,
        parallel=args.parallel,
        retries=args.retries,
    )
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"error: {r.name}: {r.error}", file=sys.stderr)
    done = len(results) - len(failed)
    total = sum(r.size for r in results if not r.error)
    print(f"downloaded {done}/{len(results)} files ({total / 1e6:,.1f} MB) to {args.output}")
    return 1 if failed else 0


def _add_run(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="the whole TFX pipeline locally: ExampleGen → ... → Evaluator → Pusher",
        description=(
            "Build the pipeline with create_pipeline(...) and run it with LocalDagRunner; MLMD (SQLite) lives "
            "under --pipeline-root, so a rerun reuses unchanged components. Unknown --flags are Beam options "
            "for the Beam-powered components (default: in-process DirectRunner)."
        ),
    )
    p.add_argument("--input", required=True, help="directory (reads *.ndjson), glob or file")
    p.add_argument("--pipeline-root", required=True, help="artifacts and metadata.sqlite go here")
    p.add_argument("--serving-dir", required=True, help="blessed models are pushed to <dir>/<version>/")
    _add_pipeline_settings(p)
    p.set_defaults(run=_run_pipeline)


def _add_pipeline_settings(p: argparse.ArgumentParser) -> None:
    """The flags `run` and `kubeflow compile` share: every declared setting of PipelineConfig."""
    p.add_argument("--pipeline-name", default=PIPELINE_NAME)
    add_config_flags(p, PipelineConfig, "pipeline")
    add_config_flags(p, ConversionConfig, "conversion (the ExampleGen, as `quickdraw convert`)")
    add_config_flags(p, ValidationConfig, "data validation (before Transform and training)")
    add_config_flags(p, TrainingConfig, "training (the Trainer)")
    add_config_flags(p, ModelConfig, "model (the tutorial's architecture by default)")
    add_config_flags(p, TuningConfig, "tuning (TFX's Tuner before the Trainer; off by default)")
    add_config_flags(p, InfraValidationConfig, "infra validation (the candidate served before a push)")


def pipeline_config_from_args(args: argparse.Namespace) -> PipelineConfig:
    model = config_from_args(ModelConfig, args)
    return config_from_args(
        PipelineConfig,
        args,
        conversion=config_from_args(ConversionConfig, args),
        validation=config_from_args(ValidationConfig, args),
        training=config_from_args(TrainingConfig, args, model=model),
        tuning=config_from_args(TuningConfig, args),
        infra_validation=config_from_args(InfraValidationConfig, args),
    )


def _run_pipeline(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline import local_run

    settings = pipeline_config_from_args(args)  # a bad setting is refused before anything is written
    log = None
    if "://" not in args.pipeline_root:  # everything the terminal leaves out, for this run
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log = console.log_to(os.path.join(os.path.abspath(args.pipeline_root), "logs", f"run-{stamp}.log"))
    result, seconds = local_run.run(
        input_pattern=args.input,
        pipeline_root=args.pipeline_root,
        serving_dir=args.serving_dir,
        settings=settings,
        beam_args=beam_args,
        pipeline_name=args.pipeline_name,
    )
    reused = sorted(name for name, node in result.nodes.items() if node.cached)
    print(result.summary())
    print(
        f"Finished in {seconds:.0f} s" + (f"; reused from cache: {', '.join(reused)}" if reused else "") + "."
    )
    print(
        f"Report: quickdraw report --pipeline-root {args.pipeline_root} --run {result.run_id} "
        "--output report.html  (the evaluation as one HTML page)"
    )
    if log:
        print(f"Log: {log}  (every component's own output)")
    return 0


def _add_predict(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="classify drawings with a pushed model: NDJSON files in one process, or a corpus with Beam",
        description=(
            "Without --output: print one JSON line per drawing of the NDJSON files (key_id, the true word "
            "when the line has one, and top_k [{label, score}]); unusable lines are reported on stderr as "
            "FILE:LINE: skipped: REASON and the others are still predicted. With --output DIR: score NDJSON "
            "files, directories or globs (or the conversion's TFRecord shards) with Beam's RunInference into "
            "DIR/predictions-SSSSS-of-NNNNN.jsonl (the same lines, deterministic shards), DIR/rejected.jsonl "
            "and DIR/summary.json; flags it does not know go to Beam, as for `quickdraw convert`. Both end "
            "with top-1/top-k accuracy on stderr when words are present."
        ),
    )
    p.add_argument("--model", required=True, help="a SavedModel (version) directory, or a serving directory")
    p.add_argument("--top-k", type=_positive_int, default=TrainingConfig().top_k)
    p.add_argument(
        "--max-points",
        type=_positive_int,
        default=ConversionConfig().max_points,
        help="skip drawings with more points (default %(default)s, the conversion's)",
    )
    p.add_argument(
        "--tflite",
        action="store_true",
        help="score with the version's model.tflite (the on-device model) instead of the SavedModel",
    )
    p.add_argument(
        "--output",
        help="score with Beam into this directory (local or gs://) instead of printing; Beam flags pass through",
    )
    p.add_argument(
        "--shards",
        type=_positive_int,
        default=None,
        help="with --output: output files (default 10); each shard's drawings are sorted on one worker",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="INPUT",
        help="NDJSON files (with --output: also directories, globs, TFRecord shards)",
    )
    p.set_defaults(run=_run_predict)


def _run_predict(args: argparse.Namespace, beam_args: list[str]) -> int:
    if args.output is None:
        if beam_args or args.shards is not None:
            given = " ".join([*beam_args, *(["--shards"] if args.shards is not None else [])])
            raise UserError(f"{given}: Beam options and --shards need --output DIR (the Beam job)")
        from pipeline import predict

        counts = predict.predict_files(
            args.model, args.files, args.top_k, args.max_points, tflite=args.tflite
        )
        print(predict.summary(counts, args.top_k), file=sys.stderr)
        return 0
    if args.tflite:
        raise UserError(
            "--tflite scores in one process; with --output the SavedModel is used (drop --tflite)"
        )
    from pipeline import bulk_predict

    start = time.monotonic()
    summary = bulk_predict.predict_corpus(
        args.files,
        args.model,
        args.output,
        shards=args.shards or bulk_predict.DEFAULT_SHARDS,
        top_k=args.top_k,
        max_points=args.max_points,
        beam_args=beam_args,
    )
    print(bulk_predict.summary_line(summary, args.output, time.monotonic() - start), file=sys.stderr)
    return 0


def _add_serve(subparsers) -> None:
    from pipeline.serve.config import ServeConfig

    p = subparsers.add_parser(
        "serve",
        help="serve the newest pushed model over TF Serving's REST API, with a page to draw against",
        description=(
            "Serve the newest version of a serving directory (as the Pusher writes it) on TF Serving's REST "
            "paths (/v1/models/NAME[/versions/N][/metadata|:predict]); new versions are picked up without "
            "a restart. Open http://HOST:PORT/ to draw. No authentication: keep the default 127.0.0.1 "
            "unless the network in front of it is trusted."
        ),
    )
    p.add_argument("--model", required=True, help="the serving directory (numeric version subdirectories)")
    add_config_flags(p, ServeConfig, "server")
    p.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.serve.config import ServeConfig
    from pipeline.serve.server import serve

    return serve(args.model, config_from_args(ServeConfig, args))


def _add_kubeflow(subparsers) -> None:
    p = subparsers.add_parser(
        "kubeflow", help="Kubeflow Pipelines v2 / Vertex AI Pipelines: compile the same pipeline"
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = actions.add_parser(
        "compile",
        help="compile the pipeline to a KFP v2 pipeline JSON (offline, no credentials)",
        description=(
            "Compile create_pipeline(...) with TFX's KubeflowV2DagRunner. Every component runs in --image; "
            "with --beam-runner DataflowRunner the Beam-powered components run on Dataflow in the same image. "
            "Unknown --flags are added to the Beam options."
        ),
    )
    c.add_argument("--pipeline-root", required=True, help="gs://… where artifacts go")
    c.add_argument("--input", required=True, help="the NDJSON corpus: gs://…/*.ndjson, a directory or a glob")
    c.add_argument(
        "--serving-dir", required=True, help="gs://… blessed models are pushed to <dir>/<version>/"
    )
    c.add_argument("--image", required=True, help="the pipeline image (kubeflow/Dockerfile)")
    c.add_argument("--output", required=True, help="the pipeline JSON to write")
    c.add_argument("--beam-runner", choices=["DirectRunner", "DataflowRunner"], default="DirectRunner")
    c.add_argument("--project", help="GCP project (Dataflow)")
    c.add_argument("--region", help="GCP region (Dataflow)")
    c.add_argument("--temp-location", help="gs://… Dataflow temp location")
    c.add_argument("--machine-type", help="Dataflow worker machine type, e.g. n2-standard-8")
    c.add_argument("--max-num-workers", type=_positive_int, help="Dataflow autoscaling limit")
    _add_pipeline_settings(c)
    c.set_defaults(run=_run_kubeflow_compile)
    r = actions.add_parser(
        "run-local",
        help="run a compiled pipeline JSON on this machine, each task's own container command (before you submit)",
        description=(
            "Execute a pipeline JSON of `quickdraw kubeflow compile` (compiled with a local --pipeline-root and "
            "--beam-runner DirectRunner) task by task in the DAG's order: each container task runs its own "
            "command (TFX's Kubeflow v2 entrypoint with the executor input KFP's launcher would give it) as a "
            "subprocess of this environment instead of a pod; resolvers, trigger conditions and caching as on "
            "the backend. Stops at the first failing task with its exit code and the tail of its output."
        ),
    )
    r.add_argument(
        "spec", metavar="SPEC.json", help="the pipeline JSON written by `quickdraw kubeflow compile`"
    )
    r.add_argument(
        "--workdir",
        help="run-local's metadata store (resolvers, cache) and task logs (default: <pipeline root>/run-local)",
    )
    r.add_argument(
        "--no-cache", action="store_true", help="run every task, even when an earlier run had its outputs"
    )
    r.set_defaults(run=_run_kubeflow_run_local)


def _run_kubeflow_compile(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline import kubeflow_v2 as kfp_runner

    if args.beam_runner == kfp_runner.DATAFLOW:
        beam_args = kfp_runner.dataflow_args(
            args.project,
            args.region,
            args.temp_location,
            args.image,
            args.machine_type,
            args.max_num_workers,
            beam_args,
        )
    elif args.project or args.region or args.temp_location or args.machine_type or args.max_num_workers:
        raise kfp_runner.CompileError(
            "--project/--region/--temp-location/--machine-type/--max-num-workers need --beam-runner DataflowRunner"
        )
    kfp_runner.compile_pipeline(
        args.output,
        input_pattern=args.input,
        pipeline_root=args.pipeline_root,
        serving_dir=args.serving_dir,
        image=args.image,
        settings=pipeline_config_from_args(args),
        beam_args=beam_args,
        pipeline_name=args.pipeline_name,
    )
    print(
        f"wrote {args.output} (pipeline {args.pipeline_name!r}, image {args.image}, Beam on {args.beam_runner})"
    )
    return 0


def _run_kubeflow_run_local(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.kubeflow_local.runner import TaskFailed, run_local

    if extra:
        raise UserError(
            f"unrecognized arguments: {' '.join(extra)} (Beam options belong to `kubeflow compile`)"
        )
    started = time.monotonic()
    try:
        result = run_local(args.spec, args.workdir, cache=not args.no_cache, verbose=args.verbose)
    except TaskFailed as failed:  # the run failed, not the command line: exit 1, as a failed job
        print(f"error: {failed}", file=sys.stderr)
        return 1
    if result.outcome is not None:
        print(result.outcome.summary())
    print(
        f"Finished in {time.monotonic() - started:.0f} s; every task's log: {result.workdir}/logs/{result.run_id}/"
    )
    return 0


def _add_run_choice(p: argparse.ArgumentParser, default: str) -> None:
    """Which recorded run a command reads: its pipeline root, name and run id."""
    p.add_argument("--pipeline-root", required=True)
    p.add_argument("--run", dest="run_id", help=f"pipeline run id (default: {default})")
    p.add_argument("--pipeline-name", default=PIPELINE_NAME)


def _add_schema(subparsers) -> None:
    p = subparsers.add_parser("schema", help="data validation schemas: infer a starting one from a run")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    i = actions.add_parser(
        "infer",
        help="write a starting schema.pbtxt from a run's statistics (for a corpus of your own)",
        description=(
            "TFDV's inference on the run's train statistics plus the pipeline's constraints: the classes seen "
            "as the word domain, ISO country codes (and those seen), the run's --max-points as the ink bound, "
            "the TRAINING/SERVING environments. Review it, then pass it to `quickdraw run --schema FILE`."
        ),
    )
    _add_run_choice(i, "the latest with statistics")
    i.add_argument("--output", required=True, help="the schema.pbtxt to write")
    i.set_defaults(run=_run_schema_infer)


def _run_schema_infer(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline import schema_infer

    inferred = schema_infer.infer(args.pipeline_root, args.pipeline_name, args.run_id)
    schema_infer.write(inferred, args.output)
    print(
        f"wrote {args.output} from run {inferred.run_id}: {len(inferred.classes)} classes, drawings of 2 to "
        f"{inferred.max_points:,} points"
    )
    if inferred.unlisted_countries:
        print(
            f"note: country codes seen that are not ISO 3166 codes (kept): {', '.join(inferred.unlisted_countries)}"
        )
    print(f"use it with: quickdraw run --schema {args.output} ...")
    return 0


def _add_report(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="a self-contained HTML page of a run's TFMA evaluation (opens in any browser)",
        description="Build one HTML file (inline CSS/SVG, nothing fetched) from the Evaluator's artifacts and MLMD.",
    )
    _add_run_choice(p, "the latest run")
    p.add_argument("--output", required=True, help="the .html file to write")
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.report import collect, render

    built = collect.build(args.pipeline_root, args.run_id, args.pipeline_name)
    render.write(built, args.output)
    print(built.text_summary())
    print(f"Report: {os.path.abspath(args.output)}")
    return 0


def _add_disputes(subparsers) -> None:
    p = subparsers.add_parser(
        "disputes",
        help="the drawings the blessed model disputes (from a run with --bulk-infer), as NDJSON to review",
        description=(
            "Every train and eval drawing whose word the model disputes (another class at least "
            "0.5 and above the word), from the run's BulkInferrer: one NDJSON line each in the corpus format "
            "(word, countrycode, recognized, key_id, drawing rebuilt from the stored ink) plus split, "
            "word_score and top_k; by word, lowest word_score first."
        ),
    )
    _add_run_choice(p, "the latest run with bulk predictions")
    p.add_argument("--output", required=True, help="the .ndjson file to write")
    p.set_defaults(run=_run_disputes)


def _run_disputes(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline import disputes

    tmp = args.output + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            run_id, scored, written = disputes.write_disputed(
                args.pipeline_root, f, args.run_id, args.pipeline_name
            )
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):  # a failure leaves no partial file
            os.remove(tmp)
    print(f"run {run_id}: {written:,} of {scored:,} drawings disputed by the model → {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quickdraw", description="Quick, Draw! TFX / Beam pipeline: data tools and jobs."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_convert(subparsers)
    _add_demo_data(subparsers)
    _add_download(subparsers)
    _add_run(subparsers)
    _add_predict(subparsers)
    _add_serve(subparsers)
    _add_kubeflow(subparsers)
    _add_report(subparsers)
    _add_disputes(subparsers)
    _add_schema(subparsers)
    add_verbose_to_every_command(parser)
    return parser


def add_verbose_to_every_command(parser: argparse.ArgumentParser) -> None:
    """``-v`` after the command too (``quickdraw run … -v``), where users type it, not only before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument(
                    "-v",
                    "--verbose",
                    action="store_true",
                    default=argparse.SUPPRESS,
                    help="log at INFO level",
                )
                add_verbose_to_every_command(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if argv is None:
        # TFX's Beam executors parse sys.argv with absl (`flags.FLAGS(sys.argv + beam_args, known_only=True)`),
        # where `-v` is absl's --verbosity and takes the next word as its value: `quickdraw -v run` failed with
        # "flag --verbosity=run". Our flags are parsed; Beam's reach the components as beam_pipeline_args.
        sys.argv[1:] = []
    if extra and args.command not in BEAM_COMMANDS:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    stray = [a for a in extra if not a.startswith("-")]
    if stray:
        parser.error(f"unexpected arguments: {' '.join(stray)} (Beam options are written --name=value)")
    console.configure(args.verbose)
    # Keras 2 from the start, in every command: tensorflow-transform switches a process to it on import (the
    # pipeline's commands); the commands that only load SavedModels (serve, predict, report) would otherwise
    # import Keras 3 with TensorFlow, half a second of each start, for nothing.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    try:
        return args.run(args, extra)
    except UserError as error:
        if args.verbose:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
