#!/usr/bin/env bash
# Builds the tether (dist/tether/tether) and, when tether/agent.c exists, the pod VM's guest agent
# (dist/tether/vic-agent) from the same shared pieces: static binaries, so they run in any
# container rootfs or initramfs without its libc.
#
#   bash tether/build.sh [all|tether|agent]     (default all; `npm run build` builds all)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${here}/../dist/tether"
what="${1:-all}"
cc="${CC:-gcc}"
# _GNU_SOURCE for pipe2, signalfd, execvpe and friends, in every file.
flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Werror -O2 -static)
# Both binaries: the iolog writer, running a process under an init, the status records and the
# tokens they are written in (tether/protocol.h).
shared=("${here}/iolog.c" "${here}/iolog-out.c" "${here}/supervise.c" "${here}/status.c" "${here}/tokens.c")
# The agent's own parts (tether/agent.c lists them).
agent=("${here}"/agent*.c)
case "${what}" in all | tether | agent) ;; *)
  echo "usage: tether/build.sh [all|tether|agent]" >&2
  exit 2
  ;;
esac
if ! command -v "${cc}" >/dev/null; then
  echo "tether/build.sh: no C compiler (${cc}); install gcc and libc6-dev" >&2
  exit 1
fi
mkdir -p "${out}"
# Build to a name of our own and rename, so that a running test never sees a half-written
# binary and two builds at once do not write the same file.
build() { # build NAME FILE.c...
  local name="$1"
  shift
  "${cc}" "${flags[@]}" -o "${out}/${name}.tmp.$$" "$@" "${shared[@]}"
  mv -f "${out}/${name}.tmp.$$" "${out}/${name}"
}
trap 'rm -f "${out}"/*.tmp.$$' EXIT
if [[ "${what}" != agent ]]; then build tether "${here}/main.c" "${here}/exec-server.c" "${here}/attach-server.c" "${here}/console-relay.c"; fi
# Standalone helpers beside the tether; they need none of the shared pieces:
# - netns-connect: a runc pod's port-forward connections;
# - container-cp: docker cp in a runc container (the persona's archive endpoints);
# - vm-jail: a pod VM's qemu started as a uid of its own with four capabilities.
if [[ "${what}" != agent ]]; then
  for helper in netns-connect container-cp vm-jail; do
    "${cc}" "${flags[@]}" -o "${out}/${helper}.tmp.$$" "${here}/${helper}.c"
    mv -f "${out}/${helper}.tmp.$$" "${out}/${helper}"
  done
fi
if [[ "${what}" != tether && -f "${here}/agent.c" ]]; then build vic-agent "${agent[@]}"; fi
