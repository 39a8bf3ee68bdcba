#!/usr/bin/env bash
# Installs the pinned Pulumi CLI and Google Cloud CLI (+ kubectl and the GKE auth plugin) under
# $HOME/tools and puts them on PATH through $BASH_ENV (CircleCI sources it before every step).
#   scripts/ci/install-tools.sh <pulumi-version> <gcloud-version>
set -euo pipefail
pulumi_version="$1"
gcloud_version="$2"
tools="$HOME/tools"
mkdir -p "$tools"

if [ ! -x "$tools/pulumi/pulumi" ] || [ "$("$tools/pulumi/pulumi" version)" != "v$pulumi_version" ]; then
  tmp=$(mktemp -d)
  tarball="pulumi-v${pulumi_version}-linux-x64.tar.gz"
  curl -fsSL -o "$tmp/$tarball" "https://get.pulumi.com/releases/sdk/$tarball"
  # The release's own checksum list: a truncated or swapped download fails here, not later.
  curl -fsSL -o "$tmp/checksums.txt" \
    "https://github.com/pulumi/pulumi/releases/download/v${pulumi_version}/pulumi-${pulumi_version}-checksums.txt"
  (cd "$tmp" && grep " ${tarball}\$" checksums.txt | sha256sum -c -)
  rm -rf "$tools/pulumi"
  tar -xzf "$tmp/$tarball" -C "$tools"
  rm -rf "$tmp"
fi

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

echo "export PATH=\"$tools/pulumi:$tools/google-cloud-sdk/bin:\$PATH\"" >> "${BASH_ENV:-/dev/null}"
echo "export USE_GKE_GCLOUD_AUTH_PLUGIN=True" >> "${BASH_ENV:-/dev/null}"
