// Command pause holds a pod's namespaces open until the kubelet stops the pod,
// like registry.k8s.io/pause: it sleeps until SIGTERM or SIGINT and exits 0.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
