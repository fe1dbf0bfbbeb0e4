#!/usr/bin/env bash
# Lints the SAM template: cfn-lint, `sam validate --lint` (both offline, no credentials),
# and the connection budget CloudFormation cannot check itself (it has no arithmetic).
# Both tools live in the project-local virtualenv .venv-infra, created on first use
# (python3 -m venv + pip from PyPI), never in .venv beside moto: aws-sam-cli pins boto3
# versions moto does not accept.
#
#   scripts/lint-infra.sh                          the template's parameter defaults
#   scripts/lint-infra.sh ImportReservedConcurrency=8 DbMaxConnections=120
#                                                  the budget with the values you deploy with
#
# Fails on any cfn-lint finding (errors, warnings and informational ones), any
# `sam validate --lint` finding, or a budget over DbMaxConnections.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-infra
TEMPLATE=infra/template.yaml

if [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/sam" ]; then
  echo "[lint-infra] installing cfn-lint and aws-sam-cli into $VENV (PyPI)" >&2
  python3 -m venv "$VENV" 2>/dev/null || {
    echo "[lint-infra] python3 -m venv failed: install python3-venv" >&2
    exit 1
  }
  "$VENV/bin/pip" install -q --disable-pip-version-check cfn-lint aws-sam-cli
fi

echo "[lint-infra] $("$VENV/bin/cfn-lint" --version)" >&2
"$VENV/bin/cfn-lint" -- "$TEMPLATE"

# `sam validate` needs a region (AWS_DEFAULT_REGION, not AWS_REGION) but no credentials
# and no network; --lint runs cfn-lint's rules on SAM's own translation.
echo "[lint-infra] $("$VENV/bin/sam" --version)" >&2
SAM_CLI_TELEMETRY=0 "$VENV/bin/sam" validate --lint --region "${AWS_DEFAULT_REGION:-us-east-1}" \
  --template-file "$TEMPLATE"

# Connection budget: for every function, ReservedConcurrentExecutions x DB_MAX_CONNECTIONS
# (its own variable, else Globals'), summed, must not exceed DbMaxConnections.
"$VENV/bin/python" - "$TEMPLATE" "$@" <<'PY'
import sys

import yaml  # PyYAML, a dependency of cfn-lint


class Loader(yaml.SafeLoader):
    pass


def intrinsic(loader, suffix, node):
    tag = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {tag: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {tag: loader.construct_sequence(node, deep=True)}
    return {tag: loader.construct_mapping(node, deep=True)}


Loader.add_multi_constructor("!", intrinsic)

path, *overrides = sys.argv[1:]
with open(path) as f:
    template = yaml.load(f, Loader=Loader)
params = {name: p.get("Default") for name, p in template["Parameters"].items()}
for item in overrides:
    name, _, value = item.partition("=")
    if name not in params:
        sys.exit(f"[lint-infra] unknown parameter {name!r}")
    params[name] = value


def value(v, what):
    if isinstance(v, dict) and set(v) == {"Ref"}:
        v = params.get(v["Ref"])
    try:
        return int(v)
    except (TypeError, ValueError):
        sys.exit(f"[lint-infra] {what}: not a number ({v!r}); the budget cannot be checked")


global_pool = template["Globals"]["Function"]["Environment"]["Variables"]["DB_MAX_CONNECTIONS"]
total, rows = 0, []
for name, resource in template["Resources"].items():
    if resource["Type"] != "AWS::Serverless::Function":
        continue
    props = resource["Properties"]
    if "ReservedConcurrentExecutions" not in props:
        sys.exit(f"[lint-infra] {name} has no ReservedConcurrentExecutions: its connections are unbounded")
    concurrency = value(props["ReservedConcurrentExecutions"], f"{name} ReservedConcurrentExecutions")
    own = props.get("Environment", {}).get("Variables", {}).get("DB_MAX_CONNECTIONS", global_pool)
    pool = value(own, f"{name} DB_MAX_CONNECTIONS")
    total += concurrency * pool
    rows.append(f"{name} {concurrency}x{pool}")
limit = value({"Ref": "DbMaxConnections"}, "DbMaxConnections")
print(f"[lint-infra] connection budget: {' + '.join(rows)} = {total} (DbMaxConnections {limit})", file=sys.stderr)
if total > limit:
    sys.exit(f"[lint-infra] the functions can hold {total} connections, more than DbMaxConnections={limit}")
PY

echo "[lint-infra] $TEMPLATE: cfn-lint, sam validate --lint and the connection budget are clean" >&2
