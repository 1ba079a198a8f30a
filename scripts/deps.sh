#!/usr/bin/env bash
# Installs what bismarck needs to build, test, demo and benchmark, with apt.
# Skips everything already present, so a second run costs a second or two.
set -euo pipefail

PKGS=(
  postgresql-15 postgresql-server-dev-15 postgresql-contrib
  g++ make cmake libeigen3-dev libboost-dev googletest libgtest-dev clang-format
  python3 python3-sklearn python3-numpy python3-pandas
  liblinear-tools r-base-core r-cran-dslabs
)
if [[ "${1:-}" == "--bench" ]]; then
  PKGS+=(gnuplot-nox python3-matplotlib)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "deps: missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
