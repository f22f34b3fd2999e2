# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every pip call goes through constraints.txt: it pins the CPU build of torch.
# The grep drops this machine's noisy "find-links location ignored" warnings, nothing else.
PIP = $(BIN)/pip install --quiet --progress-bar off -c constraints.txt
QUIET_PIP = 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
STAMP := $(VENV)/.installed

.PHONY: setup run test bench eval index sync-corpus clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip $(QUIET_PIP)
	$(PIP) -e '.[dev]' $(QUIET_PIP)
	touch $@

setup: $(STAMP)  ## create .venv and install (only when pyproject.toml or constraints.txt changed)

run: setup  ## index corpus/ and start the assistant (Slack if SLACK_BOT_TOKEN is set, else a terminal chat)
	$(BIN)/mopi run

index: setup  ## index corpus/ only
	$(BIN)/mopi ingest

test: setup  ## the whole test suite
	$(BIN)/pytest

bench: setup  ## benchmarks, printed as tables
	$(BIN)/python -m evals.benchmarks

eval: setup  ## the evaluation suite: dev, test and independent sets; product, other retrievers and the LangChain baseline; the guards
	$(BIN)/mopi eval --baseline --no-rerank --retriever bm25 --retriever dense
	$(BIN)/python -m evals.guards --gate

sync-corpus:  ## copy the shared sample corpus into corpus/ (manifest.yaml and extra files are kept)
	cp ../shared/corpus/* corpus/
	cp ../shared/seed/000_025ea25f9895abb8.txt corpus/lancashire-progress-report-2015-extract.txt

clean:
	rm -rf .mopi .pytest_cache
