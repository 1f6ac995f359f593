#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine: system packages, a venv, fusionscope and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
command -v chromium >/dev/null || need+=(chromium)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  # the versions this project is tested with (served from local disk here); any torch>=2.4 works
  .venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1 || .venv/bin/pip install -q "torch>=2.4" "torchvision>=0.19"
fi
.venv/bin/pip install -q -e ".[test]"
