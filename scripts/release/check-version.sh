#!/usr/bin/env bash
# The release tag, package.json's version and the chart's version and
# appVersion must all say the same: the image, the chart, the npm package and
# the binaries of a release carry one version.
#
#   bash scripts/release/check-version.sh v0.1.0
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

tag="${1:-}"
[ -n "$tag" ] || die "usage: check-version.sh TAG (e.g. v0.1.0)"
want="$(version_arg "$tag")"
pkg="$(json_field "$ROOT/package.json" version)"
chart="$(yaml_field "$CHART_DIR/Chart.yaml" version)"
app="$(yaml_field "$CHART_DIR/Chart.yaml" appVersion)"
bad=""
[ "$pkg" = "$want" ] || bad+=" package.json version is $pkg;"
[ "$chart" = "$want" ] || bad+=" Chart.yaml version is $chart;"
[ "$app" = "$want" ] || bad+=" Chart.yaml appVersion is $app;"
[ -z "$bad" ] || die "tag $tag wants version $want everywhere:$bad set them to $want and tag again"
log "version $want: package.json, Chart.yaml version and appVersion agree"
printf '%s\n' "$want"
