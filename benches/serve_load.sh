#!/usr/bin/env bash
# `motcua serve` under load, for the README's figures:
#
#   bash benches/serve_load.sh [DOSSIERS] [CLIENTS] [REQUESTS]
#       (defaults: 1000000, 16, 200)
#
# On a lake of the sample's 2024 (DOSSIERS dossiers a year), with the KPIs
# published: CLIENTS concurrent clients send REQUESTS requests each — a mix
# of the saved `ranking` over HTTP, a per-unit aggregate over `dossiers`
# and `kpi_values` look-ups over Flight SQL (ADBC, prepared statements) —
# while one more day of dossier exports (January 2025) is ingested every 5
# seconds. Every answer is checked against the snapshot it names; errors,
# p50 and p99 latency per kind, throughput and the server's peak RSS are
# printed. Loopback only; the clients stop after their requests or after
# 20 minutes, whichever is first. Not a test: CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."

DOSSIERS="${1:-1000000}"
CLIENTS="${2:-16}"
REQUESTS="${3:-200}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/motcua"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
WORK="${BENCH_DIR:-$CACHE/bench/$DOSSIERS}/serve"
VENV="$CACHE/bench-serve-venv"
export MOTCUA_PII_KEY="${MOTCUA_PII_KEY:-bench-key-0123456789abcdef}"

if ! "$VENV/bin/python" -c "import adbc_driver_flightsql" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "adbc-driver-flightsql==1.13.*" "adbc-driver-manager==1.13.*" "pyarrow==26.*"
fi

cargo build --release --locked
BIN="$CARGO_TARGET_DIR/release/motcua"
echo "motcua $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d), $(nproc) cores, $DOSSIERS dossiers, $CLIENTS clients × $REQUESTS requests"
"$VENV/bin/python" benches/serve_load.py --bin "$BIN" --work "$WORK" \
    --dossiers "$DOSSIERS" --clients "$CLIENTS" --requests "$REQUESTS"
