#!/usr/bin/env bash
# Lints the SAM template with cfn-lint from the project-local virtualenv .venv-infra,
# creating it (python3 -m venv + pip install cfn-lint, from PyPI) when cfn-lint is missing.
#
#   scripts/lint-infra.sh          from any directory
#
# Exits non-zero on cfn-lint errors; warnings and informational findings are printed
# but do not fail (--non-zero-exit-code error, when the installed cfn-lint has it).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-infra
CFN_LINT=$VENV/bin/cfn-lint
TEMPLATE=infra/template.yaml

if [ ! -x "$CFN_LINT" ]; then
  echo "[lint-infra] installing cfn-lint into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check cfn-lint
fi

args=()
if "$CFN_LINT" --help 2>/dev/null | grep -q -- '--non-zero-exit-code'; then
  args+=(--non-zero-exit-code error)
fi

"$CFN_LINT" --version >&2
"$CFN_LINT" ${args[@]+"${args[@]}"} -- "$TEMPLATE"
echo "[lint-infra] $TEMPLATE: no errors" >&2
