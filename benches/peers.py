"""The peers motcua is measured against, one job per call so that each runs in
its own process (wall time, CPU time and peak RSS are the process's).

    peers.py duckdb-ingest CSV OUT.parquet
    peers.py duckdb-ingest-canonical CSV OUT.parquet
    peers.py polars-ingest CSV OUT.parquet
    peers.py duckdb-kpi LAKE TABLES_DIR QUERY.sql GRAIN FROM TO OUT.parquet
    peers.py duckdb-kpi-index LAKE TABLES_DIR QUERY.sql GRAIN FROM TO OUT.parquet
    peers.py polars-kpi LAKE TABLES_DIR FROM TO OUT.parquet
    peers.py compare MOTCUA_OUT_DIR PEER.parquet [PEER.parquet …]
    peers.py polars-excel XLSX OUT.parquet
    peers.py duckdb-field-csv CSV OUT.parquet

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


def duckdb_ingest_canonical(csv, out):
    """The clean export (`motcua sample --style canonical`): DuckDB's plain
    typed read_csv, every value already canonical. A deadline given as a
    day (an ISO date) is its last microsecond, local time, as motcua reads it."""
    import duckdb

    types = {c: "VARCHAR" for c in TEXT + ["channel", "online_level", "payment_method", "applicant_id", "due_at"]}
    types.update({c: "TIMESTAMPTZ" for c in TIMESTAMPS if c != "due_at"})
    types.update({c: "BOOLEAN" for c in BOOLS})
    types["fee_vnd"] = "BIGINT"
    due = (
        "CASE WHEN length(due_at) = 10 THEN timezone('UTC', (due_at::DATE + INTERVAL 1 DAY - INTERVAL 7 HOUR"
        " - INTERVAL 1 MICROSECOND)::TIMESTAMP) ELSE due_at::TIMESTAMPTZ END AS due_at"
    )
    applicant = f"CASE WHEN applicant_id IS NULL THEN NULL ELSE sha256('{KEY}' || applicant_id) END AS applicant_key"
    columns = (
        TEXT + ["channel", "online_level", "payment_method"]
        + [c for c in TIMESTAMPS if c != "due_at"] + [due] + BOOLS + ["fee_vnd", applicant]
    )
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"COPY (SELECT {', '.join(columns)} FROM read_csv('{csv}', header = true, types = {types})) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )


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


# The field-style tracking book (`motcua sample --style field`): its columns
# after STT, and the Vietnamese values it writes.
FIELD_COLUMNS = [
    "dossier_id", "procedure_code", "unit_code", "channel", "online_level", "status",
    "received_at", "due_at", "completed_at", "returned_at", "updated_at",
    "processed_online", "digitized", "e_result", "applicant_signed", "result_signed",
    "fee_vnd", "payment_method", "paid_online", "satisfaction", "applicant_id", "applicant_type",
]
FIELD_VALUES = {
    "channel": {"Trực tuyến": "online", "Trực tiếp": "counter", "Bưu chính công ích": "postal"},
    "online_level": {"Mức độ 4": "full", "Mức độ 3": "partial", "Mức độ 2": "none"},
    "status": {"Đã tiếp nhận": "received", "Đang xử lý": "in_progress", "Đã giải quyết": "resolved",
               "Đã trả kết quả": "returned", "Đã rút": "withdrawn", "Từ chối": "rejected"},
    "payment_method": {"Tiền mặt": "cash", "Chuyển khoản": "bank_transfer", "Thẻ": "card",
                       "Ví điện tử": "e_wallet", "Nền tảng thanh toán": "payment_platform"},
    "satisfaction": {"Rất hài lòng": "very_satisfied", "Hài lòng": "satisfied", "Bình thường": "neutral",
                     "Không hài lòng": "dissatisfied"},
    "applicant_type": {"Công dân": "citizen", "Doanh nghiệp": "business"},
}


def polars_excel(xlsx, out):
    """The tracking book through Polars' read_excel (fastexcel, calamine):
    the data rows below the two title rows, the blank row and the two header
    rows, typed cells as they come (a date cell is a datetime; the rare time
    at midnight is written as text and parsed), the Vietnamese values mapped,
    the footer rows dropped."""
    import polars as pl

    names = ["stt", *FIELD_COLUMNS]
    df = pl.read_excel(
        xlsx,
        sheet_name="Sổ theo dõi",
        engine="calamine",
        has_header=False,
        read_options={"skip_rows": 5, "column_names": names, "dtypes": {"applicant_id": "string",
                                                                         "dossier_id": "string",
                                                                         "unit_code": "string"}},
    )

    def ts(c):
        col = df.schema[c]
        if col == pl.String:
            local = pl.coalesce(
                pl.col(c).str.strptime(pl.Datetime("us"), "%d/%m/%Y %H:%M:%S", strict=False),
                pl.col(c).str.strptime(pl.Datetime("us"), "%d/%m/%Y", strict=False),
            )
        else:
            local = pl.col(c).cast(pl.Datetime("us"))
        return (local - pl.duration(hours=7)).dt.replace_time_zone("UTC").alias(c)

    def enum(c):
        return pl.col(c).replace_strict(FIELD_VALUES[c], default=None).alias(c)

    (
        df.lazy()
        .filter(pl.col("dossier_id").is_not_null())
        .select(
            [pl.col(c) for c in ("dossier_id", "procedure_code", "unit_code")]
            + [enum(c) for c in FIELD_VALUES]
            + [ts(c) for c in TIMESTAMPS]
            + [(pl.col(c) == "Có").fill_null(False).alias(c) for c in BOOLS]
            + [pl.col("fee_vnd").cast(pl.Int64),
               pl.when(pl.col("applicant_id").is_not_null())
               .then((pl.lit(KEY) + pl.col("applicant_id")).hash().cast(pl.Utf8)).alias("applicant_key")]
        )
        .sink_parquet(out, compression="zstd")
    )


def duckdb_field_csv(csv, out):
    """The same tracking book saved as a vi-VN CSV (`;`, a BOM, three rows
    above the header, day-first times, `1.500.000`, Có/Không) through DuckDB
    into Parquet, the footer rows dropped."""
    import duckdb

    def enum(c):
        cases = " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in FIELD_VALUES[c].items())
        return f"CASE {c} {cases} END AS {c}"

    def ts(c):
        local = f"coalesce(try_strptime({c}, '%d/%m/%Y %H:%M:%S'), try_strptime({c}, '%d/%m/%Y'))"
        return f"timezone('UTC', ({local} - INTERVAL 7 HOUR)::TIMESTAMP) AS {c}"

    columns = (
        ["dossier_id", "procedure_code", "unit_code"]
        + [enum(c) for c in FIELD_VALUES]
        + [ts(c) for c in TIMESTAMPS]
        + [f"coalesce({c} = 'Có', false) AS {c}" for c in BOOLS]
        + ["CAST(replace(fee_vnd, '.', '') AS BIGINT) AS fee_vnd",
           f"CASE WHEN applicant_id IS NULL THEN NULL ELSE sha256('{KEY}' || applicant_id) END AS applicant_key"]
    )
    names = ["stt", *FIELD_COLUMNS]
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"COPY (SELECT {', '.join(columns)} FROM read_csv('{csv}', delim = ';', skip = 4, header = false, "
        f"names = {names!r}, all_varchar = true, null_padding = true) WHERE procedure_code IS NOT NULL "
        f"AND dossier_id IS NOT NULL) TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )


def lake_files(lake):
    """The data files of each feed the manifest names: every ingest's for the
    activity feeds, the current file's for the registry and the targets."""
    import json

    manifest = json.load(open(f"{lake}/_manifest.json"))
    current = manifest.get("current", {})

    def files(feed):
        return [
            f"{lake}/{f['path']}"
            for e in manifest["ingests"]
            if e["feed"] == feed and (feed not in ("units", "targets") or current.get(feed) == e["seq"])
            for f in e["data_files"]
        ]

    return manifest, files


