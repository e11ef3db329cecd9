#!/usr/bin/env bash
# The benchmark: motcua beside DuckDB and Polars on the same generated files.
#
#   bash benches/run.sh [DOSSIERS] [REPEAT] [STEPS]
#       (defaults: 1000000, 3, ingest,canonical,kpi,nightly,field)
#
# Installs the peers into a virtual environment of its own (DuckDB and
# Polars from PyPI), builds motcua in release mode, generates DOSSIERS
# dossiers with `motcua sample`, then times ingest, the KPI job and a nightly
# increment. Results: the table printed at the end, also in
# $BENCH_DIR/results.md. Not a test: CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."

DOSSIERS="${1:-1000000}"
REPEAT="${2:-3}"
STEPS="${3:-ingest,canonical,kpi,nightly,field}"
. benches/env.sh
"$VENV/bin/pip" install --quiet duckdb==2.0.0 polars==2.1.0 fastexcel==0.21.0

cargo build --release --locked
BIN="$CARGO_TARGET_DIR/release/motcua"

mkdir -p "$BENCH_DIR"
if [[ "$STEPS" =~ ingest|kpi|nightly ]] && [ ! -f "$BENCH_DIR/exports/portal_events.ndjson" ]; then
    "$BIN" sample --out "$BENCH_DIR/exports" --dossiers "$DOSSIERS" --seed 1
fi
echo "motcua $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d), $(nproc) cores, $DOSSIERS dossiers"
"$VENV/bin/python" benches/bench.py --bin "$BIN" --python "$VENV/bin/python" \
    --work "$BENCH_DIR" --queries "$PWD/queries" --repeat "$REPEAT" --steps "$STEPS" --dossiers "$DOSSIERS"
