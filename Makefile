# Two commands do everything on a machine with python3 and npm: `make synth`, `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# A supported Node.js and the pinned CDK CLI come from node_modules; jsii uses the same node.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# No telemetry or notices: synth must not reach the network.
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: setup synth test bench clean
.DEFAULT_GOAL := test

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Synthesize every environment (CorridorDev, CorridorStaging, CorridorProd) into cdk.out.
synth: setup
	cdk synth --quiet

## Run the whole test suite (synthesizes each environment once per compute method).
test: setup
	$(PY) -m pytest

## Synth time vs an empty app, suite wall time, resources and template size per stack.
bench: setup
	$(PY) benchmarks/bench.py

clean:
	rm -rf cdk.out .bench .pytest_cache
