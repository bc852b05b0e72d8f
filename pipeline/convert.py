"""Runs the conversion job: input resolution, output checks, Beam options, summary.

The Beam transforms live in ``components.conversion``; this module is the thin
driver around them that a user meets through ``quickdraw convert``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from components.conversion.config import ConversionConfig
from components.conversion.files import ConversionError, resolve_inputs
from components.conversion.manifest import MANIFEST_FILE, REJECTED_FILE, SPLIT_PREFIX, read_manifest
from components.conversion.transforms import ConvertQuickDraw


def beam_options(beam_args: Sequence[str]) -> PipelineOptions:
    """Pipeline options from the user's flags; locally, all cores by default.

    DirectRunner's default is one in-process worker; a user converting on a
    workstation expects every core, so multi-processing is the default unless
    the flags say otherwise.
    """
    options = PipelineOptions(list(beam_args))
    runner = options.view_as(StandardOptions).runner
    direct = options.view_as(DirectOptions)
    given = " ".join(beam_args)
    if runner in (None, "DirectRunner", "direct") and "--direct_running_mode" not in given:
        direct.direct_running_mode = "multi_processing"
        if "--direct_num_workers" not in given:
            direct.direct_num_workers = os.cpu_count() or 1
    return options


def local_runner(options: PipelineOptions):
    """The local engine, chosen explicitly: Beam's DirectRunner first tries to download the Go
    "Prism" runner from GitHub and silently switches engines when it can, so the same command
    would run differently with and without internet. FnApiRunner is the DirectRunner's batch
    engine and honours --direct_running_mode / --direct_num_workers. Other runners: as given."""
    if options.view_as(StandardOptions).runner in (None, "DirectRunner", "direct"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    return None


def delete_leftovers(output_dir: str) -> None:
    """Temporary files and run directories that an interrupted conversion left behind.

    Locally a run directory is a directory; on object stores (gs://) it is a
    prefix, whose objects are matched and deleted.
    """
    if "://" not in output_dir:
        if os.path.isdir(output_dir):
            for name in os.listdir(output_dir):
                path = os.path.join(output_dir, name)
                if name.startswith(".tmp-"):
                    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        return
    patterns = [FileSystems.join(output_dir, ".tmp-*"), FileSystems.join(output_dir, ".tmp-*", "*")]
    stale = [m.path for result in FileSystems.match(patterns) for m in result.metadata_list]
    if stale:
        FileSystems.delete(stale)


def check_output(output_dir: str, config: ConversionConfig, overwrite: bool) -> None:
    """Refuse to mix two different conversions in one directory.

    Re-running the same configuration is allowed (it rewrites the same bytes);
    a different one needs ``--overwrite``, which deletes the old outputs first.
    """
    delete_leftovers(output_dir)
    manifest = read_manifest(output_dir)
    if manifest is None:
        return
    if manifest.get("config") == config.to_json():
        return
    if not overwrite:
        raise ConversionError(
            f"{output_dir} already holds a conversion with another configuration "
            f"({manifest.get('config')}); choose another --output or pass --overwrite"
        )
    stale = [
        m.path
        for m in FileSystems.match([FileSystems.join(output_dir, "*")])[0].metadata_list
        if os.path.basename(m.path).startswith((*SPLIT_PREFIX.values(), REJECTED_FILE, MANIFEST_FILE))
    ]
    if stale:
        FileSystems.delete(stale)


def run_conversion(
    input_spec: str,
    output_dir: str,
    config: ConversionConfig,
    beam_args: Sequence[str] = (),
    overwrite: bool = False,
) -> dict:
    """Convert; return the manifest. Raises ConversionError on user errors."""
    files = resolve_inputs(input_spec)
    check_output(output_dir, config, overwrite)
    if not FileSystems.exists(output_dir):
        FileSystems.mkdirs(output_dir)
    # The manifest, written last, marks a finished conversion: remove the old one so the one
    # read below can only come from this run.
    manifest_path = FileSystems.join(output_dir, MANIFEST_FILE)
    if FileSystems.exists(manifest_path):
        FileSystems.delete([manifest_path])
    print(f"convert: {len(files)} input files → {output_dir}", file=sys.stderr, flush=True)
    options = beam_options(beam_args)
    with beam.Pipeline(runner=local_runner(options), options=options) as p:
        _ = p | "ConvertQuickDraw" >> ConvertQuickDraw(files, output_dir, config)
    manifest = read_manifest(output_dir)
    if manifest is None:
        raise RuntimeError(f"the pipeline finished but wrote no {MANIFEST_FILE}")
    if not manifest["counts"]["reconciled"]:
        raise RuntimeError(f"line accounting does not add up: {manifest['counts']}")
    return manifest


def summary_line(manifest: dict, output_dir: str, seconds: float) -> str:
    c = manifest["counts"]
    s = manifest["splits"]
    rate = c["lines_read"] / seconds if seconds > 0 else 0.0
    reasons = ", ".join(f"{k} {v:,}" for k, v in manifest["rejected"]["by_reason"].items())
    return (
        f"converted {c['lines_read']:,} lines from {len(manifest['inputs'])} files in {seconds:.1f} s "
        f"({rate:,.0f} lines/s): {s['train']['records']:,} train + {s['eval']['records']:,} eval "
        f"written, {c['rejected']:,} rejected{f' ({reasons})' if reasons else ''}, "
        f"{c['filtered']:,} filtered, {c['over_cap']:,} over cap; "
        f"{manifest['classes']['count']} classes → {output_dir}"
    )


def timed_conversion(*args, **kwargs) -> tuple[dict, float]:
    start = time.monotonic()
    manifest = run_conversion(*args, **kwargs)
    return manifest, time.monotonic() - start
