#!/usr/bin/env bash
# make test: unit tests (plain and sanitized), install, a throw-away cluster, pg_regress.
# Prints, as its last line, "N passed, N failed" counting every unit and regression test.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
passed=0
failed=0

count_ctest() {  # "100% tests passed, 0 tests failed out of 12"
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
  if [[ -z "$line" ]]; then failed=$((failed + 1)); return; fi
  local f t
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + t - f))
  failed=$((failed + f))
}

echo "== unit tests"
./scripts/unit.sh 2>&1 | tee build/unit.log
count_ctest build/unit.log

echo "== unit tests under AddressSanitizer + UBSan"
./scripts/unit.sh --asan 2>&1 | tee build/unit-asan.log
count_ctest build/unit-asan.log

echo "== install"
if ! make -s install >build/install.log 2>&1; then
  cat build/install.log
  failed=$((failed + 1))
fi

echo "== regression tests"
rm -rf build/regress/results build/regress/regression.diffs
./scripts/cluster.sh run -- bash -c 'make -s installcheck; rc=$?; \
  if grep -q "terminated by signal" "$BISMARCK_SERVER_LOG"; then \
    echo "server log shows a crashed backend:"; grep -B2 -A2 "terminated by signal" "$BISMARCK_SERVER_LOG"; rc=99; fi; \
  exit $rc' 2>&1 | tee build/regress.log
rc=${PIPESTATUS[0]}
ok=$(grep -cE '^(test| )? *[a-z_0-9]+ +\.\.\. ok' build/regress.log || true)
bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' build/regress.log || true)
passed=$((passed + ok))
failed=$((failed + bad))
if [[ $rc -ne 0 && $bad -eq 0 ]]; then failed=$((failed + 1)); fi
if [[ -f build/regress/regression.diffs ]]; then
  echo "== regression.diffs"
  cat build/regress/regression.diffs
fi

echo "== upgrade from 0.1.0 (scripts/upgrade_test.sh: its own private install and cluster)"
./scripts/upgrade_test.sh 2>&1 | tee build/upgrade.log
passed=$((passed + $(grep -c '^ok ' build/upgrade.log || true)))
failed=$((failed + $(grep -c '^FAIL ' build/upgrade.log || true)))
if ! grep -q '^upgrade: [0-9]* passed, 0 failed$' build/upgrade.log && ! grep -q '^FAIL ' build/upgrade.log; then
  failed=$((failed + 1))  # it stopped before its checks
fi

echo "== fuzz (500 seeded cases; tests/fuzz/fuzz.py --cases N for more) and concurrency"
./scripts/cluster.sh run -- bash -c '/usr/bin/python3 tests/fuzz/fuzz.py --cases 500; \
  echo "fuzz exit $?"; /usr/bin/python3 tests/fuzz/concurrency.py; echo "concurrency exit $?"' \
  2>&1 | tee build/fuzz.log
for t in fuzz concurrency; do
  if grep -qx "$t exit 0" build/fuzz.log; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

echo "== live progress from another session (tests/progress/progress_test.py: restarts its cluster)"
if ./scripts/cluster.sh run -- /usr/bin/python3 tests/progress/progress_test.py >build/progress.log 2>&1; then
  tail -1 build/progress.log
  passed=$((passed + 1))
else
  cat build/progress.log
  failed=$((failed + 1))
fi

echo "== distributed: Citus 13.2.2, a coordinator and two workers (tests/citus/run.sh; builds Citus once)"
./tests/citus/run.sh 2>&1 | tee build/citus.log
passed=$((passed + $(grep -c '^ok ' build/citus.log || true)))
failed=$((failed + $(grep -c '^FAIL ' build/citus.log || true)))
if ! grep -q '^citus: [0-9]* passed, 0 failed' build/citus.log && ! grep -q '^FAIL ' build/citus.log; then
  failed=$((failed + 1))  # it stopped before its checks
fi

echo "== the README's SQL examples"
awk '/^```sql/{f=1;next} /^```/{f=0} f' README.md >build/readme.sql
if ./scripts/cluster.sh run -- psql -X -q -v ON_ERROR_STOP=1 -f build/readme.sql >build/readme.log 2>&1; then
  echo "README examples: ok"
  passed=$((passed + 1))
else
  cat build/readme.log
  failed=$((failed + 1))
fi

echo "== five seeds on breast_cancer, digits and heart_scale against scikit-learn (bench/seeds.sh)"
if ./scripts/cluster.sh run -- ./bench/seeds.sh >build/seeds.log 2>&1; then
  grep -A9 seeds_1_to_5 build/seeds.log; grep "five seeds" build/seeds.log
  passed=$((passed + 1))
else
  cat build/seeds.log
  failed=$((failed + 1))
fi

echo "== quality on real data: make demo's check against scikit-learn"
if ./scripts/cluster.sh run -- ./scripts/demo.sh >build/demo.log 2>&1; then
  grep 'quality check' build/demo.log
  passed=$((passed + 1))
else
  cat build/demo.log
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
