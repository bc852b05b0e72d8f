"""The ``quickdraw`` command line.

Sub-commands: ``convert`` (NDJSON → TFRecord shards), ``demo-data`` (the offline
demo corpus), ``download`` (the official per-class files). As in Beam's own
examples, flags that ``convert`` does not know are handed to Beam as pipeline
options (``--runner=DataflowRunner --project=...``, ``--direct_num_workers=2``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from pipeline import configs

BEAM_COMMANDS = ("convert", "run", "kubeflow")  # the sub-commands that pass unknown --flags on to Beam


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


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
    _add_conversion_flags(p)
    p.add_argument(
        "--overwrite", action="store_true", help="replace an output directory holding another conversion"
    )
    p.set_defaults(run=_run_convert)


def _add_conversion_flags(p: argparse.ArgumentParser) -> None:
    """The flags `convert`, `run` and `kubeflow compile` share: they map onto ConversionConfig."""
    p.add_argument("--eval-fraction", type=_fraction, default=configs.EVAL_FRACTION)
    p.add_argument("--shards", type=_positive_int, default=configs.SHARDS, help="shards per split")
    p.add_argument("--salt", default=configs.SALT, help="salt of the split/shard hash")
    p.add_argument(
        "--train-per-class",
        type=_non_negative_int,
        help="keep at most N train drawings per class (smallest hash: a uniform sample); default all",
    )
    p.add_argument("--eval-per-class", type=_non_negative_int, help="the same cap for eval")
    p.add_argument("--recognized-only", action="store_true", help="keep only drawings the game recognised")
    p.add_argument(
        "--max-points",
        type=_positive_int,
        default=configs.MAX_POINTS,
        help="reject drawings with more points (default %(default)s)",
    )


def _conversion_config(args: argparse.Namespace):
    from components.conversion import ConversionConfig

    return ConversionConfig(
        eval_fraction=args.eval_fraction,
        shards=args.shards,
        salt=args.salt,
        train_per_class=args.train_per_class,
        eval_per_class=args.eval_per_class,
        recognized_only=args.recognized_only,
        max_points=args.max_points,
    )


def _run_convert(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline import convert

    config = _conversion_config(args)
    manifest, seconds = convert.timed_conversion(
        args.input, args.output, config, beam_args, overwrite=args.overwrite
    )
    print(convert.summary_line(manifest, args.output, seconds))
    return 0


def _add_demo_data(subparsers) -> None:
    from pipeline import demo_data

    p = subparsers.add_parser(
        "demo-data",
        help="write the deterministic procedural demo corpus (official simplified NDJSON schema)",
    )
    p.add_argument("--output", required=True, help="directory for <class>.ndjson files")
    p.add_argument(
        "--per-class", type=_positive_int, default=configs.DEMO_PER_CLASS, help="drawings per class"
    )
    p.add_argument(
        "--classes",
        type=_positive_int,
        default=len(demo_data.SHAPES),
        help=f"number of shape classes, at most {len(demo_data.SHAPES)}",
    )
    p.add_argument("--seed", type=_non_negative_int, default=configs.DEMO_SEED, help="same seed, same bytes")
    p.set_defaults(run=_run_demo_data)


def _run_demo_data(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline import demo_data

    paths, seconds = demo_data.write_corpus(args.output, args.per_class, args.classes, args.seed)
    total = args.per_class * len(paths)
    print(
        f"wrote {total:,} drawings in {len(paths)} classes to {args.output} in {seconds:.1f} s "
        f"({total / max(seconds, 1e-9):,.0f} drawings/s)"
    )
    return 0


def _add_download(subparsers) -> None:
    from pipeline import download

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
    from pipeline import download

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
    """The flags `run` and `kubeflow compile` share: they map onto PipelineSettings."""
    p.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    p.add_argument("--train-steps", type=_positive_int, default=configs.TRAIN_STEPS)
    p.add_argument("--eval-steps", type=_positive_int, default=configs.EVAL_STEPS)
    p.add_argument("--batch-size", type=_positive_int, default=configs.BATCH_SIZE, help="per device")
    p.add_argument("--learning-rate", type=float, default=configs.LEARNING_RATE)
    p.add_argument("--lstm-units", type=_positive_int, default=configs.LSTM_UNITS)
    p.add_argument("--lstm-layers", type=_positive_int, default=configs.LSTM_LAYERS)
    p.add_argument("--dropout", type=_dropout, default=configs.DROPOUT)
    p.add_argument("--batch-norm", action="store_true", help="batch norm before each convolution")
    p.add_argument(
        "--accuracy-threshold",
        type=_fraction,
        default=configs.ACCURACY_THRESHOLD,
        help="bless only models with at least this eval accuracy (default %(default)s)",
    )
    p.add_argument(
        "--max-accuracy-drop",
        type=_fraction,
        default=configs.MAX_ACCURACY_DROP,
        help="... and at most this much below the latest blessed model (default %(default)s)",
    )
    _add_conversion_flags(p)


def _dropout(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def settings_from_args(args: argparse.Namespace):
    from components.model import ModelConfig
    from components.trainer import TrainingConfig
    from pipeline.pipeline import PipelineSettings

    model = ModelConfig(
        learning_rate=args.learning_rate,
        lstm_units=args.lstm_units,
        lstm_layers=args.lstm_layers,
        dropout=args.dropout,
        batch_norm=args.batch_norm,
    )
    return PipelineSettings(
        train_steps=args.train_steps,
        eval_steps=args.eval_steps,
        accuracy_threshold=args.accuracy_threshold,
        max_accuracy_drop=args.max_accuracy_drop,
        conversion=_conversion_config(args),
        training=TrainingConfig(batch_size=args.batch_size, max_points=args.max_points, model=model),
    )


def _run_pipeline(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline import local_run

    result, seconds = local_run.run(
        args.input,
        args.pipeline_root,
        args.serving_dir,
        settings_from_args(args),
        beam_args,
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
    return 0


def _add_predict(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="classify the drawings of NDJSON files with a pushed model (one JSON line each)",
        description=(
            "Print one JSON line per drawing: key_id, the true word when the line has one, and top_k "
            "[{label, score}]. Unusable lines are reported on stderr as FILE:LINE: skipped: REASON; the "
            "others are still predicted. Ends with top-1/top-k accuracy on stderr when words are present."
        ),
    )
    p.add_argument("--model", required=True, help="a SavedModel (version) directory, or a serving directory")
    p.add_argument("--top-k", type=_positive_int, default=configs.TOP_K)
    p.add_argument("--max-points", type=_positive_int, default=configs.MAX_POINTS)
    p.add_argument("files", nargs="+", metavar="FILE.ndjson")
    p.set_defaults(run=_run_predict)


def _run_predict(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline import predict

    counts = predict.predict_files(args.model, args.files, args.top_k, args.max_points)
    print(predict.summary(counts, args.top_k), file=sys.stderr)
    return 0


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


def _run_kubeflow_compile(args: argparse.Namespace, beam_args: list[str]) -> int:
    from kubeflow import kubeflow_v2_runner as kfp_runner

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
        raise ValueError(
            "--project/--region/--temp-location/--machine-type/--max-num-workers need --beam-runner DataflowRunner"
        )
    kfp_runner.compile_pipeline(
        args.output,
        args.pipeline_root,
        args.input,
        args.serving_dir,
        args.image,
        settings_from_args(args),
        beam_args,
        pipeline_name=args.pipeline_name,
    )
    print(
        f"wrote {args.output} (pipeline {args.pipeline_name!r}, image {args.image}, Beam on {args.beam_runner})"
    )
    return 0


def _add_report(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="a self-contained HTML page of a run's TFMA evaluation (opens in any browser)",
        description="Build one HTML file (inline CSS/SVG, nothing fetched) from the Evaluator's artifacts and MLMD.",
    )
    p.add_argument("--pipeline-root", required=True)
    p.add_argument("--run", dest="run_id", help="pipeline run id (default: the latest run with an Evaluator)")
    p.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    p.add_argument("--output", required=True, help="the .html file to write")
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline import report

    built = report.build(args.pipeline_root, args.run_id, args.pipeline_name)
    report.write(built, args.output)
    print(built.text_summary())
    print(f"Report: {os.path.abspath(args.output)}")
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
    _add_kubeflow(subparsers)
    _add_report(subparsers)
    return parser


class _ProgressFilter(logging.Filter):
    """Of absl's INFO lines, only those that say how a run progresses."""

    SHOWN = ("Component ", "A cached execution", "Training:")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return record.levelno >= logging.WARNING or (
            message.startswith(self.SHOWN) and not message.startswith("Component launcher")
        )


