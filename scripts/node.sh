#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, without Docker or kind:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and
# kubelet (v1.36.3, built by scripts/control-plane.sh build-node), a private
# containerd with runc and the bridge CNI, all inside a network namespace made
# here with no default route: nothing can leave it. The host reaches the API
# server through a veth pair (host 10.213.0.1, node 10.213.0.2).
#
#   bash scripts/node.sh up [--install]   (npm run node:up [-- --install])
#   bash scripts/node.sh registry ADDR    the node pulls ADDR/... (a registry on the host's loopback, e.g. 127.0.0.1:5000)
#   bash scripts/node.sh down             (npm run node:down)
#
# --install also installs the CRDs (Gateway API, kgateway) and the chart with the
# image of `npm run image:build` (built first when its archive is missing).
# Needs root and network namespaces (ip netns); Debian's containerd, runc,
# containernetworking-plugins, iptables and iproute2 are installed when missing.
#
# A killed run leaves processes, the network namespace, mounts (overlay
# snapshots, kubelet volumes, pod network namespaces) behind; `up` clears them
# first and `down` is idempotent. Every iptables rule (kube-proxy's, kubelet's,
# the CNI's) lives inside the namespace and goes with it; the host's are not
# touched. Settings and timings measured on Debian 12: docs/real-cluster.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Node 24 from node_modules when the machine's is older (as npm scripts have it).
export PATH="$ROOT/node_modules/.bin:$PATH"
NETNS="${KGA_NODE_NETNS:-kga-node}"
BASE="${KGA_NODE_DIR:-/var/lib/kga-node}"
CLUSTER_DIR="$ROOT/.cluster"
KUBECONFIG_OUT="$CLUSTER_DIR/kubeconfig"
STATE_OUT="$CLUSTER_DIR/node.env"
NODE_NAME=kga-node
HOST_IF=kga-host
NODE_IF=kga-node0
HOST_IP=10.213.0.1
NODE_IP=10.213.0.2
POD_CIDR=10.214.0.0/24
SERVICE_CIDR=10.215.0.0/24
SERVICE_FIRST_IP=10.215.0.1
PAUSE_IMAGE=registry.k8s.io/pause:kga1
RELEASE=kgateway-admission
RELEASE_NS=kgateway-system

log() { printf '[node] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
ms() { date +%s%3N; }
T0=$(ms)
elapsed() { printf '%d.%ds' $(( ($(ms) - T0) / 1000 )) $(( ($(ms) - T0) % 1000 / 100 )); }

# ---- what the machine must have ---------------------------------------------

preflight() {
  [ "$(uname -s)" = Linux ] || die "needs Linux (network namespaces, cgroups); this is $(uname -s)"
  [ "$(id -u)" -eq 0 ] || die "needs root: it creates a network namespace, mounts (containerd snapshots, kubelet volumes) and runs kubelet and containerd. Run it as root (sudo -E npm run node:up)"
  [ -e /proc/self/ns/net ] || die "this kernel has no network namespaces (/proc/self/ns/net missing)"
  local missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]} from Debian's packages ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Probe: a namespace can be made here (some containers forbid it).
  local probe="kga-probe-$$"
  ip netns add "$probe" 2>/dev/null || die "cannot create a network namespace (ip netns add failed): this machine (or the container it runs in) does not allow it; node:up needs CAP_SYS_ADMIN and CAP_NET_ADMIN"
  ip netns del "$probe"
  # Bridged pod-to-Service traffic must pass iptables (kube-proxy's DNAT).
  modprobe br_netfilter 2>/dev/null || true
  modprobe overlay 2>/dev/null || true
}

# ---- clearing what a previous (possibly killed) run left ---------------------

# nsfs inode of a namespace file (bind mount), or nothing.
ns_inode() { stat -L -c %i "$1" 2>/dev/null || true; }

