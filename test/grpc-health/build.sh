#!/usr/bin/env bash
# Builds the gRPC health server of the grpc probe tests (./main.go, on google.golang.org/grpc
# pinned in ./go.mod) from the Go module proxy, statically (CGO off), and prints the directory
# that holds the binary `grpc-health`. Like test/metrics-server/build.sh: cached outside the repo
# keyed by grpc's version and by the inputs; concurrent callers wait on one flock'd build.
# Progress goes to stderr; stdout is only the directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tool=grpc-health
version="grpc-$(awk '$1 == "require" && $2 == "google.golang.org/grpc" { print $3 }' "$here/go.mod")"
if [[ "$version" == grpc- ]]; then
  echo "build.sh: cannot read google.golang.org/grpc's version from $here/go.mod" >&2
  exit 1
fi

cache_root="${VIC_KUBELET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vic-kubelet}"
dest="$cache_root/$tool-$version"
bin="$dest/bin"

# Reused only when built from these exact inputs (module graph, source, this script, Go).
stamp="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" "$here/build.sh" <(go version) |
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

echo "build.sh: building $tool ($version) into $bin" >&2
tmp="$dest/bin.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

export CGO_ENABLED=0
start=$SECONDS
(
  cd "$here"
  go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/$tool" .
)
echo "build.sh: $tool built in $((SECONDS - start))s" >&2

# It must run: its usage.
if ! out="$("$tmp/$tool" -help 2>&1)" && ! grep -q -- '-fail-after' <<<"$out"; then
  echo "build.sh: '$tmp/$tool -help' failed:" >&2
  echo "$out" | head -n 5 >&2
  exit 1
fi

echo "$stamp" >"$tmp/.stamp"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "$bin"
