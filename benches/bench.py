"""motcua beside DuckDB and Polars on the same files, in one run.

Called by benches/run.sh, which installs the peers and builds motcua. Each
measured command runs in its own process; wall time, CPU time (user + system)
and peak RSS are that process's. Within a step the tools alternate (A B C,
B C A, …) and the median of the repeats is reported.
"""

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers.py")
LAST_DAY = dt.date(2025, 1, 31)
LOCAL = dt.timezone(dt.timedelta(hours=7))


def measure(argv, env=None):
    """Runs argv; returns (wall s, cpu s, peak RSS MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def fresh(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def warm(path):
    """Reads a file so that it is in the page cache: the first tool of a step
    would otherwise read it from disk and the others from memory (at 10 M,
    with one repeat, that was 15 s of motcua's 70)."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def step(name, tools, repeat, inputs=()):
    """tools: {label: (prepare, argv)}; alternates order between repeats.
    Each run starts with `inputs` in the page cache."""
    labels = list(tools)
    results = {label: [] for label in labels}
    for r in range(repeat):
        order = labels[r % len(labels):] + labels[: r % len(labels)]
        for label in order:
            prepare, argv = tools[label]
            for path in inputs:
                warm(path)
            if prepare:
                prepare()
            results[label].append(measure(argv))
            print(f"  {name} · {label} · run {r + 1}: {results[label][-1][0]:.2f} s", flush=True)
    return {
        label: tuple(statistics.median(x[i] for x in runs) for i in range(3))
        for label, runs in results.items()
    }


def local_day(text):
    """The local calendar day of a timestamp as the sample writes them."""
    text = text.strip()
    if "/" in text:
        d, m, rest = text.split("/", 2)
        return dt.date(int(rest[:4]), int(m), int(d))
    if text.endswith("Z"):
        t = dt.datetime.fromisoformat(text[:-1] + "+00:00")
        return t.astimezone(LOCAL).date()
    return dt.datetime.fromisoformat(text).astimezone(LOCAL).date() if "T" in text else dt.date.fromisoformat(text[:10])


def split_last_day(exports, base, increment):
    """Splits each activity export into everything before the last day and
    the last day itself: the nightly export."""
    os.makedirs(base, exist_ok=True)
    os.makedirs(increment, exist_ok=True)
    for name in ("units.csv", "targets.csv"):
        shutil.copy(os.path.join(exports, name), base)
    for name, column in (("dossiers.csv", "updated_at"), ("signatures.csv", "occurred_at")):
        with open(os.path.join(exports, name), newline="", encoding="utf-8") as src, open(
            os.path.join(base, name), "w", newline="", encoding="utf-8"
        ) as b, open(os.path.join(increment, name), "w", newline="", encoding="utf-8") as i:
            reader = csv.reader(src)
            header = next(reader)
            at = header.index(column)
            wb, wi = csv.writer(b), csv.writer(i)
            wb.writerow(header)
            wi.writerow(header)
            for row in reader:
                (wi if local_day(row[at]) == LAST_DAY else wb).writerow(row)
    with open(os.path.join(exports, "portal_events.ndjson"), encoding="utf-8") as src, open(
        os.path.join(base, "portal_events.ndjson"), "w", encoding="utf-8"
    ) as b, open(os.path.join(increment, "portal_events.ndjson"), "w", encoding="utf-8") as i:
        for line in src:
            (i if local_day(json.loads(line)["occurred_at"]) == LAST_DAY else b).write(line)


def instant(text):
    """A timestamp as the sample writes them (ISO with an offset or Z, or
    day-first local time), as an aware datetime: for ordering."""
    text = text.strip()
    if "/" in text:
        day, time_ = (text.split(" ", 1) + ["0:00"])[:2]
        d, m, y = (int(x) for x in day.split("/"))
        parts = [int(x) for x in time_.split(":")] + [0, 0]
        return dt.datetime(y, m, d, parts[0], parts[1], parts[2], tzinfo=LOCAL)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    t = dt.datetime.fromisoformat(text if "T" in text or " " in text else text + "T00:00")
    return t if t.tzinfo else t.replace(tzinfo=LOCAL)


# Statuses of a dossier still open, canonical and as the messy export spells them.
OPEN = {"received", "in_progress", "mới tiếp nhận", "đã tiếp nhận", "đang xử lý", "đang giải quyết",
        "chờ bổ sung"}


def resend_old_open(base, folder, count):
    """A night as real exports make it: `count` snapshots resolving dossiers
    still open in `base` and received in the year before the last day
    (every n-th by reception), each resolved on the last day."""
    os.makedirs(folder, exist_ok=True)
    latest = {}
    with open(os.path.join(base, "dossiers.csv"), newline="", encoding="utf-8") as src:
        reader = csv.reader(src)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        for row in reader:
            at = instant(row[col["updated_at"]])
            known = latest.get(row[col["dossier_id"]])
            if known is None or at > known[0]:
                latest[row[col["dossier_id"]]] = (at, row)
    first, last = dt.datetime(LAST_DAY.year - 1, 1, 1, tzinfo=LOCAL), dt.datetime.combine(LAST_DAY, dt.time(), LOCAL)
    # Open at their last snapshot before the last day: the re-sent one
    # becomes their current state.
    still_open = sorted(
        (received, row) for received, row in
        ((instant(row[col["received_at"]]), row) for at, row in latest.values() if at < last)
        if row[col["status"]].strip().lower() in OPEN and first <= received < last
    )
    if len(still_open) < count:
        sys.exit(f"only {len(still_open)} open dossiers to re-send")
    every = len(still_open) / count
    resolved_at = dt.datetime.combine(LAST_DAY, dt.time(17, 30), LOCAL).isoformat()
    with open(os.path.join(folder, "dossiers.csv"), "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for k in range(count):
            row = list(still_open[int(k * every)][1])
            row[col["status"]] = "resolved"
            row[col["completed_at"]] = resolved_at
            row[col["updated_at"]] = resolved_at
            writer.writerow(row)
    received = [still_open[int(k * every)][0] for k in range(count)]
    print(f"  re-sent {count} open dossiers received {min(received).date()} to {max(received).date()}", flush=True)


FEEDS = [
    ("units", "units.csv"),
    ("targets", "targets.csv"),
    ("dossiers", "dossiers.csv"),
    ("portal_events", "portal_events.ndjson"),
    ("signatures", "signatures.csv"),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--python", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--steps", default="ingest,canonical,kpi,nightly,field",
                   help="which steps to run, comma-separated")
    p.add_argument("--dossiers", type=int, default=1_000_000,
                   help="dossiers of the samples this script generates itself (the canonical export)")
    p.add_argument("--field-dossiers", type=int, default=510_000,
                   help="dossiers of the field exports (510,000 make about 1,000,000 rows)")
    a = p.parse_args()
    steps = set(a.steps.split(","))
    work = a.work
    exports = os.path.join(work, "exports")
    env = dict(os.environ, MOTCUA_PII_KEY="bench-key-0123456789abcdef")
    os.environ.update(env)
    rows = []

    if "ingest" in steps:
        rows.append(ingest_step(a, work, exports))
    if "canonical" in steps:
        rows.append(canonical_step(a, work))
    if "kpi" in steps:
        rows.append(kpi_step(a, work, exports))
    nightly_share = None
    if "nightly" in steps:
        full_row, nightly_row, resent_row, nightly_share = nightly_step(a, work, exports)
        rows += [full_row, nightly_row, resent_row]
    if "field" in steps:
        rows += field_steps(a, work)

    lines = [
        "| step | tool | wall s | CPU s | peak RSS MB | wall ratio motcua / tool |",
        "|---|---|---|---|---|---|",
    ]
    for name, results in rows:
        mine = results.get("motcua")
        for tool, (wall, cpu, rss) in results.items():
            ratio = "" if tool == "motcua" else f"{mine[0] / wall:.2f}"
            lines.append(f"| {name} | {tool} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {ratio} |")
    if nightly_share is not None:
        lines.append("")
        lines.append("Nightly increment / full recompute (motcua wall): "
                     f"{nightly_share[0]:.2f}; re-sending old open dossiers: {nightly_share[1]:.2f} (goal ≤ 0.10)")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(work, "results.md"), "w") as f:
        f.write(table + "\n")


def ingest_step(a, work, exports):
    """1. Ingest of the dossier CSV into Parquet."""
    print("ingest", flush=True)
    dossiers = os.path.join(exports, "dossiers.csv")
    lake1 = os.path.join(work, "ingest-lake")
    ingest = step(
        "ingest",
        {
            "motcua": (lambda: fresh(lake1), [a.bin, "-q", "ingest", "--lake", lake1, "dossiers", dossiers]),
            "DuckDB": (None, [a.python, PEERS, "duckdb-ingest", dossiers, os.path.join(work, "duckdb.parquet")]),
            "Polars": (None, [a.python, PEERS, "polars-ingest", dossiers, os.path.join(work, "polars.parquet")]),
        },
        a.repeat,
        inputs=[dossiers],
    )
    return ("ingest dossiers.csv → Parquet", ingest)


def canonical_step(a, work):
    """1b. The same ingest from a clean export: the same activity with every
    value canonical (`motcua sample --style canonical`), which DuckDB reads
    with a plain typed read_csv."""
    print("canonical", flush=True)
    exports = os.path.join(work, "canonical")
    dossiers = os.path.join(exports, "dossiers.csv")
    if not os.path.exists(dossiers):
        subprocess.run([a.bin, "sample", "--out", exports, "--dossiers", str(a.dossiers), "--seed", "1",
                        "--style", "canonical"], check=True, stdout=subprocess.DEVNULL)
    lake = os.path.join(work, "canonical-lake")
    ingest = step(
        "canonical ingest",
        {
            "motcua": (lambda: fresh(lake), [a.bin, "-q", "ingest", "--lake", lake, "dossiers", dossiers]),
            "DuckDB": (None, [a.python, PEERS, "duckdb-ingest-canonical", dossiers,
                              os.path.join(work, "duckdb-canonical.parquet")]),
        },
        a.repeat,
        inputs=[dossiers],
    )
    return ("ingest a clean canonical dossiers.csv → Parquet", ingest)


def kpi_step(a, work, exports):
    """2. The full KPI job over a year-long lake, 12 monthly periods."""
    print("kpi", flush=True)
    lake = os.path.join(work, "lake")
    fresh(lake)
    for feed, name in FEEDS:
        measure([a.bin, "-q", "ingest", "--lake", lake, feed, os.path.join(exports, name)])
    tables = os.path.join(work, "tables")
    os.makedirs(tables, exist_ok=True)
    for table in ("calendar", "unit_closure", "kpi_catalog"):
        measure([a.bin, "query", "--lake", lake, "--sql", f"SELECT * FROM {table}", "--format", "parquet",
                 "--output", os.path.join(tables, f"{table}.parquet")])
    out = os.path.join(work, "out")
    query = os.path.join(a.queries, "kpi_values.sql")
    peer_out = {tool: os.path.join(work, f"{tool}-kpi.parquet") for tool in ("duckdb", "duckdb-index", "polars")}
    kpi = step(
        "kpi",
        {
            "motcua": (lambda: fresh(out), [a.bin, "-q", "kpi", "--lake", lake, "--grain", "month", "--from",
                                          "2024-01-01", "--to", "2024-12-31", "--out", out, "--queries", a.queries]),
            "DuckDB": (None, [a.python, PEERS, "duckdb-kpi", lake, tables, query, "month", "2024-01-01",
                              "2024-12-31", peer_out["duckdb"]]),
            # The same, reading the current dossiers from motcua's index
            # instead of computing them: engine against engine.
            "DuckDB + motcua's index": (None, [a.python, PEERS, "duckdb-kpi-index", lake, tables, query, "month",
                                               "2024-01-01", "2024-12-31", peer_out["duckdb-index"]]),
            "Polars": (None, [a.python, PEERS, "polars-kpi", lake, tables, "2024-01-01", "2024-12-31",
                              peer_out["polars"]]),
        },
        a.repeat,
    )
    # Not timed: every peer must have computed motcua's numbers.
    if subprocess.run([a.python, PEERS, "compare", out, *peer_out.values()]).returncode != 0:
        sys.exit(1)
    return ("KPI job, 12 months, every unit and KPI", kpi)


def nightly_step(a, work, exports):
    """3. A nightly increment: one more day into a lake holding the rest; then
    a night that also re-sends 5,000 dossiers received across the year and
    resolved that day, as real nightly exports do."""
    print("nightly", flush=True)
    base, increment = os.path.join(work, "base"), os.path.join(work, "increment")
    resend = os.path.join(work, "increment-resend")
    if not os.path.exists(os.path.join(increment, "portal_events.ndjson")):
        split_last_day(exports, base, increment)
    if not os.path.exists(os.path.join(resend, "dossiers.csv")):
        resend_old_open(base, resend, 5_000)
    nightly_lake, nightly_out = os.path.join(work, "nightly-lake"), os.path.join(work, "nightly-out")
    kpi = [a.bin, "-q", "kpi", "--lake", nightly_lake, "--grain", "month", "--from", "2024-01-01",
           "--to", "2025-01-01", "--out", nightly_out, "--queries", a.queries]
    full, nightly, resent = [], [], []
    for _ in range(a.repeat):
        for night, files in ((nightly, FEEDS[2:]), (resent, [("dossiers", "resend")] + FEEDS[2:])):
            fresh(nightly_lake)
            fresh(nightly_out)
            for feed, name in FEEDS:
                measure([a.bin, "-q", "ingest", "--lake", nightly_lake, feed, os.path.join(base, name)])
            if night is nightly:
                full.append(measure(kpi))
            else:
                measure(kpi)
            t = [measure([a.bin, "-q", "ingest", "--lake", nightly_lake, feed,
                          os.path.join(resend, "dossiers.csv") if name == "resend" else
                          os.path.join(increment, name)])
                 for feed, name in files]
            # What a nightly job runs: the whole range, recomputing only
            # what the night can have changed.
            t.append(measure(kpi + ["--incremental"]))
            night.append((sum(x[0] for x in t), sum(x[1] for x in t), max(x[2] for x in t)))
    med = lambda runs: tuple(statistics.median(x[i] for x in runs) for i in range(3))
    return (
        ("full recompute, 13 months", {"motcua": med(full)}),
        ("nightly increment: ingest the last day + kpi --incremental", {"motcua": med(nightly)}),
        ("nightly increment re-sending 5,000 old open dossiers", {"motcua": med(resent)}),
        (med(nightly)[0] / med(full)[0], med(resent)[0] / med(full)[0]),
    )


def field_steps(a, work):
    """4. Field exports (SPEC §4.5): the dossiers as a report screen's .xlsx
    tracking book (titles, two-row header, date and number cells,
    Vietnamese values, footer) against Polars' read_excel, and the same rows
    as a vi-VN ';' CSV against DuckDB; each to Parquet."""
    print("field exports", flush=True)
    book_dir, csv_dir = os.path.join(work, "field"), os.path.join(work, "field-csv")
    book, vi_csv = os.path.join(book_dir, "dossiers.xlsx"), os.path.join(csv_dir, "dossiers.csv")
    for style, folder, made in (("field", book_dir, book), ("field-csv", csv_dir, vi_csv)):
        if not os.path.exists(made):
            measure([a.bin, "sample", "--out", folder, "--style", style, "--dossiers", str(a.field_dossiers),
                     "--seed", "1"])
    if os.path.exists(os.path.join(book_dir, "dossiers-2.xlsx")):
        sys.exit("the tracking book was split: lower --field-dossiers")
    lake = os.path.join(work, "field-lake")
    out = os.path.join(work, "field-peer.parquet")
    excel = step(
        "field xlsx",
        {
            "motcua": (lambda: fresh(lake), [a.bin, "-q", "ingest", "--lake", lake, "dossiers", book]),
            "Polars": (None, [a.python, PEERS, "polars-excel", book, out]),
        },
        a.repeat,
        inputs=[book],
    )
    semicolon = step(
        "field csv",
        {
            "motcua": (lambda: fresh(lake), [a.bin, "-q", "ingest", "--lake", lake, "dossiers", vi_csv]),
            "DuckDB": (None, [a.python, PEERS, "duckdb-field-csv", vi_csv, out]),
        },
        a.repeat,
        inputs=[vi_csv],
    )
    return [
        ("ingest a tracking book .xlsx → Parquet", excel),
        ("ingest the same rows as a vi-VN ';' CSV → Parquet", semicolon),
    ]


if __name__ == "__main__":
    main()
