#!/usr/bin/env bash
# Builds Citus 13.2.2 (the newest line for PostgreSQL 15; Debian does not package it) from its
# official source tarball and installs it, unless it is installed already.
#
#   scripts/citus.sh [TARBALL]                    # into the system PostgreSQL (root)
#   scripts/citus.sh --destdir DIR [TARBALL]      # into a private tree (scripts/pginstall.sh DIR)
#
# TARBALL (or $CITUS_TARBALL) defaults to ../shared/deps/citus-13.2.2.tar.gz beside the repository
# (the main checkout's, when this is a git worktree); without it the release tarball is downloaded
# from GitHub. Its sha256 is checked either way.
# The system install is skipped when $(pg_config --pkglibdir)/citus.so exists, a private one when
# DIR has it. The build tree is kept in build/citus, so a second install (another DIR) only copies.
# Needs the apt packages below (installed when missing, as root) and the server headers.
set -euo pipefail

VERSION=13.2.2
SHA256=dd2453caec20a830e5e63f1def5c5a98cb6f57ae510407cdcd800916fcdab430
URL=https://github.com/citusdata/citus/archive/refs/tags/v$VERSION.tar.gz
PKGS=(postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev libxslt1-dev
  libpam0g-dev libreadline-dev make gcc)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
export PG_CONFIG

destdir=
tarball=${CITUS_TARBALL:-}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
    --destdir=*) destdir=${1#--destdir=}; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "citus: unknown option $1" >&2; exit 2 ;;
    *) tarball=$1; shift ;;
  esac
done

pkglibdir=$("$PG_CONFIG" --pkglibdir)
if [[ -n $destdir ]]; then
  mkdir -p "$destdir"
  destdir=$(cd "$destdir" && pwd)
  target="$destdir$pkglibdir/citus.so"
else
  target="$pkglibdir/citus.so"
fi
if [[ -f $target ]]; then
  echo "citus: already installed ($target)"
  exit 0
fi

build="$repo/build/citus"
src="$build/citus-$VERSION"
stamp="$build/.built-$VERSION-$("$PG_CONFIG" --version | tr -c 'A-Za-z0-9.\n' _)"

if [[ ! -f $stamp ]]; then
  # --- the source ---------------------------------------------------------------------------
  if [[ -z $tarball ]]; then
    for cand in "$repo/../shared/deps/citus-$VERSION.tar.gz" \
      "$(cd "$repo" && git rev-parse --path-format=absolute --git-common-dir 2>/dev/null)/../../shared/deps/citus-$VERSION.tar.gz"; do
      if [[ -f $cand ]]; then tarball=$cand; break; fi
    done
  fi
  mkdir -p "$build"
  if [[ -z $tarball ]]; then
    tarball="$build/citus-$VERSION.tar.gz"
    if [[ ! -f $tarball ]]; then
      echo "citus: no local tarball; downloading $URL"
      if ! curl -fsSL --connect-timeout 20 -o "$tarball.part" "$URL" 2>"$build/download.log" &&
        ! wget -q -T 20 -O "$tarball.part" "$URL" 2>>"$build/download.log"; then
        rm -f "$tarball.part"
        echo "citus: could not download $URL (no network?)." >&2
        echo "citus: give the tarball as an argument or in CITUS_TARBALL, or put it at" >&2
        echo "       $repo/../shared/deps/citus-$VERSION.tar.gz" >&2
        exit 1
      fi
      mv "$tarball.part" "$tarball"
    fi
  fi
  [[ -f $tarball ]] || { echo "citus: no such tarball: $tarball" >&2; exit 1; }
  got=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [[ $got != "$SHA256" ]]; then
    echo "citus: $tarball has sha256 $got, expected $SHA256 (not Citus $VERSION's release)" >&2
    exit 1
  fi

  # --- build dependencies (as scripts/deps.sh: only the missing ones) -------------------------
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} > 0)); then
    if [[ $EUID -ne 0 ]]; then
      echo "citus: missing packages (${missing[*]}); run as root or install them" >&2
      exit 1
    fi
    echo "citus: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  # --- unpack, patch, configure, build (in build/citus; the tarball may be read-only) ---------
  echo "citus: building $VERSION in $src (log: $build/build.log)"
  rm -rf "$src"
  tar -xzf "$tarball" -C "$build"
  [[ -d $src ]] || { echo "citus: $tarball did not unpack into $src" >&2; exit 1; }
  chmod -R u+w "$src"

  # PostgreSQL 15.20 declares have_createdb_privilege() in commands/dbcommands.h (back-patched);
  # Citus 13.2.2 defines its own static inline copy for PG < 16, and the two clash. Drop Citus's
  # copy when the server's header has the declaration.
  compat="$src/src/include/pg_version_compat.h"
  if grep -q 'have_createdb_privilege' "$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h"; then
    awk '
      skip == 0 && /^static inline bool$/ { held = $0; next }
      held != "" {
        if ($0 ~ /^have_createdb_privilege\(void\)/) { skip = 1; held = ""; next }
        print held; held = ""
      }
      skip == 1 { if ($0 ~ /^}/) skip = 2; next }
      { print }
    ' "$compat" >"$compat.new"
    if grep -q '^have_createdb_privilege(void)' "$compat.new" || [[ $(wc -l <"$compat.new") -ge $(wc -l <"$compat") ]]; then
      echo "citus: could not drop have_createdb_privilege from $compat" >&2
      exit 1
    fi
    mv "$compat.new" "$compat"
    echo "citus: server declares have_createdb_privilege(); dropped Citus's inline copy"
  fi

  start=$SECONDS
  (
    cd "$src"
    ./configure --without-libcurl
    nice -n 10 make -j"${CITUS_JOBS:-2}"
  ) >"$build/build.log" 2>&1 || {
    tail -n 40 "$build/build.log" >&2
    echo "citus: build failed (full log: $build/build.log)" >&2
    exit 1
  }
  echo "citus: built in $((SECONDS - start)) s"
  touch "$stamp"
fi

# --- install ----------------------------------------------------------------------------------
if [[ -n $destdir ]]; then
  make -C "$src" install DESTDIR="$destdir" >"$build/install.log" 2>&1 ||
    { tail -n 20 "$build/install.log" >&2; exit 1; }
  chmod -R a+rX "$destdir"
else
  make -C "$src" install >"$build/install.log" 2>&1 || { tail -n 20 "$build/install.log" >&2; exit 1; }
fi
[[ -f $target ]] || { echo "citus: make install did not produce $target" >&2; exit 1; }
echo "citus: installed $VERSION ($target)"
