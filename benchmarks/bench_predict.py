"""Scoring a corpus: `quickdraw predict --output DIR` (Beam's RunInference) against the one-process command.

Builds the corpus `bench_convert` builds (real drawings replicated with fresh key_ids, one file per class),
then times whole processes as a user sees them, start-up included, alternating in each round:

* one process: ``quickdraw predict --model M FILE…`` (batches of 256 through ``serving_default``), its lines
  to /dev/null;
* Beam: ``quickdraw predict --model M --output DIR CORPUS`` with its defaults (DirectRunner, multi-processing
  on every core), writing the sharded JSON lines, ``rejected.jsonl`` and ``summary.json``.

Both score every drawing with the same model. Prints drawings/s per round and the ratio, median [min, max].

    python benchmarks/bench_predict.py --model build/demo/serving --workdir build/bench [--drawings 1000000]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

from bench_convert import build_corpus
from harness import DATA, DEMO_SERVING, REPO, median_range, missing, no_model, write_json

QUICKDRAW = [sys.executable, "-m", "pipeline.cli", "predict"]


def timed(command: list[str]) -> tuple[float, int]:
    """(seconds, drawings predicted) of one command, from its summary line on stderr."""
    start = time.monotonic()
    run = subprocess.run(
        command,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"),
        check=False,
    )
    seconds = time.monotonic() - start
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])}… failed:\n{run.stderr[-3000:]}")
    found = re.search(r"predicted ([\d,]+) drawings", run.stderr)
    if not found:
        raise RuntimeError(f"no summary line in:\n{run.stderr[-2000:]}")
    return seconds, int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEMO_SERVING)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--workdir", default=os.path.join(REPO, "build", "bench"))
    parser.add_argument("--drawings", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    if missing(args.data):
        return 0
    if no_model(args.model):
        return 2
    corpus = os.path.join(args.workdir, f"predict_corpus_{args.drawings}")
    drawings, per_class = build_corpus(args.drawings, corpus)
    files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith(".ndjson"))
    output = os.path.join(args.workdir, "predict_output")
    print(f"corpus: {drawings:,} drawings ({per_class:,} per class, {len(files)} files); model {args.model}")
    rounds = []
    for rep in range(args.reps):
        one_s, one_n = timed([*QUICKDRAW, "--model", args.model, *files])
        shutil.rmtree(output, ignore_errors=True)
        beam_s, beam_n = timed([*QUICKDRAW, "--model", args.model, "--output", output, corpus])
        if one_n != beam_n:
            raise RuntimeError(f"the two commands scored {one_n:,} and {beam_n:,} drawings")
        rounds.append({"one_process_per_s": one_n / one_s, "beam_per_s": beam_n / beam_s, "drawings": one_n})
        print(
            f"round {rep + 1}: one process {one_n / one_s:,.0f} drawings/s ({one_s:.0f} s), "
            f"Beam {beam_n / beam_s:,.0f} drawings/s ({beam_s:.0f} s)",
            flush=True,
        )
    one = median_range([r["one_process_per_s"] for r in rounds])
    beam = median_range([r["beam_per_s"] for r in rounds])
    ratio = median_range([r["beam_per_s"] / r["one_process_per_s"] for r in rounds])
    print(f"\n{drawings:,} drawings, {args.reps} rounds, {os.cpu_count()} cores; median [min, max]\n")
    print("| command | drawings/s |")
    print("|---|---|")
    print(
        f"| `quickdraw predict FILE…` (one process) | {one['median']:,.0f} [{one['min']:,.0f}, {one['max']:,.0f}] |"
    )
    print(
        f"| `quickdraw predict --output DIR` (Beam) | {beam['median']:,.0f} [{beam['min']:,.0f}, {beam['max']:,.0f}] |"
    )
    print(f"| Beam / one process | {ratio['median']:.2f}× [{ratio['min']:.2f}, {ratio['max']:.2f}] |")
    write_json(
        args.json,
        {
            "drawings": drawings,
            "cores": os.cpu_count(),
            "rounds": rounds,
            "one_process": one,
            "beam": beam,
            "ratio": ratio,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
