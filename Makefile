# The README's two commands live here: `make demo` and `make test`. Each sets up .venv first
# (Python 3.10 + the pinned set in constraints.txt) when it is missing or out of date.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_VERSION := 26.3
# pip's and setuptools' notices that are not the user's to act on (configured index paths that do not exist
# on this kind of machine; the editable install's reminder about same-named folders); the rest is shown.
QUIET_PIP := sed -e '/is ignored: it is neither a file nor a directory/d' \
  -e '/BuildBackendWarning: Editable installation/,/WheelFile(wheel_path/d'

# TFX 1.16 runs on Python 3.9-3.10 only: take the first 3.10 found (pyenv included), or PYTHON=...
PYTHON ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

DEMO_DIR := build/demo
# The demo trains a reduced model (2 × 64-unit BiLSTM, 450 steps, a peak learning rate of 5e-3: a short run
# learns more with a higher peak) so that the whole pipeline finishes in a few minutes on 2 CPU cores;
# `quickdraw run` defaults to the tutorial's model. `make bench-demo` measures it on real drawings.
# Padded batches: the procedural demo classes differ in length, so length-sorted batches hold few of the 10
# classes each, and the short demo run learns less with them (BENCHMARKS.md, bucketing).
DEMO_RUN_FLAGS := --train-steps 450 --eval-steps 20 --lstm-units 64 --lstm-layers 2 --learning-rate 0.005 \
	--accuracy-threshold 0.7 --no-bucket-by-length --schema demo
BENCH_DIR := build/bench

.PHONY: help setup demo test test-fast lint browser bench-convert bench-train bench-train-pipeline bench-train-gpu bench-serve bench-predict bench-quality bench-demo bench-tflite bench-export bench-first-step clean

help:
	@echo "make demo           set up, generate the demo corpus, run the whole TFX pipeline, push a model"
	@echo "make test           set up, then lint and run every test (what CI runs)"
	@echo "make test-fast      lint and the unit tests, without the slow ones (the edit loop)"
	@echo "make bench-convert  conversion throughput vs the seed on a >=2M-drawing corpus (see BENCHMARKS.md)"
	@echo "make bench-train    training examples/s, length-bucketed vs padded batches, paired, + accuracy, CPU"
	@echo "make bench-train-pipeline  accuracy + training speed of the whole pipeline on the real drawings, CPU"
	@echo "make bench-train-gpu  training throughput of the model, cuDNN vs generic LSTM (needs an NVIDIA GPU)"
	@echo "make bench-serve      quickdraw serve: requests/s, p50/p99 at 1, 8, 32 clients, unbatched vs batching (defaults, tuned) vs in-process; warm-up"
	@echo "make bench-predict    scoring a 1M-drawing corpus: quickdraw predict --output (Beam RunInference) vs one process"
	@echo "make bench-quality    top-1/top-3 on real eval splits: the tutorial's training defaults vs ours, 3 seeds"
	@echo "make bench-demo       the demo's model on the real drawings of its classes (never trained on them)"
	@echo "make bench-tflite     the TFLite variants: size, 1-core latency vs the SavedModel, parity on the real drawings"
	@echo "make bench-export     the Trainer's export: SavedModel and TFLite from the Keras model vs a weights holder"
	@echo "make bench-first-step a process's model build, first fit and evaluate: the Trainer now, with the cuDNN variant traced, AutoGraph on tf_keras"
	@echo "make setup          only create .venv with the pinned dependencies"
	@echo "make clean          remove build outputs (keeps .venv)"

