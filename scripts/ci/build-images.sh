#!/usr/bin/env bash
# Builds the two images of a release once, tagged with the commit, and saves them to the workspace
# (build/images/*.tar) so every environment publishes the very same images.
#   scripts/ci/build-images.sh <commit> <keep-core commit>
#   keep-client:   keep-core's own Dockerfile at a pinned commit (RFC 13 built it in keep-core's CI)
#   initcontainer: this repository's initcontainer/ (Dockerfile next to the program)
set -euo pipefail
tag="$1"
keep_core_commit="$2"
mkdir -p build/images build/src
if [ ! -d build/src/keep-core/.git ]; then
  git clone --quiet --filter=blob:none https://github.com/keep-network/keep-core.git build/src/keep-core
fi
git -C build/src/keep-core -c advice.detachedHead=false checkout --quiet "$keep_core_commit"
docker build --pull \
  --build-arg VERSION="$keep_core_commit" --build-arg REVISION="$keep_core_commit" \
  --label org.opencontainers.image.revision="$keep_core_commit" \
  --label org.opencontainers.image.source=https://github.com/keep-network/keep-core \
  -t "keep-client:$tag" build/src/keep-core
docker build --pull --label org.opencontainers.image.revision="$tag" -t "keep-client-init:$tag" initcontainer
docker save -o build/images/keep-client.tar "keep-client:$tag"
docker save -o build/images/keep-client-init.tar "keep-client-init:$tag"
