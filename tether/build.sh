#!/usr/bin/env bash
# Builds the tether (dist/tether/tether) and, when tether/agent.c exists, the pod VM's guest agent
# (dist/tether/vic-agent) from the same shared pieces: static binaries, so they run in any
# container rootfs or initramfs without its libc.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${here}/../dist/tether"
cc="${CC:-gcc}"
# _GNU_SOURCE for pipe2, signalfd, execvpe and friends, in every file.
flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static)
shared=("${here}/iolog.c" "${here}/supervise.c" "${here}/status.c")
if ! command -v "${cc}" >/dev/null; then
  echo "tether/build.sh: no C compiler (${cc}); install gcc and libc6-dev" >&2
  exit 1
fi
mkdir -p "${out}"
# Build to a temporary name and rename, so a running test never sees a half-written binary.
"${cc}" "${flags[@]}" -o "${out}/tether.tmp" "${here}/main.c" "${shared[@]}"
mv -f "${out}/tether.tmp" "${out}/tether"
if [[ -f "${here}/agent.c" ]]; then
  "${cc}" "${flags[@]}" -o "${out}/vic-agent.tmp" "${here}/agent.c" "${shared[@]}"
  mv -f "${out}/vic-agent.tmp" "${out}/vic-agent"
fi
