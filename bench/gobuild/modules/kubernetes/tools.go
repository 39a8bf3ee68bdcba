//go:build tools

// The control-plane programs keep-cd's test cluster runs (devcluster/): built from this wrapper
// module so that k8s.io/kubernetes' staging modules resolve to their published versions (its own
// go.mod replaces them with local paths, which do not apply to a dependency).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
