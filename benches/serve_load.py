"""`motcua serve` under load while ingests commit (benches/serve_load.sh).

The lake holds the sample up to the end of May 2026 with the KPIs published;
June 2026's dossier exports are cut into one file a day, and one is ingested
every 5 seconds while the clients run. Each client is its own process with
its own connections (ADBC for Flight SQL, urllib for HTTP) and sends its
requests one after another:

- ranking: `GET /queries/ranking?kpi=…&period=…&level=commune` (HTTP, JSON);
- aggregate: a unit's dossiers and how many are completed, over `dossiers`,
  with the number of snapshots in the lake beside them (Flight SQL, a
  prepared statement) — the snapshot the answer was read from;
- lookup: one `kpi_values` cell (Flight SQL, a prepared statement).

Checks: ranking and look-up answers equal `motcua query`'s on the same lake
(the published outputs do not change during the run); an aggregate equals
`motcua query`'s answer on the snapshot it names, computed by the writer
right after each commit. Loopback only; bounded in count and time.
"""

import argparse
import csv
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from multiprocessing import Process

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import local_day  # noqa: E402

FIRST_NIGHT = dt.date(2026, 6, 1)
TOKEN = "load-test-token-0123456789"
KPIS = ["on_time_rate", "full_online_rate", "received"]
PERIODS = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01"]
AGGREGATE = (
    "SELECT count(*) AS dossiers, count(completed_at) AS completed, "
    "(SELECT count(*) FROM dossier_snapshots) AS version FROM dossiers WHERE unit_code = ?"
)
AGGREGATE_ALL = (
    "SELECT unit_code, count(*) AS dossiers, count(completed_at) AS completed, "
    "(SELECT count(*) FROM dossier_snapshots) AS version FROM dossiers GROUP BY unit_code"
)
LOOKUP = (
    "SELECT value FROM kpi_values WHERE period_grain = 'month' AND unit_code = ? "
    "AND kpi = ? AND period_start = CAST(? AS DATE)"
)
DEADLINE_S = 20 * 60
COMMIT_EVERY_S = 5


def run(argv):
    """Runs a motcua command; its stdout."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{done.stderr}")
    return done.stdout


def query(a, lake, out, *args):
    return run([a.bin, "-q", "query", "--lake", lake, "--published", out, "--format", "json", *args])


def rows_of(text):
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


def same(x, y):
    """Equal, numbers to 12 significant digits (JSON writers differ in the last)."""
    if isinstance(x, float) or isinstance(y, float):
        return x is not None and y is not None and abs(x - y) <= 1e-12 * max(1.0, abs(x), abs(y))
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    return x == y


def prepare(a):
    """The lake up to May 2026 with the KPIs published, and June's days."""
    exports, lake, out = (os.path.join(a.work, d) for d in ("exports", "lake", "out"))
    nights = os.path.join(a.work, "nights")
    if os.path.isdir(os.path.join(a.work, "ready")):
        shutil.rmtree(lake + ".run", ignore_errors=True)
        shutil.copytree(lake, lake + ".run")
        return lake + ".run", out, sorted(os.path.join(nights, f) for f in os.listdir(nights))
    for d in (exports, lake, out, nights):
        shutil.rmtree(d, ignore_errors=True)
    print("making the sample and the lake", flush=True)
    run([a.bin, "-q", "sample", "--out", exports, "--dossiers", str(a.dossiers), "--seed", "1"])
    os.makedirs(nights)
    base = os.path.join(a.work, "dossiers-base.csv")
    with open(os.path.join(exports, "dossiers.csv"), newline="", encoding="utf-8") as src, open(
        base, "w", newline="", encoding="utf-8"
    ) as b:
        reader = csv.reader(src)
        header = next(reader)
        at = header.index("updated_at")
        writers = {}
        wb = csv.writer(b)
        wb.writerow(header)
        for row in reader:
            day = local_day(row[at])
            if day < FIRST_NIGHT:
                wb.writerow(row)
                continue
            if day not in writers:
                f = open(os.path.join(nights, f"dossiers-{day}.csv"), "w", newline="", encoding="utf-8")
                writers[day] = (f, csv.writer(f))
                writers[day][1].writerow(header)
            writers[day][1].writerow(row)
        for f, _ in writers.values():
            f.close()
    for feed, name in [("units", "units.csv"), ("unit_changes", "unit_changes.csv"), ("targets", "targets.csv"),
                       ("dossiers", base), ("portal_events", "portal_events.ndjson"),
                       ("signatures", "signatures.csv")]:
        path = os.path.join(exports, name)
        if os.path.exists(path):
            run([a.bin, "-q", "ingest", "--lake", lake, feed, path])
    run([a.bin, "-q", "kpi", "--lake", lake, "--out", out, "--from", "2024-01-01", "--to", "2026-05-01"])
    os.makedirs(os.path.join(a.work, "ready"))
    return prepare(a)


