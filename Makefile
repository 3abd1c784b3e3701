# hyperpod-deps: every command a user or CI needs. Everything it installs goes
# into .venv (git-ignored) or the cache outside the repository.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE ?= $(HOME)/.cache/hyperpod-deps
export HYPERPOD_DEPS_CACHE := $(CACHE)
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(CACHE)/checkov-$(CHECKOV_VERSION)
CHART := helm_chart/HyperPodHelmChart

.PHONY: help setup host-packages image image-lock tools control-plane operators npd demo plan test check e2e cluster-up cluster-down bench bench-cold bench-auto-restart bench-health generate clean

help:
	@echo "make demo       a local cluster with simulated HyperPod nodes, the chart installed, which component runs where, and a training job brought back after a GPU fault"
	@echo "make plan       what an install of the chart creates, per component (the main job, no cluster needed)"
	@echo "make test       everything CI runs: static checks and the whole test suite"
	@echo "make check      ruff, mypy, import layers, yamllint, generated files up to date"
	@echo "make generate   regenerate instance-type lists, CRDs and the health rule table from their sources"
	@echo "make image      the agents image (hyperpod-deps/agents) as an OCI archive, built here without Docker"
	@echo "make operators  build the Kubeflow training and MPI operators that the e2e tests run (make npd: node-problem-detector)"
	@echo "make cluster-up a local control plane with simulated HyperPod nodes (make cluster-down stops it)"

# CI installs the versions the agents image ships: image/requirements.lock, less its hashes (the
# test tools are not in it), is the constraints file, so every package the two share is the same.
CONSTRAINTS := $(VENV)/constraints.txt

$(BIN)/.installed: pyproject.toml image/requirements.lock
	@echo "==> creating $(VENV) and installing hyperpod-deps with its test dependencies"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	sed -e 's/ --hash=[^ ]*//g' -e '/^#/d' image/requirements.lock > $(CONSTRAINTS)
	$(BIN)/pip install --quiet -e '.[test]' --constraint $(CONSTRAINTS)
	@touch $@

# checkov pins packaging<24, which clashes with pytest: it gets its own venv in the cache.
$(CHECKOV_VENV)/bin/checkov:
	@echo "==> installing checkov $(CHECKOV_VERSION) into $(CHECKOV_VENV)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)

setup: $(BIN)/.installed tools host-packages

# Debian packages: nftables (the local cluster's network rules), mmdebstrap (the agents
# image's base), runc (the chart's pods as real containers in the e2e tests), docker-registry
# (the local cluster's OCI registry), skopeo (`hyperpod-deps images push`), and for the real
# nodes of `cluster up --real-nodes`: containerd, the CNI plugins and catatonit (the pause image).
HOST_PACKAGES := nft:nftables mmdebstrap:mmdebstrap runc:runc docker-registry:docker-registry skopeo:skopeo /lib/systemd/systemd-journal-remote:systemd-journal-remote lz4:lz4 containerd:containerd /usr/lib/cni/bridge:containernetworking-plugins catatonit:catatonit
host-packages:
	@missing=""; for pair in $(HOST_PACKAGES); do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then echo "==> installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null \
			|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
		else echo "install as root: apt-get install$$missing" >&2; exit 1; fi; fi

# The agents image as an OCI archive in the cache, built from Debian packages and the locked
# wheels (root; docs/image.md). image-lock rewrites image/*.lock from today's mirror and PyPI.
image: $(BIN)/.installed host-packages
	@echo "==> the agents image (first build: about a minute)"
	$(BIN)/python -m hyperpod_deps.toolchain.agents_image

image-lock: $(BIN)/.installed host-packages
	$(BIN)/python -m hyperpod_deps.toolchain.agents_image --refresh-locks

# The real helm 3 and helm 4 (and kubectl) binaries, fetched once into the cache; AWS's
# SageMaker HyperPod client (sagemaker-hyperpod, pinned) in a venv of its own there, for the
# e2e tests that drive the chart's roles with it.
tools: $(BIN)/.installed $(CHECKOV_VENV)/bin/checkov
	@$(BIN)/python -m hyperpod_deps.toolchain
	@$(BIN)/python -m hyperpod_deps.toolchain.hyperpod_client

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, built from their
# Go modules into the cache. The first build takes many minutes; later runs cost nothing.
control-plane: $(BIN)/.installed
	@echo "==> local control plane binaries (first build: many minutes, progress below)"
	$(BIN)/python -m hyperpod_deps.toolchain.kubernetes

