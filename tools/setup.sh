#!/usr/bin/env bash
# `npm run setup`: installs from Debian the programs the tests talk to (tools/peers.txt), only
# those missing. apt-get needs root: run as root, or it uses sudo. .ci/run runs this same step.
set -euo pipefail
cd "$(dirname "$0")/.."

have() {
  case "$1" in
    py:*) /usr/bin/python3 -c "import ${1#py:}" >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}
missing=()
while read -r check package _; do
  [[ -z "${check:-}" || "$check" == \#* ]] && continue
  have "$check" || missing+=("$package")
done < tools/peers.txt
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: every test peer in tools/peers.txt is installed"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: apt-get needs root; run as root: npm run setup" >&2; exit 1; }
  as_root=(sudo)
fi
echo "setup: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
