-- Every KPI of SPEC §5 for every unit of the registry and every period of one
-- grain whose start lies in [from, to], with target, attainment, status, rank
-- and rank change: the nightly KPI job runs exactly this query. Each period
-- is computed on the units of one day, its as-of day: its own last day (as
-- reported), or units_as_of for every period (restated); activity is
-- carried to them through unit_lineage (SPEC §2.1).
-- @param grain grain month     day, week, month, quarter or year
-- @param from date required   first period start to report (YYYY-MM-DD)
-- @param to date required     last period start to report (YYYY-MM-DD)
-- @param units_as_of date null   the day whose units every period is computed on (restated); null: each period's own last day (as reported)

WITH
-- The requested periods, and the one before the first (for rank change),
-- with the day whose units each is computed on.
periods AS (
    SELECT period_start, period_end, period_year, start_at, end_at,
           coalesce($units_as_of, CAST(period_end - INTERVAL '1 day' AS DATE)) AS as_of
    FROM calendar
    WHERE period_grain = $grain
      AND period_start <= $to
      AND period_start >= (
          SELECT min(prev_start) FROM calendar
          WHERE period_grain = $grain AND period_start >= $from AND period_start <= $to
      )
),

-- The units of each period: those valid on its as-of day.
period_units AS (
    SELECT p.period_start, p.period_end, p.period_year, u.*
    FROM periods p
    JOIN unit_versions u
      ON (u.valid_from IS NULL OR u.valid_from <= p.as_of)
     AND (u.valid_to IS NULL OR p.as_of < u.valid_to)
),
-- Current state of each dossier, with the periods it was received and resolved in.
dossier_periods AS (
    SELECT
        d.*,
        CAST(date_trunc($grain, d.received_on) AS DATE) AS received_period,
        CAST(date_trunc($grain, d.completed_on) AS DATE) AS resolved_period,
        d.status IN ('resolved', 'returned') AS is_resolved,
        CASE
            WHEN d.status IN ('resolved', 'returned') THEN d.completed_at
            WHEN d.status IN ('withdrawn', 'rejected') THEN d.updated_at
        END AS closed_at
    FROM dossiers d
),