def duckdb_kpi(lake, tables, query, grain, start, end, out, use_index=False):
    """Runs motcua's own kpi_values.sql in DuckDB over the same lake files,
    with the helper tables motcua builds (calendar, unit_closure,
    kpi_catalog) exported to Parquet beforehand. One dialect difference is
    rewritten: DuckDB casts instants to microseconds with epoch_us(). The current state of
    each dossier is computed from the snapshots (SPEC §4.1) or, with
    use_index, read from the index motcua's ingest keeps."""
    import datetime

    import duckdb

    manifest, files = lake_files(lake)
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
    # DataFusion's ordered first_value aggregate is DuckDB's first.
    sql = sql.replace("first_value(target ORDER BY", "first(target ORDER BY")
    params = {
        "grain": grain,
        "from": datetime.date.fromisoformat(start),
        "to": datetime.date.fromisoformat(end),
    }
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)", params)


def polars_kpi(lake, tables, start, end, out):
    """SPEC §5 as Polars lazy queries over the same lake files, written
    independently of motcua's SQL: the current state computed from the
    snapshots (as the DuckDB peer does), every KPI for every registered unit
    and every month whose start lies in [START, END] (and the month before,
    for rank change), written with kpi_values' columns. The unit closure
    and the KPI catalog are motcua's tables exported, as DuckDB gets them."""
    import datetime

    import polars as pl

    _, files = lake_files(lake)
    scan = lambda feed: pl.scan_parquet(files(feed))
    closure = pl.scan_parquet(f"{tables}/unit_closure.parquet").select("ancestor", "descendant")
    catalog = pl.scan_parquet(f"{tables}/kpi_catalog.parquet").select("kpi", "kind", "direction")

    first_wanted = datetime.date.fromisoformat(start).replace(day=1)
    lo = (first_wanted - datetime.timedelta(days=1)).replace(day=1)  # the month before
    hi = (datetime.date.fromisoformat(end).replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    in_window = lambda day: (pl.col(day) >= lo) & (pl.col(day) < hi)
    month = lambda day: pl.col(day).dt.truncate("1mo").alias("period_start")
    starts = pl.date_range(lo, hi, "1mo", closed="left", eager=True)
    snapshots = scan("dossiers")
    as_of = snapshots.select(pl.col("updated_at").max()).collect().item()
    # A period's end instant is local midnight (UTC+7, no daylight saving).
    periods = pl.DataFrame({"period_start": starts}).with_columns(
        period_end=pl.col("period_start").dt.offset_by("1mo"),
        period_year=pl.col("period_start").dt.year().cast(pl.Int64),
    ).with_columns(
        as_of=pl.min_horizontal(
            pl.col("period_end").cast(pl.Datetime("us")).dt.replace_time_zone("UTC") - pl.duration(hours=7),
            pl.lit(as_of),
        )
    ).lazy()

    # Current state (SPEC §4.1): the greatest updated_at, then the later
    # ingest, then the later line.
    winners = (
        snapshots.select("dossier_id", "updated_at", "ingest_seq", "source_line")
        .sort(["updated_at", "ingest_seq", "source_line"], descending=True)
        .unique("dossier_id", keep="first")
        .select("ingest_seq", "source_line")
    )
    current = (
        snapshots.join(winners, on=["ingest_seq", "source_line"], how="semi")
        .select("unit_code", "channel", "online_level", "status", "received_at", "due_at", "completed_at",
                "updated_at", "processed_online", "digitized", "e_result", "applicant_signed", "result_signed",
                "fee_vnd", "payment_method", "paid_online", "satisfaction", "received_on", "completed_on")
        .collect()
        .lazy()
    )

    def n(condition):
        return condition.fill_null(False).sum().cast(pl.Int64)

    def long(frame, kpis):
        """(period_start, unit_code, kpi, num, den) rows from a frame of
        per-unit sums; kpis: [(kpi, numerator column, denominator column)]."""
        return pl.concat(
            [
                frame.select(
                    "period_start", "unit_code", kpi=pl.lit(kpi),
                    num=pl.col(num).cast(pl.Int64),
                    den=pl.col(den).cast(pl.Int64) if den else pl.lit(None, pl.Int64),
                )
                for kpi, num, den in kpis
            ]
        )

    online = pl.col("channel") == "online"
    fee = pl.col("fee_vnd") > 0
    paid = fee & pl.col("payment_method").is_not_null()
    cashless = paid & (pl.col("payment_method") != "cash")
    received = current.filter(in_window("received_on")).group_by(month("received_on"), "unit_code").agg(
        received=pl.len().cast(pl.Int64),
        online=n(online),
        offered=n(pl.col("online_level") != "none"),
        full_online=n(online & (pl.col("online_level") == "full")),
        full_offered=n(pl.col("online_level") == "full"),
        digitized=n(pl.col("digitized")),
        applicant_signed=n(online & pl.col("applicant_signed")),
        fee=n(fee),
        paid_online=n(fee & pl.col("paid_online")),
        paid=n(paid),
        cashless=n(cashless),
        cashless_value=pl.when(cashless).then(pl.col("fee_vnd")).otherwise(0).sum(),
        paid_value=pl.when(paid).then(pl.col("fee_vnd")).otherwise(0).sum(),
    )
    resolved_rows = current.filter(pl.col("status").is_in(["resolved", "returned"]) & in_window("completed_on"))
    resolved = resolved_rows.group_by(month("completed_on"), "unit_code").agg(
        resolved=pl.len().cast(pl.Int64),
        on_time=n(pl.col("due_at").is_null() | (pl.col("completed_at") <= pl.col("due_at"))),
        processed_online=n(pl.col("processed_online")),
        e_result=n(pl.col("e_result")),
        result_signed=n(pl.col("result_signed")),
        satisfied=n(pl.col("satisfaction").is_in(["very_satisfied", "satisfied"])),
        rated=n(pl.col("satisfaction").is_not_null()),
    )
    closed_at = (
        pl.when(pl.col("status").is_in(["resolved", "returned"])).then(pl.col("completed_at"))
        .when(pl.col("status").is_in(["withdrawn", "rejected"])).then(pl.col("updated_at"))
    )
    overdue = (
        current.select("unit_code", "received_at", "due_at", closed_at=closed_at)
        .filter(pl.col("due_at").is_not_null())
        .join(periods.select("period_start", "as_of"), how="cross")
        .filter(
            (pl.col("received_at") < pl.col("as_of"))
            & (pl.col("due_at") < pl.col("as_of"))
            & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= pl.col("as_of")))
        )
        .group_by("period_start", "unit_code")
        .agg(overdue=pl.len().cast(pl.Int64))
    )

    # Portal: an application's earliest start (then smallest event_id) gives
    # its unit, month and sign-in; a submission at any time completes it.
    # Starts in the window are ranked; older starts are read for their ids only.
    events = scan("portal_events")
    started = events.filter(pl.col("event_type") == "started")
    first_starts = (
        started.filter(in_window("occurred_on"))
        .select("application_id", "occurred_at", "event_id", "unit_code", "auth_method", "occurred_on")
        .sort(["occurred_at", "event_id"])
        .unique("application_id", keep="first")
        .join(started.filter(pl.col("occurred_on") < lo).select("application_id"), on="application_id", how="anti")
    )
    submitted = events.filter(pl.col("event_type") == "submitted").select("application_id").unique()
    portal = (
        first_starts.join(submitted.with_columns(completed=pl.lit(True)), on="application_id", how="left")
        .group_by(month("occurred_on"), "unit_code")
        .agg(
            started=pl.len().cast(pl.Int64),
            completed=n(pl.col("completed")),
            vneid=n(pl.col("auth_method") == "vneid"),
        )
    )
    payments = (
        events.filter(pl.col("event_type").is_in(["payment_succeeded", "payment_failed"]) & in_window("occurred_on"))
        .group_by(month("occurred_on"), "unit_code")
        .agg(succeeded=n(pl.col("event_type") == "payment_succeeded"), attempts=pl.len().cast(pl.Int64))
    )
    document = pl.col("event_type") == "document_issued"
    certificate = pl.col("event_type") == "certificate_issued"
    signatures = (
        scan("signatures").filter(in_window("occurred_on"))
        .group_by(month("occurred_on"), "unit_code")
        .agg(
            documents=n(document),
            signed=n(document & pl.col("signed")),
            certificates=n(certificate),
            free=n(certificate & pl.col("free_of_charge")),
        )
    )
    facts = pl.concat(
        [
            long(received, [
                ("received", "received", None), ("online_rate", "online", "offered"),
                ("full_online_rate", "full_online", "full_offered"), ("digitized_rate", "digitized", "received"),
                ("applicant_signed_rate", "applicant_signed", "online"), ("online_payment_rate", "paid_online", "fee"),
                ("cashless_rate", "cashless", "paid"), ("cashless_value_rate", "cashless_value", "paid_value"),
            ]),
            long(resolved, [
                ("resolved", "resolved", None), ("on_time_rate", "on_time", "resolved"),
                ("processed_online_rate", "processed_online", "resolved"), ("e_result_rate", "e_result", "resolved"),
                ("result_signed_rate", "result_signed", "resolved"), ("satisfaction_rate", "satisfied", "rated"),
            ]),
            long(overdue, [("overdue_open", "overdue", None)]),
            long(portal, [
                ("portal_started", "started", None), ("portal_completion_rate", "completed", "started"),
                ("vneid_share", "vneid", "started"),
            ]),
            long(payments, [("payment_success_rate", "succeeded", "attempts")]),
            long(signatures, [
                ("documents_issued", "documents", None), ("document_signing_rate", "signed", "documents"),
                ("certificates_issued", "certificates", None), ("free_certificates", "free", None),
                ("certificates_per_1000_adults", "certificates", None),
            ]),
        ]
    )
    # A unit's KPI covers itself and every unit below it.
    rolled = (
        facts.join(closure, left_on="unit_code", right_on="descendant")
        .group_by("period_start", "ancestor", "kpi")
        .agg(pl.col("num").sum(), pl.col("den").sum())
        .rename({"ancestor": "unit_code"})
    )
    medians = (
        resolved_rows.select(
            month("completed_on"), "unit_code",
            days=(pl.col("completed_at") - pl.col("received_at")).dt.total_microseconds() / 86_400_000_000.0,
        )
        .join(closure, left_on="unit_code", right_on="descendant")
        .group_by("period_start", "ancestor")
        .agg(median=pl.col("days").median())
        .select("period_start", unit_code="ancestor", kpi=pl.lit("median_processing_days"), median="median")
    )

    units = scan("units").select(
        "unit_code", unit_name="name", unit_level="level", parent_code="parent_code", adults="adult_population"
    )
    # SPEC §4.4: the unit's own row beats `*`, a row for the grain beats one
    # for every grain, a later row beats an earlier one.
    targets = scan("targets").filter(pl.col("grain").is_null() | (pl.col("grain") == "month")).with_columns(
        starred=pl.col("unit_code") == "*"
    )
    unit_targets = (
        pl.concat(
            [
                targets.filter(~pl.col("starred")),
                targets.filter(pl.col("starred")).drop("unit_code").join(units.select("unit_code"), how="cross"),
            ],
            how="diagonal",
        )
        .sort(["starred", "grain", "ingest_seq", "source_line"], descending=[False, False, True, True],
              nulls_last=True)
        .unique(["unit_code", "kpi", "year"], keep="first")
        .select("unit_code", "kpi", period_year="year", target="target")
    )

    up = pl.col("direction") == "up"
    rate = pl.col("kind") == "rate"
    table = (
        periods.select("period_start", "period_end", "period_year")
        .join(units, how="cross")
        .join(catalog, how="cross")
        .join(rolled, on=["period_start", "unit_code", "kpi"], how="left")
        .join(medians, on=["period_start", "unit_code", "kpi"], how="left")
        .with_columns(
            numerator=pl.when(pl.col("kpi") == "median_processing_days").then(None)
            .when(pl.col("kpi") == "certificates_per_1000_adults").then(1000.0 * pl.col("num").fill_null(0))
            .otherwise(pl.col("num").fill_null(0).cast(pl.Float64)),
            denominator=pl.when(rate).then(pl.col("den").fill_null(0).cast(pl.Float64))
            .when(pl.col("kpi") == "certificates_per_1000_adults").then(pl.col("adults").cast(pl.Float64)),
        )
        .with_columns(
            value=pl.when(pl.col("kpi") == "median_processing_days").then(pl.col("median"))
            .when(pl.col("kind") == "count").then(pl.col("numerator"))
            .when(pl.col("denominator") != 0).then(pl.col("numerator") / pl.col("denominator"))
        )
        .join(unit_targets, on=["unit_code", "kpi", "period_year"], how="left")
        .with_columns(
            attainment=pl.when(up & (pl.col("target") != 0)).then(pl.col("value") / pl.col("target"))
            .when(~up & (pl.col("value") != 0)).then(pl.col("target") / pl.col("value")),
            rank=pl.when(up).then(-pl.col("value")).otherwise(pl.col("value"))
            .rank("min").over("period_start", "kpi", "unit_level").cast(pl.Int64),
        )
        .with_columns(
            status=pl.when(pl.col("attainment").is_null())
            .then(pl.when(~up & (pl.col("value") == 0) & pl.col("target").is_not_null()).then(pl.lit("met")))
            .when(pl.col("attainment") >= 1).then(pl.lit("met"))
            .when(pl.col("attainment") >= 0.7).then(pl.lit("on_track"))
            .when(pl.col("attainment") >= 0.5).then(pl.lit("behind"))
            .otherwise(pl.lit("far_behind")),
            rank_change=pl.col("rank").shift(1).over("unit_code", "kpi", order_by="period_start") - pl.col("rank"),
        )
        .filter(pl.col("period_start") >= first_wanted)
        .select(
            period_grain=pl.lit("month"), period_start="period_start", period_end="period_end",
            unit_code="unit_code", unit_name="unit_name", unit_level="unit_level", parent_code="parent_code",
            kpi="kpi", numerator="numerator", denominator="denominator", value="value", target="target",
            attainment="attainment", status="status", rank="rank", rank_change="rank_change",
        )
        .sort("period_start", "unit_code", "kpi")
    )
    table.sink_parquet(out, compression="zstd")


