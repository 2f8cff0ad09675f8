#!/usr/bin/env bash
# Refreshes the JavaScript that Riposte vendors from the npm registry, at the
# pinned versions below. The results are committed, so neither `go run`, the
# build nor the tests need npm or a network: run this only to change a
# version, then review and commit the diff (the files and VERSIONS).
#
# Each package's tarball is fetched with `npm pack`, its sha512 checked against
# the integrity the registry publishes for that version (`npm view`), and, when
# VERSIONS already lists the same version, against the integrity recorded
# there: a published version never changes, so a different hash means the
# download is not what was vendored before and nothing is written.
set -euo pipefail
cd "$(dirname "$0")/.."

versions=console/assets/vendor/VERSIONS

# Each entry: npm package, version, file in the tarball, where it goes, then
# the licence files as file-in-tarball=where-it-goes.
packages=(
  # htmx: partial page updates for the console, served by the binary.
  "htmx.org 2.0.11 dist/htmx.min.js console/assets/vendor/htmx.min.js LICENSE=console/assets/vendor/htmx.LICENSE"
  # axe-core: accessibility checks in the browser tests only; never served.
  "axe-core 4.14.1 axe.min.js internal/browsertest/axe/axe.min.js LICENSE=internal/browsertest/axe/LICENSE LICENSE-3RD-PARTY.txt=internal/browsertest/axe/LICENSE-3RD-PARTY.txt"
)

command -v npm >/dev/null || { echo "vendor-web: npm is needed (apt-get install npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# sri FILE: the file's Subresource Integrity string, as npm writes it.
sri() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

out="$tmp/VERSIONS"
{
  echo "# Written by scripts/vendor-web.sh; do not edit by hand."
  echo "# npm package, version, tarball integrity (checked against the registry), vendored file."
} >"$out"

for entry in "${packages[@]}"; do
  read -r name version src dest licences <<<"$entry"
  echo "== $name@$version"
  want=$(npm view "$name@$version" dist.integrity)
  if [ -z "$want" ]; then
    echo "vendor-web: the registry has no integrity for $name@$version" >&2
    exit 1
  fi
  if [ -f "$versions" ]; then
    recorded=$(awk -v n="$name" -v v="$version" '$1 == n && $2 == v { print $3 }' "$versions")
    if [ -n "$recorded" ] && [ "$recorded" != "$want" ]; then
      echo "vendor-web: $name@$version: the registry now says $want, VERSIONS recorded $recorded" >&2
      exit 1
    fi
  fi

  dir="$tmp/$name"
  mkdir -p "$dir"
  tgz=$(cd "$dir" && npm pack --silent "$name@$version" | tail -n1)
  got=$(sri "$dir/$tgz")
  if [ "$got" != "$want" ]; then
    echo "vendor-web: $name@$version: tarball integrity $got, the registry says $want" >&2
    exit 1
  fi
  tar -xzf "$dir/$tgz" -C "$dir"

  mkdir -p "$(dirname "$dest")"
  install -m 0644 "$dir/package/$src" "$dest"
  for pair in $licences; do
    install -m 0644 "$dir/package/${pair%%=*}" "${pair#*=}"
  done
  printf '%s %s %s %s\n' "$name" "$version" "$want" "$dest" >>"$out"
  echo "   $dest ($(wc -c <"$dest") bytes), integrity $want"
done

mkdir -p "$(dirname "$versions")"
install -m 0644 "$out" "$versions"
echo "== wrote $versions"
