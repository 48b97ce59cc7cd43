#!/usr/bin/env bash
# A kind cluster for the chart (npm run kind:up / kind:down), the harness of
# the e2e suites on kind (test/support/kindTarget.ts, npm run test:kind).
#
#   bash scripts/kind.sh up [--install | --no-image]   (npm run kind:up [-- --install])
#   bash scripts/kind.sh down             (npm run kind:down)
#   bash scripts/kind.sh build            (only the binaries and images; CI's build lane)
#   bash scripts/kind.sh registry ADDR    the node pulls ADDR/... (a registry on the host's
#                                         loopback, e.g. 127.0.0.1:5000); foreground, until killed
#
# Two paths, one command:
#   docker  where `docker info` answers: kind's published node image
#           (kindest/node:<Kubernetes version>, pulled from its registry).
#   podman  otherwise (no Docker, no registry; root): everything is built here,
#           from Go modules and Debian packages, and kept for the next run:
#           kind, kubeadm, kubectl and a CoreDNS (scripts/control-plane.sh
#           build-kind), the component images from the binaries the project
#           builds already (kube-proxy's on a Debian minbase with iptables), a
#           Debian bookworm base image with kind's own base files
#           (images/base/files of the kind module), and the node image. The
#           cluster runs on an --internal podman network whose bridge this
#           script makes first, with the gateway address: the node and its
#           pods have no default route, nothing can leave the machine.
#
# up creates the cluster (or reuses a running one of that name), writes its
# kubeconfig to .cluster/kind-<name>.kubeconfig (~/.kube/config is not
# touched), loads the image of `npm run image:build` (`kind load
# image-archive`; not with --no-image, for installing from a registry) and,
# with --install, installs the CRDs and the chart.
# registry ADDR: the node's own 127.0.0.1 is not the host's, and the node
# reaches the host only at its network's gateway: it writes a hosts.toml for
# ADDR into the node's containerd (config_path, set by up) and relays the
# gateway's port to ADDR until killed (then removes the hosts.toml).
# down deletes the cluster and whatever a killed run left: the node and build
# containers, the network and its bridge, /lib/modules when up created it,
# net.ipv4.ip_forward as it was before up, podman's CNI chains in iptables
# when up found none. Host sysctls are not changed: the
# base image carries no /usr/lib/sysctl.d files (the node's systemd would
# apply them to the host).
#
# Variables: KGA_KIND_CLUSTER (default kga-e2e), KGA_KIND_PROVIDER (docker |
# podman, default: docker when it answers), KGA_KIND_NODE_IMAGE (docker path:
# the node image). Facts and settings: /work/shared/brief/kind-podman.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Node 24 from node_modules when the machine's is older (as npm scripts have it).
export PATH="$ROOT/node_modules/.bin:$PATH"
CLUSTER="${KGA_KIND_CLUSTER:-kga-e2e}"
NODE_CONTAINER="$CLUSTER-control-plane"
TOOLS_DIR="${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}"
KIND_DIR="$TOOLS_DIR/kind"
# What up changed on the host, for down (survives a killed run).
STATE_DIR="${KGA_KIND_STATE_DIR:-/var/lib/kga-kind}"
CLUSTER_DIR="$ROOT/.cluster"
KUBECONFIG_OUT="$CLUSTER_DIR/kind-$CLUSTER.kubeconfig"
NETWORK=kga-kind
SUBNET=10.216.0.0/24
GATEWAY=10.216.0.1
POD_SUBNET=10.244.0.0/16
SERVICE_SUBNET=10.96.0.0/16
# Names kubeadm is told to use (imageRepository): images made here, never pulled.
IMAGE_REPO=localhost/kga
BUILD_CONTAINER_PREFIX=kga-kind-build
RELEASE=kgateway-admission
RELEASE_NS=kgateway-system

log() { printf '[kind] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
T0=$(date +%s)
elapsed() { printf '%ds' $(( $(date +%s) - T0 )); }

# ---- which engine ------------------------------------------------------------

provider() {
  case "${KGA_KIND_PROVIDER:-}" in
    docker|podman) printf '%s' "$KGA_KIND_PROVIDER"; return 0 ;;
    "") ;;
    *) die "KGA_KIND_PROVIDER must be docker or podman, not $KGA_KIND_PROVIDER" ;;
  esac
  if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then printf docker; else printf podman; fi
}

# ---- binaries ----------------------------------------------------------------

# Names and versions of the binaries (nothing is built for these).
binary_paths() {
  eval "$(bash "$ROOT/scripts/control-plane.sh" node-paths)"
  eval "$(bash "$ROOT/scripts/control-plane.sh" kind-paths)"
  KIND="$kind"
  ETCD_TAG="${ETCD_VERSION#v}-0"
}

binaries() { # [node]: also the node components, pause and CoreDNS (the podman path's node image)
  if [ "${1:-}" = node ]; then
    bash "$ROOT/scripts/control-plane.sh" build-node
    bash "$ROOT/scripts/control-plane.sh" build-kind
  else
    bash "$ROOT/scripts/control-plane.sh" build
    bash "$ROOT/scripts/control-plane.sh" build-kind --no-coredns
  fi
  binary_paths
}

# ---- host settings podman and kind need -----------------------------------------

