# The platform's entry points. `make` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

MLP_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mlp
export MLP_CACHE_DIR
UV_VERSION := 0.13.9
UV_DIR := $(MLP_CACHE_DIR)/tools/uv-$(UV_VERSION)
export UV_VERSION UV_DIR
export UV := $(UV_DIR)/bin/uv
export PATH := $(UV_DIR)/bin:$(PATH)
HELM ?= $(MLP_CACHE_DIR)/tools/helm-v3.22.0/helm
export HELM

VENV := platform/.venv
MLP := $(VENV)/bin/mlp
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=
SERVICE ?= mlflow

.PHONY: help bootstrap setup envs up down status logs test unit bench demo lint cluster-up cluster-down cluster-status \
	images

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' Makefile
	@echo "Kubernetes (charts/chart.mk; PROFILE=dev|prod|airgapped, KUBE_CONTEXT=...):"
	@sed -n 's/^## \([a-z-]*\): \(.*\)/\1|\2/p' charts/chart.mk | awk -F'|' '{printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'

bootstrap: ## Install uv and the platform's own Python environment
	@bash platform/bootstrap.sh

setup: bootstrap ## Install every tool and environment (idempotent; slow work is cached in $(MLP_CACHE_DIR))
	@$(MLP) setup
	@$(MAKE) --no-print-directory chart-deps

# The components' own environments, synced from their locks as `mlp setup` does (quick when they are current).
PYTHON_PROJECTS := streaming pipelines pipelines/promoter examples/fraud-detection platform/runtimes/mlserver
envs: bootstrap ## The components' Python environments alone (no tools, no services)
	@for project in $(PYTHON_PROJECTS); do $(UV) sync --locked --quiet --compile-bytecode --project $$project || exit 1; done

up: setup ## Start the platform as local processes
	@$(MLP) up

demo: up ## The main job: data, features, pipeline (train, promote), serving, predictions; run it twice
	@$(MLP) demo

down: bootstrap ## Stop every local service; data stays
	@$(MLP) down

status: bootstrap ## Health of each local service
	@$(MLP) status

logs: bootstrap ## Log of one service: make logs SERVICE=kafka
	@$(MLP) logs $(SERVICE)

# A Kubernetes control plane on this machine (real API server, etcd, controllers, scheduler; nodes
# simulated by kwok), for the charts. Then: eval "$$(platform/.venv/bin/mlp cluster env)"
cluster-up: setup ## Start the local Kubernetes control plane (context mlp-local)
	@$(MLP) cluster up

cluster-down: bootstrap ## Stop the local Kubernetes control plane; its state stays
	@$(MLP) cluster down

cluster-status: bootstrap ## Each control-plane component, the server version and the simulated nodes
	@$(MLP) cluster status

# Each component's unit tests run in its own environment; tests/ runs against real services.
UNIT_TEST_ENVS := streaming pipelines pipelines/promoter

unit: envs ## Every component's unit tests, each in its own environment; starts nothing
	@for project in $(UNIT_TEST_ENVS); do \
	  echo "== unit tests of $$project"; $$project/.venv/bin/pytest -q -p no:cacheprovider $$project/tests || exit 1; \
	done

test: setup ## Run the test suite: every component's unit tests, then tests/ against real services
	@$(MAKE) --no-print-directory unit
	@$(VENV)/bin/pytest tests $(PYTEST_ARGS)

bench: setup ## Benchmarks, each printed as a ratio against a baseline measured in the same run
	@echo "== mlp connectors apply (50 definitions): first run vs no-op rerun"
	@cd platform && .venv/bin/python -m bench.connectors_apply
	@echo "== feature processor vs raw aiokafka passthrough"
	@streaming/.venv/bin/python streaming/bench/feature_throughput.py --start-platform --events 5000
	@echo "== MLServer (V2) vs mlflow models serve, same model"
	@pipelines/promoter/.venv/bin/python pipelines/promoter/bench/serving_bench.py
	@echo "== batch prediction (MinIO to MinIO) vs the online V2 path, same model: rows/s"
	@platform/runtimes/mlserver/.venv/bin/python platform/runtimes/mlserver/bench/batch_vs_online.py \
		--minio "$$($(PYTHON) -c 'from mlplatform.config import Settings; from mlplatform.tools import Toolchain; print(Toolchain(Settings()).minio)')"

# The images of our own workloads (charts/scripts/own_images.py): each Dockerfile says which repository it
# builds (LABEL io.mlplatform.image=...), the chart's render of PROFILE gives the tags. BUILDER picks the
# builder (default: docker, else podman, else buildah); PUSH=1 pushes them after building them all.
BUILDER ?=
PUSH ?=
images: chart-deps ## Build our images, tagged as the PROFILE's render names them (BUILDER=docker|podman|buildah, PUSH=1)
	@$(OWN_IMAGES) build --profile $(PROFILE) $(if $(BUILDER),--builder '$(BUILDER)') $(if $(filter 1 true yes,$(PUSH)),--push)

lint: setup chart-lint ## Ruff check and format, mypy of every Python project in its own environment, dashboards, helm lint
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@echo "== mypy"
	@cd platform && .venv/bin/mypy src
	@cd streaming && .venv/bin/mypy src
	@cd pipelines && .venv/bin/mypy src
	@cd pipelines/promoter && .venv/bin/mypy src policy/src  # the policy package too, in the promoter's environment
	@cd examples/fraud-detection && .venv/bin/mypy .
	@cd platform/runtimes/mlserver && .venv/bin/mypy src
	@echo "== dashboards are what their generator writes"
	@cd platform && .venv/bin/python -m mlplatform.observability.dashboards --check

include charts/chart.mk
