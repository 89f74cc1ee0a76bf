# ferry-jvm.sh (sourced, not run): the JVM options the `ferry` launcher gives a command, shared with the benchmark
# scripts so that they measure what a user gets. FERRY_JAVA_OPTS, when set (even empty), replaces them.
#
# A clone is a short-lived JVM: measured on a durable 20,000-file clone (perf -a), C2 compilation took 30% of both
# cores, and the whole command took 4.1-4.6 s with it against 3.0 s with the C1 compiler alone on both ends (C1 also
# cloned 3 GiB of large files 24% faster: the copy's hot loops are syscalls and intrinsics). So `clone` and `local` run with
# -XX:TieredStopAtLevel=1, except where Java code hashes whole files (--update and --checksum: XXH3-128 is 37%
# slower under C1, 1.42 against 2.25 GB/s) and except the long-lived commands (donor, bench), which C2 pays back.
ferry_jvm_opts() {
  if [ -n "${FERRY_JAVA_OPTS+set}" ]; then
    echo "$FERRY_JAVA_OPTS"
    return
  fi
  case "${1:-}" in
    clone|local)
      local a
      for a in "$@"; do
        case "$a" in --update|--checksum) return ;; esac
      done
      echo "-XX:TieredStopAtLevel=1" ;;
  esac
}
