#!/usr/bin/env bash
# many-files-bench.sh SRC [RUNS] : a million tiny files, what a user gets, same run, alternating, fresh destinations.
#   ferry         : a plain `ferry clone` (default flags: forced to disk), JVM start included, against a running donor
#   tar|nc;sync   : `nc -l | tar x` fed by `tar c | nc`, then `sync`
#   NOSYNC=1 adds `ferry clone --no-sync` against bare `tar|nc` in the same rounds.
# Both Ferry JVMs run with HEAP (default -Xmx64m -XX:MaxDirectMemorySize=1g, as issue 10 asks); each clone's time, peak RSS (/usr/bin/time -v) and heap after GC
# (the largest "->" of -Xlog:gc) are printed, and the donor's at the end. SRC is made with make-million.sh if absent.
# FERRY_JAR (default ./ferry's jar) is the build measured. Needs nc (netcat-openbsd), tar, /usr/bin/time, bc.
# Destinations are deleted at the end only: on no-journal ext4, files created within minutes of a mass deletion
# take 2-3x longer (the inode allocator skips recently deleted inodes; perf shows `recently_deleted` and
# `find_get_block_common` at 40% of all CPU), so a run right after another run's cleanup measures that instead.
# FRESH_FS=SIZE (as root) puts the destinations on a new loop-mounted ext4 of SIZE (no journal, like this
# machine's root, an inode per 4 KiB: the default ratio ran out of inodes at the third copy) and drops it at the
# end with its image, instead of deleting millions of files.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=${1:?usage: many-files-bench.sh SRC [RUNS]}
RUNS=${2:-3}
[ -d "$SRC" ] || "$here/scripts/make-million.sh" "$SRC"
SRC=$(cd "$SRC" && pwd)
IMG=""; MNT=""
if [ -n "${FRESH_FS:-}" ]; then
  IMG=$(mktemp "$(dirname "$SRC")/fresh-fs.XXXXXX.img"); MNT=$(mktemp -d)
  truncate -s "$FRESH_FS" "$IMG"; mkfs.ext4 -q -F -O ^has_journal -i 4096 "$IMG"; mount -o loop "$IMG" "$MNT"
  WORK=$MNT/work
fi
WORK=${WORK:-$(mktemp -d "$(dirname "$SRC")/many-files-bench.XXXXXX")}
mkdir -p "$WORK"
JAR=${FERRY_JAR:-$here/engine/target/ferry.jar}
HEAP=${HEAP:--Xmx64m -XX:MaxDirectMemorySize=1g}
JAVA_OPTS="$HEAP --add-exports java.base/jdk.internal.misc=ALL-UNNAMED"
. "$here/scripts/ferry-jvm.sh"   # the clone's JVM options as ./ferry gives them
settle() { tar cf - -C "$SRC" . > /dev/null; sync; sleep 2; }
now() { date +%s.%N; }
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
heap() { grep -o -- '->[0-9]*M' "$1" 2>/dev/null | tr -dc '0-9\n' | sort -n | tail -1; }
/usr/bin/time -v -o "$WORK/donor.time" java $JAVA_OPTS $(ferry_cds_opts "$JAR") -Xlog:gc:file="$WORK/donor.gc" -jar "$JAR" donor --root "$SRC" \
  --listen 127.0.0.1:0 > "$WORK/donor.log" 2>&1 &
donor=$!
for _ in $(seq 200); do grep -qo "127.0.0.1:[0-9]*" "$WORK/donor.log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$WORK/donor.log" | head -1 | cut -d: -f2)
cleanup() {
  kill $(pgrep -P "$donor") 2>/dev/null || true; wait "$donor" 2>/dev/null || true   # the JVM, so time reports
  [ -f "$WORK/donor.time" ] && echo "donor: peak RSS $(rss "$WORK/donor.time") MiB, heap after GC at most $(heap "$WORK/donor.gc") MiB"
  if [ -n "$MNT" ]; then umount "$MNT" && rm -f "$IMG" && rmdir "$MNT"
  elif [ -z "${KEEP:-}" ]; then echo "deleting $WORK ..."; rm -rf "$WORK"; fi
}
trap cleanup EXIT
methods="ferry tar-nc-sync"
[ -n "${NOSYNC:-}" ] && methods="$methods ferry-no-sync tar-nc"
declare -A times
for run in $(seq "$RUNS"); do
  for m in $methods; do
    dst="$WORK/dst-$m-$run"; extra=""
    settle
    case $m in
      tar-nc*)
        mkdir -p "$dst"; p=$((20000 + RANDOM % 20000))
        t0=$(now)
        (nc -d -l 127.0.0.1 $p | tar xf - -C "$dst") & recv=$!
        for _ in $(seq 200); do ss -ltn | grep -q ":$p " && break; sleep 0.01; done
        tar cf - -C "$SRC" . | nc -N 127.0.0.1 $p; wait $recv
        [ "$m" = tar-nc-sync ] && sync
        t1=$(now) ;;
      *)
        [ "$m" = ferry-no-sync ] && extra=--no-sync
        t0=$(now)
        # shellcheck disable=SC2046
        /usr/bin/time -v -o "$WORK/clone.time" java $JAVA_OPTS $(ferry_cds_opts "$JAR") $(ferry_jvm_opts clone) -Xlog:gc:file="$WORK/clone-$m-$run.gc" -jar "$JAR" \
          clone --from 127.0.0.1:$port --to "$dst" $extra > "$WORK/clone.log" 2>&1 || { cat "$WORK/clone.log"; exit 1; }
        t1=$(now)
        extra=" (peak RSS $(rss "$WORK/clone.time") MiB, heap after GC at most $(heap "$WORK/clone-$m-$run.gc") MiB)" ;;
    esac
    t=$(echo "$t1 - $t0" | bc -l)
    times[$m]="${times[$m]:-} $t"
    printf 'run %d %-14s %7.2f s%s\n' "$run" "$m" "$t" "$extra"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { printf '%-14s median %7.2f s   %-12s median %7.2f s   ferry speed / peer speed = %.2fx\n' "$1" \
  "$(echo "${times[$1]}" | median)" "$2" "$(echo "${times[$2]}" | median)" \
  "$(echo "$(echo "${times[$2]}" | median) / $(echo "${times[$1]}" | median)" | bc -l)"; }
ratio ferry tar-nc-sync
[ -n "${NOSYNC:-}" ] && ratio ferry-no-sync tar-nc
exit 0
