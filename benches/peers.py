"""The peers motcua is measured against, one job per call so that each runs in
its own process (wall time, CPU time and peak RSS are the process's).

    peers.py duckdb-ingest CSV OUT.parquet
    peers.py polars-ingest CSV OUT.parquet
    peers.py duckdb-kpi LAKE TABLES_DIR QUERY.sql GRAIN FROM TO OUT.parquet

The ingest peers parse the same typed columns motcua does from the same
messy export: day-first and ISO timestamps (local time is UTC+7 in
Asia/Ho_Chi_Minh, which has no daylight saving), Vietnamese enum spellings,
booleans written có/không, fees with thousands separators. They do not
validate rows or quarantine them, and hash applicant IDs with SHA-256 of key
and ID (DuckDB has no HMAC): less work than motcua does, on purpose.
"""

import sys

KEY = "bench-key-0123456789abcdef"

ALIASES = {
    "channel": {"truc_tiep": "counter", "truc_tuyen": "online", "buu_chinh": "postal"},
    "online_level": {"mot_phan": "partial", "toan_trinh": "full"},
    "payment_method": {
        "tien_mat": "cash",
        "chuyen_khoan": "bank_transfer",
        "the": "card",
        "vi_dien_tu": "e_wallet",
    },
}
TIMESTAMPS = ["received_at", "due_at", "completed_at", "returned_at", "updated_at"]
BOOLS = ["processed_online", "digitized", "e_result", "applicant_signed", "result_signed", "paid_online"]
TEXT = ["dossier_id", "procedure_code", "unit_code", "status", "satisfaction", "applicant_type"]


def duckdb_ingest(csv, out):
    import duckdb

    def norm(x):
        return f"replace(replace(lower(strip_accents(replace(replace(trim({x}), 'Đ', 'D'), 'đ', 'd'))), ' ', '_'), '-', '_')"

    def enum(column):
        n = norm(column)
        cases = " ".join(f"WHEN '{a}' THEN '{c}'" for a, c in ALIASES.get(column, {}).items())
        return f"CASE {n} {cases} ELSE nullif({n}, '') END AS {column}"

    def ts(column):
        x = f"trim({column})"
        local = (
            f"coalesce(try_strptime({x}, '%d/%m/%Y %H:%M:%S'), try_strptime({x}, '%d/%m/%Y %H:%M'), "
            f"try_strptime({x}, '%d/%m/%Y'), try_strptime({x}, '%Y-%m-%d %H:%M:%S'))"
        )
        return (
            f"coalesce(try_strptime({x}, '%Y-%m-%dT%H:%M:%S%z'), "
            f"timezone('UTC', ({local} - INTERVAL 7 HOUR)::TIMESTAMP)) AS {column}"
        )

    def boolean(column):
        n = norm(column)
        return f"CASE WHEN {n} IN ('1', 'true', 'yes', 'co') THEN true ELSE false END AS {column}"

    fee = (
        "CAST(nullif(regexp_replace(regexp_replace(trim(fee_vnd), '\\s*(VND|đ|d)$', ''), '[., ]', '', 'g'), '') AS BIGINT) AS fee_vnd"
    )
    applicant = f"CASE WHEN nullif(trim(applicant_id), '') IS NULL THEN NULL ELSE sha256('{KEY}' || trim(applicant_id)) END AS applicant_key"
    columns = (
        [f"trim({c}) AS {c}" for c in TEXT]
        + [enum(c) for c in ("channel", "online_level", "payment_method")]
        + [ts(c) for c in TIMESTAMPS]
        + [boolean(c) for c in BOOLS]
        + [fee, applicant]
    )
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"COPY (SELECT {', '.join(columns)} FROM read_csv('{csv}', header = true, all_varchar = true)) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )


