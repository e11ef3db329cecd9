-- Ranking: every unit of one level on one KPI in one period, best first,
-- with value, target, status and the places moved since the previous period.
-- @param kpi kpi  on_time_rate   A KPI id (see `motcua kpis`)
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level district     province, district, commune or department
SELECT rank, rank_change, unit_code, unit_name, value, target, attainment, status
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level AND kpi = $kpi
ORDER BY rank NULLS LAST, unit_code
