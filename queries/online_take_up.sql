-- Online take-up: share of dossiers filed online and fully online (toàn
-- trình), handled entirely online, digitized, and given an electronic
-- result, for every unit of one level in one period, highest full-online first.
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level district     province, district, commune or department
SELECT
    unit_code,
    unit_name,
    max(CASE WHEN kpi = 'online_rate' THEN value END) AS online_rate,
    max(CASE WHEN kpi = 'full_online_rate' THEN value END) AS full_online_rate,
    max(CASE WHEN kpi = 'full_online_rate' THEN target END) AS full_online_target,
    max(CASE WHEN kpi = 'processed_online_rate' THEN value END) AS processed_online_rate,
    max(CASE WHEN kpi = 'digitized_rate' THEN value END) AS digitized_rate,
    max(CASE WHEN kpi = 'e_result_rate' THEN value END) AS e_result_rate
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level
GROUP BY unit_code, unit_name
ORDER BY full_online_rate DESC NULLS LAST, unit_code
