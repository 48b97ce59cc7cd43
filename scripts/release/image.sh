#!/usr/bin/env bash
# Builds the image from the Dockerfile and pushes it as
# REGISTRY/kgateway-admission:VERSION; writes the pushed reference with its
# digest to $RELEASE_DIR/image.ref (chart.sh pins it, sign.sh signs it).
#
#   bash scripts/release/image.sh REGISTRY VERSION [PLATFORMS]
#   bash scripts/release/image.sh ghcr.io/OWNER v0.1.0 linux/amd64,linux/arm64   (the release workflow)
#   bash scripts/release/image.sh 127.0.0.1:5000 0.1.0                           (this machine's platform)
#
# PLATFORMS other than this machine's own: `docker buildx` (QEMU for the other
# architecture; the release workflow sets both up), one multi-platform
# manifest list. This machine's platform alone: `npm run image:build` (docker,
# else podman with local stand-in bases), then a push. A registry on loopback
# is spoken to over plain HTTP.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -ge 2 ] || die "usage: image.sh REGISTRY VERSION [PLATFORMS]"
registry="$(registry_arg "$1")"
version="$(version_arg "$2")"
case "$(uname -m)" in x86_64) native=linux/amd64 ;; aarch64|arm64) native=linux/arm64 ;; *) native="linux/$(uname -m)" ;; esac
platforms="${3:-$native}"
ref="$registry/$IMAGE_NAME:$version"
app="$(yaml_field "$CHART_DIR/Chart.yaml" appVersion)"
[ "$app" = "$version" ] || die "the chart's appVersion is $app, not $version (bash scripts/release/check-version.sh v$version)"
mkdir -p "$RELEASE_DIR"
digest=""

if [ "$platforms" != "$native" ]; then
  docker buildx version >/dev/null 2>&1 || die "building $platforms on $native needs docker buildx (with QEMU); none here"
  log "docker buildx build --platform $platforms --push -t $ref"
  meta="$(mktemp)"
  docker buildx build --platform "$platforms" --push --provenance=false -t "$ref" --metadata-file "$meta" "$ROOT" >&2
  digest="$(json_field "$meta" containerimage.digest)"
  rm -f "$meta"
else
  out="$(bash "$ROOT/scripts/image-build.sh")" || die "npm run image:build failed"
  printf '%s\n' "$out" >&2
  local_image="$(printf '%s\n' "$out" | sed -n 's/^image: //p')"
  [ -n "$local_image" ] || die "npm run image:build named no image"
  digest_file="$(mktemp)"
  if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
    docker tag "$local_image" "$ref"
    docker push "$ref" >&2
    docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" | sed -n "s|^$registry/$IMAGE_NAME@||p" | head -n1 >"$digest_file"
  else
    tls=()
    is_loopback "$registry" && tls=(--tls-verify=false)
    podman tag "$local_image" "$ref"
    podman push "${tls[@]}" --digestfile "$digest_file" "$ref" >&2
  fi
  digest="$(cat "$digest_file")"
  rm -f "$digest_file"
fi

[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "the push of $ref gave no digest (got '$digest')"
printf '%s@%s\n' "$ref" "$digest" >"$RELEASE_DIR/image.ref"
log "pushed $ref ($platforms) as $digest"
printf 'image: %s\ndigest: %s\n' "$ref" "$digest"