def compare(motcua_out, *peers):
    """Checks that each peer's KPI table holds motcua's published numbers:
    same (period, unit, KPI) rows, values within 1e-9 relative, same
    targets and statuses, same ranks — except where two units' values are
    equal within that tolerance but not to the last bit (two engines'
    medians can round differently), which can order them either way. A
    peer that computes something else is not a peer."""
    import polars as pl

    mine = pl.read_parquet(f"{motcua_out}/kpi_values/period_grain=month/*.parquet", hive_partitioning=False)
    key = ["period_start", "unit_code", "kpi"]
    group = ["period_start", "kpi", "unit_level"]

    def close(a, b):
        return (a - b).abs() <= 1e-9 * pl.max_horizontal(a.abs(), b.abs(), pl.lit(1.0))

    # Rows whose value has a neighbour in its ranking group that is equal
    # within the tolerance but not exactly: their rank is rounding's call.
    ordered = mine.select(*group, "unit_code", "value").drop_nulls("value").sort(*group, "value")
    neighbours = [pl.col("value").shift(n).over(group) for n in (1, -1)]
    near_tie = ordered.filter(
        pl.any_horizontal(close(pl.col("value"), v).fill_null(False) & (pl.col("value") != v) for v in neighbours)
    ).select(key)
    tied = near_tie.with_columns(near_tie=pl.lit(True))
    tied_before = near_tie.with_columns(pl.col("period_start").dt.offset_by("1mo"), tied_before=pl.lit(True))
    floats = ["numerator", "denominator", "value", "target", "attainment"]
    for peer in peers:
        theirs = pl.read_parquet(peer)
        both = (
            mine.join(theirs, on=key, how="full", suffix="_peer", coalesce=True)
            .join(tied, on=key, how="left")
            .join(tied_before, on=key, how="left")
            .with_columns(pl.col("near_tie", "tied_before").fill_null(False))
        )
        same = pl.col("status").eq_missing(pl.col("status_peer"))
        for c in floats:
            a, b = pl.col(c), pl.col(f"{c}_peer")
            same = same & ((a.is_null() & b.is_null()) | close(a, b).fill_null(False))
        rank_same = pl.col("rank").eq_missing(pl.col("rank_peer"))
        change_same = pl.col("rank_change").eq_missing(pl.col("rank_change_peer"))
        differ = both.filter(
            ~same
            | ~(rank_same | pl.col("near_tie"))
            | ~(change_same | pl.col("near_tie") | pl.col("tied_before"))
        )
        by_rounding = both.filter(same & ~(rank_same & change_same)).height - differ.filter(same).height
        print(
            f"{peer}: {len(mine)} rows in motcua's output, {len(theirs)} in the peer's, {len(differ)} differ"
            + (f"; {by_rounding} more differ only in rank between values equal within 1e-9" if by_rounding else "")
        )
        if len(differ):
            with pl.Config(tbl_cols=-1, tbl_rows=5):
                print(differ.head(5))
            sys.exit(f"{peer} does not compute motcua's KPIs: the comparison would be meaningless")

if __name__ == "__main__":
    job, *args = sys.argv[1:]
    {
        "duckdb-ingest": duckdb_ingest,
        "duckdb-ingest-canonical": duckdb_ingest_canonical,
        "polars-ingest": polars_ingest,
        "duckdb-kpi": duckdb_kpi,
        "duckdb-kpi-index": lambda *a: duckdb_kpi(*a, use_index=True),
        "polars-kpi": polars_kpi,
        "compare": compare,
        "polars-excel": polars_excel,
        "duckdb-field-csv": duckdb_field_csv,
    }[job](*args)