def polars_ingest(csv, out):
    import polars as pl

    def norm(c):
        e = pl.col(c).str.strip_chars().str.to_lowercase()
        for a, b in [("đ", "d"), ("ư", "u"), ("ự", "u"), ("ế", "e"), ("ộ", "o"), ("ầ", "a"), ("ì", "i"), ("à", "a"),
                     ("í", "i"), ("ể", "e"), ("ệ", "e"), ("ẻ", "e"), ("ặ", "a"), (" ", "_"), ("-", "_"), ("ó", "o"),
                     ("ô", "o"), ("ê", "e"), ("ề", "e"), ("ơ", "o")]:
            e = e.str.replace_all(a, b, literal=True)
        return e

    def enum(c):
        n = norm(c)
        mapping = ALIASES.get(c, {})
        return pl.when(n.is_in(list(mapping))).then(n.replace(mapping)).otherwise(n).alias(c)

    def ts(c):
        x = pl.col(c).str.strip_chars()
        local = pl.coalesce(
            x.str.strptime(pl.Datetime("us"), "%d/%m/%Y %H:%M:%S", strict=False),
            x.str.strptime(pl.Datetime("us"), "%d/%m/%Y %H:%M", strict=False),
            x.str.strptime(pl.Datetime("us"), "%d/%m/%Y", strict=False),
        )
        offset = x.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%z", strict=False)
        return pl.coalesce(offset, (local - pl.duration(hours=7)).dt.replace_time_zone("UTC")).alias(c)

    def boolean(c):
        return norm(c).is_in(["1", "true", "yes", "co"]).fill_null(False).alias(c)

    fee = (
        pl.col("fee_vnd").str.strip_chars().str.replace(r"\s*(VND|đ|d)$", "").str.replace_all(r"[., ]", "")
        .cast(pl.Int64, strict=False).alias("fee_vnd")
    )
    applicant = (
        (pl.lit(KEY) + pl.col("applicant_id").str.strip_chars()).hash().cast(pl.Utf8).alias("applicant_key")
    )
    (
        pl.scan_csv(csv, infer_schema=False)
        .select(
            [pl.col(c).str.strip_chars() for c in TEXT]
            + [enum(c) for c in ("channel", "online_level", "payment_method")]
            + [ts(c) for c in TIMESTAMPS]
            + [boolean(c) for c in BOOLS]
            + [fee, applicant]
        )
        .sink_parquet(out, compression="zstd")
    )


def duckdb_kpi(lake, tables, query, grain, start, end, out, use_index=False):
    """Runs motcua's own kpi_values.sql in DuckDB over the same lake files,
    with the helper tables motcua builds (calendar, unit_closure,
    kpi_catalog) exported to Parquet beforehand. One dialect difference is
    rewritten: DuckDB casts instants to microseconds with epoch_us(). The current state of
    each dossier is computed from the snapshots (SPEC §4.1) or, with
    use_index, read from the index motcua's ingest keeps."""
    import datetime
    import json

    import duckdb

    manifest = json.load(open(f"{lake}/_manifest.json"))
    current = manifest.get("current", {})

    def files(feed):
        return [
            f"{lake}/{f['path']}"
            for e in manifest["ingests"]
            if e["feed"] == feed and (feed not in ("units", "targets") or current.get(feed) == e["seq"])
            for f in e["data_files"]
        ]

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for feed in ("portal_events", "signatures", "units", "targets"):
        con.execute(f"CREATE VIEW {feed} AS SELECT * FROM read_parquet({files(feed)!r})")
    con.execute(f"CREATE VIEW dossier_snapshots AS SELECT * FROM read_parquet({files('dossiers')!r})")
    if use_index:
        # The current snapshots as motcua's ingest keeps them (current/).
        if "dossier_index" not in manifest:
            sys.exit(f"{lake} has no index of current dossiers: ingest its dossiers with this motcua")
        index = f"{lake}/{manifest['dossier_index']}"
        con.execute(
            "CREATE VIEW dossiers AS SELECT s.* FROM dossier_snapshots s"
            f" SEMI JOIN read_parquet('{index}') c USING (ingest_seq, source_line)"
        )
    else:
        con.execute(
            "CREATE TABLE dossiers AS SELECT * EXCLUDE (snapshot_rank) FROM ("
            " SELECT *, row_number() OVER (PARTITION BY dossier_id"
            " ORDER BY updated_at DESC, ingest_seq DESC, source_line DESC) AS snapshot_rank"
            " FROM dossier_snapshots) WHERE snapshot_rank = 1"
        )
    for table in ("calendar", "unit_closure", "kpi_catalog"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{tables}/{table}.parquet')")
    sql = open(query).read()
    sql = sql.replace("CAST(d.completed_at AS BIGINT)", "epoch_us(d.completed_at)")
    sql = sql.replace("CAST(d.received_at AS BIGINT)", "epoch_us(d.received_at)")
    params = {
        "grain": grain,
        "from": datetime.date.fromisoformat(start),
        "to": datetime.date.fromisoformat(end),
    }
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)", params)


if __name__ == "__main__":
    job, *args = sys.argv[1:]
    {
        "duckdb-ingest": duckdb_ingest,
        "polars-ingest": polars_ingest,
        "duckdb-kpi": duckdb_kpi,
        "duckdb-kpi-index": lambda *a: duckdb_kpi(*a, use_index=True),
    }[job](*args)
