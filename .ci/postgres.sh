#!/usr/bin/env bash
# Start a throwaway PostgreSQL on loopback for the test suite and print its URL on the last line.
# Installs Debian's postgresql when it is missing. Usage: url=$(bash .ci/postgres.sh | tail -1)
set -euo pipefail
PGPORT="${PGPORT:-55432}"
PGROOT="${PGROOT:-/tmp/whatsfordinner-pg}"
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
run_as=""
if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home "$PGROOT" postgres
  run_as="runuser -u postgres --"
fi
if ! $run_as "$bindir/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q 2>/dev/null; then
  rm -rf "$PGROOT"; mkdir -p "$PGROOT"
  [ -n "$run_as" ] && chown postgres "$PGROOT"
  $run_as "$bindir/initdb" -D "$PGROOT/data" -U postgres --auth=trust -E UTF8 >/dev/null
  $run_as "$bindir/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGROOT -c fsync=on -c max_connections=200" start >&2
fi
$run_as "$bindir/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qtAc \
  "SELECT 1 FROM pg_database WHERE datname='whatsfordinner_test'" | grep -q 1 ||
  $run_as "$bindir/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres whatsfordinner_test
echo "postgresql://postgres@127.0.0.1:$PGPORT/whatsfordinner_test"
