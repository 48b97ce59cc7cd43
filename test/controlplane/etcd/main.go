// Command etcd is a test-only build of etcd (go.etcd.io/etcd/server/v3) for the
// kgateway-admission test control plane (scripts/control-plane.sh, test/support/).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
