# The two commands of the README: `make local` and `make test`.  Both install what they need
# from this repository's own files (requirements.txt, package.json + lock, the pinned artifacts).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The chain `make local` runs on: anvil (default) or geth (a real geth --dev, built by `make geth`).
CHAIN ?= anvil

.PHONY: local test test-fast setup setup-local setup-test engine geth cluster keep-client stop-chain stop-anvil stop-cluster stop-fleet clean mutation mutation-score lint

# What the main job needs: the program's venv, anvil and solc-js, the Keep artifacts.
setup-local: $(STAMP) node_modules/.installed-stamp build/keep-core/.version
# What the tests need besides: the security scanner's venv.
setup-test: setup-local .venv-checkov/.installed-stamp
# Everything (CI's install step caches it).
setup: setup-test

# The pins first, then keep-cd itself, editable: its packages import from this work tree, as the
# engine's language host does, with no sys.path edits anywhere.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
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

# The Pulumi engine: the CLI, its Python language host and the Kubernetes provider, built once from
# pinned Go modules into ~/.cache/keep-cd (bench/gobuild/), or a suitable `pulumi` already on PATH.
engine:
	$(PYTHON) -m bench.engine engine

# The main job on the embedded default stack: a real `pulumi up` of the `local` stack (file backend
# and passphrase under build/), anvil on 127.0.0.1:8545 if nothing answers there, contracts
# migrated, operators staked, the fleet rendered to build/manifests/, stack outputs printed.
# Re-running it changes nothing and sends nothing unless something changed.
# `make local CLUSTER=kwok`: the fleet applied to a local Kubernetes cluster (bench/cluster/, started
# under build/bench/cluster/ if none runs; `make stop-cluster` stops it) instead of rendered.
# `make local FLEET=run`: then runs the rendered fleet here, each keep-client as processes on
# 127.0.0.1 started from exactly the rendered ConfigMap, Secret and Deployment (bench/fleet/, logs and
# volumes under build/fleet/); `make stop-fleet` stops them.
CLUSTER ?=
FLEET ?=
local: setup-local engine $(if $(filter geth,$(CHAIN)),geth) $(if $(CLUSTER),cluster) $(if $(FLEET),keep-client)
	$(PY) -m $(if $(CLUSTER),bench.cluster up-local --cluster $(CLUSTER),bench.engine up-local) --chain $(CHAIN)
	$(if $(filter run,$(FLEET)),$(PY) -m bench.fleet run --chain $(CHAIN))

# geth, the second real chain of the tests (bench/chains/geth.py): built once from the Go module proxy
# into ~/.cache/keep-cd/bin/ (about 5 min cold on 2 cores, seconds when cached).
geth:
	$(PYTHON) -m bench.gobuild geth >/dev/null

# The test cluster's programs (bench/cluster/): kube-apiserver, kube-controller-manager and
# kube-scheduler from k8s.io/kubernetes, etcd and kwok, built once into ~/.cache/keep-cd/bin/
# (docs/cluster.md gives the cold and warm build times).
cluster:
	$(PYTHON) -m bench.gobuild kubernetes etcd kwok >/dev/null

# The keep-client itself (keep-core v1.3.1, the release keep_contracts/names.py pins), built once
# from the Go module proxy into ~/.cache/keep-cd/bin/ (docs/fleet.md gives the build times).
keep-client:
	$(PYTHON) -m bench.gobuild keep-client >/dev/null

# The whole test suite, on two workers (pytest-xdist; a file's tests stay on one worker, with its
# module fixtures): most of its time is spent waiting on chains, engines and clients.  Exit code 5
# (no tests collected) is a failure, never a pass.
PYTEST_WORKERS ?= 2
test: setup-test lint engine geth cluster keep-client
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The fast tier for your own loop: every test that needs no Go-built program (pytest.ini's markers
# engine, geth, cluster and client deselected): unit tests, anvil and the offline runner.  The Go
# caches are hidden from it and the module proxy is off, so a test that reaches for a Go program
# fails here at once instead of building one.
FAST_TIER := build/fast-tier
test-fast: setup-test
	mkdir -p $(FAST_TIER)/cache $(FAST_TIER)/gomod
	KEEP_CD_CACHE=$(CURDIR)/$(FAST_TIER)/cache GOMODCACHE=$(CURDIR)/$(FAST_TIER)/gomod GOPROXY=off \
	  $(PY) -m pytest -q -m "not (engine or geth or cluster or client)" tests; \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Lint, format and type checks (configured in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Stops the chains `make local` started (SIGTERM: geth flushes its database).
stop-chain:
	-@[ -f build/anvil.pid ] && kill $$(cat build/anvil.pid); rm -f build/anvil.pid
	-@[ -f build/geth/geth.pid ] && kill $$(cat build/geth/geth.pid); rm -f build/geth/geth.pid

stop-anvil: stop-chain

stop-cluster:
	-@[ -x $(PY) ] && $(PY) -m bench.cluster stop

stop-fleet:
	-@[ -x $(PY) ] && $(PY) -m bench.fleet stop

clean: stop-fleet stop-chain stop-cluster
	rm -rf build

# Mutation testing (mutmut, pyproject.toml [tool.mutmut]) of the modules whose tests are fast: plan,
# artifacts, client config, peer ids, settings, operator keys, and the config checksum.  Not part of
# `make test`; docs/tests.md gives the score and the time it takes.
MUTATED := 'contracts_step.plan.*' 'contracts_step.artifacts.*' 'components.client_config.*' \
	'components.peer_id.*' 'operators.keys.*' 'settings.*' \
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
