#!/usr/bin/env bash
# pg-live-check.sh: a live clone of a running PostgreSQL under pgbench load. Does PostgreSQL start on the copy
# (crash recovery) and do pgbench's invariants hold there?
#
# Not part of `mvn verify` (it needs PostgreSQL, root, about 2 x 2.5 GB of disk and a few minutes). Run as root from
# the repository, after `mvn -B -q -DskipTests package` (the script builds that way if engine/target/ferry.jar is
# missing or stale, never with `mvn install`):
#   apt-get update && apt-get install -y postgresql   # PostgreSQL 15: /usr/lib/postgresql/15/bin/{initdb,pg_ctl,...}
#   scripts/pg-live-check.sh [--no-hooks] [WORKDIR]   # default WORKDIR: a fresh directory under /tmp, removed at the end
# Environment: SCALE (100: pgbench -i -s, about 1.5 GB), CLIENTS (4), WARMUP (10 s of load before the clone),
# MAX_LOAD_SECONDS (600: pgbench -T, stopped as soon as the clone ends), CHECKPOINT_TIMEOUT (30s: the source
# checkpoints, writing data files and recycling WAL segments by rename, while it is cloned), PORT_SRC/PORT_DST
# (54341/54342), KEEP=1 keeps WORKDIR, AMCHECK=0 skips pg_amcheck of the copy.
# What it does:
#   1. initdb a source data directory, start it (Unix socket only), pgbench -i -s $SCALE, CHECKPOINT;
#   2. pgbench -c $CLIENTS -j 2 -T $MAX_LOAD_SECONDS in the background, as postgres;
#   3. `ferry donor --root SRC` with --freeze-cmd/--thaw-cmd hooks (not with --no-hooks) that SIGSTOP/SIGCONT this
#      server's postmaster and its children only (by the postmaster's pid from SRC/postmaster.pid, never pgbench, never
#      another server); the freeze hook waits until every one of them is in state T and writes `ps` of them and of
#      pgbench into WORKDIR/freeze.log, the thaw hook its own time (so the time the processes were really held can be
#      told apart from the window Ferry reports);
#   4. after $WARMUP s of load, `ferry clone --from DONOR --to DST` (default flags) while pgbench runs;
#   5. stop pgbench, check the invariants on the source, stop the source, remove the copy's postmaster.pid (the
#      donor's pid, which may still be taken on this host; pg_basebackup leaves that file out), start PostgreSQL on the copy (port $PORT_DST; crash recovery), check
#      pgbench's invariants there: sum(abalance) = sum(bbalance) = sum(tbalance) = sum(delta), and pg_amcheck the copy;
#   6. report: passes, the freeze window, bytes per pass (the donor logs one "clone ended" line per snapshot, a pass is
#      a snapshot), total bytes sent against `du -sb` of the source; remove everything it started and made.
# Exit 0 when the copy started and the invariants hold, 1 otherwise, 2 when it could not run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hooks=1
if [ "${1:-}" = "--no-hooks" ]; then hooks=0; shift; fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "pg-live-check: no PostgreSQL under /usr/lib/postgresql (apt-get install -y postgresql)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "pg-live-check: run as root (the donor reads postgres's 0700 files, owners are kept)" >&2; exit 2; }
SCALE=${SCALE:-100}; CLIENTS=${CLIENTS:-4}; WARMUP=${WARMUP:-10}; MAX_LOAD_SECONDS=${MAX_LOAD_SECONDS:-600}
CHECKPOINT_TIMEOUT=${CHECKPOINT_TIMEOUT:-30s}; PORT_SRC=${PORT_SRC:-54341}; PORT_DST=${PORT_DST:-54342}
AMCHECK=${AMCHECK:-1}; KEEP=${KEEP:-0}

# the launcher would build with `mvn install` when the jar is stale: build with `package` here instead
jar="$here/engine/target/ferry.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$here/pom.xml" "$here"/core "$here"/transport "$here"/engine -path '*/target' -prune -o \( -name '*.java' -o -name 'pom.xml' \) -newer "$jar" -print -quit)" ]; then
  echo "pg-live-check: building $jar (mvn -B -q -DskipTests package)" >&2
  (cd "$here" && mvn -B -q -DskipTests package) >&2
fi

work=${1:-$(mktemp -d /tmp/pg-live-check.XXXXXX)}
mkdir -p "$work"; chmod 0755 "$work"; chown postgres:postgres "$work"
src=$work/src; dst=$work/dst; sock=$work/sock
rm -rf "$src" "$dst" "$sock"; mkdir -p "$sock"; chown postgres:postgres "$sock"
as_pg() { setpriv --reuid postgres --regid postgres --init-groups -- "$@"; }
psql_at() { as_pg "$bin/psql" -h "$sock" -p "$1" -X -At -v ON_ERROR_STOP=1 -c "$2" postgres; }
say() { echo "pg-live-check: $*"; }

