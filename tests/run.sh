#!/usr/bin/env bash
# Install what the tests need (Debian's Fashion-MNIST, a venv with the package) and run lint + tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1 -e ".[test]"
.venv/bin/ruff check .
HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q -rs --durations=10 -p no:cacheprovider tests "$@"
