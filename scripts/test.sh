#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine with only python3, then run them:
# Debian's Chromium (the report's browser test), a virtualenv with statelab[test]
# (Keras and TensorFlow for the fidelity test, Playwright to drive Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/python -m pytest -q "$@"
