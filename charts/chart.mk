# Targets of the platform's Helm charts. Included by the top-level Makefile; also works alone:
#   make -f charts/chart.mk install KUBE_CONTEXT=kind-mlp PROFILE=dev
# PROFILE picks values/<profile>.yaml (and values/prereqs/<profile>.yaml); several profiles are
# applied in order when comma-separated, e.g. PROFILE=prod,airgapped.

SHELL := /bin/bash
HELM ?= $(HOME)/.cache/mlp/tools/helm-v3.22.0/helm
export HELM
PYTHON ?= platform/.venv/bin/python
MLP ?= platform/.venv/bin/mlp
# kubectl of the version `make setup` builds for the local control plane, else the one on PATH.
KUBECTL ?= $(or $(wildcard $(or $(MLP_CACHE_DIR),$(HOME)/.cache/mlp)/tools/kubernetes-v1.37.2/kubectl),kubectl)
PROFILE ?= dev
KUBE_CONTEXT ?=
KUBE_VERSION ?= 1.33.0
RELEASE ?= mlp
NAMESPACE ?= mlp
PREREQS_RELEASE ?= mlp-prereqs
PREREQS_NAMESPACE ?= mlp-system
TIMEOUT ?= 20m
VENDOR_DIR ?= charts/.vendor

CHART_UMBRELLA := charts/mlplatform
CHART_PREREQS := charts/mlplatform-prereqs
CHART_RENDER := $(PYTHON) charts/scripts/render.py
OWN_IMAGES := $(PYTHON) charts/scripts/own_images.py
comma := ,
PROFILES := $(subst $(comma), ,$(PROFILE))
UMBRELLA_VALUES := $(foreach p,$(PROFILES),-f values/$(p).yaml)
PREREQS_VALUES := $(foreach p,$(PROFILES),$(if $(wildcard values/prereqs/$(p).yaml),-f values/prereqs/$(p).yaml))
KCTX = --kube-context $(KUBE_CONTEXT)
# The local control plane (`make cluster-up`) keeps its kubeconfig under $$MLP_HOME: `mlp cluster env`
# names it (and a kubectl/Helm cache folder there), unless KUBECONFIG is set already.
ifeq ($(KUBE_CONTEXT)$(KUBECONFIG),mlp-local)
$(foreach setting,$(shell $(MLP) cluster env 2>/dev/null | sed -n 's/^export //p'),$(eval export $(setting)))
endif
# kubectl names the same flag --context.
KUBECTL_CTX = --context $(KUBE_CONTEXT)
# Installs/upgrades roll back by themselves when they fail or time out (Helm 3: --atomic). HELM_ARGS and
# PREREQS_HELM_ARGS add options of your own to the platform's and the prerequisites' release, e.g.
# HELM_ARGS="--set mlflow.replicas=3".
HELM_ARGS ?=
PREREQS_HELM_ARGS ?=
HELM_APPLY = upgrade --install --wait --timeout $(TIMEOUT) --atomic --create-namespace

.PHONY: chart-deps chart-crds chart-context install chart-prereqs chart-platform chart-smoke uninstall template \
	chart-lint chart-status footprint vendor chart-test

## chart-deps: put every pinned dependency archive in charts/*/charts/: from MLP_CHART_ARCHIVES
## (default ../shared/charts) where it holds them, else `helm dependency build` from the repositories
chart-deps:
	@$(CHART_RENDER) deps

# Refuses to touch a cluster until the context is named (KUBE_CONTEXT=...) or typed in at a prompt.
chart-context:
	@if [ -z "$(KUBE_CONTEXT)" ]; then \
	  current=$$($(KUBECTL) config current-context 2>/dev/null); \
	  if [ -t 0 ]; then \
	    printf 'KUBE_CONTEXT is not set. Current context: %s\nType the context to use: ' "$$current"; \
	    read answer; \
	    if [ -z "$$answer" ] || [ "$$answer" != "$$current" ]; then \
	      echo "Not confirmed; rerun with KUBE_CONTEXT=<context>."; exit 1; fi; \
	  else echo "KUBE_CONTEXT is required (e.g. KUBE_CONTEXT=kind-mlp)."; exit 1; fi; \
	fi
	$(eval KUBE_CONTEXT := $(or $(KUBE_CONTEXT),$(shell $(KUBECTL) config current-context)))
	@echo "Using Kubernetes context $(KUBE_CONTEXT), profile $(PROFILE)"

## install: dependencies, the operators' CRDs, then prerequisites (operators) and the platform, each
## waited for with rollback on failure, then a readiness smoke check of every component
install: chart-context chart-deps chart-crds chart-prereqs chart-platform chart-smoke

## chart-crds: apply (create or upgrade) every CRD of the prerequisites server-side, outside any release
chart-crds: chart-context
	@set -o pipefail; $(CHART_RENDER) crds --profile $(PROFILE) | \
	  $(KUBECTL) $(KUBECTL_CTX) apply --server-side --force-conflicts --field-manager=mlplatform -f - >/dev/null
	$(KUBECTL) $(KUBECTL_CTX) wait crd --all --for=condition=Established --timeout=2m >/dev/null
	@echo "CRDs applied and established."

