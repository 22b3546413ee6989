#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for vic-kubelet's integration tests and by hand.
#
#   scripts/cluster.sh up DIR     build if needed, start etcd, kube-apiserver,
#                                 kube-controller-manager and kube-scheduler with their state in
#                                 DIR, wait until all are healthy, write DIR/kubeconfig
#   scripts/cluster.sh down DIR   stop exactly the processes that `up DIR` started
#   scripts/cluster.sh bin        print the directory of the binaries (kubectl included)
#
# Environment: CLUSTER_READY_TIMEOUT (seconds each component may take to become healthy, 90),
# CLUSTER_ARGS_ETCD, CLUSTER_ARGS_KUBE_APISERVER, ... (extra flags for one component).
#
# Everything listens on 127.0.0.1 only, on ports that were free at start. A component that
# exits or never becomes healthy makes `up` fail with the tail of its log, and `up` then stops
# whatever it had started, so a failed `up` leaves nothing running.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
usage="usage: scripts/cluster.sh up DIR | down DIR | bin"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler)
# How long each component may take to become healthy. The apiserver's first start on a
# 2-core machine takes a few seconds; a minute means something is wrong.
ready_timeout="${CLUSTER_READY_TIMEOUT:-90}"

log() { echo "cluster.sh: $*" >&2; }

bin_dir() { "$repo/test/cluster/build.sh"; }

# ---- processes -------------------------------------------------------------------------------

# The pid in DIR/run/NAME.pid, if that process is still the one we started: its executable is
# our binary and its command line names DIR. A pid reused by an unrelated process is ignored.
live_pid() {
  local dir="$1" name="$2" pid exe cmdline
  [[ -f "$dir/run/$name.pid" ]] || return 1
  pid="$(cat "$dir/run/$name.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  exe="${exe% (deleted)}" # still ours if a rebuild replaced the binary while it ran
  [[ "$(basename "$exe")" == "$name" ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$dir/"* ]] || return 1
  echo "$pid"
}

# Whether PID runs. Not `kill -0`, which also succeeds for a zombie: during a failed `up` the
# components are our own children, and one that has exited is not reaped at once.
running() { readlink "/proc/$1/exe" >/dev/null 2>&1; }

stop_one() {
  local dir="$1" name="$2" pid i
  if pid="$(live_pid "$dir" "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    # Components shut down cleanly within a few seconds; after 15 s stop waiting politely.
    for ((i = 0; i < 150; i++)); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      log "$name (pid $pid) ignored SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while running "$pid"; do sleep 0.1; done
    fi
  fi
  rm -f "$dir/run/$name.pid"
}

# Reverse start order: the apiserver's two clients together (each takes a second or two to
# shut down), then the apiserver, then etcd.
stop_all() {
  local dir="$1" a b
  stop_one "$dir" kube-scheduler &
  a=$!
  stop_one "$dir" kube-controller-manager &
  b=$!
  # Only these two: during a failed `up` the components are our children too.
  wait "$a" "$b"
  stop_one "$dir" kube-apiserver
  stop_one "$dir" etcd
}

# Starts NAME from the binary directory with its output in DIR/logs/NAME.log. setsid puts it
# in a session of its own so that it outlives this script and its caller's terminal; every
# standard stream is redirected so a caller that waits for our output does not wait for it.
# A test that needs more flags (a feature gate, say) puts them in CLUSTER_ARGS_<NAME>, e.g.
# CLUSTER_ARGS_KUBE_APISERVER='--feature-gates=Foo=true'; they come last, so they win.
start() {
  local dir="$1" name="$2" var extra=() pid i
  shift 2
  var="CLUSTER_ARGS_$(echo "$name" | tr 'a-z-' 'A-Z_')"
  read -ra extra <<<"${!var-}"
  setsid "$bin/$name" "$@" "${extra[@]}" </dev/null >"$dir/logs/$name.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/run/$name.pid"
  # Until the child has exec'd the component, live_pid does not recognise it (its executable
  # is still bash or setsid), and a stop at that moment would miss it. That takes a moment.
  for ((i = 0; i < 100; i++)); do
    if live_pid "$dir" "$name" >/dev/null || ! running "$pid"; then break; fi
    sleep 0.02
  done
}

# Fails `up`: prints the tail of NAME's log; the EXIT trap then stops everything.
fail() {
  local dir="$1" name="$2" why="$3"
  log "$name $why; last lines of $dir/logs/$name.log:"
  tail -n 40 "$dir/logs/$name.log" >&2 || true
  exit 1
}

# Waits until CHECK succeeds for NAME, failing early if any component started so far exits.
wait_ready() {
  local dir="$1" name="$2" deadline=$((SECONDS + ready_timeout)) other
  shift 2
  until "$@" >/dev/null 2>&1; do
    for other in "${components[@]}"; do
      if [[ -f "$dir/run/$other.pid" ]] && ! live_pid "$dir" "$other" >/dev/null; then
        fail "$dir" "$other" "exited"
      fi
    done
    ((SECONDS < deadline)) || fail "$dir" "$name" "was not healthy after ${ready_timeout}s"
    sleep 0.2
  done
  log "$name is healthy"
}

# N distinct TCP ports on 127.0.0.1 that are free now: the kernel picks them (bind to port 0),
# all held open together so none repeats. Another program could take one before our component
# binds it; the component then exits and `up` fails loudly rather than using the wrong port.
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    const servers = Array.from({ length: n }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, "127.0.0.1", ok)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });' "$1"
}

