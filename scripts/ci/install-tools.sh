#!/usr/bin/env bash
# Installs the pinned Google Cloud CLI (+ kubectl and the GKE auth plugin) under $HOME/tools and
# puts it on PATH through $BASH_ENV (CircleCI sources it before every step).  The Pulumi CLI is
# built from Go modules by `make engine` (bench/gobuild/), not downloaded.
#   scripts/ci/install-tools.sh <gcloud-version>
set -euo pipefail
gcloud_version="$1"
tools="$HOME/tools"
mkdir -p "$tools"

if [ ! -x "$tools/google-cloud-sdk/bin/gcloud" ] || ! grep -qx "$gcloud_version" "$tools/google-cloud-sdk/VERSION"; then
  tmp=$(mktemp -d)
  curl -fsSL -o "$tmp/gcloud.tgz" \
    "https://dl.google.com/dl/cloudsdk/channels/rapid/downloads/google-cloud-cli-${gcloud_version}-linux-x86_64.tar.gz"
  rm -rf "$tools/google-cloud-sdk"
  tar -xzf "$tmp/gcloud.tgz" -C "$tools"
  rm -rf "$tmp"
  "$tools/google-cloud-sdk/install.sh" --quiet --usage-reporting=false --path-update=false --command-completion=false
  "$tools/google-cloud-sdk/bin/gcloud" components install gke-gcloud-auth-plugin kubectl --quiet
fi

echo "export PATH=\"$tools/google-cloud-sdk/bin:\$PATH\"" >> "${BASH_ENV:-/dev/null}"
echo "export USE_GKE_GCLOUD_AUTH_PLUGIN=True" >> "${BASH_ENV:-/dev/null}"
