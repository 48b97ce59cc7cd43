#!/usr/bin/env bash
# Builds (or reuses) promtool from the Prometheus Go module, for the test that
# runs `promtool check rules` and `promtool test rules` on the chart's
# PrometheusRule (test/e2e/chart-monitoring.e2e.test.ts).
#
#   bash scripts/promtool.sh build   # build into the tools folder, print nothing else on stdout
#   bash scripts/promtool.sh path    # print the binary's path (built or not)
#
# Like scripts/control-plane.sh: ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin,
# with the version in the file name, so a version bump rebuilds and anything else reuses.
set -euo pipefail

# Prometheus v3.x is published to the Go module proxy as v0.3xx.y (v0.316.0 is 3.16.0).
PROMETHEUS_VERSION="v0.316.0"
. "$(dirname "$0")/lib/go-tool.sh"
PROMTOOL_BIN="$BIN_DIR/promtool-$PROMETHEUS_VERSION"

cmd_build() {
  go_tool_build promtool "$PROMTOOL_BIN" "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
}

case "${1:-}" in
  build) cmd_build ;;
  path) printf '%s\n' "$PROMTOOL_BIN" ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