# PIDs whose network namespace is one of the given inodes.
pids_in_netns() { # <inode>...
  local want=" $* " p link ino
  for p in /proc/[0-9]*; do
    link="$(readlink "$p/ns/net" 2>/dev/null)" || continue
    ino="${link#net:[}"; ino="${ino%]}"
    [[ "$want" == *" $ino "* ]] && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

# Our network namespace and the pods' (containerd keeps those under its state dir).
our_netns_inodes() {
  local f
  ns_inode "/run/netns/$NETNS"
  if [ -d "$BASE/containerd/state" ]; then
    while IFS= read -r f; do ns_inode "$f"; done < <(awk -v b="$BASE/" '
      index($5, b) == 1 { split($0, halves, " - "); split(halves[2], fs, " "); if (fs[1] == "nsfs") print $5 }' /proc/self/mountinfo)
  fi
}

kill_ours() {
  local inodes pids p i
  inodes="$(our_netns_inodes | sort -u | tr '\n' ' ')"
  pids=""
  [ -n "${inodes// /}" ] && pids="$(pids_in_netns $inodes | tr '\n' ' ')"
  # Recorded PIDs too, in case one left the namespace (none should).
  if [ -f "$BASE/pids" ]; then
    while read -r p; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && pids+=" $p"; done <"$BASE/pids"
  fi
  pids="$(printf '%s\n' $pids | grep -v "^$$\$" | sort -un | tr '\n' ' ' || true)"
  [ -n "${pids// /}" ] || return 0
  log "stopping $(wc -w <<<"$pids") processes of the node"
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 1 30); do
    local alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
    [ -z "$alive" ] && return 0
    sleep 0.1
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  sleep 0.5
}

unmount_ours() {
  local m n=0
  # Deepest first; lazily when busy.
  while IFS= read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount $m"
    n=$((n + 1))
  done < <(awk -v b="$BASE/" 'index($5, b) == 1 { print length($5) " " $5 }' /proc/self/mountinfo | sort -rn | cut -d' ' -f2- | uniq)
  [ "$n" -eq 0 ] || log "unmounted $n mounts under $BASE"
}

# cgroups the kubelet and containerd made for pods (cgroupfs driver); empty once their processes ended.
remove_our_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/k8s.io /sys/fs/cgroup/*/kga-node /sys/fs/cgroup/kga-node; do
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# Files that containerd 1.6, libcni and the kubelet write to fixed host paths
# whatever their config says: shim sockets, CNI result caches, the device
# plugin socket. Removed only when no other containerd or kubelet runs here.
remove_fixed_path_files() {
  # The CNI results of our network (kga-pods, the conflist's name) are ours
  # alone, whatever else runs (a kind node's containerd is a containerd too).
  rm -f /var/lib/cni/results/kga-pods-* 2>/dev/null || true
  if ! pgrep -x containerd >/dev/null 2>&1 && ! pgrep -f '^containerd-shim' >/dev/null 2>&1; then
    rm -f /run/containerd/s/* 2>/dev/null || true
    rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    rm -f /var/lib/cni/results/cni-loopback-* 2>/dev/null || true
  fi
  if ! pgrep -x kubelet >/dev/null 2>&1 && ! pgrep -f '/kubelet-v' >/dev/null 2>&1; then
    rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint 2>/dev/null || true
    rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
  fi
}

clear_leftovers() {
  kill_ours
  remove_fixed_path_files
  unmount_ours
  if ip netns list 2>/dev/null | grep -q "^$NETNS\b"; then
    ip netns del "$NETNS" && log "deleted network namespace $NETNS"
  fi
  # Deleting the namespace removes the veth pair too, but the kernel does it a
  # moment later: the link can vanish between the look and the delete.
  if ip link show "$HOST_IF" >/dev/null 2>&1; then ip link del "$HOST_IF" 2>/dev/null || true; fi
  local i
  for i in $(seq 50); do ip link show "$HOST_IF" >/dev/null 2>&1 || break; sleep 0.1; done
  ! ip link show "$HOST_IF" >/dev/null 2>&1 || die "could not remove the host's veth $HOST_IF"
  remove_our_cgroups
  if awk -v b="$BASE/" 'index($5, b) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    die "mounts under $BASE remain after unmounting; not removing it"
  fi
  rm -rf "$BASE" "$STATE_OUT"
  [ -f "$KUBECONFIG_OUT" ] && grep -q "https://$NODE_IP:6443" "$KUBECONFIG_OUT" && rm -f "$KUBECONFIG_OUT"
  return 0
}

# ---- pieces ------------------------------------------------------------------

binaries() {
  bash "$ROOT/scripts/control-plane.sh" build-node
  eval "$(bash "$ROOT/scripts/control-plane.sh" node-paths)"
}

make_network() {
  ip netns add "$NETNS"
  ip link add "$HOST_IF" type veth peer name "$NODE_IF"
  ip link set "$NODE_IF" netns "$NETNS"
  ip addr add "$HOST_IP/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  inns ip link set lo up
  inns ip addr add "$NODE_IP/30" dev "$NODE_IF"
  inns ip link set "$NODE_IF" up
  # No default route. ClusterIPs need a route to exist before kube-proxy's DNAT
  # applies, else connect() fails with "network is unreachable".
  inns ip route add "$SERVICE_CIDR" dev "$NODE_IF"
  inns sysctl -qw net.ipv4.ip_forward=1
  inns sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "warning: br_netfilter is not loaded; pod-to-Service traffic on the bridge may miss kube-proxy's rules"
}

inns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

# Starts a component inside the namespace, detached, logging to $BASE/logs/<name>.log.
start() { # <name> <cmd...>
  local name="$1"; shift
  setsid nsenter --net="/run/netns/$NETNS" -- "$@" >"$BASE/logs/$name.log" 2>&1 </dev/null &
  echo "$!" >>"$BASE/pids"
}

wait_for() { # <what> <seconds> <cmd...>
  local what="$1" secs="$2"; shift 2
  local until=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || { log "$what: not ready after ${secs}s"; show_logs; die "$what did not come up"; }
    sleep 0.2
  done
}

show_logs() {
  local f
  for f in "$BASE"/logs/*.log; do
    [ -s "$f" ] || continue
    log "---- last lines of $f"
    tail -n 8 "$f" >&2
  done
}

PKI=""
cert() { # <name> <CN> <O or ""> [SAN]
  local name="$1" cn="$2" o="$3" san="${4:-}" subj="/CN=$2"
  [ -n "$o" ] && subj="/O=$o/CN=$cn"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  local ext="$PKI/$name.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth,serverAuth\n' >"$ext"
  [ -n "$san" ] && printf 'subjectAltName=%s\n' "$san" >>"$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
}

make_pki() {
  PKI="$BASE/pki"
  mkdir -p "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 30 \
    -subj "/CN=kga-node-ca" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  cert apiserver kube-apiserver "" \
    "IP:$NODE_IP,IP:127.0.0.1,IP:$SERVICE_FIRST_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin kga-admin system:masters
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert proxy system:kube-proxy ""   # bound to system:node-proxier by the default RBAC
  cert kubelet "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME,IP:$NODE_IP"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  chmod 600 "$PKI"/*.key
}

b64() { base64 -w0 <"$1"; }

kubeconfig() { # <file> <cert name>
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kga-node
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$2.crt")
    client-key-data: $(b64 "$PKI/$2.key")
contexts:
- name: kga-node
  context: {cluster: kga-node, user: $2}
current-context: kga-node
EOF
  chmod 600 "$1"
}

# A docker-archive holding the pause program as registry.k8s.io/pause:kga1.
pause_archive() { # <out>
  local d; d="$(mktemp -d)"
  mkdir -p "$d/rootfs"
  install -m 0755 "$pause" "$d/rootfs/pause"
  tar -C "$d/rootfs" --owner=0 --group=0 -cf "$d/layer.tar" pause
  local diff; diff="$(sha256sum "$d/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$d/config.json"
  local cfg; cfg="$(sha256sum "$d/config.json" | cut -d' ' -f1)"
  mv "$d/config.json" "$d/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg" "$PAUSE_IMAGE" >"$d/manifest.json"
  tar -C "$d" -cf "$1" manifest.json "$cfg.json" layer.tar
  rm -rf "$d"
}

start_containerd() {
  mkdir -p "$BASE/containerd" "$BASE/cni/net.d" "$BASE/cni/ipam"
  cat >"$BASE/cni/net.d/10-kga-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "kga-pods",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$BASE/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$BASE/containerd/config.toml" <<EOF
version = 2
root = "$BASE/containerd/root"
state = "$BASE/containerd/state"
[grpc]
  address = "$BASE/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$BASE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # runc cannot write oom_score_adj -998 without CAP_SYS_RESOURCE: every sandbox
  # would fail with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, so cleanup finds them.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$BASE/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$BASE/cni/net.d"
  # One hosts.toml per registry (node.sh registry ADDR writes them), read at each pull.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$BASE/containerd/certs.d"
EOF
  start containerd containerd --config "$BASE/containerd/config.toml"
  wait_for containerd 30 ctr --address "$BASE/containerd.sock" version
}

ctr_import() { # <archive>
  ctr --address "$BASE/containerd.sock" -n k8s.io images import --no-unpack "$1" >/dev/null
}

start_control_plane() {
  mkdir -p "$BASE/etcd"
  start etcd "$etcd" --name=kga-node --data-dir="$BASE/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --unsafe-no-fsync --log-level=warn
  start kube-apiserver "$kube_apiserver" \
    --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 \
    --etcd-servers=http://127.0.0.1:2379 \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --enable-aggregator-routing=true
  wait_for kube-apiserver 90 api /readyz
  log "API server ready ($(elapsed))"
  kubeconfig "$BASE/controller-manager.kubeconfig" controller-manager
  kubeconfig "$BASE/scheduler.kubeconfig" scheduler
  start kube-controller-manager "$kube_controller_manager" \
    --kubeconfig="$BASE/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$BASE/controller-manager.kubeconfig" --authorization-kubeconfig="$BASE/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR"
  start kube-scheduler "$kube_scheduler" \
    --kubeconfig="$BASE/scheduler.kubeconfig" \
    --authentication-kubeconfig="$BASE/scheduler.kubeconfig" --authorization-kubeconfig="$BASE/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false
}

start_node() {
  kubeconfig "$BASE/proxy.kubeconfig" proxy
  kubeconfig "$BASE/kubelet.kubeconfig" kubelet
  start kube-proxy "$kube_proxy" --kubeconfig="$BASE/proxy.kubeconfig" --hostname-override="$NODE_NAME" \
    --proxy-mode=iptables --cluster-cidr="$POD_CIDR" \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0
  mkdir -p "$BASE/kubelet" "$BASE/pod-logs"
  cat >"$BASE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# v1.36 refuses cgroup v1 by default; Debian 12 hosts may be hybrid.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
readOnlyPort: 0
address: $NODE_IP
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
podLogsDir: $BASE/pod-logs
resolvConf: ""
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: false
EOF
  start kubelet "$kubelet" --config="$BASE/kubelet.yaml" --kubeconfig="$BASE/kubelet.kubeconfig" \
    --container-runtime-endpoint="unix://$BASE/containerd.sock" --root-dir="$BASE/kubelet" \
    --node-ip="$NODE_IP" --hostname-override="$NODE_NAME"
  wait_for "node $NODE_NAME Ready" 180 node_ready
  log "node $NODE_NAME Ready ($(elapsed))"
}

# The API server as cluster-admin, with curl (no kubectl needed).
api() { # <path>
  curl -sf --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://$NODE_IP:6443$1"
}

node_ready() {
  api "/api/v1/nodes/$NODE_NAME" | node -e '
    const n = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? 0 : 1);'
}

# What the pods of a failed install say: phase, container states, last log lines.
chart_diagnostics() {
  local pods name
  pods="$(api "/api/v1/namespaces/$RELEASE_NS/pods")" || return 0
  printf '%s' "$pods" | node -e '
    for (const p of JSON.parse(require("fs").readFileSync(0, "utf8")).items)
      console.error(`[node] pod ${p.metadata.name}: ${p.status.phase} ${JSON.stringify(p.status.containerStatuses?.map((c) => c.state) ?? p.status.conditions)}`);'
  for name in $(printf '%s' "$pods" | node -e 'for (const p of JSON.parse(require("fs").readFileSync(0, "utf8")).items) console.log(p.metadata.name)' | head -n1); do
    log "---- last log lines of $name"
    api "/api/v1/namespaces/$RELEASE_NS/pods/$name/log?tailLines=20" >&2 || true
  done
}

install_chart() {
  local app_version archive
  app_version="$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' "$ROOT/charts/kgateway-admission/Chart.yaml")"
  archive="${KGA_IMAGE_DIR:-$ROOT/.image}/kgateway-admission-$app_version.tar"
  # Always through image:build: an archive left from older sources would not
  # match the chart (a new config key refused by an old image); the build
  # cache makes an unchanged image a matter of seconds.
  log "building the image (npm run image:build) ..."
  bash "$ROOT/scripts/image-build.sh" >&2
  ctr_import "$archive"
  log "imported $archive ($(elapsed))"
  # CRDs: Gateway API and kgateway's, as the test control plane installs them
  # (the chart's webhooks name their kinds).
  (cd "$ROOT" && node --input-type=module -e '
    const { controlPlanePaths, installCrds } = await import("./harness/index.ts");
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromFile(process.argv[1]);
    await installCrds(kc, (await controlPlanePaths()).crdDirs);
  ' "$BASE/admin.kubeconfig") || die "installing the CRDs failed"
  log "CRDs established ($(elapsed))"
  "$helm" --kubeconfig "$BASE/admin.kubeconfig" upgrade --install "$RELEASE" "$ROOT/charts/kgateway-admission" \
    --namespace "$RELEASE_NS" --create-namespace \
    --set image.repository=kgateway-admission --set "image.tag=$app_version" --set image.pullPolicy=Never \
    --wait --timeout 5m >&2 || { chart_diagnostics; die "helm install did not get the chart's pods Ready"; }
  log "chart installed with kgateway-admission:$app_version ($(elapsed))"
}

cmd_up() {
  local install=0 a
  for a in "$@"; do
    case "$a" in
      --install) install=1 ;;
      *) die "unknown option $a (usage: node.sh up [--install])" ;;
    esac
  done
  preflight
  clear_leftovers
  trap 'rc=$?; [ "$rc" -eq 0 ] || log "node:up failed (exit $rc); what it started is left for a look (logs in $BASE/logs); npm run node:down clears it"' EXIT
  binaries
  mkdir -p "$BASE/logs"
  make_network
  make_pki
  kubeconfig "$BASE/admin.kubeconfig" admin
  start_containerd
  pause_archive "$BASE/pause.tar"
  ctr_import "$BASE/pause.tar"
  log "containerd up, pause image imported ($(elapsed))"
  start_control_plane
  start_node
  mkdir -p "$CLUSTER_DIR"
  install -m 0600 "$BASE/admin.kubeconfig" "$KUBECONFIG_OUT"
  printf 'NETNS=%s\nBASE=%s\nNODE_IP=%s\nKUBECONFIG=%s\n' "$NETNS" "$BASE" "$NODE_IP" "$KUBECONFIG_OUT" >"$STATE_OUT"
  [ "$install" -eq 0 ] || install_chart
  log "up in $(elapsed): kubectl --kubeconfig ${KUBECONFIG_OUT#"$PWD"/} get nodes,pods -A; logs in $BASE/logs; npm run node:down stops it"
}

# A registry listening on the host's loopback, pulled from by the node's
# containerd under the same name (ADDR/repository:tag, as the chart's image says).
# The node has its own loopback, so its 127.0.0.1 is not the host's: a relay
# on the host's end of the veth ($HOST_IP, the node's only way out) forwards
# to ADDR, and a hosts.toml tells containerd to pull ADDR's images from the
# relay over plain HTTP. The relay is one of the node's processes: `down`
# stops it.
cmd_registry() { # <loopback addr: 127.0.0.1:PORT or localhost:PORT>
  local addr="${1:-}" port
  [[ "$addr" =~ ^(127\.0\.0\.1|localhost):([0-9]+)$ ]] || die "usage: node.sh registry 127.0.0.1:PORT (a registry on the host's loopback)"
  port="${BASH_REMATCH[2]}"
  [ -f "$STATE_OUT" ] || die "no node is up ($STATE_OUT missing): npm run node:up first"
  [ -S "$BASE/containerd.sock" ] || die "the node's containerd is not running ($BASE/containerd.sock missing)"
  grep -q 'config_path' "$BASE/containerd/config.toml" \
    || die "the node's containerd was started without a registry config_path (an older node.sh): npm run node:down, then node:up"
  mkdir -p "$BASE/logs" "$BASE/containerd/certs.d/$addr"
  cat >"$BASE/containerd/certs.d/$addr/hosts.toml" <<HOSTS
# The host's $addr, through the relay on $HOST_IP:$port (plain HTTP: a loopback-only registry).
server = "http://$addr"
[host."http://$HOST_IP:$port"]
  capabilities = ["pull", "resolve"]
HOSTS
  # The relay: Node's net module, in the host's network namespace.
  setsid node -e '
    const net = require("node:net");
    const [listenHost, port, target] = process.argv.slice(1);
    const targetHost = target.slice(0, target.lastIndexOf(":"));
    net.createServer((client) => {
      const upstream = net.connect(Number(port), targetHost);
      client.pipe(upstream).pipe(client);
      const close = () => { client.destroy(); upstream.destroy(); };
      client.on("error", close);
      upstream.on("error", close);
    }).listen(Number(port), listenHost, () => console.log(`relay ${listenHost}:${port} -> ${target}`));
  ' "$HOST_IP" "$port" "$addr" >"$BASE/logs/registry-relay-$port.log" 2>&1 </dev/null &
  echo "$!" >>"$BASE/pids"
  wait_for "the relay to $addr" 10 bash -c "exec 3<>/dev/tcp/$HOST_IP/$port"
  log "the node pulls $addr/... through $HOST_IP:$port ($BASE/containerd/certs.d/$addr/hosts.toml)"
}

cmd_down() {
  [ "$(id -u)" -eq 0 ] || die "needs root (it stops kubelet and containerd, unmounts and deletes the network namespace)"
  # Everything here is thrown away: 3 s after SIGTERM, the rest gets SIGKILL.
  clear_leftovers
  log "down in $(elapsed): no $NETNS namespace, no mounts under $BASE"
}

# Sourced (for trying one step by hand): define the functions only.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  registry) shift; cmd_registry "$@" ;;
  down) cmd_down ;;
  *) echo "usage: $0 up [--install] | registry 127.0.0.1:PORT | down" >&2; exit 2 ;;
esac
