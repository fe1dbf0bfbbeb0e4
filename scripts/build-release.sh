#!/usr/bin/env bash
# Builds every function the SAM template deploys with the deploy's release profile (for
# the host target: the arm64 cross build needs a rustup target this machine cannot fetch),
# packages each as Lambda does (a zip holding `bootstrap`), checks that no symbol table
# made it into the package, and prints the sizes. Part of `make test`, so a function that
# cannot be built for deployment is seen at once.
#
#   scripts/build-release.sh          packages in target/lambda-host/<function>.zip
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t functions < <(grep -oP '^\s+Binary:\s*\K[a-z0-9-]+' infra/template.yaml | sort -u)
[ ${#functions[@]} -gt 0 ] || { echo "no Binary: entries in infra/template.yaml" >&2; exit 1; }
args=()
for f in "${functions[@]}"; do args+=(--bin "$f"); done

echo "[build-release] cargo build --release ${args[*]}" >&2
cargo build --release --quiet --workspace "${args[@]}"

out=target/lambda-host
mkdir -p "$out"
printf '%-14s %12s %12s\n' function binary zipped
for f in "${functions[@]}"; do
  bin=target/release/$f
  if readelf -S "$bin" | grep -q '\.symtab'; then
    echo "[build-release] $f still has a symbol table: check [profile.release] strip" >&2
    exit 1
  fi
  python3 - "$bin" "$out/$f.zip" <<'PY'
import sys, zipfile
binary, package = sys.argv[1:3]
with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o755 << 16  # executable, as Lambda needs
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(binary, "rb") as f:
        z.writestr(info, f.read())
PY
  awk -v f="$f" -v b="$(stat -c %s "$bin")" -v z="$(stat -c %s "$out/$f.zip")" \
    'BEGIN { printf "%-14s %9.1f MB %9.1f MB\n", f, b / 1048576, z / 1048576 }'
done
