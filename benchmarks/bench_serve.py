"""`quickdraw serve` under load: predict_strokes over HTTP vs the SavedModel called in-process, paired runs.

A real server process on 127.0.0.1 (the CLI, default settings but the port) serves a
pushed model (default: the demo's, ``make demo``). Clients are threads, each with its own
keep-alive connection, sending ``predict_strokes`` requests built from the real drawings
(../shared/data/quickdraw) at 1, 8 and 32 concurrent clients, each level bounded to
``--requests`` requests and ``--seconds`` seconds. The ceiling is the same drawings
through the same signature called in this process by as many threads. Each of
``--reps`` rounds measures both at every level, alternating which goes first; the
tables give the median over the rounds and the min–max spread.

Whether batching would pay: ``serving_default`` in-process at batch 1, 8 and 32
(drawings/s), on the same drawings. (``predict_strokes`` takes one drawing per call.)

    python benchmarks/bench_serve.py [--model build/demo/serving] [--reps 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time

from harness import (  # also puts the project on sys.path
    DATA,
    DEMO_SERVING,
    REPO,
    missing,
    no_model,
    write_json,
)


def drawings(data: str, count: int) -> list[list]:
    out = []
    for name in sorted(os.listdir(data)):
        if name.endswith(".ndjson"):
            with open(os.path.join(data, name)) as f:
                out += [json.loads(line)["drawing"] for line, _ in zip(f, range(2))]
        if len(out) >= count:
            break
    return out[:count]


def start_server(model: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--model", model, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    first = lines.get(timeout=300)
    return process, int(first.rsplit(":", 1)[1].strip("/\n"))


def load(clients: int, requests: int, seconds: float, send) -> dict:
    """``clients`` threads share ``requests`` calls of ``send(worker_state, i)``; latencies and rate."""
    latencies: list[float] = []
    counter = iter(range(requests))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        state: dict = {}
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            started = time.perf_counter()
            send(state, i)
            with lock:
                latencies.append(time.perf_counter() - started)
        if "connection" in state:
            state["connection"].close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEMO_SERVING)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=300, help="requests per level and round")
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound per level and round")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    if missing(args.data):
        return 0
    if no_model(args.model):
        return 2

    import tensorflow as tf

    from pipeline import predict

    sample = drawings(args.data, 256)
    bodies = [
        json.dumps({"signature_name": "predict_strokes", "inputs": predict.strokes_inputs(d)}) for d in sample
    ]
    tensors = [
        {
            k: tf.constant(v, tf.int32 if k == "stroke_lengths" else tf.float32)
            for k, v in predict.strokes_inputs(d).items()
        }
        for d in sample
    ]
    loaded = tf.saved_model.load(predict.resolve_model_dir(args.model))
    strokes = loaded.signatures["predict_strokes"]
    server, port = start_server(args.model)

    def over_http(state: dict, i: int) -> None:
        if "connection" not in state:
            state["connection"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c = state["connection"]
        c.request("POST", "/v1/models/quickdraw:predict", body=bodies[i % len(bodies)])
        response = c.getresponse()
        response.read()
        assert response.status == 200, response.status

    def in_process(state: dict, i: int) -> None:
        strokes(**tensors[i % len(tensors)])["top_k_scores"].numpy()

    levels = [int(c) for c in args.clients.split(",")]
    rounds: dict = {mode: {c: [] for c in levels} for mode in ("http", "in_process")}
    try:
        for _ in range(20):  # warm both paths
            over_http({}, 0)
            in_process({}, 0)
        for rep in range(args.reps):
            for clients in levels:
                order = ("http", "in_process") if (rep + clients) % 2 == 0 else ("in_process", "http")
                for mode in order:
                    send = over_http if mode == "http" else in_process
                    result = load(clients, args.requests, args.seconds, send)
                    rounds[mode][clients].append(result)
                    print(f"round {rep} {mode} {clients} clients: {result}", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait(20)

    serve_default = loaded.signatures["serving_default"]
    examples = predict.serialized_examples(
        [predict.Drawing("b", i, None, None, d) for i, d in enumerate(sample)]
    )
    batching: dict[int, list[float]] = {1: [], 8: [], 32: []}
    for _ in range(args.reps):
        for size in batching:
            batches = [examples[i : i + size] for i in range(0, len(examples) - size + 1, size)]
            serve_default(examples=tf.constant(batches[0]))
            started = time.perf_counter()
            for b in batches:
                serve_default(examples=tf.constant(b))["top_k_scores"].numpy()
            batching[size].append(len(batches) * size / (time.perf_counter() - started))

    def summary(results: list[dict], key: str) -> dict:
        values = [r[key] for r in results]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    report = {
        "model": args.model, "reps": args.reps, "requests_per_level": args.requests, "seconds_per_level": args.seconds,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, TF {tf.__version__}",
        "levels": {
            mode: {c: {k: summary(rs, k) for k in ("per_s", "p50_ms", "p99_ms")} for c, rs in per.items()}
            for mode, per in rounds.items()
        },
        "serving_default_drawings_per_s": {size: summary([{"v": v} for v in vs], "v") for size, vs in batching.items()},
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    print(
        "\n| clients | HTTP requests/s | HTTP p50 / p99 ms | in-process calls/s | in-process p50 / p99 ms | HTTP / in-process |"
    )
    for c in levels:
        h, p = report["levels"]["http"][c], report["levels"]["in_process"][c]
        ratios = [a["per_s"] / b["per_s"] for a, b in zip(rounds["http"][c], rounds["in_process"][c])]
        print(f"| {c} | {h['per_s']['median']:.0f} [{h['per_s']['min']:.0f}, {h['per_s']['max']:.0f}] | "
              f"{h['p50_ms']['median']:.1f} / {h['p99_ms']['median']:.1f} | "
              f"{p['per_s']['median']:.0f} [{p['per_s']['min']:.0f}, {p['per_s']['max']:.0f}] | "
              f"{p['p50_ms']['median']:.1f} / {p['p99_ms']['median']:.1f} | "
              f"{statistics.median(ratios):.2f} [{min(ratios):.2f}, {max(ratios):.2f}] |")  # fmt: skip
    print("\n| serving_default batch | drawings/s (median [min, max]) |")
    for size, s in report["serving_default_drawings_per_s"].items():
        print(f"| {size} | {s['median']:.0f} [{s['min']:.0f}, {s['max']:.0f}] |")
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
