# Installs the Debian packages that are missing, by what they provide: `TOOL:PACKAGE` is
# missing when TOOL is not on PATH, `dpkg:PACKAGE` when the package is not installed. Meant to
# be sourced (by scripts/example.sh and .ci/run):
#   source scripts/debian-packages.sh
#   install_missing_packages runc:runc umoci:umoci dpkg:busybox-static
# apt-get needs root: as another user it goes through sudo, or says what to install.
# With APT_NO_RECOMMENDS=1 recommended packages are left out (qemu's are a desktop's worth).
install_missing_packages() {
  local missing=() pair tool pkg
  for pair in "$@"; do
    tool=${pair%%:*}
    pkg=${pair#*:}
    if [[ $tool == dpkg ]]; then
      dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    else
      command -v "$tool" >/dev/null || missing+=("$pkg")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=()
  if ((EUID != 0)); then
    if ! command -v sudo >/dev/null; then
      echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  local extra=()
  [[ ${APT_NO_RECOMMENDS:-} == 1 ]] && extra=(--no-install-recommends)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${extra[@]}" "${missing[@]}"
}
