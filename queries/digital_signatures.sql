-- Digital signatures: outgoing documents signed, results signed, applicants
-- signing online, and signature certificates issued at the counters (free
-- ones and per 1,000 adults), for every unit of one level in one period.
-- @param period period required    First day of the period (YYYY-MM-DD)
-- @param grain grain month        day, week, month, quarter or year
-- @param level level district     province, district, commune or department
SELECT
    unit_code,
    unit_name,
    max(CASE WHEN kpi = 'documents_issued' THEN value END) AS documents_issued,
    max(CASE WHEN kpi = 'document_signing_rate' THEN value END) AS document_signing_rate,
    max(CASE WHEN kpi = 'result_signed_rate' THEN value END) AS result_signed_rate,
    max(CASE WHEN kpi = 'applicant_signed_rate' THEN value END) AS applicant_signed_rate,
    max(CASE WHEN kpi = 'certificates_issued' THEN value END) AS certificates_issued,
    max(CASE WHEN kpi = 'free_certificates' THEN value END) AS free_certificates,
    max(CASE WHEN kpi = 'certificates_per_1000_adults' THEN value END) AS certificates_per_1000_adults
FROM kpi_values
WHERE period_grain = $grain AND period_start = $period AND unit_level = $level
GROUP BY unit_code, unit_name
ORDER BY document_signing_rate DESC NULLS LAST, unit_code
