-- Data quality: activity that a restated run on the units of units_as_of
-- counts toward no unit, in whole or in part — activity of a unit that ended
-- with no successor (a district abolished, say), the part of a split that
-- went to such a unit, activity of a unit that did not exist yet on that
-- day. Per period, feed and unit of the activity's day: its rows, and how
-- many of them (in shares) count toward no unit.
-- @param units_as_of date required   the day a restated run computes on (YYYY-MM-DD)
-- @param grain grain month           day, week, month, quarter or year
WITH activity AS (
    SELECT 'dossiers' AS feed, unit_code, received_on AS day FROM dossiers
    UNION ALL
    SELECT 'portal_events' AS feed, unit_code, occurred_on AS day FROM portal_events
    UNION ALL
    SELECT 'signatures' AS feed, unit_code, occurred_on AS day FROM signatures
),
-- Activity of a unit that exists on its day (the rest is dq_unknown_units').
counted AS (
    SELECT
        CAST(date_trunc($grain, a.day) AS DATE) AS period_start,
        a.feed, a.unit_code, u.name AS unit_name, unit_era(a.day) AS era,
        count(*) AS rows
    FROM activity a
    JOIN unit_versions u
      ON u.unit_code = a.unit_code
     AND (u.valid_from IS NULL OR u.valid_from <= a.day)
     AND (u.valid_to IS NULL OR a.day < u.valid_to)
    GROUP BY 1, 2, 3, 4, 5
),
-- The part of a unit's activity in an era that reaches a unit of the day.
kept AS (
    SELECT unit_code, active_from, sum(share) AS share
    FROM unit_lineage
    WHERE as_of_from <= $units_as_of AND $units_as_of < as_of_to
    GROUP BY 1, 2
)
SELECT
    c.period_start,
    c.feed,
    c.unit_code,
    c.unit_name,
    sum(c.rows) AS rows,
    round(sum(c.rows * (1 - coalesce(k.share, 0))), 9) AS lost
FROM counted c
LEFT JOIN kept k ON k.unit_code = c.unit_code AND k.active_from = c.era
GROUP BY 1, 2, 3, 4
HAVING sum(c.rows * (1 - coalesce(k.share, 0))) > 1e-9
ORDER BY 1, 2, 3
