//go:build tools

// The wrapper module pins keep-core v1.3.1 and everything it needs (go.mod, go.sum); gobuild
// builds github.com/keep-network/keep-core (the keep-client's main package) from within it.
package tools

import _ "github.com/keep-network/keep-core"