chart-prereqs: chart-context
	$(HELM) $(HELM_APPLY) --skip-crds $(KCTX) -n $(PREREQS_NAMESPACE) $(PREREQS_RELEASE) $(CHART_PREREQS) $(PREREQS_VALUES) $(PREREQS_HELM_ARGS)

chart-platform: chart-context
	$(HELM) $(HELM_APPLY) $(KCTX) -n $(NAMESPACE) $(RELEASE) $(CHART_UMBRELLA) $(UMBRELLA_VALUES) $(HELM_ARGS)

## chart-smoke: wait for every component to report ready (operators, Kafka, Connect, PostgreSQL,
## MinIO, MLflow, Airflow, Faust, monitoring); readiness probes check each server's own health endpoint
chart-smoke: chart-context
	$(KUBECTL) $(KUBECTL_CTX) -n $(PREREQS_NAMESPACE) wait deployment --all --for=condition=Available --timeout=5m
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) wait kafka/$(RELEASE) --for=condition=Ready --timeout=10m
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) wait kafkatopic --all --for=condition=Ready --timeout=5m
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) wait kafkauser --all --for=condition=Ready --timeout=5m
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) wait kafkaconnect/$(RELEASE) --for=condition=Ready --timeout=15m
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) wait cluster.postgresql.cnpg.io/$(RELEASE)-pg --for=condition=Ready --timeout=10m
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) wait database.postgresql.cnpg.io --all --for=jsonpath='{.status.applied}'=true --timeout=5m
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) wait deployment --all --for=condition=Available --timeout=10m
	@for set in $$($(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) get statefulset -o name); do \
	  $(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) rollout status $$set --timeout=10m || exit 1; done
	$(KUBECTL) $(KUBECTL_CTX) -n $(PREREQS_NAMESPACE) wait prometheus --all --for=condition=Available --timeout=5m
	@echo "All platform components are ready."

## uninstall: remove the platform, then the prerequisites (CRDs, PVCs and kept Secrets stay)
uninstall: chart-context
	-$(HELM) uninstall $(KCTX) -n $(NAMESPACE) $(RELEASE) --wait --timeout $(TIMEOUT)
	-$(HELM) uninstall $(KCTX) -n $(PREREQS_NAMESPACE) $(PREREQS_RELEASE) --wait --timeout $(TIMEOUT)
	@echo "CRDs (applied by chart-crds), PVCs, Secrets marked keep and the models namespace were left in place; see charts/README.md."

## template: render both charts for PROFILE (stand-in subcharts only where archives cannot be had)
template:
	@$(CHART_RENDER) template --chart prereqs --profile $(PROFILE)
	@$(CHART_RENDER) template --chart umbrella --profile $(PROFILE)

## chart-lint: helm lint of every chart with every profile
chart-lint:
	@set -e; for chart in prereqs umbrella; do \
	  dir=$$($(CHART_RENDER) prepare --chart $$chart); \
	  for profile in dev prod airgapped prod,airgapped; do \
	    files=""; for p in $$(echo $$profile | tr ',' ' '); do \
	      if [ $$chart = prereqs ]; then f=values/prereqs/$$p.yaml; else f=values/$$p.yaml; fi; \
	      [ -f $$f ] && files="$$files -f $$f"; done; \
	    echo "== helm lint $$chart ($$profile)"; \
	    $(HELM) lint --strict $$dir --kube-version $(KUBE_VERSION) $$files; \
	  done; \
	done

## chart-status: the releases and the readiness of every platform resource
chart-status: chart-context
	$(HELM) status $(KCTX) -n $(PREREQS_NAMESPACE) $(PREREQS_RELEASE) --show-resources=false | head -n 8
	$(HELM) status $(KCTX) -n $(NAMESPACE) $(RELEASE) | head -n 8
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) get kafka,kafkanodepool,kafkaconnect,kafkatopic,kafkauser,cluster.postgresql.cnpg.io,database.postgresql.cnpg.io
	$(KUBECTL) $(KUBECTL_CTX) -n $(NAMESPACE) get deployments,statefulsets,pods
	$(KUBECTL) $(KUBECTL_CTX) -n $(PREREQS_NAMESPACE) get deployments,statefulsets

## footprint: summed CPU/memory requests per profile of the objects that render
footprint:
	@$(CHART_RENDER) footprint --profile dev,prod,airgapped

## vendor: collect every dependency archive (for air-gapped installs) and list every image
vendor: chart-deps
	mkdir -p $(VENDOR_DIR)
	cp $(CHART_PREREQS)/charts/*.tgz $(CHART_UMBRELLA)/charts/*.tgz $(VENDOR_DIR)/
	@echo "Chart archives in $(VENDOR_DIR):"; ls -1 $(VENDOR_DIR)
	@echo "Images of profile $(PROFILE) (mirror them into your registry):"
	@$(CHART_RENDER) images --profile $(PROFILE) | tee $(VENDOR_DIR)/images-$(subst $(comma),-,$(PROFILE)).txt
	@echo "Of those, ours are built from this repository (make images PROFILE=$(PROFILE) PUSH=1), not mirrored:"
	@$(OWN_IMAGES) list --profile $(PROFILE)

## chart-test: the chart tests (pytest)
chart-test:
	$(PYTHON) -m pytest tests/charts -q
