#!/usr/bin/env bash
# Do two motcua binaries build the same lake and the same kpi_values from the
# same exports? For refactors that must not change outputs:
#   bash benches/same_outputs.sh OLD_BINARY NEW_BINARY [DOSSIERS] [WORK_DIR]
# Every Parquet file is compared by sha256; the manifests with their
# timestamps, durations and lake paths masked. Exit 0 when all are identical.
set -euo pipefail
OLD=$1 NEW=$2 DOSSIERS=${3:-1000000} W=${4:-/tmp/motcua-same-outputs}
export MOTCUA_PII_KEY=${MOTCUA_PII_KEY:-same-outputs-key-0123456789abcdef}
rm -rf "$W" && mkdir -p "$W"
"$NEW" sample --out "$W/exports" --dossiers "$DOSSIERS" --seed 1
for side in old new; do
    BIN=$OLD; [ "$side" = new ] && BIN=$NEW
    # MOTCUA_LAKE, not --lake: both the old and the new command line read it.
    export MOTCUA_LAKE="$W/lake-$side"
    for f in units:units.csv targets:targets.csv dossiers:dossiers.csv \
             portal_events:portal_events.ndjson signatures:signatures.csv; do
        "$BIN" -q ingest "${f%%:*}" "$W/exports/${f#*:}" > /dev/null
    done
    "$BIN" -q kpi --from 2024-01-01 --to 2025-01-01 --out "$W/out-$side"
done
python3 - "$W" <<'PY'
import hashlib, os, re, sys
w = sys.argv[1]
def digests(root):
    out = {}
    for d, _, files in os.walk(root, followlinks=True):
        for f in files:
            if f.endswith('.parquet'):
                p = os.path.join(d, f)
                out[os.path.relpath(p, root)] = hashlib.sha256(open(p, 'rb').read()).hexdigest()
    return out
def masked(path, *patterns):
    text = open(path).read()
    for p in patterns:
        text = re.sub(p, 'X', text)
    return text
def run_manifest(out):
    d = os.path.join(out, '.kpi_values')
    name = [f for f in os.listdir(d) if f.endswith('.json')][0]
    return masked(os.path.join(d, name), r'"seconds": [0-9.]+', r'"lake": "[^"]*"')
checks = [
    ('lake Parquet files', digests(f'{w}/lake-old'), digests(f'{w}/lake-new')),
    ('kpi_values slices', digests(f'{w}/out-old/kpi_values'), digests(f'{w}/out-new/kpi_values')),
    ('lake manifest (ingested_at masked)',
     masked(f'{w}/lake-old/_manifest.json', r'"ingested_at": "[^"]*"'),
     masked(f'{w}/lake-new/_manifest.json', r'"ingested_at": "[^"]*"')),
    ('run manifest (seconds, lake masked)', run_manifest(f'{w}/out-old'), run_manifest(f'{w}/out-new')),
]
same = True
for name, a, b in checks:
    key = a if isinstance(a, str) else sorted(a.items())
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    count = f'{len(a)} files, ' if isinstance(a, dict) else ''
    print(f'{name}: {count}{digest}: {"identical" if a == b else "DIFFERENT"}')
    same &= a == b
sys.exit(0 if same else 1)
PY
