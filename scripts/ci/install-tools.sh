#!/usr/bin/env bash
# Installs, the ordinary way, the tools a CI job runs, at the versions `python3 -m bench.ci.versions`
# reads from their one home (requirements.txt for the Pulumi CLI and its Kubernetes plugin,
# bench/gobuild/targets.py for Go), and puts them on PATH through $BASH_ENV (CircleCI sources it
# before every step).
#   scripts/ci/install-tools.sh TOOL...    TOOL: python go pulumi gcloud bwrap
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(python3 -m bench.ci.versions)"
tools="$HOME/tools"
mkdir -p "$tools"
bash_env="${BASH_ENV:-/dev/null}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

install_python() {  # machine images carry pyenv; the Docker images are already the right Python
  if python3 -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$PYTHON_VERSION' else 1)"; then return; fi
  pyenv install --skip-existing "$PYTHON_VERSION"
  pyenv global "$PYTHON_VERSION"
}

install_go() {
  if [ ! -x "$tools/go/bin/go" ] || ! "$tools/go/bin/go" version | grep -q "go$GO_VERSION "; then
    rm -rf "$tools/go"
    curl -fsSL "https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz" | tar -xz -C "$tools"
  fi
  export PATH="$tools/go/bin:$PATH"
  echo "export PATH=\"$tools/go/bin:\$PATH\"" >> "$bash_env"
}

install_pulumi() {  # the CLI with its language hosts, then the one resource plugin the program uses
  if ! "$HOME/.pulumi/bin/pulumi" version 2>/dev/null | grep -qx "v$PULUMI_VERSION"; then
    curl -fsSL https://get.pulumi.com | sh -s -- --version "$PULUMI_VERSION" --no-edit-path
  fi
  export PATH="$HOME/.pulumi/bin:$PATH"
  echo "export PATH=\"\$HOME/.pulumi/bin:\$PATH\"" >> "$bash_env"
  pulumi plugin install resource kubernetes "v$PULUMI_KUBERNETES_VERSION"
}

install_gcloud() {  # with kubectl and the GKE auth plugin
  if [ ! -x "$tools/google-cloud-sdk/bin/gcloud" ] || ! grep -qx "$GCLOUD_VERSION" "$tools/google-cloud-sdk/VERSION"; then
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/gcloud.tgz" \
      "https://dl.google.com/dl/cloudsdk/channels/rapid/downloads/google-cloud-cli-${GCLOUD_VERSION}-linux-x86_64.tar.gz"
    rm -rf "$tools/google-cloud-sdk"
    tar -xzf "$tmp/gcloud.tgz" -C "$tools"
    rm -rf "$tmp"
    "$tools/google-cloud-sdk/install.sh" --quiet --usage-reporting=false --path-update=false --command-completion=false
    "$tools/google-cloud-sdk/bin/gcloud" components install gke-gcloud-auth-plugin kubectl --quiet
  fi
  echo "export PATH=\"$tools/google-cloud-sdk/bin:\$PATH\"" >> "$bash_env"
  echo "export USE_GKE_GCLOUD_AUTH_PLUGIN=True" >> "$bash_env"
}

install_bwrap() {  # the fleet runner's sandbox (bench/fleet/sandbox.py); needs user namespaces: a machine executor
  command -v bwrap >/dev/null 2>&1 && return
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends bubblewrap
}

for tool in "$@"; do
  case "$tool" in
    python|go|pulumi|gcloud|bwrap) "install_$tool" ;;
    *) echo "install-tools: unknown tool '$tool' (expected: python go pulumi gcloud bwrap)" >&2; exit 2 ;;
  esac
done