pgbench_pid=; donor_pid=
cleanup() {
  set +e
  if [ -f "$src/postmaster.pid" ]; then  # never leave the source stopped
    pm=$(head -1 "$src/postmaster.pid"); kill -CONT "$pm" 2>/dev/null; pkill -CONT -P "$pm" 2>/dev/null
  fi
  [ -n "$pgbench_pid" ] && kill "$pgbench_pid" 2>/dev/null && wait "$pgbench_pid" 2>/dev/null
  [ -n "$donor_pid" ] && kill "$donor_pid" 2>/dev/null && wait "$donor_pid" 2>/dev/null
  for d in "$dst" "$src"; do
    [ -f "$d/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
  done
  if [ "$KEEP" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# 1. the source
as_pg "$bin/initdb" -D "$src" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$src" -w -l "$work/src.log" \
  -o "-k $sock -c listen_addresses= -p $PORT_SRC -c checkpoint_timeout=$CHECKPOINT_TIMEOUT -c log_checkpoints=on" start >/dev/null
t0=$(date +%s)
as_pg "$bin/pgbench" -h "$sock" -p "$PORT_SRC" -i -s "$SCALE" -q postgres >"$work/init.log" 2>&1
psql_at "$PORT_SRC" "CHECKPOINT" >/dev/null
say "pgbench -i -s $SCALE: $(( $(date +%s) - t0 )) s, data directory $(du -sb "$src" | cut -f1) bytes"

# 3. the donor and its hooks (written before the load starts)
cat >"$work/freeze.sh" <<EOF
#!/bin/sh
# SIGSTOP this server's postmaster, then its children; wait until all are stopped (state T)
pm=\$(head -1 "\$FERRY_ROOT/postmaster.pid")
echo "freeze \$(date +%s%N) \$FERRY_SNAPSHOT" >>"$work/hooks.log"
kill -STOP "\$pm" && pkill -STOP -P "\$pm"
i=0
while [ \$i -lt 2000 ]; do
  ps -o stat= --ppid "\$pm" -p "\$pm" | grep -qv '^T' || break
  i=\$((i + 1)); sleep 0.001
done
{ echo "--- freeze of snapshot \$FERRY_SNAPSHOT, \$i waits"; ps -o pid,ppid,stat,user,comm,args --ppid "\$pm" -p "\$pm"
  ps -o pid,ppid,stat,user,comm -C pgbench; } >>"$work/freeze.log"
ps -o stat= --ppid "\$pm" -p "\$pm" | grep -qv '^T' && { echo "freeze hook: not every process stopped" >&2; exit 1; }
echo "frozen \$(date +%s%N) \$FERRY_SNAPSHOT" >>"$work/hooks.log"
exit 0
EOF
cat >"$work/thaw.sh" <<EOF
#!/bin/sh
pm=\$(head -1 "\$FERRY_ROOT/postmaster.pid")
echo "thaw \$(date +%s%N) \$FERRY_SNAPSHOT" >>"$work/hooks.log"
pkill -CONT -P "\$pm"; kill -CONT "\$pm"
EOF
chmod 0755 "$work/freeze.sh" "$work/thaw.sh"
donor_args=(donor --root "$src" --listen 127.0.0.1:0)
[ "$hooks" = 1 ] && donor_args+=(--freeze-cmd "$work/freeze.sh" --thaw-cmd "$work/thaw.sh")
"$here/ferry" "${donor_args[@]}" >"$work/donor.out" 2>"$work/donor.err" &
donor_pid=$!
for _ in $(seq 1 300); do grep -q 'serving' "$work/donor.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/.* on \([^ ]*:[0-9]*\).*/\1/p' "$work/donor.out" | head -1)
[ -n "$addr" ] || { echo "pg-live-check: the donor did not start: $(cat "$work/donor.err")" >&2; exit 2; }

# 2. the load
setpriv --reuid postgres --regid postgres --init-groups -- \
  "$bin/pgbench" -h "$sock" -p "$PORT_SRC" -c "$CLIENTS" -j 2 -T "$MAX_LOAD_SECONDS" -P 5 postgres \
  >"$work/pgbench.log" 2>&1 &
pgbench_pid=$!
sleep "$WARMUP"
kill -0 "$pgbench_pid" || { echo "pg-live-check: pgbench ended early: $(tail -5 "$work/pgbench.log")" >&2; exit 2; }

# 4. the clone, under load
say "cloning $src from $addr (hooks: $([ "$hooks" = 1 ] && echo SIGSTOP/SIGCONT || echo none)) while pgbench runs"
t1=$(date +%s.%N)
set +e
"$here/ferry" clone --from "$addr" --to "$dst" >"$work/clone.out" 2>"$work/clone.err"
clone_rc=$?
set -e
t2=$(date +%s.%N)
kill -0 "$pgbench_pid" 2>/dev/null && load="pgbench still running" || load="pgbench had ENDED before the clone did"
kill -TERM "$pgbench_pid" 2>/dev/null || true; wait "$pgbench_pid" 2>/dev/null || true; pgbench_pid=
say "clone exit $clone_rc after $(printf '%.1f' "$(echo "$t2 - $t1" | bc)") s ($load)"
tr '\r' '\n' <"$work/clone.err" | grep -v '^\s*$' | grep -v '%' | sed 's/^/  clone: /' || true
grep -v '^$' "$work/clone.out" | sed 's/^/  clone: /' || true
tps=$(grep -o 'progress: [0-9.]* s, [0-9.]* tps' "$work/pgbench.log" | awk '{s += $4; n++} END {if (n) printf "%.0f", s / n}')
say "pgbench: ${tps:-?} tps on average over its 5 s reports"
kill "$donor_pid" 2>/dev/null; wait "$donor_pid" 2>/dev/null || true; donor_pid=

# 6. passes and bytes
grep 'clone ended' "$work/donor.err" | sed 's/^.*clone ended/  donor: clone ended/' || true
pass=0; total=0
while read -r b; do pass=$((pass + 1)); total=$((total + b)); say "pass $pass: $b bytes sent"; done \
  < <(grep -o 'clone ended: .*result OK.*, [0-9]* bytes sent' "$work/donor.err" | sed 's/.*, \([0-9]*\) bytes sent/\1/')
size=$(du -sb "$src" | cut -f1)
say "passes (snapshots): $pass, bytes sent in all: $total, source data directory (du -sb after the load): $size" \
  "($(echo "scale=2; $total / $size" | bc) x)"
if [ "$hooks" = 1 ]; then
  say "freeze log (ps of the postmaster and its children, and of pgbench, at the end of the freeze hook):"
  sed 's/^/  /' "$work/freeze.log" 2>/dev/null | grep -E -- '---|STAT|postmaster|postgres|pgbench' | head -30 || true
  held=$(awk '$1 == "freeze" {f = $2} $1 == "thaw" && f {printf "%.0f ms ", ($2 - f) / 1e6; f = 0}' "$work/hooks.log")
  say "processes held (freeze hook's SIGSTOP to thaw hook's SIGCONT), per freeze: ${held:-none}"
fi
[ "$clone_rc" = 0 ] || { echo "pg-live-check: FAIL: the clone failed" >&2; exit 1; }

# 5. the invariants, on the source then on the copy
query="SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' || (SELECT sum(bbalance) FROM pgbench_branches)
  || ' ' || (SELECT sum(tbalance) FROM pgbench_tellers) || ' ' || (SELECT coalesce(sum(delta), 0) FROM pgbench_history)
  || ' ' || (SELECT count(*) FROM pgbench_history)"
say "source: accounts branches tellers history(sum) history(rows): $(psql_at "$PORT_SRC" "$query")"
as_pg "$bin/pg_ctl" -D "$src" -m fast -w stop >/dev/null
# the copy's postmaster.pid names the donor's postmaster; on this host that pid may still be taken (a zombie the
# container's init has not reaped yet), which makes PostgreSQL refuse the copy: remove it, as pg_basebackup leaves it out
rm -f "$dst/postmaster.pid"
say "copy's pg_control before start: $(as_pg "$bin/pg_controldata" -D "$dst" | grep -E 'cluster state' | sed 's/  */ /g')"
t3=$(date +%s.%N)
if ! as_pg "$bin/pg_ctl" -D "$dst" -w -t 600 -l "$work/dst.log" -o "-k $sock -c listen_addresses= -p $PORT_DST" start >/dev/null; then
  say "PostgreSQL started on the copy: no"
  sed 's/^/  copy log: /' "$work/dst.log" | tail -20
  exit 1
fi
say "PostgreSQL started on the copy: yes ($(printf '%.1f' "$(echo "$(date +%s.%N) - $t3" | bc)") s)"
grep -E 'not properly shut down|redo starts|redo done|invalid record|consistent recovery|ready to accept' "$work/dst.log" \
  | sed 's/^[^]]*] *//; s/^[0-9-]* [0-9:.]* [A-Z]* \[[0-9]*\] //; s/^/  copy log: /' || true
sums=$(psql_at "$PORT_DST" "$query")
say "copy: accounts branches tellers history(sum) history(rows): $sums"
read -r a b t h n <<<"$sums"
ok=1
if [ "$a" = "$b" ] && [ "$b" = "$t" ] && [ "$t" = "$h" ]; then say "invariants on the copy: hold ($a, $n transactions in history)"
else say "invariants on the copy: BROKEN"; ok=0; fi
if [ "$AMCHECK" = 1 ]; then
  if as_pg "$bin/pg_amcheck" -h "$sock" -p "$PORT_DST" --install-missing --heapallindexed postgres >"$work/amcheck.log" 2>&1
  then say "pg_amcheck --heapallindexed of the copy: no corruption"
  else say "pg_amcheck of the copy: FAILED"; sed 's/^/  amcheck: /' "$work/amcheck.log" | head -20; ok=0; fi
fi
as_pg "$bin/pg_ctl" -D "$dst" -m fast -w stop >/dev/null
[ "$ok" = 1 ] && { say OK; exit 0; }
echo "pg-live-check: FAIL" >&2; exit 1
