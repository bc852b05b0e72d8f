"""`quickdraw serve` under load, with and without batching, vs the SavedModel in-process; warm-up; paired runs.

Four real server processes on 127.0.0.1 serve a pushed model (default: the demo's, ``make
demo``): the default settings (one model call per request); the same with one intra-op
thread per call (``--intra-op-parallelism 1``, so that the tuned batching server is also
compared with an unbatched one that has its thread setting); ``--enable-batching`` with
its defaults; and ``--enable-batching`` with ``--tuned`` (batch size, window, threads and
TensorFlow's oneDNN switch set for 32 clients on a small machine, as TF Serving's guide has
its batching parameters tuned to the workload). Clients are threads, each with its own
keep-alive connection, sending ``predict_strokes`` requests built from the real drawings
(../shared/data/quickdraw) at 1, 8 and 32 concurrent clients, each level bounded to
``--requests`` requests and ``--seconds`` seconds. The ceiling is the same drawings through
the same signature called in this process by as many threads. Each of ``--reps`` rounds
measures them all at every level, rotating which goes first; the tables give the median
over the rounds, the min–max spread, and each batching server's requests/s over the
unbatched ones', paired per round.

Warm-up: a server is started on a copy of the model with its warm-up file
(``assets.extra/tf_serving_warmup_requests``) and one on a copy without it (they load
together and are measured one after the other); the first request after the version is
available is timed against the median of the next 30, which carry other real drawings as
live traffic does (per rep), each sent ``--pause-s`` after the previous answer as the
first is after the load: a machine that has idled a fraction of a second answers its next
request several times slower than one kept busy, so a first request compared with
back-to-back ones measures the idling, not the warm-up. The back-to-back median and the
first drawing sent 10 more times are kept beside it (a drawing whose point count the
process has already run is faster: TensorFlow's oneDNN kernels are set up once per input
shape).

``serving_default`` in-process at batch 1, 8 and 32 (drawings/s) shows what batching can
gain on the model alone.

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
    median_range,
    missing,
    no_model,
    write_json,
)

# 32 closed-loop clients on 2 cores: two batches of 16 in flight, one on each model thread, while the event loop
# answers one and reads the next; a window long enough for a batch to fill; one TensorFlow thread per call; and
# TensorFlow's oneDNN rewrites off (TensorFlow's own switch: batched calls are faster without them here, single
# drawings slower). NAME=value words are the server's environment, as on a shell's command line.
TUNED = "TF_ENABLE_ONEDNN_OPTS=0 --max-batch-size 16 --batch-timeout-micros 10000 --intra-op-parallelism 1"
RATIOS = (
    ("http_batching", "http"),
    ("http_batching_tuned", "http"),
    ("http_batching_tuned", "http_one_thread"),
    ("http_one_thread", "http"),
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


def environment_and_flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """A command line's words → (``NAME=value`` settings before the first flag, the rest)."""
    env: dict[str, str] = {}
    for i, word in enumerate(words):
        name, equals, value = word.partition("=")
        if word.startswith("-") or not equals or not name.isidentifier():
            return env, words[i:]
        env[name] = value
    return env, []


def start_servers(runs: list[tuple[str, list[str]]]) -> list[tuple[subprocess.Popen, int]]:
    """A server for each (model, words), all started together; (process, port) of each once it listens.
    ``words`` are flags, after any ``NAME=value`` environment settings."""
    started = []
    for model, words in runs:
        env, flags = environment_and_flags(words)
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--model", model, "--port", "0", "--grpc-port", "-1", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO, env={**os.environ, **env},
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda p=process, q=lines: [q.put(x) for x in p.stdout], daemon=True).start()
        started.append((process, lines))
    return [
        (process, int(lines.get(timeout=300).rsplit(":", 1)[1].strip("/\n"))) for process, lines in started
    ]


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


