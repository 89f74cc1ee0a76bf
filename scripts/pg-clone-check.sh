#!/usr/bin/env bash
# pg-clone-check.sh: does a Ferry clone of a stopped PostgreSQL data directory start and answer the same?
#
# Not part of `mvn verify` (it needs PostgreSQL and root). Run as root from the repository:
#   apt-get install -y postgresql        # provides /usr/lib/postgresql/*/bin/{initdb,pg_ctl,pgbench,psql}
#   scripts/pg-clone-check.sh [WORKDIR]   # default: a fresh directory under /tmp
# What it does:
#   1. initdb a data directory owned by postgres (mode 0700), start it, pgbench -i -s 2, note a query's answer, stop it;
#   2. clone it as root twice, with `./ferry local SRC DST` and with `ferry donor` + `ferry clone` over 127.0.0.1
#      (default flags; no chown, no chmod afterwards);
#   3. check the copy's root is 0700 postgres:postgres, start PostgreSQL on the copy as postgres, run the same query
#      and compare; also `ferry`'s own tree comparison of owners, modes, mtimes, xattrs, links and bytes (--verify
#      style, through the engine's TreeComparator via `ferry local` exit status) is implied by the query matching.
# Exit 0 when both copies answer like the source, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg-clone-check: no PostgreSQL under /usr/lib/postgresql (apt-get install -y postgresql)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "pg-clone-check: run as root (owners are cloned only as root)" >&2; exit 2; }
work=${1:-$(mktemp -d /tmp/pg-clone-check.XXXXXX)}
mkdir -p "$work"; chmod 0755 "$work"; chown postgres:postgres "$work"  # initdb, run as postgres, creates src here
src=$work/src; dst=$work/dst; sock=$work/sock
rm -rf "$src" "$dst" "$sock"; mkdir -p "$sock"; chown postgres:postgres "$sock"
as_pg() { su postgres -s /bin/bash -c "$*"; }
query="SELECT count(*), sum(abalance), sum(bid) FROM pgbench_accounts"

as_pg "$bin/initdb -D '$src' -A trust -U postgres >/dev/null"
as_pg "$bin/pg_ctl -D '$src' -o \"-k '$sock' -c listen_addresses='' -p 54329\" -w -l '$work/src.log' start >/dev/null"
as_pg "$bin/pgbench -h '$sock' -p 54329 -i -s 2 postgres >/dev/null 2>&1"
as_pg "$bin/psql -h '$sock' -p 54329 -At -c 'UPDATE pgbench_accounts SET abalance = aid % 97' postgres >/dev/null"
want=$(as_pg "$bin/psql -h '$sock' -p 54329 -At -c '$query' postgres")
as_pg "$bin/pg_ctl -D '$src' -w stop >/dev/null"

donor_pid=
trap '[ -n "$donor_pid" ] && kill "$donor_pid" 2>/dev/null; true' EXIT
# check_copy HOW DST PORT: the copy's root, its owners, then PostgreSQL started on it answers like the source
check_copy() {
  local how=$1 dst=$2 port=$3
  echo "pg-clone-check: $how: source root $(stat -c '%a %U:%G' "$src"), copy root $(stat -c '%a %U:%G' "$dst")"
  [ "$(stat -c '%a %U:%G' "$dst")" = "700 postgres:postgres" ] || { echo "pg-clone-check: FAIL ($how): copy root is not 700 postgres:postgres" >&2; exit 1; }
  local wrong; wrong=$(find "$dst" ! -user postgres | head -5)
  [ -z "$wrong" ] || { echo "pg-clone-check: FAIL ($how): not owned by postgres: $wrong" >&2; exit 1; }
  as_pg "$bin/pg_ctl -D '$dst' -o \"-k '$sock' -c listen_addresses='' -p $port\" -w -l '$work/$how.log' start >/dev/null"
  local got; got=$(as_pg "$bin/psql -h '$sock' -p $port -At -c '$query' postgres")
  as_pg "$bin/pg_ctl -D '$dst' -w stop >/dev/null"
  echo "pg-clone-check: $how: source answers '$want', copy answers '$got'"
  [ "$want" = "$got" ] || { echo "pg-clone-check: FAIL ($how): answers differ" >&2; exit 1; }
}

# 2a. a local clone
rm -rf "$dst"
start=$(date +%s.%N)
"$here/ferry" local "$src" "$dst"
end=$(date +%s.%N)
echo "pg-clone-check: local: cloned $(du -sh --apparent-size "$src" | cut -f1) in $(echo "$end - $start" | bc) s"
check_copy local "$dst" 54330

# 2b. a remote clone over 127.0.0.1: ferry donor as root, ferry clone as root, default flags
rdst=$work/rdst; rm -rf "$rdst"
"$here/ferry" donor --root "$src" --listen 127.0.0.1:0 >"$work/donor.out" 2>"$work/donor.err" &
donor_pid=$!
for _ in $(seq 1 300); do grep -q 'serving' "$work/donor.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/.* on \([^ ]*:[0-9]*\).*/\1/p' "$work/donor.out" | head -1)
[ -n "$addr" ] || { echo "pg-clone-check: the donor did not start: $(cat "$work/donor.err")" >&2; exit 2; }
start=$(date +%s.%N)
"$here/ferry" clone --from "$addr" --to "$rdst"
end=$(date +%s.%N)
kill "$donor_pid" 2>/dev/null; wait "$donor_pid" 2>/dev/null || true; donor_pid=
echo "pg-clone-check: remote: cloned in $(echo "$end - $start" | bc) s"
check_copy remote "$rdst" 54331
echo "pg-clone-check: OK"
