# Developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' provider/tfnimble/__init__.py)
PLUGIN_DIR ?= $(HOME)/.terraform.d/plugins
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: default venv dev fmt lint check test testacc unit proto docs docs-check release install install-dev sim demo demo-boot demo-destroy bench ci clean

default: fmt lint test

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstalled whenever pyproject.toml changes, so a pulled dependency (e.g. uvloop) arrives.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev,release]'
	touch $@

venv dev: $(VENV)/.installed

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	terraform fmt -recursive examples

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	terraform fmt -check -recursive examples

# The checks CI gates on besides the tests themselves.
check: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	terraform fmt -check -recursive examples
	$(MAKE) --no-print-directory docs-check

unit: venv
	$(BIN)/pytest -m "not acceptance" $(PYTEST_ARGS)

testacc: venv
	TF_ACC=1 $(BIN)/pytest tests/acceptance $(PYTEST_ARGS)

# The whole suite: unit, simulator, protocol, data plane and acceptance (real terraform), on two
# pytest-xdist workers, one test file per worker at a time (module fixtures stay per file).
# Serial (PYTEST_ARGS="-n 0") takes about twice as long.
test: venv check
	TF_ACC=1 $(BIN)/pytest $(PYTEST_ARGS)

proto: venv
	$(BIN)/python -m grpc_tools.protoc -Iproto \
	  --python_out=provider/tfnimble/plugin/_gen --pyi_out=provider/tfnimble/plugin/_gen \
	  proto/grpc_controller.proto proto/grpc_stdio.proto proto/tfplugin6.proto

docs: venv
	$(BIN)/python tools/gendocs.py

docs-check: venv
	$(BIN)/python tools/gendocs.py --check

# Self-contained provider zips, SHA256SUMS (signed when RELEASE_GPG_KEY names a key), a network
# mirror (dist/mirror) and a static provider registry (dist/registry). See README "Shipping".
release: venv
	$(BIN)/python -c 'import PyInstaller' 2>/dev/null || $(BIN)/pip install -q -e '.[dev,release]'
	$(BIN)/python tools/release/build.py

# The packaged providers, unpacked where terraform and tofu find them offline: a developer's
# lock file holds the same h1: hash as a runner's.
install: release
	$(BIN)/python tools/install_plugin.py --from-release dist --plugin-dir $(PLUGIN_DIR)

# Launchers that run this checkout's venv (no build; what the acceptance suite uses).
install-dev: venv
	$(BIN)/python tools/install_plugin.py --plugin-dir $(PLUGIN_DIR)

sim: venv
	$(BIN)/nimble-sim serve --listen 127.0.0.1:5392 --state-dir $${STATE_DIR:-$$(mktemp -d)}

demo: install
	$(BIN)/python tools/demo.py up

# Boot 20 instances from 20 clones of a real bootable image (after `make demo`, or alone),
# then the same 20 from full copies, and report (docs/guides/boot-20-instances.md).
demo-boot: install
	$(BIN)/python tools/bootimage/demo_boot.py up

demo-destroy: venv
	$(BIN)/python tools/bootimage/demo_boot.py down
	$(BIN)/python tools/demo.py down

bench: venv install
	$(BIN)/python bench/run_all.py

ci: test

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache
