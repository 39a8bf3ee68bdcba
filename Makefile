# The two commands of the README: `make local` and `make test`.  Both install what they need
# from this repository's own files (requirements.txt, package.json + lock, the pinned artifacts).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: local test setup stop-anvil clean mutation mutation-score

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

# The whole test suite.  Exit code 5 (no tests collected) is a failure, never a pass.
test: setup
	$(PY) -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

stop-anvil:
	-@[ -f build/anvil.pid ] && kill $$(cat build/anvil.pid) && rm -f build/anvil.pid

clean: stop-anvil
	rm -rf build

# Mutation testing (mutmut, pyproject.toml [tool.mutmut]) of the modules whose tests are fast: plan,
# artifacts, client config, peer ids, settings, operator keys, and the config checksum.  Not part of
# `make test`; README "Mutation testing" gives the score and the time it takes.
MUTATED := 'contracts_step.plan.*' 'contracts_step.artifacts.*' 'components.client_config.*' \
	'components.peer_id.*' 'operators.keys.*' 'stack_settings.*' \
	'components.keep_client.x_config_checksum*' 'components.keep_client.x_sha256_json*'

$(VENV)/.mutation-stamp: requirements-mutation.txt $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-mutation.txt
	touch $@

mutation: setup $(VENV)/.mutation-stamp
	rm -rf mutants
	mkdir -p mutants/build
	ln -s $(CURDIR)/build/keep-core mutants/build/keep-core
	ln -s $(CURDIR)/node_modules mutants/node_modules
	$(PY) -m pytest -q tests/test_artifacts.py   # the clean run, which also compiles the fixture contracts once
	$(VENV)/bin/mutmut run --max-children 2 $(MUTATED)
	$(MAKE) --no-print-directory mutation-score

mutation-score:
	$(PY) scripts/mutation_score.py $(MUTATED)