# Bytecode is written on first import, not compiled up front: pip would compile all ~22,000 modules of the
# pinned set, a third of the set-up's time, where a run imports ~8,500 of them. Python writes each .pyc into
# the venv the first time a process imports the module, so the set-up's import check compiles the core and
# the first run the rest; the recipes write bytecode even where the environment turns it off
# (PYTHONDONTWRITEBYTECODE=1, as in many container images), or every process would compile those modules anew.
export PYTHONDONTWRITEBYTECODE :=

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: Python 3.10 was not found. TFX 1.16 supports Python 3.9-3.10 only."; \
	  echo "       Install it (e.g. 'pyenv install 3.10.13'; the repo's .python-version selects it)"; \
	  echo "       or run 'make PYTHON=/path/to/python3.10 ...'."; \
	  exit 1; fi
	@echo "setting up $(VENV) with $(PYTHON) (first time: 1–3 min, depending on the network)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --no-compile "pip==$(PIP_VERSION)" 2>&1 | $(QUIET_PIP)
	@$(BIN)/python -m pip install -q --no-compile -c constraints.txt -e ".[dev]" 2>&1 | $(QUIET_PIP)
	@$(BIN)/python -W ignore -c "import tfx, apache_beam, tfx_bsl, dill, components, pipeline" \
	  || { echo "error: the install in $(VENV) is incomplete; see the pip output above"; exit 1; }
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/quickdraw demo-data --output $(DEMO_DIR)/ndjson --per-class 500 --classes 10
	$(BIN)/quickdraw run --input $(DEMO_DIR)/ndjson --pipeline-root $(DEMO_DIR)/pipeline_root \
	  --serving-dir $(DEMO_DIR)/serving $(DEMO_RUN_FLAGS)
	$(BIN)/quickdraw predict --model $(DEMO_DIR)/serving --top-k 3 $(DEMO_DIR)/ndjson/star.ndjson \
	  > $(DEMO_DIR)/predictions.jsonl
	@head -n 2 $(DEMO_DIR)/predictions.jsonl

lint: $(STAMP)
	$(BIN)/ruff check components pipeline kubeflow tests benchmarks
	$(BIN)/ruff format --check components pipeline kubeflow tests benchmarks

# The report test opens the HTML report in headless Chromium (Debian's package); install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing chromium for the report's browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	  || { $$SUDO apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	       --no-install-recommends chromium >/dev/null 2>&1; } \
	  || echo "warning: could not install chromium; the browser test will be skipped"; }

# Two workers (pytest-xdist): most tests keep one core busy (subprocess start-up, in-process Beam). Each group
# runs on one worker: a test file is a group (its module fixtures are built once), and the files that use the
# demo pipeline are one group, so it is built once; tests/conftest.py defines the groups (its scheduler, with
# --dist loadscope) and hands them out longest first.
PYTEST_XDIST := -n 2 --dist loadscope --no-loadscope-reorder
test: lint browser
	$(BIN)/python -m pytest $(PYTEST_XDIST) --durations=25 tests

# The edit loop: everything but the tests marked slow (pipelines, compiles, subprocesses, multi-process Beam).
test-fast: lint
	$(BIN)/python -m pytest $(PYTEST_XDIST) -m "not slow" tests

bench-convert: $(STAMP)
	$(BIN)/python benchmarks/bench_convert.py --workdir $(BENCH_DIR)

bench-train: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py --workdir build/bench-train --json $(BENCH_DIR)/train-bucketing.json

bench-predict: $(STAMP)
	@test -d $(DEMO_DIR)/serving || $(MAKE) demo
	$(BIN)/python benchmarks/bench_predict.py --model $(DEMO_DIR)/serving --workdir $(BENCH_DIR) --json $(BENCH_DIR)/predict.json

bench-serve: $(STAMP)
	@test -d $(DEMO_DIR)/serving || $(MAKE) demo
	$(BIN)/python benchmarks/bench_serve.py --model $(DEMO_DIR)/serving --json $(BENCH_DIR)/serve.json

bench-quality: $(STAMP)
	$(BIN)/python benchmarks/bench_quality.py --workdir build/bench-quality --json $(BENCH_DIR)/quality.json

bench-demo: $(STAMP)
	@test -d $(DEMO_DIR)/serving || $(MAKE) demo
	$(BIN)/python benchmarks/bench_demo.py --model $(DEMO_DIR)/serving --json $(BENCH_DIR)/demo.json

bench-tflite: $(STAMP)
	@test -d $(DEMO_DIR)/serving || $(MAKE) demo
	$(BIN)/python benchmarks/bench_tflite.py --model $(DEMO_DIR)/serving --json $(BENCH_DIR)/tflite.json

bench-export: $(STAMP)
	@test -d $(DEMO_DIR)/pipeline_root || $(MAKE) demo
	$(BIN)/python benchmarks/bench_export.py --pipeline-root $(DEMO_DIR)/pipeline_root --json $(BENCH_DIR)/export.json

bench-first-step: $(STAMP)
	$(BIN)/python benchmarks/bench_first_step.py --json $(BENCH_DIR)/first-step.json
	$(BIN)/python benchmarks/bench_first_step.py --model tutorial --kinds now,cudnn --json $(BENCH_DIR)/first-step-tutorial.json

bench-train-pipeline: $(STAMP)
	$(BIN)/python benchmarks/bench_train_pipeline.py --workdir build/bench-train-pipeline --json $(BENCH_DIR)/train-cpu.json

bench-train-gpu: $(STAMP)
	$(BIN)/python benchmarks/bench_train_gpu.py --json $(BENCH_DIR)/train-gpu.json

clean:
	rm -rf build .pytest_cache .ruff_cache
