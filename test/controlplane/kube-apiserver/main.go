// Command kube-apiserver is a test-only build of the upstream Kubernetes API
// server (k8s.io/kubernetes/cmd/kube-apiserver), used by the kgateway-admission
// integration/e2e test harness (scripts/control-plane.sh, test/support/).
// It is a verbatim copy of cmd/kube-apiserver/apiserver.go's main.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
