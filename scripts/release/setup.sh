#!/usr/bin/env bash
# Installs the build's dependencies exactly as locked (and builds dist/):
# what the other release scripts run with.
#
#   bash scripts/release/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
npm ci --no-audit --no-fund
