#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv and installs everything
# the demo and the tests need: the package with its dev extra, ansible with kubernetes.core.
# Sourced by scripts/demo.sh and scripts/test.sh; reinstalls only when pyproject.toml changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${SPECTROJOBS_PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

stamp="$venv/.installed-$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> setting up $venv (first run takes a few minutes)" >&2
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$root[dev]" >&2
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
export VIRTUAL_ENV="$venv"
export ANSIBLE_CONFIG="$root/ansible.cfg"
