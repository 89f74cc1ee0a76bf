#!/usr/bin/env bash
# make-million.sh DIR [FILES] [DIRS] : the peerbench-style many-files set, reproducible: FILES (default 1,000,000)
# files of 0-96 bytes spread over DIRS (default 1,000) directories, DIR/dNNNN/fNNNNNNN. Needs python3.
# About 1.1 inodes per file; delete it afterwards (on no-journal ext4, creating files right after deleting many is
# slow for minutes: do not time runs just after).
set -euo pipefail
DIR=${1:?usage: make-million.sh DIR [FILES] [DIRS]}
FILES=${2:-1000000}
DIRS=${3:-1000}
mkdir -p "$DIR"
python3 - "$DIR" "$FILES" "$DIRS" <<'PY'
import os, random, sys
root, files, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(10)
per = (files + dirs - 1) // dirs
n = 0
for d in range(dirs):
    dp = os.path.join(root, "d%04d" % d)
    os.makedirs(dp, exist_ok=True)
    for _ in range(per):
        if n == files:
            break
        size = rng.randint(0, 96)
        with open(os.path.join(dp, "f%07d" % n), "wb") as f:
            f.write(rng.randbytes(size))
        n += 1
print("made %d files in %d directories under %s" % (n, dirs, root))
PY
