# Warren's task runner. CI calls these targets (.ci/run runs `make test`).
.DEFAULT_GOAL := help
SHELL := /bin/bash

HOST ?= 127.0.0.1
PORT ?= 8000
# uv from PATH, or bootstrapped from PyPI into .tools/ when missing
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)

.PHONY: help install run test lint typecheck pytest format clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet uv

install: $(UV) ## install Warren and its locked dependencies into .venv
	$(UV) sync --frozen --no-dev --inexact

run: install ## run Warren on http://127.0.0.1:8000 (embedded: SQLite in ./data, no services)
	$(UV) run --frozen --no-dev --inexact warren serve --host $(HOST) --port $(PORT)

test: lint typecheck pytest ## install dev dependencies and test services, then lint, type-check and run every test

pytest: $(UV)
	$(UV) sync --frozen
	scripts/ensure-test-services
	$(UV) run --frozen pytest

lint: $(UV) ## ruff: lint and format check
	$(UV) sync --frozen
	$(UV) run --frozen ruff check src tests
	$(UV) run --frozen ruff format --check src tests

typecheck: $(UV) ## mypy --strict on src/
	$(UV) sync --frozen
	$(UV) run --frozen mypy

format: $(UV) ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix src tests
	$(UV) run --frozen ruff format src tests

clean: ## remove caches and the local tool env (never ./data)
	rm -rf .tools .pytest_cache .mypy_cache .ruff_cache
