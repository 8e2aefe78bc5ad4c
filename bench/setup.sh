#!/usr/bin/env bash
# Install what the benchmarks compare against: wrk and nginx (Debian), pypiserver + gunicorn
# and devpi-server (PyPI, in their own venv so they cannot disturb wheelyard's).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk nginx
fi
python3 -m venv out/peers
out/peers/bin/pip install -q 'pypiserver[cache]==2.4.*' 'gunicorn>=23' 'devpi-server==6.*' watchdog