class _NoiseFilter(logging.Filter):
    """Warnings that are known to be harmless here and only bury the output."""

    NOISE = (
        "ArtifactQuery.property_predicate is not supported",  # TFX resolver internals
        "Tables initialized inside a tf.function",  # the transform layer's vocabulary table
        "SavedModel saved prior to TF 2.5",  # TFMA probing our SavedModel as a Keras model
        "is deprecated and will be removed",  # API deprecations inside TFX/TFMA/TF
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(noise in record.getMessage() for noise in self.NOISE)


def _show_progress_only() -> None:
    from absl import logging as absl_logging

    # Through absl's verbosity flag, not Logger.setLevel: absl re-applies the flag's value to
    # its logger whenever flags are parsed again, which happens during a pipeline run.
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.getLogger("absl").addFilter(_ProgressFilter())
    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoiseFilter())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in BEAM_COMMANDS:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    stray = [a for a in extra if not a.startswith("-")]
    if stray:
        parser.error(f"unexpected arguments: {' '.join(stray)} (Beam options are written --name=value)")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # The local runner re-logs every worker warning as one long proto dump.
        logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
        _show_progress_only()
    # TensorFlow's C++ start-up chatter (CUDA plugins, CPU features) is noise to a CLI user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if args.verbose else "3")
    # google-api-core warns on import that Python 3.10 is past its support window (TFX 1.16 needs
    # 3.10), in this process and in every Beam worker process, which inherit the environment.
    quiet = "ignore:You are using a non-supported Python version:FutureWarning"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
    warnings.filterwarnings("ignore", message=".*non-supported Python version", category=FutureWarning)
    try:
        return args.run(args, extra)
    except Exception as error:
        from pipeline.convert import ConversionError
        from pipeline.local_run import PipelineRootBusy

        user_errors = (ConversionError, ValueError, FileNotFoundError, PipelineRootBusy)
        if isinstance(error, user_errors) and not args.verbose:
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
