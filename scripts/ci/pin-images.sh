#!/usr/bin/env bash
# Writes the published images, by digest, into the stack's config for this CI run only (the stack
# file in the CI checkout; nothing is committed), so `pulumi up` rolls exactly those images and
# every pod records the digest it runs.
#   scripts/ci/pin-images.sh <stack>     (reads build/ci/<stack>.images.env from publish-images.sh)
set -euo pipefail
stack="$1"
# shellcheck disable=SC1090
source "build/ci/$stack.images.env"
# The fleet's image settings (docs/fleet.md): {repository, tag, digest} each.
client_key="fleet.image"
init_key="fleet.initImage"
set_path() { pulumi config set --stack "$stack" --path "$1" "$2" --non-interactive; }
set_path "$client_key.repository" "$KEEP_CLIENT_REPOSITORY"
set_path "$client_key.tag" "$IMAGE_TAG"
set_path "$client_key.digest" "$KEEP_CLIENT_DIGEST"
set_path "$init_key.repository" "$INIT_REPOSITORY"
set_path "$init_key.tag" "$IMAGE_TAG"
set_path "$init_key.digest" "$INIT_DIGEST"
# A digest pins the image; Keel can only move tags, and this pipeline is what rolls clients now.
pulumi config rm --stack "$stack" --path fleet.keel --non-interactive 2>/dev/null || true
echo "pinned $stack: keep-client@$KEEP_CLIENT_DIGEST, init@$INIT_DIGEST (tag $IMAGE_TAG)"
