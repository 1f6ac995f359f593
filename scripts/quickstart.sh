#!/usr/bin/env bash
# The main job: set up, run a small real search on Fashion-MNIST, write the Pareto plot and the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fusionscope search --config configs/quickstart.yaml --report report/quickstart "$@"
