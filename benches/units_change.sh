#!/usr/bin/env bash
# Units that change (SPEC §2.1) at scale, for the README's figures:
#
# 1. on the 2024–2026 sample (its registry changes on 1 July 2025), the KPI
#    job over 30 months as reported against restated on the units of
#    30 June 2026 (goal: restated ≤ 1.25× as reported);
# 2. with OLD_BIN, a motcua built before restating, on the 2024 sample of
#    that commit (a registry without validity dates), the job over 12
#    months with OLD_BIN against BIN (goal: within ±5 %).
#
# Each job runs RUNS times, alternating; wall seconds and peak memory come
# from /usr/bin/time. The lakes are built once in WORK and kept.
#
#   cargo build --release
#   BIN=$CARGO_TARGET_DIR/release/motcua OLD_BIN=/tmp/motcua-before \
#     benches/units_change.sh 10000000 /tmp/units-bench
set -euo pipefail

DOSSIERS=${1:?usage: units_change.sh DOSSIERS [WORK]}
WORK=${2:-/tmp/motcua-units-bench}
BIN=${BIN:?set BIN to a release build of motcua}
RUNS=${RUNS:-3}
export MOTCUA_PII_KEY=${MOTCUA_PII_KEY:-bench-key-0123456789abcdef}
mkdir -p "$WORK"

# A lake of DOSSIERS sample dossiers, made and ingested by the binary $1.
lake() {
    local bin=$1 dir=$2
    [ -d "$dir/lake" ] && return
    "$bin" sample --out "$dir/exports" --dossiers "$DOSSIERS" --seed 1 -q
    # The registry before the changes that refer to it, then the rest; the
    # sample before restating has no unit_changes.
    for feed in units unit_changes targets dossiers portal_events signatures; do
        for file in "$dir"/exports/"$feed".*; do
            [ -e "$file" ] || continue
            "$bin" ingest "$feed" "$file" --lake "$dir/lake.tmp" -q >/dev/null
        done
    done
    mv "$dir/lake.tmp" "$dir/lake"
    rm -rf "$dir/exports"
}

# One timed KPI run: label, binary, lake, then the job's arguments.
timed() {
    local label=$1 bin=$2 lake=$3
    shift 3
    rm -rf "$WORK/out-run"
    /usr/bin/time -f "$label %e s wall, %M KB peak" \
        "$bin" kpi --lake "$lake" --out "$WORK/out-run" -q "$@" 2>&1 >/dev/null | tail -1
}

lake "$BIN" "$WORK/changing"
for _ in $(seq "$RUNS"); do
    timed "as reported, 30 months:" "$BIN" "$WORK/changing/lake" --from 2024-01-01 --to 2026-06-01
    timed "restated,    30 months:" "$BIN" "$WORK/changing/lake" --from 2024-01-01 --to 2026-06-01 --units-as-of 2026-06-30
done

if [ -n "${OLD_BIN:-}" ]; then
    lake "$OLD_BIN" "$WORK/undated"
    for _ in $(seq "$RUNS"); do
        timed "before restating, 12 months:" "$OLD_BIN" "$WORK/undated/lake" --from 2024-01-01 --to 2024-12-01
        timed "as reported,      12 months:" "$BIN" "$WORK/undated/lake" --from 2024-01-01 --to 2024-12-01
    done
fi
