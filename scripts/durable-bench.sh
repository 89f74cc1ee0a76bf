#!/usr/bin/env bash
# durable-bench.sh SRC [RUNS] : what a user gets, durable against durable, same run, alternating.
#   ferry   : a plain `ferry clone` (default flags: forced to disk), JVM start included, against a running donor
#   tar|nc  : `nc -l | tar x` fed by `tar c | nc`, then `sync`
# Fresh destinations every run, source re-read and dirty pages written back (untimed) before each run.
#   dd      : with DD=1, also `dd oflag=direct` of every regular file (4 MiB writes) then `sync`: what the device takes
#             for the same bytes, the floor for large files (no network, no page cache)
# FLOOR=1   : also `tar x` of an archive of SRC kept in /dev/shm (made once, untimed), then `sync`: the recipient's own
#             work (create, write and force the files) with no donor, no network and no archive read from disk, the
#             floor for many small files; needs /dev/shm room for the archive. FLOOR=2 adds `tar x` of two archives
#             (SRC's top-level entries taken alternately) by two processes at once, then `sync`: both cores creating
#             files, still with no donor and no network
# FERRY_JARS="name=path.jar ..." compares several builds (e.g. before/after) in the same run; default ./ferry's jar.
# Each clone runs with the JVM options ./ferry gives it (scripts/ferry-jvm.sh; FERRY_JAVA_OPTS replaces them).
# FRESH_FS=SIZE (as root) gives every destination a new loop-mounted ext4 of SIZE (no journal, like this machine's
# root), dropped with its image afterwards: on no-journal ext4, files created within minutes of a mass deletion take
# 2-3x longer (the inode allocator skips recently deleted inodes), so deleting one run's tree before the next skews
# the run after it (the peer swung 4.1-8.5 s so); a loop device also costs writeback a copy, so it suits many small
# files, not direct I/O. KEEP_UNTIL_END=1 keeps every destination until the end instead (room for RUNS copies per
# method needed). Without either, destinations are deleted between runs as before.
# Needs nc (netcat-openbsd) and tar. Prints one line per run and the median ratios.
set -euo pipefail
SRC=$(cd "${1:?usage: durable-bench.sh SRC [RUNS]}" && pwd)
RUNS=${2:-3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/durable-bench.XXXXXX)}; mkdir -p "$WORK"
JARS=${FERRY_JARS:-"ferry=$here/engine/target/ferry.jar"}
JAVA_OPTS="--add-exports java.base/jdk.internal.misc=ALL-UNNAMED"
. "$here/scripts/ferry-jvm.sh"
MNT=""; IMG=""
# PARENT, a destination's parent: a fresh file system with FRESH_FS (the previous one dropped), else $WORK
dst_parent() {
  PARENT=$WORK
  [ -z "${FRESH_FS:-}" ] && return
  IMG="$WORK/fs.img"; MNT="$WORK/mnt"; mkdir -p "$MNT"
  truncate -s "$FRESH_FS" "$IMG"; mkfs.ext4 -q -F -O ^has_journal -i 4096 "$IMG"; mount -o loop "$IMG" "$MNT"; PARENT=$MNT
}
drop_dst() {
  if [ -n "$MNT" ]; then umount "$MNT"; rm -f "$IMG"; MNT=""
  elif [ -z "${KEEP_UNTIL_END:-}" ]; then rm -rf "$1"; fi
}
declare -A donor_pid donor_port
settle() { find "$SRC" -type f -exec cat {} + > /dev/null; sync; sleep 1; }
now() { date +%s.%N; }
# busy CPU-seconds of the whole machine so far (user+nice+system+irq+softirq from /proc/stat; USER_HZ=100)
busy() { awk '/^cpu / {print ($2+$3+$4+$7+$8)/100}' /proc/stat; }
for spec in $JARS; do
  name=${spec%%=*}; jar=${spec#*=}
  log="$WORK/donor-$name.log"
  java $JAVA_OPTS $(ferry_cds_opts "$jar") -jar "$jar" donor --root "$SRC" --listen 127.0.0.1:0 > "$log" 2>&1 &
  donor_pid[$name]=$!
  for _ in $(seq 100); do grep -qo '127.0.0.1:[0-9]*' "$log" 2>/dev/null && break; sleep 0.1; done
  donor_port[$name]=$(grep -o '127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2)
done
trap 'for p in "${donor_pid[@]}"; do kill $p 2>/dev/null || true; done; [ -n "$MNT" ] && umount "$MNT"; rm -rf "$WORK"' EXIT
declare -A times
ARCHIVE=""; FLOOR2=""; [ "${FLOOR:-}" = 2 ] && FLOOR2=tarx2-ram
if [ -n "${FLOOR:-}" ]; then
  ARCHIVE=/dev/shm/durable-bench-$$.tar; tar cf "$ARCHIVE" -C "$SRC" .
  if [ "$FLOOR" = 2 ]; then
    (cd "$SRC" && ls -A | awk 'NR % 2 == 1' > "$WORK/half1" && ls -A | awk 'NR % 2 == 0' > "$WORK/half2")
    tar cf "$ARCHIVE.1" -C "$SRC" -T "$WORK/half1"; tar cf "$ARCHIVE.2" -C "$SRC" -T "$WORK/half2"
  fi
  trap 'for p in "${donor_pid[@]}"; do kill $p 2>/dev/null || true; done; [ -n "$MNT" ] && umount "$MNT"; rm -rf "$WORK" "$ARCHIVE" "$ARCHIVE".[12]' EXIT
fi
for run in $(seq "$RUNS"); do
  for spec in $JARS tar-nc ${DD:+dd} ${FLOOR:+tarx-ram} $FLOOR2; do
    name=${spec%%=*}; dst_parent; dst="$PARENT/dst-$name-$run"
    settle
    [ -n "$ARCHIVE" ] && cat "$ARCHIVE"* > /dev/null
    c0=$(busy)
    if [ "$name" = dd ]; then
      t0=$(now)
      (cd "$SRC" && find . -type d -exec mkdir -p "$dst/{}" \; && find . -type f -exec dd if={} of="$dst/{}" bs=4M oflag=direct status=none \;)
      sync
      t1=$(now)
    elif [ "$name" = tarx-ram ]; then
      mkdir -p "$dst"
      t0=$(now)
      tar xf "$ARCHIVE" -C "$dst"; sync
      t1=$(now)
    elif [ "$name" = tarx2-ram ]; then
      mkdir -p "$dst"
      t0=$(now)
      tar xf "$ARCHIVE.1" -C "$dst" & half=$!; tar xf "$ARCHIVE.2" -C "$dst"; wait "$half"; sync
      t1=$(now)
    elif [ "$name" = tar-nc ]; then
      mkdir -p "$dst"; port=$((20000 + RANDOM % 20000))
      t0=$(now)
      (nc -d -l 127.0.0.1 $port | tar xf - -C "$dst") & recv=$!
      for _ in $(seq 200); do ss -ltn | grep -q ":$port " && break; sleep 0.01; done
      tar cf - -C "$SRC" . | nc -N 127.0.0.1 $port; wait $recv; sync
      t1=$(now)
    else
      jar=${spec#*=}
      t0=$(now)
      # shellcheck disable=SC2046
      java $JAVA_OPTS $(ferry_cds_opts "$jar") $(ferry_jvm_opts clone) -jar "$jar" clone --from 127.0.0.1:${donor_port[$name]} --to "$dst" > "$WORK/clone.log" 2>&1 || { cat "$WORK/clone.log"; exit 1; }
      t1=$(now)
    fi
    t=$(echo "$t1 - $t0" | bc -l); cpu=$(echo "$(busy) - $c0" | bc -l)
    times[$name]="${times[$name]:-} $t"
    printf 'run %d %-10s %6.2f s   machine CPU %6.2f s\n' "$run" "$name" "$t" "$cpu"
    drop_dst "$dst"   # untimed: the next run starts with the same free memory and disk
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
peer=$(echo "${times[tar-nc]}" | median)
for spec in $JARS; do
  name=${spec%%=*}; m=$(echo "${times[$name]}" | median)
  printf '%-10s median %6.2f s   tar|nc;sync median %6.2f s   ferry speed / peer speed = %.2fx\n' "$name" "$m" "$peer" "$(echo "$peer / $m" | bc -l)"
  if [ -n "${DD:-}" ]; then
    dd=$(echo "${times[dd]}" | median)
    printf '%-10s median %6.2f s   dd oflag=direct;sync median %6.2f s   ferry time / dd time = %.2f\n' "$name" "$m" "$dd" "$(echo "$m / $dd" | bc -l)"
  fi
  if [ -n "${FLOOR:-}" ]; then
    fl=$(echo "${times[tarx-ram]}" | median)
    printf '%-10s median %6.2f s   tar x from RAM;sync median %6.2f s   ferry time / floor time = %.2f\n' "$name" "$m" "$fl" "$(echo "$m / $fl" | bc -l)"
    if [ "$FLOOR" = 2 ]; then
      f2=$(echo "${times[tarx2-ram]}" | median)
      printf '%-10s median %6.2f s   2 x tar x from RAM;sync median %6.2f s   ferry time / that time = %.2f\n' "$name" "$m" "$f2" "$(echo "$m / $f2" | bc -l)"
    fi
  fi
done
