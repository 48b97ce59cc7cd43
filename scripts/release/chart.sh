#!/usr/bin/env bash
# Packages the chart at VERSION with its image set to the one image.sh pushed
# (REGISTRY/kgateway-admission, pinned by digest) and pushes it as an OCI
# artifact: oci://REGISTRY/charts/kgateway-admission:VERSION. Writes the
# pushed reference with its digest to $RELEASE_DIR/chart.ref.
#
#   bash scripts/release/chart.sh REGISTRY VERSION [IMAGE_DIGEST]
#
# IMAGE_DIGEST defaults to the digest in $RELEASE_DIR/image.ref (image.sh's);
# the packaged chart installs that exact image. A registry on loopback is
# spoken to over plain HTTP.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -ge 2 ] || die "usage: chart.sh REGISTRY VERSION [IMAGE_DIGEST]"
registry="$(registry_arg "$1")"
version="$(version_arg "$2")"
digest="${3:-}"
if [ -z "$digest" ] && [ -f "$RELEASE_DIR/image.ref" ]; then
  digest="$(sed -n "s|^$registry/$IMAGE_NAME:$version@||p" "$RELEASE_DIR/image.ref")"
  [ -n "$digest" ] || die "$RELEASE_DIR/image.ref is not $registry/$IMAGE_NAME:$version's: $(cat "$RELEASE_DIR/image.ref")"
fi
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "no image digest to pin (give it, or run image.sh first): '$digest'"
helm="$(find_helm)"
mkdir -p "$RELEASE_DIR"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -R "$CHART_DIR" "$work/kgateway-admission"
values="$work/kgateway-admission/values.yaml"
# The image block's repository and digest, and nothing else in values.yaml.
awk -v repo="$registry/$IMAGE_NAME" -v digest="$digest" '
  /^image:/ { in_image = 1; print; next }
  in_image && /^[^ #]/ { in_image = 0 }
  in_image && /^  repository:/ { print "  repository: " repo; seen_repo = 1; next }
  in_image && /^  digest:/ { print "  digest: \"" digest "\""; seen_digest = 1; next }
  { print }
  END { if (!seen_repo || !seen_digest) exit 3 }
' "$CHART_DIR/values.yaml" >"$values" || die "values.yaml has no image.repository and image.digest to set"

"$helm" package "$work/kgateway-admission" --version "$version" --app-version "$version" --destination "$work" >&2
package="$work/kgateway-admission-$version.tgz"
[ -f "$package" ] || die "helm package wrote no $package"
cp "$package" "$RELEASE_DIR/"
http=()
is_loopback "$registry" && http=(--plain-http)
pushed="$("$helm" push "$package" "oci://$registry/charts" "${http[@]}" 2>&1)" || { printf '%s\n' "$pushed" >&2; die "helm push failed"; }
printf '%s\n' "$pushed" >&2
chart_digest="$(printf '%s\n' "$pushed" | sed -n 's/^Digest: //p')"
[[ "$chart_digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "helm push printed no digest"
printf 'oci://%s/charts/%s:%s@%s\n' "$registry" "$IMAGE_NAME" "$version" "$chart_digest" >"$RELEASE_DIR/chart.ref"
log "pushed oci://$registry/charts/$IMAGE_NAME:$version as $chart_digest (image $registry/$IMAGE_NAME@$digest)"
printf 'chart: oci://%s/charts/%s\nversion: %s\ndigest: %s\n' "$registry" "$IMAGE_NAME" "$version" "$chart_digest"
