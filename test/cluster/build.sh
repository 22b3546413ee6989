#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl) from the Go module proxy and prints the directory that holds the binaries.
#
# No download site for release binaries is reachable from our machines, but the Go module proxy
# is, so we compile the real components from source. The result is cached outside the repo,
# keyed by version, so only the first build on a machine is slow; later calls print the cached
# directory in well under a second. Progress goes to stderr; stdout is only the directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

# The versions live in the go.mod files; read them from there so there is one place to bump.
k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$here/etcd/go.mod")"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "build.sh: cannot read the k8s.io/kubernetes or etcd version from $here/go.mod" >&2
  exit 1
fi

cache_root="${VIC_KUBELET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vic-kubelet}"
dest="$cache_root/k8s-$k8s_version-etcd-$etcd_version"
bin="$dest/bin"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

# A cached build is reused only if it came from these exact inputs: the same module graph,
# this script (flags) and the same Go. Anything else rebuilds instead of silently using
# binaries that no longer match the repo.
stamp="$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/build.sh" \
  <(go version) | sha256sum | cut -d' ' -f1)"

is_fresh() {
  [[ -f "$bin/.stamp" && "$(cat "$bin/.stamp")" == "$stamp" ]] || return 1
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if is_fresh; then
  echo "$bin"
  exit 0
fi

# Two test runs may start at once (CI step and a test helper): the second waits for the
# first build instead of racing it.
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
if is_fresh; then
  echo "$bin"
  exit 0
fi

echo "build.sh: building Kubernetes $k8s_version and etcd $etcd_version into $bin" >&2
echo "build.sh: (the first build on a machine takes a while; later ones reuse the cache)" >&2
tmp="$dest/bin.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# Static, reproducible binaries: no cgo (nothing to link against on the test machine),
# no local paths baked in, and no VCS stamping (the module cache is not a checkout).
export CGO_ENABLED=0
flags=(-trimpath -buildvcs=false)

# Kubernetes reads its version from these variables, which its own release build sets with
# -X; without them `kubectl version` and /version report v0.0.0-master.
minor="${k8s_version#v1.}"
minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

start=$SECONDS
(
  cd "$here"
  # One `go build` for all four so shared packages are compiled once.
  go build "${flags[@]}" -ldflags "$ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
)
echo "build.sh: Kubernetes built in $((SECONDS - start))s" >&2
start=$SECONDS
(
  cd "$here/etcd"
  # etcd's main package is the root of its server module.
  go build "${flags[@]}" -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
)
echo "build.sh: etcd built in $((SECONDS - start))s" >&2

# Each binary must start and report the version we asked for; a build that "succeeds" but
# produces something else is a failure here, not a puzzle later.
check() {
  local out
  if ! out="$("$@" 2>&1)"; then
    echo "build.sh: '$*' failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$out" | head -n 1 >&2
}
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  check "$tmp/$b" --version
  "$tmp/$b" --version | grep -qF "Kubernetes $k8s_version" || {
    echo "build.sh: $b does not report Kubernetes $k8s_version" >&2
    exit 1
  }
done
check "$tmp/kubectl" version --client
"$tmp/kubectl" version --client | grep -qF "Client Version: $k8s_version" || {
  echo "build.sh: kubectl does not report $k8s_version" >&2
  exit 1
}
check "$tmp/etcd" --version
"$tmp/etcd" --version | grep -qF "etcd Version: ${etcd_version#v}" || {
  echo "build.sh: etcd does not report ${etcd_version#v}" >&2
  exit 1
}

echo "$stamp" >"$tmp/.stamp"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "$bin"
