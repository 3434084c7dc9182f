# YTEMPIRE integrations — the two commands of the README:
#   make demo   set everything up, start the local cloud, make 2 videos end to end
#   make test   set up what tests need, run the whole suite with branch coverage (fails below 80%)
# Every target installs what it needs, idempotently (stamp files), and may be run on a fresh machine.

PYTHON ?= python3.11
VENV := .venv
APT_PACKAGES := espeak-ng fonts-dejavu-core
EMULATOR_VENVS := .venv-tasks/.stamp .venv-gcs/.stamp .venv-drongo/.stamp .venv-localstripe/.stamp
VIDEOS ?= 2

.PHONY: setup apt demo test lint bench local-up local-down clean-local help
help:
	@echo "make demo    # set up, start the local cloud, make $(VIDEOS) videos end to end"
	@echo "make test    # set up, run every test with branch coverage (>= 80%)"
	@echo "make bench   # print the benchmarks' figures"
	@echo "make local-up / local-down"

setup: apt $(VENV)/.stamp $(EMULATOR_VENVS) .venv-checkov/.stamp

# Debian packages: espeak-ng gives the local TTS sandbox a real voice; fonts for captions/thumbnails.
# The Firestore emulator (google-cloud-cli-firestore-emulator) and Java 17 come with the machine.
# Checked on every run (dpkg -s is cheap) rather than remembered in a stamp: a stamp outlives the packages
# (a new machine, a checkout that carried one) and then nothing would install them.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! command -v gcloud >/dev/null || [ ! -d "$$(dirname $$(readlink -f $$(command -v gcloud)))/../platform/cloud-firestore-emulator" ]; then \
	  missing="$$missing google-cloud-cli-firestore-emulator"; fi; \
	if [ -n "$$missing" ]; then echo "apt-get install$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

$(VENV)/.stamp: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[cli,dev]'
	@touch $@

# Emulators that pin old dependencies (protobuf<5 etc.) get virtualenvs of their own.
.venv-tasks/.stamp:
	@test -x .venv-tasks/bin/python || $(PYTHON) -m venv .venv-tasks
	.venv-tasks/bin/pip install -q 'gcloud-tasks-emulator>=0.6,<0.7'
	@touch $@
.venv-gcs/.stamp:
	@test -x .venv-gcs/bin/python || $(PYTHON) -m venv .venv-gcs
	.venv-gcs/bin/pip install -q 'gcp-storage-emulator>=2024.1'
	@touch $@
.venv-drongo/.stamp:
	@test -x .venv-drongo/bin/python || $(PYTHON) -m venv .venv-drongo
	.venv-drongo/bin/pip install -q 'drongo>=0.8,<0.9'
	@touch $@
# localstripe (the local cloud's Stripe) pins its own aiohttp; it runs from infra/local/localstripe_main.py.
.venv-localstripe/.stamp:
	@test -x .venv-localstripe/bin/python || $(PYTHON) -m venv .venv-localstripe
	.venv-localstripe/bin/pip install -q 'localstripe>=1.15,<1.16'
	@touch $@
.venv-checkov/.stamp:
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q 'checkov>=3.2,<4'
	@touch $@

demo: setup
	$(VENV)/bin/ytempire demo --videos $(VIDEOS)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -p no:cacheprovider --cov --cov-branch --cov-report=term --cov-fail-under=80 tests

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# MoviePy only for the render benchmark's comparison, in a virtualenv of its own: never a runtime dependency.
.venv-bench/.stamp:
	@test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install -q 'moviepy>=2.1,<3' 'pillow>=10.4,<12' 'numpy>=1.26,<3'
	@touch $@

bench: setup .venv-bench/.stamp
	$(VENV)/bin/python tests/bench/run_all.py

local-up: setup
	$(VENV)/bin/ytempire local up
local-down:
	$(VENV)/bin/ytempire local down
