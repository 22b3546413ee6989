#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl) from the Go module proxy and prints the directory that holds the binaries.
#
# No download site for release binaries is reachable from our machines, but the Go module proxy
# is, so we compile the real components from source. The result is cached outside the repo,
# keyed by version and inputs (../go-build-cache.sh), so only the first build on a machine is
# slow; later calls print the cached directory in well under a second. Progress goes to stderr;
# stdout is only the directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../go-build-cache.sh"

# The versions live in the go.mod files; read them from there so there is one place to bump.
k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$here/etcd/go.mod")"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "build.sh: cannot read the k8s.io/kubernetes or etcd version from $here/go.mod" >&2
  exit 1
fi

go_cache_setup "k8s-$k8s_version-etcd-$etcd_version" \
  etcd kube-apiserver kube-controller-manager kube-scheduler kubectl
go_cache_stamp "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum"
go_cache_reuse_or_lock

echo "build.sh: building Kubernetes $k8s_version and etcd $etcd_version into $bin" >&2
echo "build.sh: (the first build on a machine takes a while; later ones reuse the cache)" >&2

start=$SECONDS
(
  cd "$here"
  # One `go build` for all four so shared packages are compiled once.
  go_build -ldflags "$(k8s_version_ldflags "$k8s_version")" -o "$tmp/" \
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
  go_build -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
)
echo "build.sh: etcd built in $((SECONDS - start))s" >&2

# Each binary must start and report the version we asked for.
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  go_cache_check "Kubernetes $k8s_version" "$tmp/$b" --version
done
go_cache_check "Client Version: $k8s_version" "$tmp/kubectl" version --client
go_cache_check "etcd Version: ${etcd_version#v}" "$tmp/etcd" --version

go_cache_publish