def client(n, a, flight, http, units, out_path):
    """One client: its requests in turn; what each took and answered."""
    import warnings

    import adbc_driver_flightsql.dbapi as adbc
    from adbc_driver_flightsql import DatabaseOptions

    warnings.simplefilter("ignore")  # ADBC's note that autocommit stays on

    rng = random.Random(n)
    conn = adbc.connect(flight, db_kwargs={DatabaseOptions.AUTHORIZATION_HEADER.value: "Bearer " + TOKEN})
    records = []
    end = time.time() + DEADLINE_S
    for i in range(a.requests):
        if time.time() > end:
            break
        kind = ("ranking", "aggregate", "lookup")[(n + i) % 3]
        t = time.perf_counter()
        try:
            if kind == "ranking":
                kpi, period = rng.choice(KPIS), rng.choice(PERIODS)
                url = f"{http}/queries/ranking?" + urllib.parse.urlencode(
                    {"kpi": kpi, "period": period, "level": "commune"})
                request = urllib.request.Request(url, headers={"Authorization": "Bearer " + TOKEN})
                with urllib.request.urlopen(request, timeout=120) as r:
                    answer = json.loads(r.read())
                key = [kpi, period]
            else:
                with conn.cursor() as cur:
                    if kind == "aggregate":
                        unit = rng.choice(units)
                        cur.execute(AGGREGATE, (unit,))
                        key = [unit]
                    else:
                        unit, kpi, period = rng.choice(units), rng.choice(KPIS), rng.choice(PERIODS)
                        cur.execute(LOOKUP, (unit, kpi, period))
                        key = [unit, kpi, period]
                    answer = [list(r) for r in cur.fetchall()]
            records.append({"kind": kind, "ms": (time.perf_counter() - t) * 1000, "key": key, "answer": answer})
        except Exception as e:  # noqa: BLE001 - every failure is counted and shown
            records.append({"kind": kind, "ms": (time.perf_counter() - t) * 1000,
                            "error": str(e).splitlines()[0][:300]})
    conn.close()
    with open(out_path, "w") as f:
        json.dump(records, f)


def aggregates(a, lake, out):
    """Per unit: (dossiers, completed), and the snapshot count they belong to."""
    rows = rows_of(query(a, lake, out, "--sql", AGGREGATE_ALL))
    version = rows[0]["version"] if rows else 0
    return version, {r["unit_code"]: [r["dossiers"], r["completed"]] for r in rows}


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--dossiers", type=int, default=1_000_000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=200)
    a = p.parse_args()
    os.environ.setdefault("MOTCUA_PII_KEY", "bench-key-0123456789abcdef")
    os.makedirs(a.work, exist_ok=True)
    lake, out, nights = prepare(a)

    # What the answers must be.
    units = [r["unit_code"] for r in rows_of(query(a, lake, out, "--sql",
             "SELECT DISTINCT unit_code FROM kpi_values WHERE unit_level = 'commune' ORDER BY 1"))]
    rankings = {}
    for kpi in KPIS:
        for period in PERIODS:
            rankings[json.dumps([kpi, period])] = rows_of(query(
                a, lake, out, "ranking", "--param", f"kpi={kpi}", "--param", f"period={period}",
                "--param", "level=commune"))
    cells = {}
    for r in rows_of(query(a, lake, out, "--sql",
                           "SELECT unit_code, kpi, CAST(period_start AS VARCHAR) AS period, value FROM kpi_values "
                           f"WHERE period_grain = 'month' AND kpi IN ({', '.join(repr(k) for k in KPIS)})")):
        cells[json.dumps([r["unit_code"], r["kpi"], r["period"]])] = [[r.get("value")]]
    snapshots = dict([aggregates(a, lake, out)])

    server = subprocess.Popen(
        [a.bin, "-q", "serve", "--lake", lake, "--published", out, "--listen", "127.0.0.1:0",
         "--http", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "MOTCUA_SERVE_TOKEN": TOKEN})
    words = server.stdout.readline().split()
    flight, http = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "on"][:2]

    results = os.path.join(a.work, "clients")
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)
    clients = [Process(target=client, args=(n, a, flight, http, units, os.path.join(results, f"{n}.json")))
               for n in range(a.clients)]
    start = time.perf_counter()
    for c in clients:
        c.start()

    commits = []

    def writer():
        for night in nights:
            time.sleep(COMMIT_EVERY_S)
            if not any(c.is_alive() for c in clients):
                return
            run([a.bin, "-q", "ingest", "--lake", lake, "dossiers", night])
            commits.append(time.perf_counter() - start)
            version, per_unit = aggregates(a, lake, out)
            snapshots[version] = per_unit

    w = threading.Thread(target=writer)
    w.start()
    for c in clients:
        c.join()
    wall = time.perf_counter() - start
    w.join()
    rss = peak_rss_mb(server.pid)
    server.terminate()
    server.wait()

    records = []
    for n in range(a.clients):
        with open(os.path.join(results, f"{n}.json")) as f:
            records += json.load(f)
    wrong, errors, versions_seen = [], [], set()
    for r in records:
        if "error" in r:
            errors.append(r)
            continue
        if r["kind"] == "ranking":
            ok = same(r["answer"], rankings[json.dumps(r["key"])])
        elif r["kind"] == "lookup":
            ok = same(r["answer"], cells.get(json.dumps(r["key"]), []))
        else:
            dossiers, completed, version = r["answer"][0]
            versions_seen.add(version)
            expected = snapshots.get(version, {}).get(r["key"][0], [0, 0]) if version in snapshots else None
            ok = expected == [dossiers, completed]
        if not ok:
            wrong.append(r)

    def pct(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    lines = [
        f"{len(records)} requests from {a.clients} clients in {wall:.1f} s ({len(records) / wall:.1f} per second); "
        f"{len(commits)} commits during the run, answers from {len(versions_seen)} snapshots; "
        f"{len(errors)} errors, {len(wrong)} wrong answers; server peak RSS {rss:.0f} MB",
        "",
        "| request | count | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for kind in ("ranking", "aggregate", "lookup", "all"):
        ms = [r["ms"] for r in records if kind in ("all", r["kind"]) and "error" not in r]
        lines.append(f"| {kind} | {len(ms)} | {pct(ms, 0.5):.0f} | {pct(ms, 0.99):.0f} | {max(ms or [float('nan')]):.0f} |")
    for r in (errors + wrong)[:5]:
        lines.append(f"\n{r}")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(a.work, "results.md"), "w") as f:
        f.write(text + "\n")
    if errors or wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
