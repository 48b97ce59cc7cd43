# Build-or-reuse of a Go tool from its module, shared by scripts/promtool.sh,
# scripts/cosign.sh and scripts/registry.sh. Binaries land in
# ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin with the version in
# their file name, so a version bump rebuilds and anything else reuses (like
# scripts/control-plane.sh). Source it, then call go_tool_build.
TOOLS_DIR="${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}"
BIN_DIR="$TOOLS_DIR/bin"

# go_tool_build <name> <binary path> <package@version> [ldflags]
# `go install pkg@version` ignores the enclosing module (GOFLAGS=-mod=mod would
# be rejected), so it only works for modules without replace directives.
go_tool_build() {
  local name="$1" bin="$2" pkg="$3" ldflags="${4:--s -w}" go start gobin
  if [ -x "$bin" ]; then printf '[%s] reusing %s\n' "$name" "$bin" >&2; return 0; fi
  if command -v go >/dev/null 2>&1; then go="$(command -v go)"
  elif [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go
  else printf "[%s] error: Go not found (looked for 'go' on PATH and /usr/local/go/bin/go)\n" "$name" >&2; return 1; fi
  mkdir -p "$BIN_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$BIN_DIR/.$name-build.lock"
    flock 9
    if [ -x "$bin" ]; then printf '[%s] reusing %s\n' "$name" "$bin" >&2; return 0; fi
  fi
  printf '[%s] building %s (minutes on a small machine) ...\n' "$name" "$pkg" >&2
  start=$(date +%s)
  gobin="$(mktemp -d "$BIN_DIR/.$name-build.XXXXXX")"
  if ! GOFLAGS= GOBIN="$gobin" CGO_ENABLED=0 nice -n 19 "$go" install -trimpath -ldflags="$ldflags" "$pkg"; then
    rm -rf "$gobin"; printf '[%s] error: build failed\n' "$name" >&2; return 1
  fi
  mv -f "$gobin/$(basename "${pkg%@*}")" "$bin"
  rm -rf "$gobin"
  printf '[%s] built in %ss -> %s\n' "$name" "$(( $(date +%s) - start ))" "$bin" >&2
}
