#!/usr/bin/env bash
# The demo on the embedded default (local cluster, synthetic data). Sets up .venv itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/bootstrap.sh
exec spectrojobs demo "$@"
