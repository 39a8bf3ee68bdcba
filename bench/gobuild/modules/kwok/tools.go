//go:build tools

// kwok simulates nodes and pods for keep-cd's test cluster (devcluster/): Deployments become
// Available without a container runtime.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
