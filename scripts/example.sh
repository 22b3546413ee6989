#!/usr/bin/env bash
# The README's main job, from a fresh clone: install what is missing, build, make an example
# image from Debian's busybox-static (an OCI layout, with umoci: no registry, no network but
# Debian's and npm's), and run examples/pod.yaml with `vic-kubelet run` on the embedded VCH —
# its two containers' output, prefixed by name, then the pod's exit code.
#   bash scripts/example.sh [POD.yaml [RUN FLAGS...]]   (default examples/pod.yaml)
# e.g. `bash scripts/example.sh examples/pod.yaml --runtime vm` runs the pod in a qemu pod VM.
# The VCH's state goes to $VIC_KUBELET_STATE_DIR, default ~/.local/state/vic-kubelet (the
# default of `vic-kubelet run`); the image layout to $VIC_KUBELET_STATE_DIR/example-image.
set -euo pipefail
cd "$(dirname "$0")/.."
pod=${1:-examples/pod.yaml}
state=${VIC_KUBELET_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/vic-kubelet}

# Containers run under Debian's runc with the project's tether as their init, built with gcc
# against glibc (libc6-dev); the image is busybox-static's busybox, packed by umoci. The pod gets
# its address on the VCH's bridge from the CNI plugins (containernetworking-plugins, iptables)
# and its seccomp filter from Debian's default profile (golang-github-containers-common); image
# layers are overlay diffs, whose opaque directories setfattr marks (attr).
source scripts/debian-packages.sh
install_missing_packages runc:runc umoci:umoci gcc:gcc dpkg:libc6-dev dpkg:busybox-static \
  dpkg:containernetworking-plugins iptables:iptables dpkg:golang-github-containers-common \
  setfattr:attr

# Dependencies once (again when the lock file changes), then the build (tsc and the tether).
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

# The example image: busybox and its shell in one layer, named as examples/pod.yaml asks.
image=vic-kubelet.example/hello:1
layout=$state/example-image
if [[ ! -f $layout/index.json ]] || ! grep -q "\"$image\"" "$layout/index.json"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/rootfs/bin" "$state"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in sh echo sleep hostname cat ls; do ln -s busybox "$work/rootfs/bin/$applet"; done
  rm -rf "$layout"
  umoci init --layout "$layout"
  umoci new --image "$layout:$image"
  umoci insert --image "$layout:$image" "$work/rootfs" / >/dev/null
  umoci config --image "$layout:$image" --os linux --architecture "$(dpkg --print-architecture)" --config.cmd /bin/sh
  echo "built $image in $layout" >&2
fi

exec node dist/cli/main.js run "$pod" --state-dir "$state" --load "$layout" "${@:2}"
