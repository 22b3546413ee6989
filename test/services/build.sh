#!/usr/bin/env bash
# Builds what a node runs beside the kubelet for Services, and prints the directory that holds
# the binary: `build.sh kube-proxy` (k8s.io/kubernetes/cmd/kube-proxy, of the control plane's
# Kubernetes version: ./kube-proxy/go.mod must pin the same k8s.io/kubernetes and the same
# replace block as ../cluster/go.mod) or `build.sh coredns` (github.com/coredns/coredns, pinned
# in ./coredns/go.mod). Cached outside the repo by version and inputs (../go-build-cache.sh).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../go-build-cache.sh"

# The lines of a go.mod's `replace ( ... )` block.
replaces() { awk '$1 == "replace" && $2 == "(" { on = 1; next } on && $1 == ")" { on = 0 } on' "$1"; }
module_version() { awk -v m="$2" '$1 == m { print $2 }' "$1"; }

tool="${1:-}"
case "$tool" in
  kube-proxy)
    moddir="$here/kube-proxy"
    version="$(module_version "$moddir/go.mod" k8s.io/kubernetes)"
    cluster_version="$(module_version "$here/../cluster/go.mod" k8s.io/kubernetes)"
    if [[ "$version" != "$cluster_version" ]] ||
      ! diff -q <(replaces "$moddir/go.mod") <(replaces "$here/../cluster/go.mod") >/dev/null; then
      echo "build.sh: $moddir/go.mod pins k8s.io/kubernetes $version, the control plane" \
        "(test/cluster/go.mod) $cluster_version, or their replace blocks differ: copy" \
        "test/cluster/go.mod's require and replace blocks there and run go mod tidy" >&2
      exit 1
    fi
    pkg=k8s.io/kubernetes/cmd/kube-proxy
    ldflags="$(k8s_version_ldflags "$version")"
    check=(--version)
    want="Kubernetes $version"
    ;;
  coredns)
    moddir="$here/coredns"
    version="$(module_version "$moddir/go.mod" github.com/coredns/coredns)"
    pkg=github.com/coredns/coredns
    ldflags="-s -w"
    check=(-version)
    want="CoreDNS-${version#v}"
    ;;
  *)
    echo "usage: build.sh kube-proxy|coredns" >&2
    exit 2
    ;;
esac
if [[ -z "$version" ]]; then
  echo "build.sh: cannot read the version of $tool from $moddir/go.mod" >&2
  exit 1
fi

go_cache_setup "$tool-$version" "$tool"
go_cache_stamp "$moddir/go.mod" "$moddir/go.sum"
go_cache_reuse_or_lock

echo "build.sh: building $tool $version into $bin (first build on a machine is slow)" >&2
start=$SECONDS
(cd "$moddir" && go_build -ldflags "$ldflags" -o "$tmp/$tool" "$pkg")
echo "build.sh: $tool built in $((SECONDS - start))s" >&2
go_cache_check "$want" "$tmp/$tool" "${check[@]}"
go_cache_publish
