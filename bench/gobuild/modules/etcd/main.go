// etcd for keep-cd's test cluster (devcluster/): the etcd program is the root module
// go.etcd.io/etcd/v3, whose go.mod replaces its own submodules with local paths; its main only
// calls etcdmain.Main, so this wrapper does the same against the published server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
