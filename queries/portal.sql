-- Online portal: applications started, the share completed (submitted), and
-- the share signed in with VNeID, for every unit of one level in one period.
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level district     province, district, commune or department
SELECT
    unit_code,
    unit_name,
    max(CASE WHEN kpi = 'portal_started' THEN value END) AS portal_started,
    max(CASE WHEN kpi = 'portal_completion_rate' THEN value END) AS completion_rate,
    max(CASE WHEN kpi = 'vneid_share' THEN value END) AS vneid_share
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level
GROUP BY unit_code, unit_name
ORDER BY portal_started DESC NULLS LAST, unit_code
