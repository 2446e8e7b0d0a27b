#!/usr/bin/env bash
# Runs fuzz targets one after another with the flags FUZZING.md records,
# each for SECONDS in one process (libFuzzer's default: one job, no
# workers; -jobs=1 would only move the log to fuzz-0.log), niced. The
# libFuzzer log of each goes to fuzz/logs/TARGET.log and its last stats
# line is printed.
#
#   bash fuzz/run.sh SECONDS TARGET...
#
# New corpus entries go to fuzz/corpus/TARGET; fuzz/seeds/TARGET (from
# fuzz/seed.sh) is read too. Crashes land in fuzz/artifacts/TARGET/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:?usage: fuzz/run.sh SECONDS TARGET...}
shift
mkdir -p "$here/logs"
for t in "$@"; do
  case $t in
    whole_image | whole_image_udf | nrg | mdf_mds | ccd | udf_vat | udf_metadata | cso) max=1048576 ;;
    udf_icb | udf_vds) max=262144 ;;
    *) max=65536 ;;
  esac
  mkdir -p "$here/corpus/$t" "$here/seeds/$t"
  (
    cd "$here" || exit 1
    nice -n 5 cargo +nightly fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len="$max" \
      -print_final_stats=1 >"logs/$t.log" 2>&1
  )
  echo "$t: exit $? :: $(grep -E '^#[0-9]+' "$here/logs/$t.log" | tail -1)"
done