ensure_podman_tools() {
  [ "$(id -u)" -eq 0 ] || die "the podman path needs root (rootful podman, a bridge, debootstrap). Run it as root (sudo -E npm run kind:up), or use Docker"
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]} from Debian's packages ..."
    apt-get update -qq
    # runc, not crun alone: crun fails on a hybrid cgroup layout.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# kind's `podman run` passes no --ulimit and this host refuses podman's default
# rlimits; crun fails on a hybrid cgroup layout. A user's own CONTAINERS_CONF wins.
containers_conf() {
  mkdir -p "$KIND_DIR"
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    cat >"$KIND_DIR/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]
[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF="$KIND_DIR/containers.conf"
  fi
}

# net.ipv4.ip_forward as found before the first up (kept across killed runs).
save_ip_forward() {
  mkdir -p "$STATE_DIR"
  [ -f "$STATE_DIR/ip_forward" ] || cat /proc/sys/net/ipv4/ip_forward >"$STATE_DIR/ip_forward"
}

restore_ip_forward() {
  [ -f "$STATE_DIR/ip_forward" ] || return 0
  local want
  want="$(cat "$STATE_DIR/ip_forward")"
  if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$want" ]; then
    sysctl -qw "net.ipv4.ip_forward=$want"
    log "net.ipv4.ip_forward back to $want"
  fi
}

# podman's CNI plugins (firewall, portmap) add chains and jumps to the host's
# iptables the first time a container joins a CNI network; down removes them
# again when up found none (and no other podman container runs).
note_cni_chains() {
  mkdir -p "$STATE_DIR"
  [ -f "$STATE_DIR/cni-chains" ] && return 0
  if iptables-save 2>/dev/null | grep -q '^:CNI-'; then echo present >"$STATE_DIR/cni-chains"; else echo absent >"$STATE_DIR/cni-chains"; fi
}

remove_cni_chains() {
  [ "$(cat "$STATE_DIR/cni-chains" 2>/dev/null)" = absent ] || return 0
  if [ -n "$(podman ps -q 2>/dev/null)" ]; then
    log "other podman containers run: leaving podman's CNI chains in iptables"
    return 0
  fi
  local table chain
  iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null || true
  iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
  iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
  iptables -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ 2>/dev/null || true
  for table in filter nat; do
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ { print $2 }'); do iptables -t "$table" -F "$chain"; done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ { print $2 }'); do iptables -t "$table" -X "$chain" 2>/dev/null || log "warning: could not delete iptables chain $chain ($table)"; done
  done
  log "removed podman's CNI chains from iptables (there were none before up)"
}

# kind mounts /lib/modules read-only into the node.
ensure_lib_modules() {
  mkdir -p "$STATE_DIR"
  if [ ! -e /lib/modules ]; then
    mkdir /lib/modules
    touch "$STATE_DIR/lib-modules-created"
    log "created an empty /lib/modules (kind mounts it); down removes it"
  fi
}

# The --internal network and its bridge, with the gateway address on the host
# side, before kind starts a container on it: the host then routes the subnet
# to the bridge (not out of its default route), and kind's published
# 127.0.0.1:<port> reaches the node through it (route_localnet).
ensure_network() {
  if ! podman network exists "$NETWORK"; then
    podman network create --internal --subnet "$SUBNET" --gateway "$GATEWAY" "$NETWORK" >/dev/null
    log "created podman network $NETWORK ($SUBNET, internal)"
  fi
  local bridge
  bridge="$(podman network inspect --format '{{.NetworkInterface}}' "$NETWORK")"
  [ -n "$bridge" ] || die "podman network $NETWORK names no bridge"
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  ip -4 addr show dev "$bridge" | grep -q "inet $GATEWAY/" || ip addr add "$GATEWAY/${SUBNET#*/}" dev "$bridge"
  ip link set "$bridge" up
  sysctl -qw "net.ipv4.conf.$bridge.route_localnet=1"
  ip route get "${GATEWAY%.*}.2" | grep -q "dev $bridge" || die "the host does not route $SUBNET to $bridge"
}

# ---- images (podman path) ---------------------------------------------------------

KIND_MODULE_DIR=""
kind_module_dir() {
  local go out
  go="$(command -v go || echo /usr/local/go/bin/go)"
  out="$(cd "$ROOT/test/controlplane/crds" && GOFLAGS=-mod=mod "$go" mod download -json "sigs.k8s.io/kind@$KIND_VERSION")" || die "go mod download sigs.k8s.io/kind@$KIND_VERSION failed"
  KIND_MODULE_DIR="$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
  [ -d "$KIND_MODULE_DIR/images/base/files" ] || die "no images/base/files in $KIND_MODULE_DIR"
}

apt_mirror() {
  local uri
  uri="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)"
  [ -n "$uri" ] || uri="$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
  [ -n "$uri" ] || die "no Debian mirror in apt's sources list"
  printf '%s' "$uri"
}

