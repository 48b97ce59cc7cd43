#!/usr/bin/env bash
# Signs what a release published, with cosign: keyless in the release workflow
# (its GitHub OIDC identity, certificate from Fulcio, entry in Rekor), or with
# a key pair where COSIGN_KEY names one (a machine with no OIDC identity; no
# transparency log then).
#
#   bash scripts/release/sign.sh dist/release/image.ref dist/release/chart.ref dist/release/kgateway-admission-linux-x64 ...
#
# A *.ref file (image.sh's and chart.sh's) holds a pushed reference with its
# digest: the signature goes to the registry beside it. Any other file is
# signed as a blob: FILE.sigstore.json beside it holds the signature and the
# certificate (`cosign verify-blob --bundle FILE.sigstore.json ...`).
# A reference without a digest is refused: a tag may move between push and signature.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -ge 1 ] || die "usage: sign.sh FILE... (*.ref: a pushed reference to sign; anything else: a file to sign as a blob)"
command -v cosign >/dev/null 2>&1 || die "cosign is not on PATH (the release workflow installs it with sigstore/cosign-installer)"
key=()
[ -n "${COSIGN_KEY:-}" ] && key=(--key "$COSIGN_KEY" --tlog-upload=false)

for file in "$@"; do
  [ -f "$file" ] || die "no such file: $file"
  case "$file" in
    *.sigstore.json|*.sha256) continue ;;
    *.ref)
      ref="$(head -n1 "$file")"
      ref="${ref#oci://}"
      [[ "$ref" =~ ^([^@]+)@(sha256:[0-9a-f]{64})$ ]] || die "$file holds no reference with a digest: '$ref'"
      name="${BASH_REMATCH[1]}" digest="${BASH_REMATCH[2]}"
      # name:tag@digest -> name@digest (the tag is after the last slash, a port before it).
      last="${name##*/}"
      [[ "$last" == *:* ]] && name="${name%:*}"
      insecure=()
      is_loopback "$name" && insecure=(--allow-insecure-registry --allow-http-registry)
      log "cosign sign $name@$digest"
      cosign sign --yes "${key[@]}" "${insecure[@]}" "$name@$digest" >&2
      ;;
    *)
      log "cosign sign-blob $file"
      cosign sign-blob --yes "${key[@]}" --bundle "$file.sigstore.json" "$file" >/dev/null
      ;;
  esac
done
log "signed $# artifacts"
