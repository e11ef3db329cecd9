# Sourced by the benchmark scripts: where builds, data and the peers'
# virtual environment live. Expects DOSSIERS to be set.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/motcua"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
BENCH_DIR="${BENCH_DIR:-$CACHE/bench/$DOSSIERS}"
VENV="$CACHE/bench-venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