def warmup_effect(model: str, bodies: list[str], reps: int, pause_s: float) -> dict:
    """The first request after a load, with and without the warm-up file, against requests of other drawings
    sent under the same conditions: ``pause_s`` after the version is available comes the first request,
    then 30 more of other drawings, each after the same pause (paced); then 30 back to back, and the first
    drawing 10 times more (its shape already run)."""
    import shutil
    import tempfile

    from pipeline import predict

    source = predict.resolve_model_dir(model)
    out: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        copies = {
            "with warm-up file": os.path.join(scratch, "warm", "1"),
            "without": os.path.join(scratch, "cold", "1"),
        }
        for name, copy in copies.items():
            shutil.copytree(source, copy)
            if name == "without":
                shutil.rmtree(os.path.join(copy, "assets.extra"), ignore_errors=True)
        if not os.path.exists(
            os.path.join(copies["with warm-up file"], "assets.extra", "tf_serving_warmup_requests")
        ):
            print(f"{model} has no warm-up file (pushed before the InfraValidator?)", file=sys.stderr)
        results: dict[str, list[dict]] = {name: [] for name in copies}
        for _ in range(reps):  # both servers load together; each is measured alone, the other idle
            servers = start_servers([(os.path.dirname(copy), []) for copy in copies.values()])
            try:
                for name, (_, port) in zip(copies, servers):
                    results[name].append(first_request(port, bodies, pause_s))
            finally:
                for process, _ in servers:
                    process.terminate()
                    process.wait(20)
        for name, rounds in results.items():
            out[name] = {k: median_range([r[k] for r in rounds]) for k in rounds[0]}
    return out


def first_request(port: int, bodies: list[str], pause_s: float) -> dict:
    """Once the server's version is available: the first request and the 30 after it, each ``pause_s`` after
    the previous answer; 30 back to back; the first drawing 10 more times."""
    wait_available(port)
    paced = [timed_request(port, body, pause_s) for body in bodies[:31]]
    back_to_back = [timed_request(port, body, 0.0) for body in bodies[31:61]]
    again = [timed_request(port, bodies[0], 0.0) for _ in range(10)]
    first, paced_median = paced[0], statistics.median(paced[1:])
    return {
        "first_ms": 1000 * first,
        "paced_median_ms": 1000 * paced_median,
        "ratio": first / paced_median,
        "back_to_back_median_ms": 1000 * statistics.median(back_to_back),
        "same_drawing_again_ms": 1000 * statistics.median(again),
    }


def timed_request(port: int, body: str, pause_s: float) -> float:
    """Seconds for one ``:predict`` on a new connection, sent ``pause_s`` after the previous one."""
    time.sleep(pause_s)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    c.request("POST", "/v1/models/quickdraw:predict", body=body)
    response = c.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    c.close()
    assert response.status == 200, response.status
    return elapsed


