#!/usr/bin/env bash
# The whole test suite: lint, then every test. Sets up .venv itself.
# pytest's "no tests collected" (exit 5) counts as a failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/bootstrap.sh
echo "==> ruff" >&2
ruff check .
echo "==> ansible-lint" >&2
ansible-lint --offline -q playbooks roles
echo "==> pytest" >&2
set +e
python -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
