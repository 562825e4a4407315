# Provincial SOC — developer and CI entry points (the same scripts for both).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NATIVE := native/sigma_native
NATIVE_STAMP := $(VENV)/.native
# The compiled Sigma evaluator is Rust (PyO3, built by maturin): cargo from rustup's default place too.
export PATH := $(PATH):$(HOME)/.cargo/bin

.PHONY: help install run test check fmt lint typecheck bench services-start services-stop clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,distributed]"
	@touch $(STAMP)

$(NATIVE_STAMP): $(STAMP) $(NATIVE)/Cargo.toml $(NATIVE)/Cargo.lock $(NATIVE)/pyproject.toml $(wildcard $(NATIVE)/src/*.rs) $(NATIVE)/soc_sigma_native.pyi
	@command -v cargo >/dev/null || { echo "error: cargo not found (Rust is needed for the compiled Sigma evaluator: https://rustup.rs)"; exit 1; }
	$(BIN)/pip install --quiet ./$(NATIVE)
	@touch $(NATIVE_STAMP)

install: $(STAMP) $(NATIVE_STAMP) ## Create .venv and install the project (dev and distributed extras, compiled Sigma evaluator)

run: $(STAMP) $(NATIVE_STAMP) ## Start the embedded SOC with demo data; prints the URL and an admin token
	$(BIN)/soc up --demo

test: $(STAMP) $(NATIVE_STAMP) ## Install, start the real test services, lint, typecheck and run the whole test suite
	scripts/test.sh

check: lint typecheck ## Lint and typecheck

fmt: $(STAMP) ## Format the code (ruff)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP) ## Lint (ruff check + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) $(NATIVE_STAMP) ## Static types (mypy --strict)
	$(BIN)/mypy

bench: $(STAMP) $(NATIVE_STAMP) ## Run the benchmarks (soc bench), printing figures and ratios
	$(BIN)/soc bench all

services-start: ## Start real Kafka, Elasticsearch and PostgreSQL on loopback (for distributed tests)
	scripts/services.sh start

services-stop: ## Stop the test services
	scripts/services.sh stop

clean: ## Remove the virtualenv, caches and the local data directory
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .soc-data
