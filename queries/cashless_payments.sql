-- Cashless payments: share of fee-bearing dossiers paid online and paid
-- without cash (by count and by value), and portal payment success, for
-- every unit of one level in one period, most cashless first.
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level district     province, district, commune or department
SELECT
    unit_code,
    unit_name,
    max(CASE WHEN kpi = 'cashless_rate' THEN value END) AS cashless_rate,
    max(CASE WHEN kpi = 'cashless_rate' THEN target END) AS cashless_target,
    max(CASE WHEN kpi = 'cashless_rate' THEN status END) AS cashless_status,
    max(CASE WHEN kpi = 'cashless_value_rate' THEN value END) AS cashless_value_rate,
    max(CASE WHEN kpi = 'online_payment_rate' THEN value END) AS online_payment_rate,
    max(CASE WHEN kpi = 'payment_success_rate' THEN value END) AS payment_success_rate
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level
GROUP BY unit_code, unit_name
ORDER BY cashless_rate DESC NULLS LAST, unit_code
