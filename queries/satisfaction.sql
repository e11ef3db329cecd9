-- Satisfaction: share of resolved dossiers whose applicant was satisfied or
-- very satisfied, with target, status, rank and rank change, for every unit
-- of one level in one period.
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level district     province, district, commune or department
SELECT unit_code, unit_name, numerator AS satisfied, denominator AS rated,
       value AS satisfaction_rate, target, status, rank, rank_change
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level
  AND kpi = 'satisfaction_rate'
ORDER BY rank NULLS LAST, unit_code
