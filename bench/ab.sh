#!/usr/bin/env bash
# A/B of two builds of bismarck.so on the driver's dense epoch, in one throw-away cluster.
#
#   scripts/pginstall.sh /tmp/ab-pg && make install DESTDIR=/tmp/ab-pg
#   PGBIN=/tmp/ab-pg/usr/lib/postgresql/15/bin ./scripts/cluster.sh run \
#       --conf 'max_parallel_workers_per_gather = 2' --huge-pages -- ./bench/ab.sh A.so B.so [ROUNDS]
#
# This host's speed drifts by up to 1.5x within minutes, so two builds timed one after the other
# compare the drift, not the builds. Here the builds alternate round by round (ROUNDS each,
# default 5): before each round the library in the private installation is replaced (a new file
# moved over the old one: a backend that has it loaded keeps its copy), then one new session
# times the C dot-product scan of the table, trains 5 epochs with shuffle => 'never' and times
# the scan again. The figure of a round is the median epoch over the mean of its two scans;
# each build's line gives the median over its rounds. The table is bench/datasets.sql's `dense`
# (N_DENSE rows, default 581,012 x 54). The library installed before is put back at the end.
set -euo pipefail

[[ -n "${PGHOST:-}" ]] || { echo "ab: run me inside scripts/cluster.sh run -- (PGHOST is not set)" >&2; exit 2; }
[[ $# -ge 2 ]] || { echo "usage: $0 A.so B.so [ROUNDS]" >&2; exit 2; }
a=$(realpath "$1") b=$(realpath "$2") rounds=${3:-5}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBIN=${PGBIN:-$(pg_config --bindir)}
lib="$(cd "$PGBIN/../lib" && pwd)"
[[ -f "$lib/bismarck.so" ]] || { echo "ab: no bismarck.so in $lib" >&2; exit 2; }
case "$lib" in
  /usr/*) echo "ab: $lib is the system's installation; use a private one (scripts/pginstall.sh)" >&2; exit 2 ;;
esac
for f in "$a" "$b"; do [[ -f "$f" ]] || { echo "ab: no such file $f" >&2; exit 2; }; done

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
saved=$(mktemp "$lib/bismarck.so.saved.XXXXXX")
cp "$lib/bismarck.so" "$saved"
install_so() { install -m 755 "$1" "$lib/bismarck.so.new" && mv "$lib/bismarck.so.new" "$lib/bismarck.so"; }
trap 'install_so "$saved"; rm -f "$saved"' EXIT

q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS bismarck CASCADE" \
  -c "CREATE EXTENSION bismarck" >/dev/null
q -f "$here/datasets.sql" >/dev/null 2>&1
q -c "SET client_min_messages = warning" -c "SELECT bench.make_dense('dense', ${N_DENSE:-581012}, 0.11)" -c "VACUUM ANALYZE dense" >/dev/null

dot="SELECT sum(bench.dot(array_fill(0.001::float8, ARRAY[54]), x)) FROM dense"
results=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  for build in A B; do
    [[ $build == A ]] && install_so "$a" || install_so "$b"
    out=$(q <<SQL
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0; SET synchronize_seqscans = off;
$dot;
\\timing on
$dot;
\\timing off
SELECT 1 FROM bismarck.train_logistic('ab', 'dense', 'x', 'label', epochs => 5, shuffle => 'never',
                                      step_size => 0.01, seed => $r, tolerance => 0, replace => true);
\\timing on
$dot;
\\timing off
SELECT 'EPOCHS', string_agg(seconds::text, ' ' ORDER BY epoch) FROM bismarck.training_log WHERE model = 'ab';
SQL
)
    scans=$(awk '/^Time: / { printf "%s ", $2 / 1000 }' <<<"$out")
    epochs=$(grep '^EPOCHS|' <<<"$out" | cut -d'|' -f2)
    ratio=$(/usr/bin/python3 -c "import statistics as s, sys; d = [float(v) for v in sys.argv[1].split()]; e = [float(v) for v in sys.argv[2].split()]; print(f'{s.median(e) / (sum(d) / len(d)):.3f} {s.median(e) * 1000:.1f} {sum(d) / len(d) * 1000:.1f}')" "$scans" "$epochs")
    echo "$build $ratio" >>"$results"
    printf 'round %d %s: epoch / dot scan %s (epoch %s ms, scan %s ms)\n' "$r" "$build" $ratio
  done
done
/usr/bin/python3 - "$results" "$a" "$b" <<'EOF'
import statistics as s, sys
rows = [l.split() for l in open(sys.argv[1])]
for build, path in (("A", sys.argv[2]), ("B", sys.argv[3])):
    r = [float(x[1]) for x in rows if x[0] == build]
    print(f"{build} {path}: median epoch / same-session dot scan {s.median(r):.3f} "
          f"(rounds {min(r):.3f} .. {max(r):.3f})")
EOF
rm -f "$results"
