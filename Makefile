# Everything a fresh machine needs goes through these targets (Python 3.11+ and make are the only prerequisites).
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
CLI     = $(VENV)/bin/policy-assistant
Q      ?= 学前教育今年有什么要求
HOST   ?= 127.0.0.1
PORT   ?= 7860
PYTEST_ARGS ?=

export HF_HUB_OFFLINE = 1
export GRADIO_ANALYTICS_ENABLED = False
export ANONYMIZED_TELEMETRY = False

.PHONY: setup setup-dev ask chat serve test test-fast eval bench bench-scale calibrate clean bench-stard fit-ranker fit-refusal fit-lay-terms fit-memory fit-adapter

$(VENV)/.core: pyproject.toml
	@echo "setup: creating $(VENV) and installing the dependencies (first run only: about a minute)…"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) install -q --upgrade pip
	@echo "setup: installing policy-assistant and its dependencies into $(VENV)…"
	@$(PIP) install -q --progress-bar off -e .
	@echo "setup: done"
	@touch $@

# torch first, pinned to the CPU build: otherwise sentence-transformers pulls a CUDA build of several GB.
$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,st]'
	touch $@

setup: $(VENV)/.core
setup-dev: $(VENV)/.dev

ask: setup                     ## make ask Q=学前教育今年有什么要求
	$(CLI) ask "$(Q)"

chat serve: setup              ## the Gradio chat and HTTP API on http://$(HOST):$(PORT) (make chat PORT=8080 HOST=0.0.0.0)
	@echo "chat: starting on http://$(HOST):$(PORT)/ (the first start indexes the bundled corpus); Ctrl+C stops it"
	@$(CLI) serve --host $(HOST) --port $(PORT)

test: setup-dev                ## the whole suite; pytest's exit 5 (nothing collected, e.g. a -k filter) is reported, not a failure
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests were collected"; rc=0; fi; exit $$rc

test-fast: setup-dev           ## the quick tier alone (tests/unit: fake embedder, no index build, no subprocess, no socket)
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

eval: setup                    ## the grounding eval on the shipped datasets (exit 1 when a gate fails)
	$(CLI) eval --out artifacts/eval.jsonl --report artifacts/eval-report.html

$(VENV)/.bench: $(VENV)/.core
	$(PIP) install -q -e '.[bench]'
	touch $@

bench: $(VENV)/.bench          ## quality and speed side by side with baselines: a table, artifacts/bench.json and bench.png
	$(CLI) bench --out artifacts/bench.json

# STARD (real questions over whole laws): the data folder and where its law index is cached.
STARD       ?= ../shared/benchmarks/stard
STARD_INDEX ?= .stard-index
STARD_ARGS  ?=

bench-stard: $(VENV)/.bench    ## STARD train split over the 133 cited laws (--full: all 1,297): ours vs BM25, dense, LlamaIndex
	$(PY) -m policy_assistant.eval.stard bench --data $(STARD) --index-dir $(STARD_INDEX)/$(if $(findstring --full,$(STARD_ARGS)),full,cited) --out artifacts/stard.json $(STARD_ARGS)

fit-ranker: $(VENV)/.bench           ## re-fit the ranking model on STARD's train split (fit part) -> assistant/data/ranker.json
	$(PY) -m policy_assistant.eval.stard_fit --data $(STARD) --index-dir $(STARD_INDEX)/cited

fit-lay-terms: $(VENV)/.bench        ## re-learn the everyday-word -> statute-word expansion on STARD's train split (fit part) -> assistant/data/lay_terms.tsv
	$(PY) -m policy_assistant.eval.lay_terms_fit --data $(STARD) --index-dir $(STARD_INDEX)/cited

fit-memory: $(VENV)/.bench           ## re-fit the question memory (earlier questions vote for their articles) on STARD's train split -> assistant/data/question_memory.npz
	$(PY) -m policy_assistant.eval.memory_fit --data $(STARD) --index-dir $(STARD_INDEX)/cited

fit-adapter: $(VENV)/.bench          ## re-fit the query adapter (question vectors bent towards the articles that answer them) on STARD's train split (fit part) -> assistant/data/query_adapter.npz
	$(PY) -m policy_assistant.eval.adapter_fit --data $(STARD) --index-dir $(STARD_INDEX)/cited

fit-refusal: $(VENV)/.bench           ## re-fit the answerability model -> assistant/data/refusal.json
	$(PY) -m policy_assistant.eval.refusal_fit --data $(STARD) --index-dir $(STARD_INDEX)/cited

SCALE_ARGS ?=
bench-scale: $(VENV)/.bench    ## build, kill+resume, serve and load a law library beside the bundled corpus (cited-laws.txt, ~11k articles; SCALE_ARGS=--full for all 56k, SCALE_ARGS="--laws 5" for a quick run): artifacts/bench-scale.json and .png
	$(PY) -m policy_assistant.eval.scale --out artifacts/bench-scale.json $(SCALE_ARGS)

calibrate: setup               ## the support check's agreement with the hand-labelled pairs
	$(PY) -m policy_assistant.eval.calibrate

clean:
	rm -rf .policy-index artifacts .pytest_cache