# ---- certificates ----------------------------------------------------------------------------

# Makes a key and a certificate for it signed by CA (ca or front-proxy-ca). ECDSA P-256 keys:
# fast to make, accepted by every component. EXT is the X.509 extension text (usage, names).
issue() {
  local pki="$1" ca="$2" name="$3" subject="$4" ext="$5"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
    -CAcreateserial -days 365 -sha256 -extfile <(printf '%s\n' "$ext") \
    -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr"
}

new_ca() {
  local pki="$1" name="$2" subject="$3"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/$name.key" -subj "$subject" -days 365 -sha256 \
    -out "$pki/$name.crt" 2>/dev/null
}

make_pki() {
  local pki="$1"
  mkdir -p "$pki"
  new_ca "$pki" ca "/CN=vic-kubelet-test-ca"

  local server="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
  local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  # The names in-cluster clients use for the apiserver, plus loopback for everyone else.
  # 10.0.0.1 is the `kubernetes` Service's cluster IP in --service-cluster-ip-range below.
  issue "$pki" ca apiserver "/CN=kube-apiserver" "$server
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # What the apiserver presents to a kubelet for logs and exec. system:masters, as kubeadm
  # does, so a kubelet that authorizes its callers lets the apiserver in.
  issue "$pki" ca apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  issue "$pki" ca admin "/O=system:masters/CN=admin" "$client"
  # The built-in RBAC roles are bound to these user names.
  issue "$pki" ca controller-manager "/CN=system:kube-controller-manager" "$client"
  issue "$pki" ca scheduler "/CN=system:kube-scheduler" "$client"
  # The aggregation layer's own CA: the apiserver proves to extension apiservers (and to the
  # delegated authentication of the controller-manager and scheduler, which otherwise keep
  # logging that this CA is missing) that it forwarded a request, as kubeadm sets it up.
  new_ca "$pki" front-proxy-ca "/CN=vic-kubelet-test-front-proxy-ca"
  issue "$pki" front-proxy-ca front-proxy-client "/CN=front-proxy-client" "$client"
  # Service-account tokens are signed with sa.key and verified with sa.pub.
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  rm -f "$pki"/*.srl
  chmod 600 "$pki"/*.key
}

# A kubeconfig with the CA and the client certificate embedded, so it can be copied anywhere.
write_kubeconfig() {
  local file="$1" server="$2" pki="$3" user="$4"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: vic-kubelet-test
    cluster:
      server: $server
      certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
  - name: $user
    user:
      client-certificate-data: $(base64 -w0 "$pki/$user.crt")
      client-key-data: $(base64 -w0 "$pki/$user.key")
contexts:
  - name: vic-kubelet-test
    context:
      cluster: vic-kubelet-test
      user: $user
current-context: vic-kubelet-test
EOF
  chmod 600 "$file"
}

# ---- up / down -------------------------------------------------------------------------------

up() {
  local dir="$1"
  bin="$(bin_dir)"
  command -v openssl >/dev/null || {
    log "openssl is required (apt-get install openssl)"
    exit 1
  }
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  # `up` clears its own subdirectories of DIR, so it insists DIR is empty or one of ours.
  if [[ ! -f "$dir/.vic-kubelet-cluster" && -n "$(ls -A "$dir")" ]]; then
    log "$dir is not empty and was not made by 'scripts/cluster.sh up'; use a new directory"
    exit 1
  fi
  touch "$dir/.vic-kubelet-cluster"
  local name
  for name in "${components[@]}"; do
    if live_pid "$dir" "$name" >/dev/null; then
      log "$dir already has a running $name; run 'scripts/cluster.sh down $dir' first"
      exit 1
    fi
  done

  # Every `up` starts from nothing: a new CA and an empty etcd. Only our own subpaths of DIR
  # are cleared, never DIR itself.
  rm -rf "$dir/pki" "$dir/etcd" "$dir/logs" "$dir/run" "$dir/kubectl-cache" "$dir/kubeconfig" \
    "$dir"/*.kubeconfig
  mkdir -p "$dir/logs" "$dir/run"
  # From here until success, leaving for any reason stops what has been started: an error, a
  # failed component, or a signal (Ctrl-C, a test runner's timeout). The signals are turned
  # into exits so that the EXIT trap runs for them too.
  up_dir="$dir"
  trap 'stop_all "$up_dir"' EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local started=$SECONDS
  make_pki "$dir/pki"
  local pki="$dir/pki"
  local etcd_port etcd_peer_port api_port kcm_port sched_port
  read -r etcd_port etcd_peer_port api_port kcm_port sched_port <<<"$(free_ports 5)"
  local api="https://127.0.0.1:$api_port"

  write_kubeconfig "$dir/kubeconfig" "$api" "$pki" admin
  write_kubeconfig "$dir/controller-manager.kubeconfig" "$api" "$pki" controller-manager
  write_kubeconfig "$dir/scheduler.kubeconfig" "$api" "$pki" scheduler

  # etcd: one member, plain HTTP on loopback (only the apiserver talks to it). Test data is
  # thrown away, so skipping fsync is safe and makes writes fast on slow disks.
  start "$dir" etcd \
    --name=default \
    --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="default=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync
  wait_ready "$dir" etcd curl -fsS --noproxy '*' "http://127.0.0.1:$etcd_port/health"

  # The apiserver would publish its address as the endpoint of the `kubernetes` Service, and
  # Kubernetes rejects a loopback endpoint (an error every few seconds in the log), so that
  # reconciler is off: nothing here routes to cluster IPs anyway. The Service still exists.
  # Logs and exec reach a kubelet at its node's InternalIP, with a client certificate from
  # our CA, and trust the kubelet's serving certificate only if our CA signed it.
  start "$dir" kube-apiserver \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$api_port" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --tls-cert-file="$pki/apiserver.crt" \
    --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --authorization-mode=Node,RBAC \
    --allow-privileged=true \
    --service-cluster-ip-range=10.0.0.0/24 \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$pki/ca.crt" \
    --kubelet-preferred-address-types=InternalIP \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" \
    --endpoint-reconciler-type=none
  # kubectl's discovery cache goes in DIR, not in ~/.kube where each new port would add one.
  wait_ready "$dir" kube-apiserver "$bin/kubectl" --kubeconfig="$dir/kubeconfig" \
    --cache-dir="$dir/kubectl-cache" get --raw /readyz

  # Both run alone, so no leader election (which would only delay their start). They make
  # their own self-signed serving certs in --cert-dir; the default would be /var/run.
  start "$dir" kube-controller-manager \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$kcm_port" \
    --cert-dir="$dir/run/kube-controller-manager" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" \
    --cluster-signing-key-file="$pki/ca.key"
  start "$dir" kube-scheduler \
    --kubeconfig="$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$sched_port" \
    --cert-dir="$dir/run/kube-scheduler" \
    --leader-elect=false
  # Their serving certs are self-signed, hence -k; /healthz needs no credentials.
  wait_ready "$dir" kube-controller-manager curl -fsSk --noproxy '*' "https://127.0.0.1:$kcm_port/healthz"
  wait_ready "$dir" kube-scheduler curl -fsSk --noproxy '*' "https://127.0.0.1:$sched_port/healthz"

  trap - EXIT HUP INT TERM
  log "control plane up in $((SECONDS - started))s: apiserver $api, logs in $dir/logs"
  echo "export KUBECONFIG=$dir/kubeconfig"
}

down() {
  local dir="$1"
  if [[ ! -d "$dir" ]]; then
    log "$dir does not exist"
    exit 1
  fi
  dir="$(cd "$dir" && pwd)"
  stop_all "$dir"
}

case "${1-}" in
  up | down)
    if (($# != 2)) || [[ -z "$2" ]]; then
      echo "$usage" >&2
      exit 2
    fi
    "$1" "$2"
    ;;
  bin)
    if (($# != 1)); then
      echo "$usage" >&2
      exit 2
    fi
    bin_dir
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
