#!/usr/bin/env bash
# What progress::add_rows costs per row: one epoch of logistic_epoch over 300000 rows x 20
# features, with and without the add_rows call compiled in, both in the same session, alternated.
#
#   P=/tmp/progress-pg; make && make install DESTDIR=$P
#   tests/progress/add_rows_overhead.sh $P          # prints the backend's CPU ms per epoch
#
# Builds aggregate.cpp twice (with and without -DBISMARCK_PROGRESS_NO_ROWS), links each with the
# other objects into bismarck_withrows.so / bismarck_norows.so, both the same way (-Bsymbolic, so
# each binds to its own code; branches aligned with -mbranches-within-32B-boundaries, otherwise
# the placement of the hot loop alone moves an epoch by +-12%), and times them from one session
# with the backend's CPU time (/proc/PID/schedstat), which the machine's other load barely moves.
set -euo pipefail
cd "$(dirname "$0")/../.."
P=${1:?usage: $0 PRIVATE_INSTALL_DIR}
mkdir -p build/overhead
base=$(make -s -n -W src/uda/aggregate.cpp src/uda/aggregate.o | grep 'aggregate.cpp')
objs=$(ls src/uda/*.o src/shuffle/*.o | grep -v aggregate.o)
for v in with no; do
  d=; [[ $v == no ]] && d=-DBISMARCK_PROGRESS_NO_ROWS
  nice -n 10 bash -c "${base/-o src\/uda\/aggregate.o/-Wa,-mbranches-within-32B-boundaries $d -o build/overhead/agg_$v.o}"
  gcc -shared -fPIC -Wl,-Bsymbolic -o "build/overhead/bismarck_${v}rows.so" "build/overhead/agg_$v.o" $objs -lstdc++ -lm
  cp "build/overhead/bismarck_${v}rows.so" "$P/usr/lib/postgresql/15/lib/"
done
PGBIN=$P/usr/lib/postgresql/15/bin scripts/cluster.sh run -- \
  env PATH="$P/usr/lib/postgresql/15/bin:$PATH" /usr/bin/python3 tests/progress/add_rows_overhead.py
