# The project's commands. `make help` lists them; `make run` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VALIDATOR := schemas/asyncapi/validate
API_LINT := tools/api-lint
PYTEST_ARGS ?=

.PHONY: help install run run-check token test lint api-lint format typecheck unit migration lock kafka-fetch postgres-install clean docs

help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements/lock.txt schemas/pyproject.toml libs/service-kit/pyproject.toml services/*/pyproject.toml tools/devinfra/pyproject.toml tools/ops/pyproject.toml $(VALIDATOR)/package-lock.json $(API_LINT)/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	cd requirements && ../$(BIN)/uv pip sync --quiet --python ../$(BIN)/python lock.txt
	npm ci --silent --no-audit --no-fund --prefix $(VALIDATOR)
	npm ci --silent --no-audit --no-fund --prefix $(API_LINT)
	touch $(STAMP)

install: $(STAMP) ## Install everything into .venv (Python packages from the URL-free lock, the AsyncAPI validator, Spectral)

kafka-fetch: install ## Fetch the Kafka broker's jars from Maven Central into the machine's cache (once)
	$(BIN)/python -m devinfra.kafka fetch

postgres-install: install ## Install PostgreSQL from Debian's packages when it is absent
	$(BIN)/python -m devinfra.postgres install

run: install kafka-fetch ## Start Kafka and the three services with their workers on SQLite (Ctrl-C stops)
	$(BIN)/python -m devinfra.run

run-check: install kafka-fetch ## Start everything as `make run` does, wait until ready, stop
	$(BIN)/python -m devinfra.run --check

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

api-lint: install ## Lint the three OpenAPI documents with the NL API Design Rules ruleset (Spectral; 0 errors)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_api_design_rules.py -k official_ruleset

format: install ## ruff fix and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install ## mypy (strict) over every package
	$(BIN)/mypy schemas/src libs/service-kit/src tools/devinfra/src tools/ops/src services/case-api/src services/notifier/src services/partner-gateway/src

unit: install ## Run the tests (starts Kafka and PostgreSQL on free ports, stops them after)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

token: install ## Print a bearer token of the local development key: make token ROLE=team_lead[,admin] TEAM=team-noord [MINUTES=60]
	@$(BIN)/python -m devinfra.devkey token --role "$(ROLE)" $(if $(TEAM),--team "$(TEAM)") $(if $(MINUTES),--minutes "$(MINUTES)")

docs: install ## Build static HTML of the three OpenAPI documents and the AsyncAPI document into docs/site (offline); write docs/roles.md
	$(BIN)/python -m ep_ops.docs --out docs/site
	$(BIN)/python -m ep_ops.roles

test: install kafka-fetch postgres-install lint typecheck unit ## Everything CI runs: lint, type checks, every test

migration: install ## Autogenerate the next Alembic revision: make migration SERVICE=case-api MESSAGE="..."
	$(BIN)/python -m devinfra.migration $(SERVICE) "$(MESSAGE)"

lock: ## Re-pin every dependency into requirements/lock.txt (no download addresses)
	test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==0.13.9")
	cd requirements && ../$(BIN)/uv pip compile workspace.in -o lock.txt --python-version 3.11 --no-header --annotation-style line

clean: ## Remove the virtual environment and local state (.local: broker data, SQLite files, outbox)
	rm -rf $(VENV) .local $(VALIDATOR)/node_modules $(API_LINT)/node_modules

KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE := .local/bin/kustomize

.PHONY: kustomize deploy-check
kustomize: ## Install the pinned kustomize with Go into .local/bin (once; about a minute)
	@if ! $(KUSTOMIZE) version 2>/dev/null | grep -qx '$(KUSTOMIZE_VERSION)'; then \
	  echo "installing kustomize $(KUSTOMIZE_VERSION) into .local/bin with go install"; \
	  GOBIN=$(CURDIR)/.local/bin GOTOOLCHAIN=local go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION); \
	fi

deploy-check: install kustomize ## Validate deploy/: compose (Compose Spec), k8s overlays (Kubernetes 1.31, Strimzi CRD)
	$(BIN)/python -m pytest tests/test_deploy.py -q $(PYTEST_ARGS)
