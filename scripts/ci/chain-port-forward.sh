#!/usr/bin/env bash
# Makes the chain's JSON-RPC reachable at the deployer's URL (keep-cd:rpcUrl, e.g.
# http://127.0.0.1:8545) by port-forwarding to the chain's Service in the cluster.  The clients
# keep using their in-cluster URLs (fleet config); only the deployer goes through this tunnel.
#
# Needs: CHAIN_NAMESPACE, CHAIN_SERVICE, CHAIN_PORT, DEPLOYER_RPC_URL, DEPLOYER_RPC_PORT
# (bench/ci/stack_env.py) and a kubeconfig (cluster-connect.sh).  Leaves kubectl running in the
# background for the rest of the job; its pid is in build/ci/port-forward.pid.
set -euo pipefail
: "${CHAIN_SERVICE:?the stack has no access.chainService: nothing to port-forward}"
mkdir -p build/ci
kubectl --namespace "$CHAIN_NAMESPACE" port-forward "service/$CHAIN_SERVICE" \
  "$DEPLOYER_RPC_PORT:$CHAIN_PORT" --address 127.0.0.1 > build/ci/port-forward.log 2>&1 &
echo $! > build/ci/port-forward.pid
for _ in $(seq 1 60); do
  if .venv/bin/python -c 'import sys; from bench.chains.anvil import is_up; sys.exit(0 if is_up(sys.argv[1]) else 1)' "$DEPLOYER_RPC_URL"; then
    echo "chain RPC answers at $DEPLOYER_RPC_URL (port-forward to $CHAIN_NAMESPACE/$CHAIN_SERVICE:$CHAIN_PORT)"
    exit 0
  fi
  if ! kill -0 "$(cat build/ci/port-forward.pid)" 2>/dev/null; then
    echo "chain-port-forward: kubectl port-forward exited:" >&2
    cat build/ci/port-forward.log >&2
    exit 1
  fi
  sleep 1
done
echo "chain-port-forward: $DEPLOYER_RPC_URL did not answer eth_chainId within 60 s" >&2
exit 1