def wait_available(port: int, seconds: float = 300.0) -> None:
    """Until the server reports a version AVAILABLE (a fresh copy is loaded once its files have settled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/v1/models/quickdraw")
        body = json.loads(c.getresponse().read())
        c.close()
        if any(s["state"] == "AVAILABLE" for s in body.get("model_version_status", [])):
            return
        time.sleep(0.1)
    raise TimeoutError("the server loaded no version")


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
    parser.add_argument("--pause-s", type=float, default=0.25, help="between the warm-up measure's requests")
    parser.add_argument(
        "--servers",
        default="http,http_one_thread,http_batching,http_batching_tuned",
        help="which of the four servers to measure",
    )
    parser.add_argument(
        "--tuned",
        default=TUNED,
        help="the tuned batching server's flags (besides --enable-batching), after any NAME=value environment",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    flags = {
        "http": [],
        "http_one_thread": ["--intra-op-parallelism", "1"],
        "http_batching": ["--enable-batching"],
        "http_batching_tuned": [*args.tuned.split(), "--enable-batching"],  # its NAME=value words stay first
    }
    chosen = args.servers.split(",")
    unknown = sorted(set(chosen) - set(flags))
    if unknown:
        parser.error(f"--servers: unknown {', '.join(unknown)} (choose from {', '.join(flags)})")
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
    servers = dict(zip(chosen, start_servers([(args.model, flags[mode]) for mode in chosen])))

    def over_http(mode: str):
        port = servers[mode][1]

        def send(state: dict, i: int) -> None:
            if "connection" not in state:
                state["connection"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c = state["connection"]
            c.request("POST", "/v1/models/quickdraw:predict", body=bodies[i % len(bodies)])
            response = c.getresponse()
            response.read()
            assert response.status == 200, response.status

        return send

    def in_process(state: dict, i: int) -> None:
        strokes(**tensors[i % len(tensors)])["top_k_scores"].numpy()

    senders = {**{mode: over_http(mode) for mode in servers}, "in_process": in_process}
    levels = [int(c) for c in args.clients.split(",")]
    modes = list(senders)
    rounds: dict = {mode: {c: [] for c in levels} for mode in modes}
    try:
        for _ in range(20):  # warm every path
            for send in senders.values():
                send({}, 0)
        for rep in range(args.reps):
            for clients in levels:
                shift = (rep + clients) % len(modes)
                for mode in modes[shift:] + modes[:shift]:
                    result = load(clients, args.requests, args.seconds, senders[mode])
                    rounds[mode][clients].append(result)
                    print(f"round {rep} {mode} {clients} clients: {result}", file=sys.stderr, flush=True)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(20)
    first_request = warmup_effect(args.model, bodies, args.reps, args.pause_s)

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
        return median_range([r[key] for r in results])

    report = {
        "model": args.model, "reps": args.reps, "requests_per_level": args.requests, "seconds_per_level": args.seconds,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, TF {tf.__version__}",
        "levels": {
            mode: {c: {k: summary(rs, k) for k in ("per_s", "p50_ms", "p99_ms")} for c, rs in per.items()}
            for mode, per in rounds.items()
        },
        "serving_default_drawings_per_s": {size: summary([{"v": v} for v in vs], "v") for size, vs in batching.items()},
        "tuned": args.tuned,
        "over_unbatched": {
            f"{batched} / {unbatched}": {
                c: summary([{"v": a["per_s"] / b["per_s"]} for a, b in zip(rounds[batched][c], rounds[unbatched][c])], "v")
                for c in levels
            }
            for batched, unbatched in RATIOS
            if batched in rounds and unbatched in rounds
        },
        "first_request_over_median": first_request, "pause_s": args.pause_s,
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    print(f"\n--tuned: {args.tuned}")
    print(
        "\n| clients | server | requests/s | p50 / p99 ms | over http (paired) | over http_one_thread (paired) |"
    )
    for c in levels:
        for mode in modes:
            r = report["levels"][mode][c]
            shown = []
            for unbatched in ("http", "http_one_thread"):
                ratio = report["over_unbatched"].get(f"{mode} / {unbatched}", {}).get(c)
                shown.append(
                    f"{ratio['median']:.2f}× [{ratio['min']:.2f}, {ratio['max']:.2f}]" if ratio else ""
                )
            print(f"| {c} | {mode} | {r['per_s']['median']:.0f} [{r['per_s']['min']:.0f}, {r['per_s']['max']:.0f}] | "
                  f"{r['p50_ms']['median']:.1f} / {r['p99_ms']['median']:.1f} | {' | '.join(shown)} |")  # fmt: skip
    print(f"\n| model copy | first request (ms) | median of the next 30, other drawings, each {args.pause_s:g} s apart "
          "(ms) | first / median | back to back (ms) | the first drawing again (ms) |")  # fmt: skip
    for name, r in first_request.items():
        print(f"| {name} | {r['first_ms']['median']:.1f} | {r['paced_median_ms']['median']:.1f} | "
              f"{r['ratio']['median']:.2f} [{r['ratio']['min']:.2f}, {r['ratio']['max']:.2f}] | "
              f"{r['back_to_back_median_ms']['median']:.1f} | {r['same_drawing_again_ms']['median']:.1f} |")  # fmt: skip
    print("\n| serving_default batch | drawings/s (median [min, max]) |")
    for size, s in report["serving_default_drawings_per_s"].items():
        print(f"| {size} | {s['median']:.0f} [{s['min']:.0f}, {s['max']:.0f}] |")
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
