# Sourced by demo.sh and test.sh: installs the Debian packages laminar needs
# when they are missing and we are root; otherwise prints the exact command.
# Usage: laminar_require_packages pkg...
laminar_require_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "laminar: installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
      echo "laminar: apt-get install failed for: ${missing[*]}" >&2
      exit 1
    }
  else
    echo "laminar: missing Debian packages: ${missing[*]}" >&2
    echo "laminar: install them as root, then run this command again:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

laminar_jobs() {
  nproc 2>/dev/null || echo 2
}
