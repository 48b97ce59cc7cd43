// Test-only module: never built. It pins the CRD sources the chart test
// installs next to the control plane's (cert-manager for certificates.mode
// certManager, prometheus-operator for the ServiceMonitor), read from the Go
// module cache after `go mod download -json`, like test/controlplane/crds.
module kgateway-admission/test/chart/crds

go 1.26.0

require (
	github.com/cert-manager/cert-manager v1.21.2
	github.com/prometheus-operator/prometheus-operator v0.85.0
)
