#!/usr/bin/env bash
# Pushes the images saved by build-images.sh to one environment's Artifact Registry repository,
# tagged with the commit, and records them by digest for the deploy job:
#   build/ci/<stack>.images.env   (KEEP_CLIENT_REPOSITORY, KEEP_CLIENT_DIGEST, INIT_REPOSITORY, ...)
#   scripts/ci/publish-images.sh <stack> <commit>
# Needs: IMAGE_REGISTRY, REGISTRY_HOST (bench/ci/stack_env.py) and gcloud signed in as the
# deployer (gcp-auth.sh), which may write to that one repository only.
set -euo pipefail
stack="$1"
tag="$2"
gcloud auth configure-docker "$REGISTRY_HOST" --quiet
out="build/ci/$stack.images.env"
mkdir -p build/ci
echo "IMAGE_TAG=$tag" > "$out"
for pair in keep-client:KEEP_CLIENT keep-client-init:INIT; do
  name="${pair%%:*}"
  var="${pair##*:}"
  docker load -i "build/images/$name.tar"
  repository="$IMAGE_REGISTRY/$name"
  docker tag "$name:$tag" "$repository:$tag"
  docker push --quiet "$repository:$tag"
  digest=$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$repository:$tag" \
    | grep "^$repository@sha256:" | head -n1 | cut -d@ -f2)
  if [ -z "$digest" ]; then
    echo "publish-images: no registry digest for $repository:$tag after push" >&2
    exit 1
  fi
  echo "${var}_REPOSITORY=$repository" >> "$out"
  echo "${var}_DIGEST=$digest" >> "$out"
  echo "published $repository:$tag@$digest"
done