# The Kubeflow training operator and MPI operator (the versions the chart deploys), built from
# their Go modules into the cache, for the e2e tests that run them against a local cluster.
operators: $(BIN)/.installed
	@echo "==> Kubeflow training operator and MPI operator (first build: minutes, progress below)"
	$(BIN)/python -m hyperpod_deps.toolchain.kubeflow

# node-problem-detector, built from its Go module into the cache; used by benchmarks only.
npd: $(BIN)/.installed
	@echo "==> node-problem-detector (first build: minutes, progress below)"
	$(BIN)/python -m hyperpod_deps.toolchain.kubeflow --node-problem-detector

cluster-up: control-plane host-packages
	$(BIN)/hyperpod-deps cluster up

cluster-down: $(BIN)/.installed
	$(BIN)/hyperpod-deps cluster down

e2e: setup control-plane operators
	$(BIN)/pytest -q -m e2e tests/e2e

# The command fetches helm and builds (or reuses) the control plane itself, with progress.
demo: $(BIN)/.installed host-packages image operators
	$(BIN)/hyperpod-deps demo

# Benchmarks of the local control plane (about 12 minutes on two cores): benchmarks/README.md.
bench: $(BIN)/.installed control-plane
	$(BIN)/python benchmarks/warm_cluster_up.py --runs 5
	$(BIN)/python benchmarks/scale.py --nodes 100
	$(BIN)/python benchmarks/scale.py --nodes 1000

# Job auto-restart with the real training operator: 10 jobs, then 500 jobs on 2,000 nodes with a
# burst of 50 node faults (about 15 minutes on two cores): benchmarks/README.md.
bench-auto-restart: $(BIN)/.installed control-plane operators
	$(BIN)/python benchmarks/auto_restart.py --node ml.p5.48xlarge=10 --jobs 10 --rounds 10 --burst 1
	$(BIN)/python benchmarks/auto_restart.py --nodes benchmarks/nodes/2000.yaml --jobs 500 --workers 1 --rounds 1 --burst 50

# Cold cluster up, every binary built with empty Go caches (about 30 minutes).
bench-cold: $(BIN)/.installed
	$(BIN)/python benchmarks/cold_cluster_up.py

# The health agent side by side with node-problem-detector: throughput over a generated corpus
# of a million kernel log lines, detection latency on a local cluster, idle cost (about 25
# minutes on two cores): benchmarks/README.md.
bench-health: $(BIN)/.installed control-plane npd
	$(BIN)/python benchmarks/npd_compare.py

plan: setup
	$(BIN)/hyperpod-deps plan

check: $(BIN)/.installed
	@echo "==> ruff"
	$(BIN)/ruff check src tests hack benchmarks
	@echo "==> mypy (strict: src, tests, hack, benchmarks)"
	$(BIN)/mypy
	@echo "==> import layers"
	$(BIN)/lint-imports
	@echo "==> yamllint"
	$(BIN)/yamllint --strict -c .yamllint.yaml $(CHART)/values.yaml $(CHART)/ci $(CHART)/charts/*/values.yaml \
		src/hyperpod_deps/health/rules
	@echo "==> actionlint (.github/workflows; built from its Go module on first use)"
	$(BIN)/python -m hyperpod_deps.toolchain.actionlint
	@echo "==> generated files"
	$(BIN)/python hack/gen_instance_types.py --check
	$(BIN)/python hack/gen_crds.py --check
	$(BIN)/python hack/gen_inference_crds.py --check
	$(BIN)/python hack/gen_nvidia_rules.py --check
	$(BIN)/python hack/gen_health_rules_doc.py --check
	$(BIN)/python hack/gen_health_accuracy_doc.py --check
	$(BIN)/python hack/gen_settings_schemas.py --check

test: setup check control-plane operators image
	@echo "==> pytest"
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest -q --durations=10

generate: $(BIN)/.installed
	$(BIN)/python hack/gen_instance_types.py
	$(BIN)/python hack/gen_crds.py
	$(BIN)/python hack/gen_inference_crds.py
	$(BIN)/python hack/gen_nvidia_rules.py
	$(BIN)/python hack/gen_health_rules_doc.py
	$(BIN)/python hack/gen_health_accuracy_doc.py
	$(BIN)/python hack/gen_settings_schemas.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
