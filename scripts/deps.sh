#!/usr/bin/env bash
# Installs, with apt, what one job of bismarck needs, and nothing more:
#
#   scripts/deps.sh build     the extension: server, headers, compiler, Eigen (make, make install)
#   scripts/deps.sh unit      the core's unit tests: CMake and GoogleTest (make unit)
#   scripts/deps.sh demo      build + the demo's data sources: scikit-learn, liblinear, R dslabs
#   scripts/deps.sh test      build + unit + demo + what the tests and Citus's build need
#   scripts/deps.sh bench     build + the benchmarks' peers and plotting
#   scripts/deps.sh format    clang-format
#
# Several profiles may be given at once. Skips everything already present, so a second run costs
# a second or two; `make` on a fresh machine therefore installs only the build profile.
set -euo pipefail

# No source includes Boost (grep -r boost src tests bench), so libboost-dev is in no profile.
build=(postgresql-15 postgresql-server-dev-15 g++ make libeigen3-dev)
unit=(g++ make cmake libeigen3-dev googletest libgtest-dev)
demo=(python3 python3-sklearn python3-numpy python3-pandas liblinear-tools r-base-core r-cran-dslabs)
# Citus is built from source by the multi-node tests.
citus=(liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev)
bench=(cmake googletest libgtest-dev python3 python3-sklearn python3-numpy python3-pandas
  gnuplot-nox python3-matplotlib)
format=(clang-format)

[[ $# -gt 0 ]] || set -- build
PKGS=()
for profile in "$@"; do
  case "$profile" in
    build) PKGS+=("${build[@]}") ;;
    unit) PKGS+=("${unit[@]}") ;;
    demo) PKGS+=("${build[@]}" "${demo[@]}") ;;
    test) PKGS+=("${build[@]}" "${unit[@]}" "${demo[@]}" "${citus[@]}") ;;
    bench) PKGS+=("${build[@]}" "${bench[@]}") ;;
    format) PKGS+=("${format[@]}") ;;
    *) echo "usage: $0 [build|unit|demo|test|bench|format]..." >&2; exit 2 ;;
  esac
done
mapfile -t PKGS < <(printf '%s\n' "${PKGS[@]}" | sort -u)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps ($*): all ${#PKGS[@]} packages present"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "deps ($*): missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi
echo "deps ($*): installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
