"""Conversion throughput: `quickdraw convert` against the seed's loop, on the same corpus.

Builds a corpus of real drawings from ../shared/data/quickdraw replicated with
fresh key_ids (one file per class, as the official corpus), then times whole
processes as a user sees them, start-up included:

* the seed: ../shared/reference/seed_convert.py (a faithful Python 3 port of the
  tutorial's create_dataset.py loop; single process), converting every drawing;
* ours: ``quickdraw convert`` with default settings (DirectRunner, multi-processing
  on all cores), uncapped;
* ours, capped (--train-per-class/--eval-per-class) at two corpus sizes, to show
  that peak memory does not grow with the corpus.

Peak RSS is the largest sum over the whole process tree (runner + Beam workers),
sampled every 0.1 s. Results print as a Markdown table for BENCHMARKS.md.

    python benchmarks/bench_convert.py --workdir build/bench [--drawings 2000000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
DATA = os.path.join(SHARED, "data", "quickdraw")
SEED = os.path.join(SHARED, "reference", "seed_convert.py")


def build_corpus(target: int, out_dir: str) -> tuple[int, int]:
    """Equal-sized class files of real drawings with fresh key_ids; (drawings, per class).

    Each class file cycles through that class's real drawings until it holds
    ceil(target / classes) lines, the key_id of the r-th copy prefixed with r.
    Equal class sizes match the official corpus's shape (every class has many
    drawings) and let the seed's per-class reading convert every line once.
    """
    files = sorted(f for f in os.listdir(DATA) if f.endswith(".ndjson"))
    per_class = math.ceil(target / len(files))
    marker = os.path.join(out_dir, ".complete")
    if os.path.exists(marker):
        with open(marker) as f:
            if json.load(f) == {"per_class": per_class}:
                return per_class * len(files), per_class
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    for name in files:
        with open(os.path.join(DATA, name), "rb") as f:
            lines = [line for line in f.read().split(b"\n") if line]
        with open(os.path.join(out_dir, name), "wb") as out:
            for i in range(per_class):
                copy, line = divmod(i, len(lines))
                prefix = f"{copy:05d}".encode()
                out.write(lines[line].replace(b'"key_id":"', b'"key_id":"' + prefix, 1) + b"\n")
    with open(marker, "w") as f:
        json.dump({"per_class": per_class}, f)
    return per_class * len(files), per_class


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS of the process tree in MiB, output)."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root] + root.children(recursive=True)
            rss = 0
            for p in tree:
                try:
                    rss += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak = max(peak, rss)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.1)
    output = process.stdout.read()
    seconds = time.monotonic() - start
    if process.returncode != 0:
        raise SystemExit(f"command failed ({process.returncode}): {' '.join(command)}\n{output}")
    return seconds, peak / 2**20, output


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", default=os.path.join(REPO, "build", "bench"))
    parser.add_argument("--drawings", type=int, default=2_000_000)
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--skip-capped", action="store_true")
    args = parser.parse_args()
    if not os.path.isdir(DATA) or not os.path.exists(SEED):
        raise SystemExit(f"skipped: needs the real drawings in {DATA} and the seed port {SEED}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    quickdraw = os.path.join(os.path.dirname(sys.executable), "quickdraw")
    rows = []

    big = os.path.join(args.workdir, "corpus-big")
    drawings, per_class = build_corpus(args.drawings, big)
    print(f"corpus: {drawings:,} drawings, up to {per_class:,} per class, in {big}", flush=True)

    ours_out = os.path.join(args.workdir, "out-ours")
    shutil.rmtree(ours_out, ignore_errors=True)
    seconds, rss, output = timed([quickdraw, "convert", "--input", big, "--output", ours_out], env)
    ours_rate = drawings / seconds
    rows.append(
        ("quickdraw convert (uncapped, DirectRunner multi_processing, 2 workers)", drawings, seconds, rss)
    )
    print(output.strip().splitlines()[-1], flush=True)

    if not args.skip_seed:
        seed_out = os.path.join(args.workdir, "out-seed")
        shutil.rmtree(seed_out, ignore_errors=True)
        train = math.ceil(per_class * 0.9)
        seconds_seed, rss_seed, output = timed(
            [
                sys.executable,
                SEED,
                "--ndjson_path",
                big,
                "--output_path",
                seed_out,
                "--train_per_class",
                str(train),
                "--eval_per_class",
                str(per_class - train),
            ],
            env,
        )
        rows.append(("seed create_dataset.py loop (1 process)", drawings, seconds_seed, rss_seed))
        print(output.strip().splitlines()[-1], flush=True)
        seed_rate = drawings / seconds_seed
    if not args.skip_capped:
        small = os.path.join(args.workdir, "corpus-small")
        small_drawings, _ = build_corpus(args.drawings // 2, small)
        for corpus, n in ((small, small_drawings), (big, drawings)):
            out = os.path.join(args.workdir, "out-capped")
            shutil.rmtree(out, ignore_errors=True)
            seconds_c, rss_c, output = timed(
                [
                    quickdraw,
                    "convert",
                    "--input",
                    corpus,
                    "--output",
                    out,
                    "--train-per-class",
                    "1000",
                    "--eval-per-class",
                    "100",
                ],
                env,
            )
            rows.append(
                (f"quickdraw convert capped 1000/100 per class, {n:,}-drawing corpus", n, seconds_c, rss_c)
            )
            print(output.strip().splitlines()[-1], flush=True)

    print()
    print(
        f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )
    print("| run | drawings | wall s | drawings/s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, n, s, r in rows:
        print(f"| {name} | {n:,} | {s:.1f} | {n / s:,.0f} | {r:,.0f} |")
    if not args.skip_seed:
        print(f"\nspeed-up over the seed (wall clock, same corpus): {ours_rate / seed_rate:.2f}x")


if __name__ == "__main__":
    main()
