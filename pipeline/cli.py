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
    p.add_argument(
        "--overwrite", action="store_true", help="replace an output directory holding another conversion"
    )
    p.set_defaults(run=_run_convert)


def _run_convert(args: argparse.Namespace, beam_args: list[str]) -> int:
    from components import conversion
    from pipeline import convert

    config = conversion.ConversionConfig(
        eval_fraction=args.eval_fraction,
        shards=args.shards,
        salt=args.salt,
        train_per_class=args.train_per_class,
        eval_per_class=args.eval_per_class,
        recognized_only=args.recognized_only,
        max_points=args.max_points,
    )
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quickdraw", description="Quick, Draw! TFX / Beam pipeline: data tools and jobs."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_convert(subparsers)
    _add_demo_data(subparsers)
    _add_download(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "convert":
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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # google-api-core warns on import that Python 3.10 is past its support window (TFX 1.16 needs
    # 3.10), in this process and in every Beam worker process, which inherit the environment.
    quiet = "ignore:You are using a non-supported Python version:FutureWarning"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
    warnings.filterwarnings("ignore", message=".*non-supported Python version", category=FutureWarning)
    try:
        return args.run(args, extra)
    except Exception as error:
        from pipeline.convert import ConversionError

        if isinstance(error, (ConversionError, ValueError, FileNotFoundError)) and not args.verbose:
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
