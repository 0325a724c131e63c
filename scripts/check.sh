#!/usr/bin/env bash
# The code-health checks, in one command: lint, format, types. CI runs this before the test suite;
# run it before you commit. `bash scripts/check.sh --fix` applies ruff's safe fixes and formats first.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--fix" ]]; then
  python -m ruff check --fix . && python -m ruff format .
fi

failed=()
echo "== ruff check";         python -m ruff check .           || failed+=("ruff check")
echo "== ruff format --check"; python -m ruff format --check . || failed+=("ruff format")
echo "== mypy";                python -m mypy                  || failed+=("mypy")

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "all checks passed"
