#!/usr/bin/env bash
# The tests: set up (including a local PostgreSQL on 127.0.0.1), then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f .ci/postgres.sh ]; then source .ci/postgres.sh; fi
.venv/bin/python -m pytest tests -q "$@"