# debootstrap minbase of bookworm with <packages> into <dir>/rootfs (disk and network bound).
bootstrap() { # <dir> <comma-separated packages>
  local dir="$1" pkgs="$2" start
  start=$(date +%s)
  rm -rf "$dir" && mkdir -p "$dir"
  nice -n 10 debootstrap --variant=minbase --include="$pkgs" bookworm "$dir/rootfs" "$(apt_mirror)" >"$dir/debootstrap.log" 2>&1 \
    || { tail -n 20 "$dir/debootstrap.log" >&2; die "debootstrap into $dir failed"; }
  rm -rf "$dir/rootfs/var/cache/apt/archives/"*.deb "$dir/rootfs/var/lib/apt/lists/"* "$dir/rootfs/usr/share/doc" "$dir/rootfs/usr/share/man"
  log "debootstrap bookworm (+ ${pkgs//,/ }): $(( $(date +%s) - start ))s"
}

# What kind's base image installs (images/base/Dockerfile), from Debian: its
# own containerd, runc and CNI plugins instead of kind's builds.
NODE_PACKAGES=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins
PROXY_PACKAGES=iptables,nftables,conntrack,ipset

# The rootfs of the base image: Debian + kind's base files, as kind's
# Dockerfile arranges them, with the settings this host needs.
make_base_rootfs() { # <dir>
  local r="$1/rootfs" f="$KIND_MODULE_DIR/images/base/files"
  cp -a "$f/usr/local/bin/." "$r/usr/local/bin/"
  chmod 0755 "$r/usr/local/bin/"*
  mkdir -p "$r/kind" "$r/LICENSES"
  cp -a "$f/kind/." "$r/kind/"
  cp -a "$f/LICENSES/." "$r/LICENSES/"
  cp -a "$f/etc/." "$r/etc/"
  chmod -R u+w,go-w "$r/kind" "$r/etc/systemd" "$r/etc/containerd" "$r/etc/default" "$r/etc/sysctl.d"
  chmod 0755 "$r/kind" "$r/kind/bin" "$r/kind/bin/"*
  # Debian's containerd, runc and CNI plugins where kind's units and config look.
  ln -sf /usr/bin/containerd "$r/usr/local/bin/containerd"
  ln -sf /usr/bin/ctr "$r/usr/local/bin/ctr"
  ln -sf /usr/bin/containerd-shim-runc-v2 "$r/usr/local/bin/containerd-shim-runc-v2"
  mkdir -p "$r/opt/cni"
  rm -rf "$r/opt/cni/bin" && ln -s /usr/lib/cni "$r/opt/cni/bin"
  chroot "$r" sh -euc '
    ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" | jq "del(.process.rlimits)" >/etc/containerd/cri-base.json
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* /lib/systemd/system/local-fs.target.wants/* \
      /lib/systemd/system/sockets.target.wants/*udev* /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
    echo ReadKMsg=no >>/etc/systemd/journald.conf
    ln -sf /usr/lib/systemd/systemd /sbin/init
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
    systemctl mask systemd-binfmt.service >/dev/null 2>&1
    mkdir -p /etc/kubernetes/manifests
  '
  # The node's systemd-sysctl applies these to the host's kernel (fs.protected_*,
  # kernel.*: not per network namespace). kind's own /etc/sysctl.d files set
  # only net.* keys, which stay inside the node's namespace.
  rm -f "$r"/usr/lib/sysctl.d/*.conf "$r"/etc/sysctl.d/99-sysctl.conf
  grep -hv '^[[:space:]]*\(#\|$\)' "$r"/etc/sysctl.d/*.conf | grep -v '^net\.' && die "a non-network sysctl in the base image's /etc/sysctl.d" || true
  # containerd: no CAP_SYS_RESOURCE here (runc cannot set oom_score_adj -998);
  # the sandbox image is ours, never pulled.
  sed -i -e 's/^\([[:space:]]*\)restrict_oom_score_adj = false/\1restrict_oom_score_adj = true/' \
    -e "s|^\([[:space:]]*\)sandbox_image = .*|\1sandbox_image = \"$IMAGE_REPO/pause:kga1\"|" "$r/etc/containerd/config.toml"
  grep -q 'restrict_oom_score_adj = true' "$r/etc/containerd/config.toml" && grep -q "sandbox_image = \"$IMAGE_REPO/pause:kga1\"" "$r/etc/containerd/config.toml" \
    || die "kind's containerd config changed shape: restrict_oom_score_adj or sandbox_image not set"
  # CNI: one node, one bridge. No default route in the pods either: they
  # reach the pod range, the Services and the node's network, nothing else.
  mkdir -p "$r/etc/cni/net.d"
  cat >"$r/etc/cni/net.d/10-kga-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "kga-pods",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]],
               "routes": [{"dst": "$SERVICE_SUBNET"}, {"dst": "$SUBNET"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  # The node has no default route either: the API server (host network) must
  # still connect to ClusterIPs (webhooks) before kube-proxy's DNAT applies.
  # What kube-proxy has not translated (a Service with no endpoint yet, or
  # gone) is refused in the node rather than sent to eth0: nothing addressed to
  # the Service range ever leaves the node.
  cat >"$r/etc/systemd/system/kga-service-route.service" <<EOF
[Unit]
Description=Route the Service range to eth0 (the node has no default route); refuse what leaves for it untranslated
Before=kubelet.service
[Service]
Type=oneshot
ExecStart=/usr/sbin/ip route replace $SERVICE_SUBNET dev eth0
ExecStart=/usr/sbin/iptables -w -I OUTPUT -o eth0 -d $SERVICE_SUBNET -j REJECT --reject-with icmp-port-unreachable
ExecStart=/usr/sbin/iptables -w -I FORWARD -o eth0 -d $SERVICE_SUBNET -j REJECT --reject-with icmp-port-unreachable
RemainAfterExit=yes
[Install]
WantedBy=multi-user.target
EOF
  chroot "$r" systemctl enable kga-service-route.service >/dev/null 2>&1
}

# A docker-archive of one layer (<layer dir>'s contents) named <image>.
image_archive() { # <out> <image> <layer dir> <config JSON of the image>
  local out="$1" image="$2" dir="$3" config="$4" d diff cfg
  d="$(mktemp -d "$KIND_DIR/work/archive.XXXXXX")"
  tar -C "$dir" --owner=0 --group=0 -cf "$d/layer.tar" .
  diff="$(sha256sum "$d/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$config" "$diff" >"$d/config.json"
  cfg="$(sha256sum "$d/config.json" | cut -d' ' -f1)"
  mv "$d/config.json" "$d/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg" "$image" >"$d/manifest.json"
  tar -C "$d" -cf "$out" manifest.json "$cfg.json" layer.tar
  rm -rf "$d"
}

PATH_ENV='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'

# The images kubeadm runs, from the binaries built here, under the names
# `kubeadm config images list --image-repository $IMAGE_REPO` gives (etcd: ours,
# by its own version), as archives for the node's containerd.
component_archives() { # <out dir> <kube-proxy rootfs>
  local out="$1" proxy_rootfs="$2" d name
  mkdir -p "$out"
  for name in kube-apiserver kube-controller-manager kube-scheduler; do
    d="$(mktemp -d "$KIND_DIR/work/layer.XXXXXX")"
    install -D -m 0755 "$BIN_DIR/$name-$KUBE_VERSION" "$d/usr/local/bin/$name"
    mkdir -m 1777 "$d/tmp"
    image_archive "$out/$name.tar" "$IMAGE_REPO/$name:$KUBE_VERSION" "$d" "{$PATH_ENV}"
    rm -rf "$d"
  done
  d="$(mktemp -d "$KIND_DIR/work/layer.XXXXXX")"
  install -D -m 0755 "$etcd" "$d/usr/local/bin/etcd"
  mkdir -m 1777 "$d/tmp"
  image_archive "$out/etcd.tar" "$IMAGE_REPO/etcd:$ETCD_TAG" "$d" "{$PATH_ENV}"
  rm -rf "$d"
  d="$(mktemp -d "$KIND_DIR/work/layer.XXXXXX")"
  install -D -m 0755 "$coredns" "$d/coredns"
  image_archive "$out/coredns.tar" "$IMAGE_REPO/coredns:$COREDNS_VERSION" "$d" '{"Entrypoint":["/coredns"],"ExposedPorts":{"53/tcp":{},"53/udp":{},"9153/tcp":{}}}'
  rm -rf "$d"
  d="$(mktemp -d "$KIND_DIR/work/layer.XXXXXX")"
  install -D -m 0755 "$pause" "$d/pause"
  image_archive "$out/pause.tar" "$IMAGE_REPO/pause:kga1" "$d" '{"Entrypoint":["/pause"],"User":"65535:65535"}'
  rm -rf "$d"
  # kube-proxy programs iptables: its image is a Debian minbase with them.
  install -D -m 0755 "$kube_proxy" "$proxy_rootfs/usr/local/bin/kube-proxy"
  image_archive "$out/kube-proxy.tar" "$IMAGE_REPO/kube-proxy:$KUBE_VERSION" "$proxy_rootfs" "{$PATH_ENV}"
}

# The images are keyed by what goes into them: the functions that make them
# and the versions of their inputs. A change to either makes new ones.
BASE_IMAGE=""
PROXY_ROOTFS=""
NODE_IMAGE=""
rootfs_keys() {
  local key
  key="$( { declare -f bootstrap make_base_rootfs; echo "$NODE_PACKAGES $KIND_VERSION $SUBNET $SERVICE_SUBNET $IMAGE_REPO"; } | sha256sum | cut -c1-12)"
  BASE_IMAGE="localhost/kga-kind-base:bookworm-$key"
  key="$( { declare -f bootstrap; echo "$PROXY_PACKAGES"; } | sha256sum | cut -c1-12)"
  PROXY_ROOTFS="$KIND_DIR/kube-proxy-rootfs-bookworm-$key.tar"
}

node_key() {
  local key
  key="$( { declare -f component_archives image_archive make_node_image; echo "$BASE_IMAGE $PROXY_ROOTFS $KUBE_VERSION $ETCD_VERSION $COREDNS_VERSION"; \
    for f in "$kubelet" "$kubeadm" "$kubectl" "$etcd" "$coredns" "$pause" "$kube_proxy" "$kube_apiserver" "$kube_controller_manager" "$kube_scheduler"; do stat -c '%n %s %Y' "$f"; done; } | sha256sum | cut -c1-12)"
  NODE_IMAGE="localhost/kga-kind-node:$KUBE_VERSION-$key"
}

# kind's node: the base image plus kubeadm, kubelet, kubectl and the component
# images imported into its containerd (what `kind build node-image` does, which
# needs a registry), committed with kind's entrypoint.
make_node_image() { # <archives dir>
  local archives="$1" build="$BUILD_CONTAINER_PREFIX-$$" a i
  podman run -d --name "$build" --network none --privileged --entrypoint sleep "$BASE_IMAGE" infinity >/dev/null
  podman cp "$kubeadm" "$build:/usr/bin/kubeadm"
  podman cp "$kubelet" "$build:/usr/bin/kubelet"
  podman cp "$kubectl" "$build:/usr/bin/kubectl"
  podman exec "$build" sh -euc "chmod 0755 /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl; echo $KUBE_VERSION >/kind/version"
  podman exec -d "$build" sh -c 'containerd >/var/log/containerd-build.log 2>&1' >/dev/null
  for i in $(seq 1 100); do podman exec "$build" ctr version >/dev/null 2>&1 && break; sleep 0.3; done
  podman exec "$build" ctr version >/dev/null 2>&1 || { podman exec "$build" tail -n 20 /var/log/containerd-build.log >&2 || true; die "containerd did not start in the build container"; }
  for a in "$archives"/*.tar; do
    podman exec -i "$build" ctr -n k8s.io images import --all-platforms --no-unpack --digests - <"$a" >/dev/null \
      || die "importing $(basename "$a") into the node's containerd failed"
  done
  podman exec "$build" sh -c 'pkill -x containerd; for i in $(seq 50); do pgrep -x containerd >/dev/null || exit 0; sleep 0.1; done; exit 1' \
    || die "containerd did not stop in the build container"
  podman exec "$build" rm -rf /var/log/containerd-build.log /run/containerd
  podman commit -q \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
    --change 'STOPSIGNAL SIGRTMIN+3' --change 'ENV container=docker' \
    "$build" "$NODE_IMAGE" >/dev/null
  podman rm -f -t 0 "$build" >/dev/null
}

make_base_image() {
  local work start
  start=$(date +%s)
  work="$(mktemp -d "$KIND_DIR/work/base.XXXXXX")"
  WORK_DIRS+=("$work")
  kind_module_dir
  log "base image $BASE_IMAGE: debootstrap bookworm + kind's base files ..."
  bootstrap "$work" "$NODE_PACKAGES"
  make_base_rootfs "$work"
  tar -C "$work/rootfs" -c . | podman import -q \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' --change 'ENV container=docker' \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$work"
  log "base image $BASE_IMAGE made in $(( $(date +%s) - start ))s"
}

make_proxy_rootfs() {
  local work
  work="$(mktemp -d "$KIND_DIR/work/proxy.XXXXXX")"
  WORK_DIRS+=("$work")
  bootstrap "$work" "$PROXY_PACKAGES"
  tar -C "$work/rootfs" -cf "$PROXY_ROOTFS.tmp" . && mv "$PROXY_ROOTFS.tmp" "$PROXY_ROOTFS"
  rm -rf "$work"
}

# The Debian parts (base image, kube-proxy's rootfs): they wait on the mirror
# and the disk, so they run beside the Go builds (and each other).
ROOTFS_PID=""
start_rootfs_builds() {
  # Work dirs a killed run left (runs are serialised by the caller's lock).
  rm -rf "$KIND_DIR/work"
  mkdir -p "$KIND_DIR/work"
  binary_paths
  rootfs_keys
  (
    pids=()
    podman image exists "$BASE_IMAGE" || { make_base_image & pids+=($!); }
    [ -f "$PROXY_ROOTFS" ] || { make_proxy_rootfs & pids+=($!); }
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    exit "$rc"
  ) &
  ROOTFS_PID=$!
}

build_images() {
  wait "$ROOTFS_PID" || die "the base image or kube-proxy's rootfs could not be made"
  node_key
  if podman image exists "$NODE_IMAGE"; then log "node image $NODE_IMAGE: present"; return 0; fi
  local start work
  start=$(date +%s)
  work="$(mktemp -d "$KIND_DIR/work/node.XXXXXX")"
  WORK_DIRS+=("$work")
  mkdir -p "$work/proxy"
  tar -C "$work/proxy" -xf "$PROXY_ROOTFS"
  component_archives "$work/images" "$work/proxy"
  rm -rf "$work/proxy"
  make_node_image "$work/images"
  rm -rf "$work"
  log "node image $NODE_IMAGE made in $(( $(date +%s) - start ))s"
  # Older node and base images of ours: superseded.
  podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/kga-kind-(node|base):' \
    | grep -vxF -e "$NODE_IMAGE" -e "$BASE_IMAGE" | xargs -r podman rmi >/dev/null 2>&1 || true
  find "$KIND_DIR" -maxdepth 1 -name 'kube-proxy-rootfs-*.tar' ! -path "$PROXY_ROOTFS" -delete
}

ETCD_TAG=""

# ---- the cluster -------------------------------------------------------------------

# containerd reads one hosts.toml per registry (kind.sh registry writes them), at each pull.
containerd_registry_patch() {
  cat <<'EOF'
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
EOF
}

kubelet_patch() {
  # syncFrequency: the kubelet brings a changed Secret into its pods' volumes
  # on its next pod sync, every minute by default; a certificate rotation then
  # takes 60-90 s to reach the pods. A dev cluster shows it in 10-20 s.
  cat <<'EOF'
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  syncFrequency: 10s
EOF
}

kind_config() { # <file>
  cat >"$1" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  # The node image carries a static bridge conflist (one node needs no more).
  disableDefaultCNI: true
  podSubnet: $POD_SUBNET
  serviceSubnet: $SERVICE_SUBNET
$(containerd_registry_patch)
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  imageRepository: $IMAGE_REPO
  etcd:
    local:
      imageTag: $ETCD_TAG
- |
  kind: KubeletConfiguration
  # v1.36 refuses cgroup v1 by default; Debian 12 hosts may be hybrid.
  failCgroupV1: false
  # As kubelet_patch.
  syncFrequency: 10s
EOF
}

kind_env() { # <command...>: kind with the provider and network of this path
  if [ "$PROVIDER" = podman ]; then
    KIND_EXPERIMENTAL_PROVIDER=podman KIND_EXPERIMENTAL_PODMAN_NETWORK="$NETWORK" "$@"
  else
    "$@"
  fi
}

node_running() {
  [ "$PROVIDER" = podman ] || { kind_env "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; return; }
  [ "$(podman inspect --format '{{.State.Running}}' "$NODE_CONTAINER" 2>/dev/null)" = true ]
}

# The node must have no default route (nothing leaves the machine); checked, not assumed.
check_node_routes() {
  local routes
  routes="$(podman exec "$NODE_CONTAINER" ip -4 route)"
  if grep -q '^default' <<<"$routes"; then
    die "the node $NODE_CONTAINER has a default route ($(grep '^default' <<<"$routes")); deleting nothing, but do not use it: npm run kind:down"
  fi
  log "node routes (no default): $(tr '\n' ';' <<<"$routes")"
  podman exec "$NODE_CONTAINER" iptables -w -C OUTPUT -o eth0 -d "$SERVICE_SUBNET" -j REJECT --reject-with icmp-port-unreachable \
    || die "the node $NODE_CONTAINER does not refuse untranslated Service traffic on eth0 (kga-service-route.service): npm run kind:down"
}

create_cluster() {
  mkdir -p "$CLUSTER_DIR"
  local config
  config="$(mktemp "${TMPDIR:-/tmp}/kga-kind-config.XXXXXX")"
  WORK_DIRS+=("$config")
  if [ "$PROVIDER" = podman ]; then
    kind_config "$config"
    kind_env "$KIND" create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --config "$config" \
      --kubeconfig "$KUBECONFIG_OUT" --wait 180s
  else
    { printf 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n'; containerd_registry_patch; kubelet_patch; } >"$config"
    "$KIND" create cluster --name "$CLUSTER" --image "${KGA_KIND_NODE_IMAGE:-kindest/node:$KUBE_VERSION}" --config "$config" \
      --kubeconfig "$KUBECONFIG_OUT" --wait 180s
  fi
}

load_image() {
  local built archive
  log "building the image (npm run image:build) ..."
  built="$(bash "$ROOT/scripts/image-build.sh")" || die "npm run image:build failed"
  archive="$(sed -n 's/^archive: //p' <<<"$built" | tail -n1)"
  [ -f "$archive" ] || die "npm run image:build printed no archive"
  kind_env "$KIND" load image-archive "$archive" --name "$CLUSTER"
  log "loaded $archive ($(elapsed))"
}

install_chart() {
  local app_version
  app_version="$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' "$ROOT/charts/kgateway-admission/Chart.yaml")"
  # CRDs (Gateway API, kgateway): the chart's webhooks name their kinds.
  (cd "$ROOT" && node --input-type=module -e '
    const { controlPlanePaths, installCrds } = await import("./harness/index.ts");
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromFile(process.argv[1]);
    await installCrds(kc, (await controlPlanePaths()).crdDirs);
  ' "$KUBECONFIG_OUT") || die "installing the CRDs failed"
  "$helm" --kubeconfig "$KUBECONFIG_OUT" upgrade --install "$RELEASE" "$ROOT/charts/kgateway-admission" \
    --namespace "$RELEASE_NS" --create-namespace \
    --set image.repository=kgateway-admission --set "image.tag=$app_version" --set image.pullPolicy=Never \
    --wait --timeout 5m >&2 || die "helm install did not get the chart's pods Ready (kubectl --kubeconfig $KUBECONFIG_OUT -n $RELEASE_NS get pods)"
  # helm --wait ends when the pods are Ready; the API server reaches them once
  # kube-proxy has programmed the new Service: until then a matched write fails.
  (cd "$ROOT" && node --input-type=module -e '
    const { waitForWebhooksReached } = await import("./harness/index.ts");
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromFile(process.argv[1]);
    const ms = await waitForWebhooksReached(kc);
    console.error(`[kind] the API server reached the webhooks through their Service ${ms} ms after helm --wait`);
  ' "$KUBECONFIG_OUT") || die "the API server does not reach the chart's webhooks (kubectl --kubeconfig $KUBECONFIG_OUT -n $RELEASE_NS get endpointslices)"
  log "chart installed with kgateway-admission:$app_version ($(elapsed))"
}

# ---- clearing what a (killed) run left ------------------------------------------

clear_podman() {
  local c bridge
  # The node (kind labels it) and our build containers.
  for c in $(podman ps -a --format '{{.Names}}' --filter "label=io.x-k8s.kind.cluster=$CLUSTER" 2>/dev/null) \
           $(podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^$BUILD_CONTAINER_PREFIX-" || true); do
    podman rm -f -t 5 "$c" >/dev/null 2>&1 && log "removed container $c"
  done
  if podman network exists "$NETWORK" 2>/dev/null; then
    bridge="$(podman network inspect --format '{{.NetworkInterface}}' "$NETWORK")"
    podman network rm -f "$NETWORK" >/dev/null && log "removed podman network $NETWORK"
    if [ -n "$bridge" ] && ip link show "$bridge" >/dev/null 2>&1; then
      ip link del "$bridge" && log "removed bridge $bridge"
    fi
  fi
  rm -rf "/var/lib/cni/networks/$NETWORK"
}

clear_host() {
  if [ -f "$STATE_DIR/lib-modules-created" ]; then
    if [ -d /lib/modules ] && ! mountpoint -q /lib/modules; then
      rmdir /lib/modules 2>/dev/null && log "removed the empty /lib/modules up created" || log "warning: /lib/modules is not empty now; left in place"
    fi
    rm -f "$STATE_DIR/lib-modules-created"
  fi
  restore_ip_forward
  remove_cni_chains
  rm -f "$STATE_DIR/ip_forward" "$STATE_DIR/cni-chains"
  rmdir "$STATE_DIR" 2>/dev/null || true
}

cmd_down() {
  PROVIDER="$(provider)"
  if [ "$PROVIDER" = docker ]; then
    # The kind built by up, else one on PATH: deleting needs no build.
    local kind_bin
    kind_bin="$(bash "$ROOT/scripts/control-plane.sh" kind-paths 2>/dev/null | sed -n 's/^kind=//p')"
    [ -x "$kind_bin" ] || kind_bin="$(command -v kind || true)"
    [ -n "$kind_bin" ] || die "no kind binary (npm run kind:up builds one)"
    "$kind_bin" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT"
  else
    [ "$(id -u)" -eq 0 ] || die "needs root (rootful podman, the bridge, /lib/modules, ip_forward)"
    containers_conf
    # kind delete first when kind is built (it also tidies its kubeconfig); then whatever is left.
    local k
    k="$(bash "$ROOT/scripts/control-plane.sh" kind-paths 2>/dev/null | sed -n 's/^kind=//p')"
    if [ -x "$k" ] && podman container exists "$NODE_CONTAINER" 2>/dev/null; then
      KIND_EXPERIMENTAL_PROVIDER=podman timeout 120 "$k" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_OUT" >&2 || log "warning: kind delete cluster failed; removing the node directly"
    fi
    clear_podman
    clear_host
  fi
  # The e2e-kind target's note that this run's cluster is up (test/support/kindTarget.ts).
  rm -f "$KUBECONFIG_OUT" "$CLUSTER_DIR/kind-$CLUSTER.ready"
  log "down in $(elapsed)"
}

cmd_build() {
  PROVIDER="$(provider)"
  if [ "$PROVIDER" = docker ]; then binaries; return 0; fi
  ensure_podman_tools
  containers_conf
  start_rootfs_builds
  binaries node
  build_images
}

cmd_up() {
  local install=0 image=1 a
  for a in "$@"; do
    case "$a" in
      --install) install=1 ;;
      --no-image) image=0 ;;
      *) die "unknown option $a (usage: kind.sh up [--install | --no-image])" ;;
    esac
  done
  [ "$install" -eq 0 ] || [ "$image" -eq 1 ] || die "--install needs the image: not with --no-image"
  PROVIDER="$(provider)"
  log "provider: $PROVIDER"
  local created=no
  # A cluster another checkout brought up is reused: its kubeconfig goes to this checkout's .cluster/.
  mkdir -p "$CLUSTER_DIR"
  if [ "$PROVIDER" = podman ]; then
    ensure_podman_tools
    containers_conf
    if node_running; then
      binaries node
      log "cluster $CLUSTER: running, reused"
    else
      start_rootfs_builds
      binaries node
      build_images
      clear_podman
      save_ip_forward
      note_cni_chains
      ensure_lib_modules
      modprobe br_netfilter 2>/dev/null || true
      ON_EXIT=up_failed
      ensure_network
      create_cluster
      created=yes
      restore_ip_forward
    fi
    check_node_routes
    kind_env "$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_OUT.tmp" && mv "$KUBECONFIG_OUT.tmp" "$KUBECONFIG_OUT"
  else
    binaries
    if node_running; then log "cluster $CLUSTER: running, reused"; else create_cluster; created=yes; fi
    "$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_OUT"
  fi
  chmod 600 "$KUBECONFIG_OUT"
  [ "$image" -eq 0 ] || load_image
  [ "$install" -eq 0 ] || install_chart
  [ "$PROVIDER" != podman ] || restore_ip_forward
  log "up in $(elapsed): kubectl --kubeconfig ${KUBECONFIG_OUT#"$PWD"/} get nodes,pods -A; npm run kind:down deletes it"
  printf 'KUBECONFIG=%s\nCLUSTER=%s\nPROVIDER=%s\nCREATED=%s\n' "$KUBECONFIG_OUT" "$CLUSTER" "$PROVIDER" "$created"
}

# ---- a registry on the host's loopback -------------------------------------------

# The node's 127.0.0.1 is its own, and it reaches the host only at its
# network's gateway: containerd is told (a hosts.toml for ADDR) to pull ADDR's
# images from <gateway>:PORT, where a relay passes them on to the host's ADDR.
# Plain HTTP: a loopback-only registry. Foreground; on SIGTERM or Ctrl-C the
# relay stops and the hosts.toml goes.
cmd_registry() { # <127.0.0.1:PORT | localhost:PORT>
  local addr="${1:-}" port engine gateway dir
  [[ "$addr" =~ ^(127\.0\.0\.1|localhost):([0-9]+)$ ]] || die "usage: kind.sh registry 127.0.0.1:PORT (a registry on the host's loopback)"
  port="${BASH_REMATCH[2]}"
  PROVIDER="$(provider)"
  engine="$PROVIDER"
  [ "$PROVIDER" = docker ] || { [ "$(id -u)" -eq 0 ] || die "needs root (rootful podman)"; containers_conf; }
  [ "$("$engine" inspect --format '{{.State.Running}}' "$NODE_CONTAINER" 2>/dev/null)" = true ] || die "the kind node $NODE_CONTAINER is not running: npm run kind:up first"
  "$engine" exec "$NODE_CONTAINER" grep -q 'config_path = "/etc/containerd/certs.d"' /etc/containerd/config.toml \
    || die "the node's containerd has no registry config_path (a cluster from an older kind.sh): npm run kind:down, then kind:up"
  # podman: the --internal network's gateway (the node has no default route); docker: the node's default gateway.
  if [ "$PROVIDER" = podman ]; then gateway="$GATEWAY"; else gateway="$("$engine" exec "$NODE_CONTAINER" ip -4 route show default | awk '{ print $3; exit }')"; fi
  [ -n "$gateway" ] || die "no gateway address from $NODE_CONTAINER to the host"
  dir="/etc/containerd/certs.d/$addr"
  "$engine" exec -i "$NODE_CONTAINER" sh -euc "mkdir -p '$dir' && cat >'$dir/hosts.toml'" <<HOSTS
# The host's $addr, through the relay on $gateway:$port (kind.sh registry; plain HTTP: a loopback-only registry).
server = "http://$addr"
[host."http://$gateway:$port"]
  capabilities = ["pull", "resolve"]
HOSTS
  local relay=""
  # shellcheck disable=SC2317 # called by the trap
  stop_registry_relay() {
    [ -z "$relay" ] || kill "$relay" 2>/dev/null || true
    "$engine" exec "$NODE_CONTAINER" rm -rf "$dir" 2>/dev/null || true
  }
  ON_EXIT=stop_registry_relay
  trap 'exit 0' TERM INT
  # The relay: Node's net module, in the host's network namespace.
  node -e '
    const net = require("node:net");
    const [listenHost, port, target] = process.argv.slice(1);
    const targetHost = target.slice(0, target.lastIndexOf(":"));
    net.createServer((client) => {
      const upstream = net.connect(Number(port), targetHost);
      client.pipe(upstream).pipe(client);
      const close = () => { client.destroy(); upstream.destroy(); };
      client.on("error", close);
      upstream.on("error", close);
    }).listen(Number(port), listenHost, () => console.error(`[kind] relay ${listenHost}:${port} -> ${target}`));
  ' "$gateway" "$port" "$addr" &
  relay=$!
  local i
  for i in $(seq 1 50); do (exec 3<>"/dev/tcp/$gateway/$port") 2>/dev/null && break; sleep 0.2; done
  (exec 3<>"/dev/tcp/$gateway/$port") 2>/dev/null || die "the relay on $gateway:$port did not start"
  log "the node pulls $addr/... through $gateway:$port ($NODE_CONTAINER:$dir/hosts.toml); stop with Ctrl-C"
  printf 'RELAY=%s:%s\nHOSTS_TOML=%s/hosts.toml\n' "$gateway" "$port" "$dir"
  wait "$relay"
}

WORK_DIRS=()
ON_EXIT=""
up_failed() { # <exit status>
  restore_ip_forward
  [ "$1" -eq 0 ] || log "kind:up failed (exit $1); npm run kind:down clears what it left"
}
on_exit() {
  local rc=$?
  [ -z "${ROOTFS_PID:-}" ] || kill "$ROOTFS_PID" 2>/dev/null || true
  rm -rf "${WORK_DIRS[@]}"
  [ -z "$ON_EXIT" ] || "$ON_EXIT" "$rc"
  exit "$rc"
}
trap on_exit EXIT
BIN_DIR="$TOOLS_DIR/bin"

# Sourced (for trying one step by hand): define the functions only.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  build) cmd_build ;;
  registry) shift; cmd_registry "$@" ;;
  *) echo "usage: $0 up [--install | --no-image] | down | build | registry 127.0.0.1:PORT" >&2; exit 2 ;;
esac
