#!/usr/bin/env bash
# The investigation behind Citus support (issue 12), rerunnable on a 3-node throw-away cluster:
#
#   tests/citus/probe/run.sh DIR [SQL...]    # DIR: a private tree (scripts/pginstall.sh DIR)
#                                            # with Citus (scripts/citus.sh --destdir DIR) and
#                                            # bismarck (make install DESTDIR=DIR)
#
# Builds and installs the probe extension (probe.c: an aggregate that reports, as NOTICEs, what
# its transition and combine functions see when Citus's worker_partial_agg / coord_combine_agg
# call them) into DIR, then runs each SQL file (default: all four) on its own fresh cluster.
#   calls.sql     what our functions see: AggState, Aggref, OIDs, flinfo, memory contexts
#   findings.sql  sizes, literal states, $1 parameters, reference tables, per-row ROW() cost
#   driver.sql    bismarck.train_logistic on a distributed table; nested reference-table reads
#   epochs.sql    epochs on the shards (needs aggregate-citus.patch applied), still-refused cases
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
dir=$(cd "${1:?usage: $0 DIR [SQL...]}" && pwd)
shift
make -s -C "$here" >/dev/null
make -s -C "$here" install DESTDIR="$dir" >/dev/null
make -s -C "$here" clean >/dev/null
files=("$@")
((${#files[@]})) || files=("$here"/calls.sql "$here"/findings.sql "$here"/driver.sql "$here"/epochs.sql)
for f in "${files[@]}"; do
  echo "===== $f"
  PGBIN="$dir/usr/lib/postgresql/15/bin" "$repo/scripts/cluster.sh" run --citus 2 -- \
    psql -X -f "$f" 2>&1 | cut -c1-400
done
