// Test-only module: never built. It pins the versions of the CRD sources the test
// control plane installs; scripts/control-plane.sh runs `go mod download -json` on
// these module versions and reads the CRD YAML straight from the module cache.
module kgateway-admission/test/controlplane/crds

go 1.26.0

require (
	github.com/openreports/reports-api v0.2.1
	github.com/kgateway-dev/kgateway/v2 v2.2.0
	sigs.k8s.io/gateway-api v1.5.1
)
