-- One KPI of one unit over time, as reported (each period on its own
-- units: the code may have named another unit then) beside restated (every
-- period on the units of one day, activity carried through the changes).
-- Reads both published outputs: run `motcua kpi` with and without
-- --units-as-of first.
-- @param unit text required          a unit code of the as-of day
-- @param kpi kpi on_time_rate        a KPI id (see `motcua kpis`)
-- @param units_as_of date required   the as-of day of the restated run (YYYY-MM-DD)
-- @param grain grain month           day, week, month, quarter or year
SELECT
    r.period_start,
    a.unit_name AS reported_unit,
    a.value AS reported,
    r.value AS restated,
    r.numerator AS restated_numerator,
    r.denominator AS restated_denominator,
    r.estimated,
    a.rank AS reported_rank,
    r.rank AS restated_rank
FROM kpi_values_restated r
LEFT JOIN kpi_values a
  ON a.period_grain = r.period_grain AND a.period_start = r.period_start
 AND a.unit_code = r.unit_code AND a.kpi = r.kpi
WHERE r.units_as_of = $units_as_of AND r.period_grain = $grain
  AND r.unit_code = $unit AND r.kpi = $kpi
ORDER BY r.period_start
