#!/usr/bin/env bash
# npm run chart:test: the Helm chart and image checks on their own.
#
# 1. builds (or reuses) helm v3, kube-apiserver and etcd from Go modules into
#    ${KGA_TOOLS_DIR:-~/.cache/kgateway-admission}/bin (scripts/control-plane.sh);
# 2. runs the chart tests (test/e2e/chart*.test.ts): helm lint and helm template
#    in each certificate mode, schema failures, server-side apply of every
#    rendered object to a real kube-apiserver, the server under the chart's
#    ServiceAccount token (RBAC: its watches allowed, nothing else), self-managed
#    certificates, and the Dockerfile's build steps replayed as plain commands.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/control-plane.sh build
exec vitest run --project e2e test/e2e/chart "$@"
