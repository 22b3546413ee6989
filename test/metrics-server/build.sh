#!/usr/bin/env bash
# Builds metrics-server (sigs.k8s.io/metrics-server, pinned in ./go.mod) from the Go module proxy
# and prints the directory that holds the binary; `build.sh summary-check` builds instead the
# checker in ./summary-check (a strict decode into k8s.io/kubelet's stats/v1alpha1 Summary,
# pinned in its own go.mod so it does not move metrics-server's module graph). Cached outside
# the repo by version and inputs, one build shared by concurrent callers (../go-build-cache.sh).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../go-build-cache.sh"

tool="${1:-metrics-server}"
case "$tool" in
  metrics-server)
    moddir="$here"
    pkg=sigs.k8s.io/metrics-server/cmd/metrics-server
    version="$(awk '$1 == "sigs.k8s.io/metrics-server" { print $2 }' "$moddir/go.mod")"
    # metrics-server reports its version from this variable (its Makefile sets it with -X).
    ldflags="-s -w -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=$version"
    ;;
  summary-check)
    moddir="$here/summary-check"
    pkg=.
    version="kubelet-$(awk '$1 == "k8s.io/kubelet" { print $2 } $1 == "require" && $2 == "k8s.io/kubelet" { print $3 }' "$moddir/go.mod")"
    ldflags="-s -w"
    ;;
  *)
    echo "build.sh: unknown tool $tool (want metrics-server or summary-check)" >&2
    exit 2
    ;;
esac
if [[ -z "$version" || "$version" == kubelet- ]]; then
  echo "build.sh: cannot read the version of $tool from $moddir/go.mod" >&2
  exit 1
fi

go_cache_setup "$tool-$version" "$tool"
# Reused only when built from these exact inputs (module graph, sources; with this script,
# the shared helper and Go, which go_cache_stamp adds).
shopt -s nullglob
go_cache_stamp "$moddir/go.mod" "$moddir/go.sum" "$moddir"/*.go
go_cache_reuse_or_lock

echo "build.sh: building $tool $version into $bin (first build on a machine is slow)" >&2
start=$SECONDS
(cd "$moddir" && go_build -ldflags "$ldflags" -o "$tmp/$tool" "$pkg")
echo "build.sh: $tool built in $((SECONDS - start))s" >&2

# It must run: metrics-server prints its usage; the checker takes an empty Summary.
if [[ $tool == metrics-server ]]; then
  go_cache_check "" "$tmp/$tool" --help
else
  go_cache_check "" "$tmp/$tool" <<<'{"node":{"nodeName":"n","startTime":null},"pods":[]}'
fi
go_cache_publish
