#!/usr/bin/env bash
# A private, relocatable copy of the system's PostgreSQL 15 server in DIR, with nothing of
# bismarck in it, so that a test can install a given build of the extension without touching the
# system's (or another test's) installation:
#
#   scripts/pginstall.sh DIR                      # copies the server once (about 50 MB)
#   make install DESTDIR=DIR                      # installs this checkout into it
#   PGBIN=DIR/usr/lib/postgresql/15/bin scripts/cluster.sh run -- ...
#
# PostgreSQL finds its share and lib folders relative to its bin folder, so the copy runs as is.
set -euo pipefail
dir=${1:?usage: $0 DIR}
bindir=$(pg_config --bindir)
sharedir=$(pg_config --sharedir)
pkglibdir=$(pg_config --pkglibdir)
if [[ ! -x "$dir$bindir/postgres" ]]; then
  mkdir -p "$dir$(dirname "$bindir")" "$dir$(dirname "$sharedir")" "$dir$(dirname "$pkglibdir")"
  cp -a "$(dirname "$bindir")" "$dir$(dirname "$(dirname "$bindir")")/"
  cp -a "$sharedir" "$dir$(dirname "$sharedir")/"
  [[ -d "$dir$pkglibdir" ]] || cp -a "$pkglibdir" "$dir$(dirname "$pkglibdir")/"
fi
rm -f "$dir$pkglibdir"/bismarck.so "$dir$sharedir"/extension/bismarck*
chmod -R a+rX "$dir"
echo "$dir$bindir"
