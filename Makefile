# The two commands of the README: `make local` and `make test`.  Both install what they need
# from this repository's own files (requirements.txt, package.json + lock, the pinned artifacts).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: local test setup geth stop-anvil clean

setup: $(STAMP) node_modules/.installed-stamp build/keep-core/.version .venv-checkov/.installed-stamp

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# checkov (manifest scans in the tests) in a venv of its own: its pins would fight the program's.
.venv-checkov/.installed-stamp: requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.installed-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

build/keep-core/.version: scripts/fetch_keep_artifacts.sh
	scripts/fetch_keep_artifacts.sh build/keep-core

# The main job on the embedded default stack: anvil on 127.0.0.1:8545, contracts migrated,
# stack outputs printed.  Re-running it sends nothing unless something changed.
local: setup
	$(PY) -m offline_stack local

# geth, the second real chain of the tests (devchain/geth.py): built once from the Go module proxy
# into ~/.cache/keep-cd/bin/ (about 5 min cold on 2 cores, seconds when cached).
geth:
	$(PYTHON) -m gobuild geth >/dev/null

# The whole test suite.  Exit code 5 (no tests collected) is a failure, never a pass.
test: setup geth
	$(PY) -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

stop-anvil:
	-@[ -f build/anvil.pid ] && kill $$(cat build/anvil.pid) && rm -f build/anvil.pid

clean: stop-anvil
	rm -rf build
