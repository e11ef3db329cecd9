-- Goal summary: for each unit of one level in one period, how many KPIs with
-- a target are met, on track (≥ 70%), behind (50–70%) and far behind
-- (< 50%), like a province's report of "7 met, 9 above 70%, 6 at 50–70%,
-- 2 below 50%".
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level province     province, district, commune or department
SELECT
    unit_code,
    unit_name,
    sum(CASE WHEN target IS NOT NULL THEN 1 ELSE 0 END) AS goals,
    sum(CASE WHEN status = 'met' THEN 1 ELSE 0 END) AS met,
    sum(CASE WHEN status = 'on_track' THEN 1 ELSE 0 END) AS on_track,
    sum(CASE WHEN status = 'behind' THEN 1 ELSE 0 END) AS behind,
    sum(CASE WHEN status = 'far_behind' THEN 1 ELSE 0 END) AS far_behind,
    sum(CASE WHEN target IS NOT NULL AND status IS NULL THEN 1 ELSE 0 END) AS no_value
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level
GROUP BY unit_code, unit_name
ORDER BY met DESC, on_track DESC, unit_code
