#!/usr/bin/env bash
# The distributed tests of make test: bismarck on a throw-away Citus cluster (a coordinator and
# two workers on this machine).
#
#   tests/citus/run.sh                  # Citus into the system PostgreSQL (built once, as root)
#   tests/citus/run.sh --destdir DIR    # a private tree (scripts/pginstall.sh DIR, bismarck
#                                       # installed with make install DESTDIR=DIR)
#
# Builds Citus when it is missing (scripts/citus.sh: the tarball ../shared/deps/citus-13.2.2.tar.gz
# beside the repository, or a download), starts the cluster with shared_preload_libraries =
# 'citus, bismarck' on every node and runs tests/citus/checks.sh there. Prints one line per check,
# "ok ...", "FAIL ..." or "xfail ..." (a known gap, not counted as a failure), then
# "citus: N passed, N failed". Exit status 0 when nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

destdir=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
    *) echo "usage: $0 [--destdir DIR]" >&2; exit 2 ;;
  esac
done

start=$SECONDS
if [[ -n $destdir ]]; then
  destdir=$(cd "$destdir" && pwd)
  "$repo/scripts/citus.sh" --destdir "$destdir" || { echo "FAIL citus build"; echo "citus: 0 passed, 1 failed"; exit 1; }
  export PGBIN="$destdir$(pg_config --bindir)"
else
  "$repo/scripts/citus.sh" || { echo "FAIL citus build"; echo "citus: 0 passed, 1 failed"; exit 1; }
fi
echo "citus: ready after $((SECONDS - start)) s"

out=$(mktemp /tmp/bismarck-citus-checks.XXXXXX)
chmod 644 "$out"
"$repo/scripts/cluster.sh" run --citus 2 --conf "shared_preload_libraries = 'citus, bismarck'" -- \
  "$here/checks.sh" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' "$out")
failed=$(grep -c '^FAIL ' "$out")
rm -f "$out"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; echo "FAIL checks.sh stopped (exit $rc)"; fi
echo "citus: $passed passed, $failed failed ($((SECONDS - start)) s)"
[[ $failed -eq 0 ]]
