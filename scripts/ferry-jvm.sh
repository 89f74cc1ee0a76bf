# ferry-jvm.sh (sourced, not run): the JVM options the `ferry` launcher gives a command, shared with the benchmark
# scripts so that they measure what a user gets. FERRY_JAVA_OPTS, when set (even empty), replaces them.
#
# A clone is a short-lived JVM: measured on a durable 20,000-file clone (perf -a), C2 compilation took 30% of both
# cores, and the whole command took 4.1-4.6 s with it against 3.0 s with the C1 compiler alone on both ends (C1 also
# cloned 3 GiB of large files 24% faster: the copy's hot loops are syscalls and intrinsics). So `clone` and `local` run with
# -XX:TieredStopAtLevel=1, except where Java code hashes every file (--checksum: XXH3-128 is 37% slower under C1,
# 1.42 against 2.25 GB/s) and except the long-lived commands (donor, bench), which C2 pays back. --update runs with
# C1 too: with the copy's hash store it hashes little on the client (the bench's update: 1.94 s with C1, 2.41 s
# with C2), and even its first update after a plain clone, which hashes 3.09 GB of the copy, was no slower
# (4.77 / 3.93 s with C1, 5.27 / 3.90 s with C2).
ferry_jvm_opts() {
  if [ -n "${FERRY_JAVA_OPTS+set}" ]; then
    echo "$FERRY_JAVA_OPTS"
    return
  fi
  case "${1:-}" in
    clone|local)
      local a
      for a in "$@"; do
        case "$a" in --checksum|--resume-checksum) return ;; esac
      done
      echo "-XX:TieredStopAtLevel=1" ;;
  esac
}

# ferry_cds_opts JAR: the option that maps a static class-data-sharing archive of JAR and the JDK's classes, making
# it first when it is missing or older than JAR. Measured here: `ferry local` of a small tree 0.48-0.60 s -> 0.34-0.49
# s, `ferry --version` 0.31 -> 0.24 s with a dynamic archive (JDK 13+); a static one (JDK 17 stores classes compiled
# for Java 5 there, picocli's among them, which a dynamic archive skips) took a no-change update of 20,000 files from
# 0.74 to 0.69 s more (mean of 10, alternating). The archive is made from the classes a tiny loopback demo loads (about
# 1.2 s, plus about 1 s for the dump, once per build and java binary, under a lock) so that it holds the donor's,
# the client's and the transport's classes; it is named after the java binary, since an archive of another JVM build
# is ignored. A JVM that cannot map it (a changed jar, another JDK) ignores it silently. FERRY_CDS=0 turns it off;
# anything failing here only leaves it off.
ferry_cds_opts() {
  local jar=$1 javabin key jsa
  [ "${FERRY_CDS:-1}" != 0 ] || return 0
  javabin=$(readlink -f "$(command -v java)" 2>/dev/null) || return 0
  key=$(printf '%s' "$javabin" | cksum | cut -d' ' -f1)
  jsa="${jar%.jar}-$key.jsa"
  if [ ! "$jsa" -nt "$jar" ]; then
    (
      flock 8
      if [ ! "$jsa" -nt "$jar" ]; then
        rm -f "${jar%.jar}"-*.jsa
        if java -XX:DumpLoadedClassList="$jsa.lst.$$" -XX:TieredStopAtLevel=1 -jar "$jar" demo --large-files 1 \
            --large-size 2M --small-files 20 >/dev/null 2>&1 &&
            java -Xshare:dump -XX:SharedClassListFile="$jsa.lst.$$" -XX:SharedArchiveFile="$jsa.tmp.$$" \
            -jar "$jar" >/dev/null 2>&1 && [ -s "$jsa.tmp.$$" ]; then
          mv -f "$jsa.tmp.$$" "$jsa"
        else
          rm -f "$jsa.tmp.$$"
        fi
        rm -f "$jsa.lst.$$"
      fi
    ) 8>"${jar%.jar}.cds.lock" 2>/dev/null || true
  fi
  if [ "$jsa" -nt "$jar" ]; then
    echo "-XX:SharedArchiveFile=$jsa"
  fi
}
