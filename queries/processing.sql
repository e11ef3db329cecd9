-- Processing: dossiers received and resolved, on-time rate, median processing
-- days and open dossiers past their deadline, for every unit of one level in
-- one period (from the published kpi_values), best on-time rate first.
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level district     province, district, commune or department
SELECT
    unit_code,
    unit_name,
    max(CASE WHEN kpi = 'received' THEN value END) AS received,
    max(CASE WHEN kpi = 'resolved' THEN value END) AS resolved,
    max(CASE WHEN kpi = 'on_time_rate' THEN value END) AS on_time_rate,
    max(CASE WHEN kpi = 'on_time_rate' THEN status END) AS on_time_status,
    max(CASE WHEN kpi = 'on_time_rate' THEN rank END) AS on_time_rank,
    max(CASE WHEN kpi = 'median_processing_days' THEN value END) AS median_days,
    max(CASE WHEN kpi = 'overdue_open' THEN value END) AS overdue_open
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level
GROUP BY unit_code, unit_name
ORDER BY on_time_rate DESC NULLS LAST, unit_code
