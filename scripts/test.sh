#!/usr/bin/env bash
# The whole test run, for developers and CI alike: lint, types, real services, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== lint"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
echo "== typecheck"
"$BIN/mypy"
echo "== native (clippy, unit tests of the compiled Sigma evaluator)"
(cd native/sigma_native && cargo clippy --quiet --release --all-targets -- -D warnings && cargo test --quiet --release)

echo "== system packages (Debian chromium for UI tests, DejaVu fonts for PDF forms)"
scripts/system-deps.sh

if [ -x scripts/services.sh ] && [ -d tests/distributed ]; then
  echo "== services (real Kafka, Elasticsearch, PostgreSQL on loopback)"
  scripts/services.sh start
  trap 'scripts/services.sh stop' EXIT
fi

echo "== tests"
mkdir -p .test-artifacts
"$BIN/pytest" -p no:cacheprovider --junitxml=.test-artifacts/junit.xml "$@"
