-- Data quality: activity of units that ended on or before units_as_of with
-- no successor (a district abolished, say). Restated on that day's units it
-- counts toward no unit; this is how much, per unit and period.
-- @param units_as_of date required   the day a restated run computes on (YYYY-MM-DD)
-- @param grain grain month           day, week, month, quarter or year
WITH activity AS (
    SELECT 'dossiers' AS feed, unit_code, received_on AS day FROM dossiers
    UNION ALL
    SELECT 'portal_events' AS feed, unit_code, occurred_on AS day FROM portal_events
    UNION ALL
    SELECT 'signatures' AS feed, unit_code, occurred_on AS day FROM signatures
),
-- Activity of a unit that no longer exists on the as-of day.
ended AS (
    SELECT a.feed, a.unit_code, a.day, u.name, u.valid_from, u.valid_to
    FROM activity a
    JOIN unit_versions u
      ON u.unit_code = a.unit_code
     AND (u.valid_from IS NULL OR u.valid_from <= a.day)
     AND (u.valid_to IS NULL OR a.day < u.valid_to)
    WHERE u.valid_to <= $units_as_of
)
SELECT
    CAST(date_trunc($grain, e.day) AS DATE) AS period_start,
    e.feed,
    e.unit_code,
    e.name AS unit_name,
    e.valid_to AS ended_on,
    count(*) AS rows
FROM ended e
LEFT ANTI JOIN unit_lineage l
  ON l.unit_code = e.unit_code
 AND l.active_from = unit_era(e.day)
 AND l.as_of_from <= $units_as_of AND $units_as_of < l.as_of_to
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3
