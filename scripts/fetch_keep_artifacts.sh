#!/usr/bin/env bash
# Brings the published Truffle artifacts of @keep-network/keep-core, pinned by version and
# checked against the registry's sha512 integrity.
# Why not `npm install`: the package's own runtime dependencies (OpenZeppelin upgrades -> web3 0.x)
# include a git URL, which this project's machines cannot reach, and we only need artifacts/*.json.
set -euo pipefail
version="1.8.0"
integrity="sha512-Jms+Cr12A+V2rvANuVuu40QyNdjYBTZhcsSBtRS/ivdgb6/DjbQ4XXPxThAtmAvDOqKXuXkm90BUpudzaDGmwg=="
dest="${1:-build/keep-core}"
if [ -f "$dest/.version" ] && [ "$(cat "$dest/.version")" = "$version" ]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack --silent --pack-destination "$tmp" "@keep-network/keep-core@$version" >/dev/null
tarball="$tmp/keep-network-keep-core-$version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "fetch_keep_artifacts: $tarball integrity $actual, expected $integrity" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
tar xzf "$tarball" -C "$dest" --strip-components=1 package/artifacts package/package.json
echo "$version" > "$dest/.version"
