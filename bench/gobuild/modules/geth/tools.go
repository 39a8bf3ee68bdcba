//go:build tools

// The wrapper module pins go-ethereum and everything it needs (go.mod, go.sum); gobuild builds
// github.com/ethereum/go-ethereum/cmd/geth from within it.
package tools

import _ "github.com/ethereum/go-ethereum/cmd/geth"
