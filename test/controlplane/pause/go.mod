// Test-only module: the pod sandbox ("pause") image's one program, for the
// kind node image of scripts/kind.sh (no registry serves registry.k8s.io/pause).
module kgateway-admission/test/controlplane/pause

go 1.26.0
