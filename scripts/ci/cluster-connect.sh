#!/usr/bin/env bash
# Points kubectl (and Pulumi's Kubernetes provider, which reads the same kubeconfig) at the
# environment's GKE cluster.
#
#   keyless: the cluster's DNS-based control-plane endpoint.  Google checks IAM
#            (container.clusters.connect) before a request reaches the API server, so no network
#            path into the VPC is needed.  The endpoint must be enabled on the cluster once
#            (docs/access.md: `gcloud container clusters update ... --enable-dns-access`).
#   bastion: RFC 13's way: an SSH SOCKS tunnel through the jump host to the utility box in the
#            cluster subnet, and the cluster's private endpoint reached through it.
#
# Needs: ACCESS_MODE, GCP_PROJECT, GKE_CLUSTER, GKE_LOCATION (+ BASTION_ZONE, JUMP_HOST_NAME,
# UTILITY_HOST_NAME in bastion mode) from bench/ci/stack_env.py; gcloud signed in (gcp-auth.sh).
set -euo pipefail
case "$ACCESS_MODE" in
  keyless)
    gcloud container clusters get-credentials "$GKE_CLUSTER" \
      --location "$GKE_LOCATION" --project "$GCP_PROJECT" --dns-endpoint
    ;;
  bastion)
    gcloud container clusters get-credentials "$GKE_CLUSTER" \
      --location "$GKE_LOCATION" --project "$GCP_PROJECT" --internal-ip
    key="$HOME/.ssh/keep-cd-ci"
    mkdir -p "$HOME/.ssh"
    [ -f "$key" ] || ssh-keygen -q -t ed25519 -N "" -f "$key"
    # OS Login: the key is registered for this service account for one hour only.
    gcloud compute os-login ssh-keys add --key-file "$key.pub" --ttl 1h --quiet >/dev/null
    user=$(gcloud compute os-login describe-profile --format 'value(posixAccounts[0].username)')
    jump=$(gcloud compute instances describe "$JUMP_HOST_NAME" --zone "$BASTION_ZONE" \
      --format 'value(networkInterfaces[0].accessConfigs[0].natIP)')
    utility=$(gcloud compute instances describe "$UTILITY_HOST_NAME" --zone "$BASTION_ZONE" \
      --format 'value(networkInterfaces[0].networkIP)')
    ssh -i "$key" -o StrictHostKeyChecking=accept-new -o ExitOnForwardFailure=yes \
      -J "$user@$jump" -f -N -D 127.0.0.1:1080 "$user@$utility"
    cluster=$(kubectl config view --minify -o jsonpath='{.clusters[0].name}')
    kubectl config set-cluster "$cluster" --proxy-url=socks5://127.0.0.1:1080
    ;;
  *)
    echo "cluster-connect: ACCESS_MODE=$ACCESS_MODE is neither keyless nor bastion" >&2
    exit 1
    ;;
esac
kubectl version --output=yaml >/dev/null  # fails here, with kubectl's reason, if the cluster is not reachable
