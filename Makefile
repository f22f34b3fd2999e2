# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every pip call goes through constraints.txt: it pins the CPU build of torch.
# --no-compile: byte-compiling every installed module took 50 of the install's 78 s here; Python
# compiles (and caches) only what a command imports, on first import.
# The grep drops this machine's noisy "find-links location ignored" warnings, nothing else.
PIP = $(BIN)/pip install --quiet --progress-bar off --no-compile -c constraints.txt
QUIET_PIP = 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
STAMP := $(VENV)/.installed
# Every dependency, the dev extra included, at an exact version with its hashes (pip-compile writes it:
# `make lock`). torch is the CPU wheel from /opt/wheels, hashed as that file.
LOCK := requirements.lock
PIP_VERSION := 26.3
PIP_TOOLS_VERSION := 7.6.2
# The lock resolves against the default index and /opt/wheels only: the machine's pip config files
# (extra local indexes, a global constraint) are left out of it.
PIP_COMPILE = PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --extra dev -c constraints.txt --find-links /opt/wheels --no-emit-index-url

.PHONY: setup lock run test bench eval index sync-corpus clean

# Installs from the lock, hash-checked; then the project itself, without resolving anything again.
$(STAMP): pyproject.toml constraints.txt $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) pip==$(PIP_VERSION) $(QUIET_PIP)
	$(PIP) --require-hashes -r $(LOCK) $(QUIET_PIP)
	$(PIP) --no-deps --no-build-isolation -e . $(QUIET_PIP)
	touch $@

setup: $(STAMP)  ## create .venv and install from the lock (again only when pyproject.toml, constraints.txt or the lock changed)

lock:  ## re-resolve requirements.lock from pyproject.toml, keeping current pins (ARGS="--upgrade-package NAME" or ARGS=--upgrade)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION) $(QUIET_PIP)
	$(PIP_COMPILE) $(ARGS) -o $(LOCK) pyproject.toml $(QUIET_PIP)

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
	status=0; $(BIN)/python -m evals.guards --gate || status=1; \
		$(BIN)/python -m evals.guards --set fresh --gate || status=1; exit $$status

sync-corpus:  ## copy the shared sample corpus into corpus/ (manifest.yaml and extra files are kept)
	cp ../shared/corpus/* corpus/
	cp ../shared/seed/000_025ea25f9895abb8.txt corpus/lancashire-progress-report-2015-extract.txt

clean:
	rm -rf .mopi .pytest_cache