-- Per unit's own activity; rolled up over the tree below.
received_by_unit AS (
    SELECT
        received_period AS period_start,
        unit_code,
        unit_era(received_on) AS era,
        count(*) AS received,
        sum(CASE WHEN channel = 'online' THEN 1 ELSE 0 END) AS online_num,
        sum(CASE WHEN online_level <> 'none' THEN 1 ELSE 0 END) AS online_den,
        sum(CASE WHEN channel = 'online' AND online_level = 'full' THEN 1 ELSE 0 END) AS full_online_num,
        sum(CASE WHEN online_level = 'full' THEN 1 ELSE 0 END) AS full_online_den,
        sum(CASE WHEN digitized THEN 1 ELSE 0 END) AS digitized_num,
        sum(CASE WHEN channel = 'online' AND applicant_signed THEN 1 ELSE 0 END) AS applicant_signed_num,
        sum(CASE WHEN channel = 'online' THEN 1 ELSE 0 END) AS applicant_signed_den,
        sum(CASE WHEN fee_vnd > 0 AND paid_online THEN 1 ELSE 0 END) AS online_payment_num,
        sum(CASE WHEN fee_vnd > 0 THEN 1 ELSE 0 END) AS online_payment_den,
        sum(CASE WHEN fee_vnd > 0 AND payment_method <> 'cash' THEN 1 ELSE 0 END) AS cashless_num,
        sum(CASE WHEN fee_vnd > 0 AND payment_method IS NOT NULL THEN 1 ELSE 0 END) AS cashless_den,
        sum(CASE WHEN fee_vnd > 0 AND payment_method <> 'cash' THEN fee_vnd ELSE 0 END) AS cashless_value_num,
        sum(CASE WHEN fee_vnd > 0 AND payment_method IS NOT NULL THEN fee_vnd ELSE 0 END) AS cashless_value_den
    FROM dossier_periods
    -- The bounds fold to constants once the parameters are bound, so they
    -- prune files and row groups; they hold a period more than needed.
    WHERE received_on >= CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
      AND received_on < CAST(date_trunc($grain, $to) + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
    GROUP BY 1, 2, 3
),
resolved_by_unit AS (
    SELECT
        resolved_period AS period_start,
        unit_code,
        unit_era(received_on) AS era,
        count(*) AS resolved,
        sum(CASE WHEN due_at IS NULL OR completed_at <= due_at THEN 1 ELSE 0 END) AS on_time_num,
        sum(CASE WHEN processed_online THEN 1 ELSE 0 END) AS processed_online_num,
        sum(CASE WHEN e_result THEN 1 ELSE 0 END) AS e_result_num,
        sum(CASE WHEN result_signed THEN 1 ELSE 0 END) AS result_signed_num,
        sum(CASE WHEN satisfaction IN ('very_satisfied', 'satisfied') THEN 1 ELSE 0 END) AS satisfaction_num,
        sum(CASE WHEN satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS satisfaction_den
    FROM dossier_periods
    WHERE is_resolved
      AND completed_on >= CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
      AND completed_on < CAST(date_trunc($grain, $to) + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
    GROUP BY 1, 2, 3
),
-- Deadlines passed by the end of the period (or by the newest snapshot, for
-- the current period) and not closed by then. `due_at` ≥ `received_at` is an
-- ingest rule, so a passed deadline means the dossier was received too.
overdue_at AS (
    SELECT period_start, least(end_at, (SELECT max(updated_at) FROM dossier_snapshots)) AS as_of
    FROM periods
),
overdue_by_unit AS (
    SELECT p.period_start, d.unit_code, unit_era(d.received_on) AS era, count(*) AS overdue_open
    FROM overdue_at p
    JOIN (
        -- Only a dossier closed after its deadline, or not at all, is ever
        -- overdue; and only one open at some period's end counts here.
        SELECT unit_code, received_on, due_at, closed_at FROM dossier_periods
        WHERE due_at IS NOT NULL AND (closed_at IS NULL OR closed_at > due_at)
          AND due_at < (SELECT max(as_of) FROM overdue_at)
          AND (closed_at IS NULL OR closed_at >= (SELECT min(as_of) FROM overdue_at))
    ) d
      ON d.due_at < p.as_of
    WHERE d.closed_at IS NULL OR d.closed_at >= p.as_of
    GROUP BY 1, 2, 3
),
-- An application takes its unit, period and sign-in method from its earliest
-- start (on a tie, the smallest event_id); a submission at any time, for any
-- unit, completes it. Only the starts within the requested periods are read;
-- an application also started before them belongs to an earlier period, so
-- only the ids of older starts are read (a nightly run of one month reads
-- one month of starts, not the whole log).
window_starts AS (
    SELECT application_id, event_id, occurred_at, unit_code, auth_method, occurred_on
    FROM portal_events
    WHERE event_type = 'started'
      AND occurred_on >= CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
      AND occurred_on < CAST(date_trunc($grain, $to) + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
),
-- The earliest start is found with two plain aggregates joined back:
-- DataFusion's ordered first_value kept ~600 bytes per application in
-- allocations its memory pool does not see (5 GB at 10 M dossiers, whatever
-- the --memory-limit); these operators are counted, and spill.
first_start_at AS (
    SELECT application_id, min(occurred_at) AS occurred_at
    FROM window_starts GROUP BY application_id
),
first_start_id AS (
    SELECT s.application_id, min(s.event_id) AS event_id
    FROM window_starts s
    JOIN first_start_at f ON s.application_id = f.application_id AND s.occurred_at = f.occurred_at
    GROUP BY s.application_id
),
first_starts AS (
    SELECT s.application_id, s.unit_code, s.auth_method, s.occurred_on
    FROM window_starts s
    JOIN first_start_id f ON s.application_id = f.application_id AND s.event_id = f.event_id
    WHERE NOT EXISTS (
        SELECT 1 FROM portal_events e
        WHERE e.application_id = s.application_id
          AND e.event_type = 'started'
          AND e.occurred_on < CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
    )
),
-- Submissions join as a distinct set: folded in as a FILTER they cost half
-- as much again.
submitted AS (
    SELECT DISTINCT application_id FROM portal_events WHERE event_type = 'submitted'
),
applications AS (
    SELECT f.*, CASE WHEN s.application_id IS NULL THEN 0 ELSE 1 END AS completed
    FROM first_starts f
    LEFT JOIN submitted s ON f.application_id = s.application_id
),
portal_by_unit AS (
    SELECT
        CAST(date_trunc($grain, occurred_on) AS DATE) AS period_start,
        unit_code,
        unit_era(occurred_on) AS era,
        count(*) AS portal_started,
        sum(completed) AS completion_num,
        sum(CASE WHEN auth_method = 'vneid' THEN 1 ELSE 0 END) AS vneid_num
    FROM applications
    WHERE occurred_on >= CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
      AND occurred_on < CAST(date_trunc($grain, $to) + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
    GROUP BY 1, 2, 3
),
payments_by_unit AS (
    SELECT
        CAST(date_trunc($grain, occurred_on) AS DATE) AS period_start,
        unit_code,
        unit_era(occurred_on) AS era,
        sum(CASE WHEN event_type = 'payment_succeeded' THEN 1 ELSE 0 END) AS payment_num,
        count(*) AS payment_den
    FROM portal_events
    WHERE event_type IN ('payment_succeeded', 'payment_failed')
      AND occurred_on >= CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
      AND occurred_on < CAST(date_trunc($grain, $to) + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
    GROUP BY 1, 2, 3
),
signatures_by_unit AS (
    SELECT
        CAST(date_trunc($grain, occurred_on) AS DATE) AS period_start,
        unit_code,
        unit_era(occurred_on) AS era,
        sum(CASE WHEN event_type = 'document_issued' THEN 1 ELSE 0 END) AS documents_issued,
        sum(CASE WHEN event_type = 'document_issued' AND signed THEN 1 ELSE 0 END) AS documents_signed,
        sum(CASE WHEN event_type = 'certificate_issued' THEN 1 ELSE 0 END) AS certificates_issued,
        sum(CASE WHEN event_type = 'certificate_issued' AND free_of_charge THEN 1 ELSE 0 END) AS free_certificates
    FROM signatures
    WHERE occurred_on >= CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
      AND occurred_on < CAST(date_trunc($grain, $to) + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
    GROUP BY 1, 2, 3
),

-- One row per (period, unit, KPI) of own activity: numerator and denominator.
-- Each family is read once and unpivoted: a CTE named twice is computed twice.
facts AS (
    SELECT r.period_start, r.unit_code, r.era, k.kpi,
        CASE k.kpi
            WHEN 'received' THEN received
            WHEN 'online_rate' THEN online_num
            WHEN 'full_online_rate' THEN full_online_num
            WHEN 'digitized_rate' THEN digitized_num
            WHEN 'applicant_signed_rate' THEN applicant_signed_num
            WHEN 'online_payment_rate' THEN online_payment_num
            WHEN 'cashless_rate' THEN cashless_num
            WHEN 'cashless_value_rate' THEN cashless_value_num
        END AS num,
        CASE k.kpi
            WHEN 'online_rate' THEN online_den
            WHEN 'full_online_rate' THEN full_online_den
            WHEN 'digitized_rate' THEN received
            WHEN 'applicant_signed_rate' THEN applicant_signed_den
            WHEN 'online_payment_rate' THEN online_payment_den
            WHEN 'cashless_rate' THEN cashless_den
            WHEN 'cashless_value_rate' THEN cashless_value_den
        END AS den
    FROM received_by_unit r
    CROSS JOIN (VALUES ('received'), ('online_rate'), ('full_online_rate'), ('digitized_rate'),
        ('applicant_signed_rate'), ('online_payment_rate'), ('cashless_rate'), ('cashless_value_rate')) k(kpi)
    UNION ALL
    SELECT r.period_start, r.unit_code, r.era, k.kpi,
        CASE k.kpi
            WHEN 'resolved' THEN resolved
            WHEN 'on_time_rate' THEN on_time_num
            WHEN 'processed_online_rate' THEN processed_online_num
            WHEN 'e_result_rate' THEN e_result_num
            WHEN 'result_signed_rate' THEN result_signed_num
            WHEN 'satisfaction_rate' THEN satisfaction_num
        END,
        CASE k.kpi
            WHEN 'resolved' THEN CAST(NULL AS BIGINT)
            WHEN 'satisfaction_rate' THEN satisfaction_den
            ELSE resolved
        END
    FROM resolved_by_unit r
    CROSS JOIN (VALUES ('resolved'), ('on_time_rate'), ('processed_online_rate'), ('e_result_rate'),
        ('result_signed_rate'), ('satisfaction_rate')) k(kpi)
    UNION ALL
    SELECT period_start, unit_code, era, 'overdue_open', overdue_open, CAST(NULL AS BIGINT) FROM overdue_by_unit
    UNION ALL
    SELECT r.period_start, r.unit_code, r.era, k.kpi,
        CASE k.kpi
            WHEN 'portal_started' THEN portal_started
            WHEN 'portal_completion_rate' THEN completion_num
            WHEN 'vneid_share' THEN vneid_num
        END,
        CASE k.kpi WHEN 'portal_started' THEN CAST(NULL AS BIGINT) ELSE portal_started END
    FROM portal_by_unit r
    CROSS JOIN (VALUES ('portal_started'), ('portal_completion_rate'), ('vneid_share')) k(kpi)
    UNION ALL
    SELECT period_start, unit_code, era, 'payment_success_rate', payment_num, payment_den FROM payments_by_unit
    UNION ALL
    SELECT r.period_start, r.unit_code, r.era, k.kpi,
        CASE k.kpi
            WHEN 'documents_issued' THEN documents_issued
            WHEN 'document_signing_rate' THEN documents_signed
            WHEN 'certificates_issued' THEN certificates_issued
            WHEN 'free_certificates' THEN free_certificates
            WHEN 'certificates_per_1000_adults' THEN certificates_issued
        END,
        CASE k.kpi WHEN 'document_signing_rate' THEN documents_issued END
    FROM signatures_by_unit r
    CROSS JOIN (VALUES ('documents_issued'), ('document_signing_rate'), ('certificates_issued'),
        ('free_certificates'), ('certificates_per_1000_adults')) k(kpi)
),
-- Roll-up: a unit's KPI covers itself and every unit below it, as a ratio
-- of summed numerators over summed denominators. Activity is carried to
-- the units of the period's as-of day through unit_rollup (unit_lineage
-- joined to unit_closure), with the product of the shares along the way.
-- The sums are exact decimals (shares to 12 places), so that they do not
-- depend on the order rows arrive in and equal sums are equal values.
rolled_exact AS (
    SELECT f.period_start, r.ancestor AS unit_code, f.kpi,
           sum(f.num * CAST(r.share AS DECIMAL(13, 12))) AS num,
           sum(f.den * CAST(r.share AS DECIMAL(13, 12))) AS den,
           bool_or(r.share < 1 AND (f.num <> 0 OR f.den <> 0)) AS estimated
    FROM (
        SELECT *, coalesce($units_as_of, CAST(period_start + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END - INTERVAL '1 day' AS DATE)) AS as_of
        FROM facts
    ) f
    JOIN unit_rollup r
      ON r.unit_code = f.unit_code AND r.active_from = f.era
     AND r.as_of_from <= f.as_of AND f.as_of < r.as_of_to
    GROUP BY 1, 2, 3
),
-- As doubles: the whole part and the fraction converted apart, so that a
-- whole number stays exact (a decimal of 20 digits does not fit a double).
rolled AS (
    SELECT period_start, unit_code, kpi, estimated,
           CAST(CAST(num AS BIGINT) AS DOUBLE)
             + CAST(num - CAST(CAST(num AS BIGINT) AS DECIMAL(38, 12)) AS DOUBLE) AS num,
           CAST(CAST(den AS BIGINT) AS DOUBLE)
             + CAST(den - CAST(CAST(den AS BIGINT) AS DECIMAL(38, 12)) AS DOUBLE) AS den
    FROM rolled_exact
),
-- The median is over all dossiers of the unit and its descendants together;
-- a dossier is not split, it counts for the as-of unit with its largest share.
medians AS (
    SELECT
        d.resolved_period AS period_start,
        r.ancestor AS unit_code,
        median((CAST(d.completed_at AS BIGINT) - CAST(d.received_at AS BIGINT)) / 86400000000.0) AS median_days
    FROM (
        SELECT *, coalesce($units_as_of, CAST(resolved_period + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END - INTERVAL '1 day' AS DATE)) AS as_of
        FROM dossier_periods
    ) d
    JOIN unit_rollup r
      ON r.unit_code = d.unit_code AND r.active_from = unit_era(d.received_on) AND r.whole
     AND r.as_of_from <= d.as_of AND d.as_of < r.as_of_to
    WHERE d.is_resolved
      AND d.completed_on >= CAST(date_trunc($grain, $from) - CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
      AND d.completed_on < CAST(date_trunc($grain, $to) + CASE $grain WHEN 'day' THEN INTERVAL '1 day' WHEN 'week' THEN INTERVAL '7 days' WHEN 'month' THEN INTERVAL '1 month' WHEN 'quarter' THEN INTERVAL '3 months' ELSE INTERVAL '1 year' END AS DATE)
    GROUP BY 1, 2
),

-- Every (period, unit of its as-of day, KPI), with or without activity.
-- (The KPIs first: a cross join sends a batch per row of its first side,
-- and a batch per unit and period made the job 0.3–0.5 s slower.)
grid AS (
    SELECT u.period_start, u.period_end, u.period_year,
           u.unit_code, u.valid_from AS unit_valid_from, u.name AS unit_name, u.level AS unit_level,
           u.parent_code, u.adult_population,
           k.kpi, k.kind, k.direction
    FROM kpi_catalog k CROSS JOIN period_units u
),
valued AS (
    SELECT
        g.*,
        CASE
            WHEN g.kpi = 'median_processing_days' THEN NULL
            WHEN g.kpi = 'certificates_per_1000_adults' THEN 1000.0 * coalesce(r.num, 0)
            ELSE CAST(coalesce(r.num, 0) AS DOUBLE)
        END AS numerator,
        CASE
            WHEN g.kind = 'rate' THEN CAST(coalesce(r.den, 0) AS DOUBLE)
            WHEN g.kpi = 'certificates_per_1000_adults' THEN CAST(g.adult_population AS DOUBLE)
        END AS denominator,
        coalesce(r.estimated, false) AS estimated,
        m.median_days
    FROM grid g
    LEFT JOIN rolled r
      ON r.period_start = g.period_start AND r.unit_code = g.unit_code AND r.kpi = g.kpi
    LEFT JOIN medians m
      ON g.kpi = 'median_processing_days' AND m.period_start = g.period_start AND m.unit_code = g.unit_code
),
with_value AS (
    SELECT
        *,
        CASE
            WHEN kpi = 'median_processing_days' THEN median_days
            WHEN kind = 'count' THEN numerator
            ELSE numerator / nullif(denominator, 0)
        END AS value
    FROM valued
),
-- SPEC §4.4: a unit's own row beats `*`, a row for the grain beats one for
-- every grain, and a later row beats an earlier one. The best row is found
-- among the target rows of each unit (or `*`), then a unit's own beats `*`
-- in the join: ranking `*` rows copied to every unit cost a tenth of a
-- second per run. An aggregate, not row_number() over a window: the join
-- on `*` fixes the window's partition key to a constant, an ordering a
-- Ballista cluster loses between stages.
best_targets AS (
    SELECT
        unit_code, kpi, year,
        first_value(target ORDER BY CASE WHEN grain IS NULL THEN 1 ELSE 0 END,
                                    ingest_seq DESC, source_line DESC) AS target
    FROM targets
    WHERE grain = $grain OR grain IS NULL
    GROUP BY unit_code, kpi, year
),
targeted AS (
    SELECT v.*, CASE WHEN own.kpi IS NOT NULL THEN own.target ELSE every.target END AS target
    FROM with_value v
    LEFT JOIN best_targets own
      ON own.unit_code = v.unit_code AND own.kpi = v.kpi AND own.year = v.period_year
    LEFT JOIN best_targets every
      ON every.unit_code = '*' AND every.kpi = v.kpi AND every.year = v.period_year
),
scored AS (
    SELECT
        *,
        CASE
            WHEN value IS NULL OR target IS NULL THEN NULL
            WHEN direction = 'up' THEN value / nullif(target, 0)
            ELSE target / nullif(value, 0)
        END AS attainment
    FROM targeted
),
-- Ranks among units of the same level, best first; null values unranked.
ranked AS (
    SELECT
        *,
        CASE WHEN value IS NULL THEN NULL ELSE CAST(rank() OVER (
            PARTITION BY period_start, kpi, unit_level
            ORDER BY CASE WHEN direction = 'up' THEN -value ELSE value END ASC NULLS LAST
        ) AS BIGINT) END AS rank
    FROM scored
),
-- The same unit (code and first day) in the previous period. `periods`
-- holds consecutive periods and a unit is valid on a run of days, so the
-- unit's previous row is the previous period's, if it existed then.
changes AS (
    SELECT
        *,
        lag(rank) OVER (PARTITION BY unit_code, unit_valid_from, kpi ORDER BY period_start) - rank AS rank_change
    FROM ranked
)
SELECT
    CAST($grain AS VARCHAR) AS period_grain,
    period_start,
    period_end,
    unit_code,
    unit_name,
    unit_level,
    parent_code,
    kpi,
    numerator,
    denominator,
    value,
    target,
    attainment,
    CASE
        WHEN attainment IS NULL THEN
            CASE WHEN direction = 'down' AND value = 0 AND target IS NOT NULL THEN 'met' END
        WHEN attainment >= 1 THEN 'met'
        WHEN attainment >= 0.7 THEN 'on_track'
        WHEN attainment >= 0.5 THEN 'behind'
        ELSE 'far_behind'
    END AS status,
    rank,
    rank_change,
    estimated
FROM changes
WHERE period_start >= $from
ORDER BY period_start, unit_code, kpi
