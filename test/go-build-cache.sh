# Sourced (not run) by the scripts that build the tests' Go tools from the Go module proxy
# (test/cluster/build.sh, test/metrics-server/build.sh, test/services/build.sh): one place for
# where a build is cached, when a cached build may be reused, and how concurrent callers share
# one build. No release download site is reachable from our machines, the module proxy is, so
# the real components are compiled from source once per machine and version.
#
# A caller:
#   go_cache_setup NAME BINARY...   the cache directory ($cache_root/NAME) and what it must hold
#   go_cache_stamp FILE...          the inputs the build depends on (module files, sources)
#   go_cache_reuse_or_lock          prints the cached directory and exits if it is fresh; else
#                                   waits for the lock, re-checks, and makes $tmp to build into
#   ... go_build -o "$tmp/..." PKG ...; checks of the binaries ...
#   go_cache_publish                moves $tmp into place and prints the directory
# Progress goes to stderr; stdout is only the directory.

cache_root="${VIC_KUBELET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vic-kubelet}"

# go_cache_setup NAME BINARY...: the build lives in $cache_root/NAME/bin and must hold BINARY...
go_cache_setup() {
  dest="$cache_root/$1"
  bin="$dest/bin"
  shift
  cache_binaries=("$@")
}

# go_cache_stamp FILE...: the cache key within NAME. A cached build is reused only if it came
# from these exact inputs: the files given (module graph, sources), the calling script (its
# packages and flags), this helper (the flags below) and the same Go. Anything else rebuilds
# instead of silently using binaries that no longer match the repo.
go_cache_stamp() {
  stamp="$(cat "$@" "${BASH_SOURCE[1]}" "${BASH_SOURCE[0]}" <(go version) | sha256sum | cut -d' ' -f1)"
}

go_cache_is_fresh() {
  [[ -f "$bin/.stamp" && "$(cat "$bin/.stamp")" == "$stamp" ]] || return 1
  local b
  for b in "${cache_binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

go_cache_reuse_or_lock() {
  if go_cache_is_fresh; then
    echo "$bin"
    exit 0
  fi
  # Two test runs may start at once (a CI step and a test helper): the second waits for the
  # first build instead of racing it.
  mkdir -p "$dest"
  exec 9>"$dest/.lock"
  flock 9
  if go_cache_is_fresh; then
    echo "$bin"
    exit 0
  fi
  tmp="$dest/bin.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
}

# go_build ARG...: `go build` for static, reproducible binaries: no cgo (nothing to link against
# on the test machine), no local paths baked in, no VCS stamping (the module cache is not a
# checkout). Run from the module's directory.
go_build() {
  CGO_ENABLED=0 go build -trimpath -buildvcs=false "$@"
}

# k8s_version_ldflags VERSION: Kubernetes reads its version from these variables, which its own
# release build sets with -X; without them `--version` reports v0.0.0-master.
k8s_version_ldflags() {
  local minor="${1#v1.}" pkg out="-s -w"
  minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+=" -X $pkg.gitVersion=$1 -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    out+=" -X $pkg.gitTreeState=clean"
  done
  echo "$out"
}

# go_cache_check WANT CMD...: CMD must succeed and print WANT (a fixed string); a build that
# "succeeds" but produces something else is a failure here, not a puzzle later.
go_cache_check() {
  local want="$1" out
  shift
  if ! out="$("$@" 2>&1)"; then
    echo "$(basename "${BASH_SOURCE[1]:-build.sh}"): '$*' failed:" >&2
    echo "$out" | head -n 5 >&2
    exit 1
  fi
  echo "$out" | head -n 1 >&2
  if [[ -n "$want" ]] && ! grep -qF -- "$want" <<<"$out"; then
    echo "$(basename "${BASH_SOURCE[1]:-build.sh}"): '$*' does not report $want" >&2
    exit 1
  fi
}

go_cache_publish() {
  echo "$stamp" >"$tmp/.stamp"
  rm -rf "$bin"
  mv "$tmp" "$bin"
  trap - EXIT
  echo "$bin"
}
