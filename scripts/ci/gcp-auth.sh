#!/usr/bin/env bash
# Signs gcloud (and, through GOOGLE_APPLICATION_CREDENTIALS, Pulumi's GCP provider) in as the
# service account of the job's CircleCI context.  Which account a job gets is decided by its context
# (keep-<env> for deploys, keep-<env>-preview for pull requests), never by anything in the repository.
#
#   keyless: exchanges the job's $CIRCLE_OIDC_TOKEN through the Workload Identity provider for a
#            short-lived token of $GCP_SERVICE_ACCOUNT; nothing long-lived exists anywhere.
#   bastion: the service-account key from the context ($GCP_SERVICE_ACCOUNT_KEY, base64 of the key
#            file, as `pulumi stack output --show-secrets ciDeployerKey` prints it).
#
# Needs: ACCESS_MODE and GCP_PROJECT (bench/ci/stack_env.py), and from the context
# GCP_SERVICE_ACCOUNT + GCP_WORKLOAD_IDENTITY_PROVIDER (keyless) or GCP_SERVICE_ACCOUNT_KEY (bastion).
set -euo pipefail
dir="$HOME/.config/keep-cd-gcp"
mkdir -p "$dir"
chmod 700 "$dir"
umask 077
case "$ACCESS_MODE" in
  keyless)
    : "${CIRCLE_OIDC_TOKEN:?no OIDC token: the job must run with a context (CircleCI issues tokens only then)}"
    : "${GCP_WORKLOAD_IDENTITY_PROVIDER:?set in the context: pulumi stack output ciAccess (workloadIdentityProvider)}"
    : "${GCP_SERVICE_ACCOUNT:?set in the context: pulumi stack output ciAccess (deployer/previewerServiceAccount)}"
    printf '%s' "$CIRCLE_OIDC_TOKEN" > "$dir/oidc-token"
    gcloud iam workload-identity-pools create-cred-config "$GCP_WORKLOAD_IDENTITY_PROVIDER" \
      --service-account="$GCP_SERVICE_ACCOUNT" \
      --credential-source-file="$dir/oidc-token" \
      --output-file="$dir/credentials.json"
    gcloud auth login --cred-file="$dir/credentials.json" --quiet
    ;;
  bastion)
    : "${GCP_SERVICE_ACCOUNT_KEY:?set in the context: pulumi stack output --show-secrets ciDeployerKey (or ciPreviewerKey)}"
    printf '%s' "$GCP_SERVICE_ACCOUNT_KEY" | base64 -d > "$dir/credentials.json"
    gcloud auth activate-service-account --key-file="$dir/credentials.json" --quiet
    ;;
  *)
    echo "gcp-auth: ACCESS_MODE=$ACCESS_MODE is neither keyless nor bastion" >&2
    exit 1
    ;;
esac
gcloud config set project "$GCP_PROJECT" --quiet
echo "export GOOGLE_APPLICATION_CREDENTIALS=\"$dir/credentials.json\"" >> "${BASH_ENV:-/dev/null}"
