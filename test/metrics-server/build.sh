#!/usr/bin/env bash
# Builds metrics-server (sigs.k8s.io/metrics-server, pinned in ./go.mod) from the Go module proxy
# and prints the directory that holds the binary; `build.sh summary-check` builds instead the
# checker in ./summary-check (a strict decode into k8s.io/kubelet's stats/v1alpha1 Summary,
# pinned in its own go.mod so it does not move metrics-server's module graph). Like test/cluster/build.sh: no release download
# site is reachable, the module proxy is; the result is cached outside the repo keyed by version
# and by the inputs, and concurrent callers wait on one flock'd build. Progress goes to stderr;
# stdout is only the directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

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

cache_root="${VIC_KUBELET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vic-kubelet}"
dest="$cache_root/$tool-$version"
bin="$dest/bin"

# Reused only when built from these exact inputs (module graph, sources, this script, Go).
shopt -s nullglob
stamp="$(cat "$moddir/go.mod" "$moddir/go.sum" "$moddir"/*.go "$here/build.sh" <(go version) |
  sha256sum | cut -d' ' -f1)"

is_fresh() {
  [[ -f "$bin/.stamp" && "$(cat "$bin/.stamp")" == "$stamp" && -x "$bin/$tool" ]]
}

if is_fresh; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
if is_fresh; then
  echo "$bin"
  exit 0
fi

echo "build.sh: building $tool $version into $bin (first build on a machine is slow)" >&2
tmp="$dest/bin.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

export CGO_ENABLED=0
start=$SECONDS
(
  cd "$moddir"
  go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/$tool" "$pkg"
)
echo "build.sh: $tool built in $((SECONDS - start))s" >&2

# It must run: metrics-server prints its usage; the checker takes an empty Summary.
if [[ $tool == metrics-server ]]; then check=("$tmp/$tool" --help); else check=("$tmp/$tool"); fi
if ! out="$("${check[@]}" 2>&1 <<<'{"node":{"nodeName":"n","startTime":null},"pods":[]}')"; then
  echo "build.sh: '${check[*]}' failed:" >&2
  echo "$out" | head -n 5 >&2
  exit 1
fi

echo "$stamp" >"$tmp/.stamp"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "$bin"
