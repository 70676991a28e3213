# Every target sets itself up from a fresh clone: .venv is created and filled on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

# llama-cpp-python: "portable" (AVX2 baseline + AVX-512 variants chosen at run time, never
# AMX) or "native" (-march=native: this machine only); see scripts/build_llama.py
LLAMA_BUILD ?= portable

.PHONY: run test lint typecheck check install clean browser llama

$(STAMP): pyproject.toml scripts/build_llama.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU build of torch first, from the local wheel cache; unpinned torch would pull CUDA
	$(BIN)/pip install -q torch==2.13.0
	# llama.cpp compiled here, portably, into .wheels/<version>-<flavour>-<flags hash>/
	$(BIN)/python scripts/build_llama.py --flavour $(LLAMA_BUILD)
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip check
	# one long-prompt generation in a child process: a build that traps on this CPU stops here
	$(BIN)/python -m qa.supervisor self-check
	touch $(STAMP)

install: $(STAMP)

# switch the llama.cpp build (make llama LLAMA_BUILD=native), then check it again
llama: $(STAMP)
	$(BIN)/python scripts/build_llama.py --flavour $(LLAMA_BUILD)
	$(BIN)/python -m qa.supervisor self-check

run: $(STAMP)
	$(BIN)/qa run

# the web page is tested in Debian's headless Chromium (no browser download at run time)
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium" >&2; fi; }

# the whole gate: lint, format, types (mypy --strict on the packages), then every test
test: lint typecheck browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
